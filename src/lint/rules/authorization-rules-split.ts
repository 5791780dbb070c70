/**
 * An ALLOW AuthorizationPolicy with a rule that has only `from` and another that
 * has only `to`, where one rule with both was likely meant: rules are ORed, so the
 * `to`-only rule admits every source on those operations and the `from`-only rule
 * admits those sources on everything. Decided by evaluating sample requests against
 * the policy as written and with the two rules merged.
 */
import { stringify } from "yaml";
import { OPERATION_FIELDS, SOURCE_FIELDS, type AuthorizationPolicy, type AuthzRequest, type AuthzRule, type HttpAttributes } from "../../layers/istio/authorization.js";
import { parseIdentity, parsePortString } from "../../layers/istio/strings.js";
import type { Workload } from "../../model/types.js";
import { resolveTargetPort } from "../../path/index.js";
import type { Scenario } from "../../analysis/scenario.js";
import { boundWorkloads, evaluatePolicies, portSpeaksHttp, sampleMatching, waypointBoundWorkloads, type BoundWorkload } from "../facts/mesh.js";
import { createRule } from "../rule.js";

/** A TEST-NET-2 address (RFC 5737): a client outside the cluster that no allow-list names. */
const OUTSIDE_CLIENT = "198.51.100.23";

interface SampleSource {
  label: string;
  source: AuthzRequest["source"];
}

interface SampleOperation {
  port: number;
  http: HttpAttributes | undefined;
}

const isFromOnly = (r: AuthzRule): boolean => r.from !== undefined && r.to === undefined && r.when.length === 0;
const isToOnly = (r: AuthzRule): boolean => r.to !== undefined && r.from === undefined && r.when.length === 0;

/** One client per `from` item that the item matches, when its positive fields say who that is. */
function sourcesMatching(p: AuthorizationPolicy, rule: AuthzRule, trustDomain: string): SampleSource[] {
  const out: SampleSource[] = [];
  for (const { source: s } of rule.from ?? []) {
    const sample: { namespace?: string; serviceAccount?: string; ip?: string; remoteIp?: string; mtls: boolean } = { mtls: false };
    const parts: string[] = [];
    const principal = s.principals.find((v) => !v.includes("*"));
    const identity = principal ? parseIdentity(principal) : undefined;
    if (s.principals.length > 0 && !identity) continue;
    if (identity) {
      Object.assign(sample, { namespace: identity.namespace, serviceAccount: identity.serviceAccount, mtls: true });
      parts.push(`${trustDomain === identity.trustDomain ? "" : `${identity.trustDomain} `}${identity.namespace}/${identity.serviceAccount}`);
    }
    if (s.namespaces[0] !== undefined && !identity) {
      const ns = sampleMatching(s.namespaces[0]);
      Object.assign(sample, { namespace: ns, serviceAccount: "default", mtls: true });
      parts.push(`namespace ${ns}`);
    }
    if (s.serviceAccounts[0] !== undefined) {
      const [ns, sa] = s.serviceAccounts[0].includes("/") ? s.serviceAccounts[0].split("/") : [p.namespace, s.serviceAccounts[0]];
      Object.assign(sample, { namespace: ns, serviceAccount: sa, mtls: true });
      parts.push(`${ns}/${sa}`);
    }
    if (s.ipBlocks[0] !== undefined) {
      sample.ip = s.ipBlocks[0].split("/")[0]!;
      parts.push(sample.ip);
    }
    if (s.remoteIpBlocks[0] !== undefined) {
      sample.remoteIp = s.remoteIpBlocks[0].split("/")[0]!;
      sample.ip ??= sample.remoteIp;
      parts.push(sample.remoteIp);
    }
    if (parts.length > 0) out.push({ label: parts.join(" "), source: sample });
  }
  return out;
}

/**
 * Every other workload of the input (one per distinct identity and address), and one
 * outside client. Only mesh clients reach a waypoint: the others go straight to the pod.
 */
function otherSources(scenario: Scenario, dest: BoundWorkload): SampleSource[] {
  const out: SampleSource[] = [];
  const seen = new Set<string>();
  const viaWaypoint = dest.point.kind === "waypoint";
  for (const w of scenario.cluster.workloads) {
    if (w === dest.workload) continue;
    const mode = scenario.mesh!.membership(w).mode;
    if (viaWaypoint && mode === "none") continue;
    const ip = w.ips[0];
    const source = { namespace: w.namespace, serviceAccount: w.serviceAccount || "default", ...(ip ? { ip } : {}), mtls: mode !== "none" };
    const key = JSON.stringify(source);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ label: w.id, source });
  }
  if (!viaWaypoint) out.push({ label: `an outside client at ${OUTSIDE_CLIENT}`, source: { ip: OUTSIDE_CLIENT, mtls: false } });
  return out;
}

/** Requests any HTTP service may get, tried besides those the `to` rule names. */
const PLAIN_REQUESTS: readonly (readonly [string, string])[] = [
  ["GET", "/admin"],
  ["GET", "/"],
  ["POST", "/admin"],
];

/** Requests on each port: one matching each `to` operation of the rule, and the plain ones. */
function sampleOperations(scenario: Scenario, dest: BoundWorkload, toRule: AuthzRule): SampleOperation[] {
  const w = dest.workload;
  const ports = new Set<number>();
  const point = dest.point;
  if (point.kind === "waypoint") {
    // A Service's waypoint sees only what is sent to the Service: its target ports.
    const svc = scenario.cluster.services.find((s) => s.namespace === point.service?.namespace && s.name === point.service?.name);
    for (const sp of svc?.ports ?? []) {
      const port = sp.protocol === "TCP" ? resolveTargetPort(sp, w) : undefined;
      if (port !== undefined) ports.add(port);
    }
  } else {
    for (const p of w.ports) if (p.protocol === "TCP") ports.add(p.port);
    for (const t of toRule.to ?? []) for (const v of t.operation.ports) if (parsePortString(v) !== undefined) ports.add(parsePortString(v)!);
  }
  const host = `${w.name}.${w.namespace}`;
  const out: SampleOperation[] = [];
  for (const port of ports) {
    if (!portSpeaksHttp(scenario, w, port, dest.point)) {
      out.push({ port, http: undefined });
      continue;
    }
    for (const t of toRule.to ?? []) {
      const o = t.operation;
      out.push({
        port,
        http: {
          method: o.methods[0] !== undefined ? sampleMatching(o.methods[0]).toUpperCase() : "GET",
          path: o.paths[0] !== undefined ? sampleMatching(o.paths[0]) : "/",
          host: o.hosts[0] !== undefined ? sampleMatching(o.hosts[0]) : host,
        },
      });
    }
    for (const [method, path] of PLAIN_REQUESTS) out.push({ port, http: { method, path, host } });
  }
  return out;
}

function describeOperation(op: SampleOperation): string {
  return op.http ? `${op.http.method} ${op.http.path} on port ${op.port}` : `TCP port ${op.port}`;
}

function describeTo(rule: AuthzRule): string {
  return (rule.to ?? []).map((t) => OPERATION_FIELDS.filter((f) => t.operation[f].length > 0).map((f) => `${f} ${t.operation[f].join(", ")}`).join(" and ")).join(" or ");
}

function describeFrom(rule: AuthzRule): string {
  return (rule.from ?? []).map((f) => SOURCE_FIELDS.filter((k) => f.source[k].length > 0).map((k) => `${k} ${f.source[k].join(", ")}`).join(" and ")).join(" or ");
}

interface Example {
  source: string;
  op: string;
  dest: Workload;
}

export default createRule({
  id: "authorization-rules-split",
  description: "An ALLOW AuthorizationPolicy has a from-only rule and a to-only rule where one rule with both was likely meant",
  severity: "warning",
  messages: {
    split: "AuthorizationPolicy {{policy}}: rules are ORed, so {{admitted}}; one rule with both from and to was likely meant",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    for (const p of mesh.authorizationPolicies) {
      if (p.action !== "ALLOW" || p.dryRun) continue;
      const fromRule = p.rules.find(isFromOnly);
      const toRule = p.rules.find(isToOnly);
      if (!fromRule || !toRule) continue;
      const bound = p.targetRefs.length > 0 ? waypointBoundWorkloads(scenario, p) : boundWorkloads(scenario, p);
      if (bound.length === 0) continue;
      const mergedRule: AuthzRule = { index: Math.min(fromRule.index, toRule.index), line: fromRule.line, from: fromRule.from, to: toRule.to, when: [] };
      const merged: AuthorizationPolicy = { ...p, rules: [...p.rules.filter((r) => r !== fromRule && r !== toRule), mergedRule] };
      const matching = sourcesMatching(p, fromRule, mesh.settings.trustDomain);

      let widenedByTo: Example | undefined;
      let widenedByFrom: Example | undefined;
      // Workloads with the same labels, ports and data plane answer alike: evaluate one of each.
      const distinct = [...new Map(bound.map((b) => [JSON.stringify([b.mode, b.workload.namespace, b.workload.labels, b.workload.ports]), b])).values()];
      for (const dest of distinct) {
        if (widenedByTo && widenedByFrom) break;
        // Every connection a waypoint sees arrives in an mTLS tunnel.
        const named = dest.point.kind === "waypoint" ? matching.map((m) => ({ ...m, source: { ...m.source, mtls: true } })) : matching;
        const sources = [...otherSources(scenario, dest), ...named];
        for (const op of sampleOperations(scenario, dest, toRule)) {
          for (const s of sources) {
            if (widenedByTo && widenedByFrom) break;
            const request: AuthzRequest = {
              source: s.source,
              destination: { namespace: dest.workload.namespace, labels: dest.workload.labels, port: op.port },
              protocol: "TCP",
              ...(op.http ? { http: op.http } : {}),
            };
            const asWritten = evaluatePolicies(scenario, [p], request, dest.point);
            if (asWritten.verdict !== "allow") continue;
            const asMerged = evaluatePolicies(scenario, [merged], request, dest.point);
            // A decision that rests on something unknown (a source without an address) proves nothing.
            if (asMerged.verdict !== "deny" || asWritten.assumptions.length > 0 || asMerged.assumptions.length > 0) continue;
            const by = asWritten.policies.map((r) => r.rule);
            const example = { source: s.label, op: describeOperation(op), dest: dest.workload };
            if (!widenedByTo && by.includes(toRule.index)) widenedByTo = example;
            else if (!widenedByFrom && by.includes(fromRule.index)) widenedByFrom = example;
          }
        }
      }
      if (!widenedByTo && !widenedByFrom) continue;

      const admitted: string[] = [];
      if (widenedByTo) {
        admitted.push(`rules[${toRule.index}] (to only) admits every source on ${describeTo(toRule)} (${widenedByTo.source} is admitted to ${widenedByTo.op} of ${widenedByTo.dest.id})`);
      }
      if (widenedByFrom) {
        admitted.push(`rules[${fromRule.index}] (from only) admits ${describeFrom(fromRule)} on every port and path (${widenedByFrom.source} is admitted to ${widenedByFrom.op} of ${widenedByFrom.dest.id})`);
      }
      const manifest = p.manifest;
      const rawRules = (manifest.raw.spec as { rules?: unknown[] } | undefined)?.rules;
      let fix: string | undefined;
      if (Array.isArray(rawRules)) {
        const raw = (r: AuthzRule) => rawRules[r.index] as Record<string, unknown>;
        const rules = rawRules.flatMap((r, i) => (i === mergedRule.index ? [{ from: raw(fromRule).from, to: raw(toRule).to }] : i === fromRule.index || i === toRule.index ? [] : [r]));
        fix = stringify({ rules }, { lineWidth: 0 });
      }
      const first = fromRule.line <= toRule.line ? fromRule : toRule;
      report({
        messageId: "split",
        data: { policy: `${p.namespace}/${p.name}`, admitted: admitted.join("; and ") },
        resource: { kind: "AuthorizationPolicy", namespace: p.namespace, name: p.name },
        workloads: bound.map((b) => b.workload.id),
        file: p.file,
        line: first.line,
        ...(fix ? { fix } : {}),
      });
    }
  },
});
