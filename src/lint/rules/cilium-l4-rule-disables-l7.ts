/**
 * On one endpoint and port, HTTP rules and a rule that allows the same peers at
 * L4 only: Cilium lets the L4-only rule win, so every request passes (semantics.md
 * §3.9 r41, §3.13 C14). Decided with the evaluator: a probe engine without the
 * L4-only rules denies some request (HTTP 403) that the policies as written allow.
 */
import type { CiliumEngine, CiliumPolicy, CiliumRule, CiliumSpec, L7Request } from "../../layers/cilium/index.js";
import type { Direction, Peer, PolicyRef, WireConn } from "../../layers/types.js";
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { OUTSIDE, ciliumResource, probeEngine, rawAt, ruleName, rulePath, yamlSnippet } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

/** Requests that HTTP rules commonly refuse: an unlisted path, a write method, a stray Host. */
const PROBE_REQUESTS: readonly L7Request[] = [
  { method: "GET", path: "/palisade-probe" },
  { method: "DELETE", path: "/" },
  { method: "POST", path: "/palisade-probe" },
  { method: "GET", path: "/" },
  { method: "GET", path: "/", host: "palisade-probe.invalid" },
];

interface L7Port {
  spec: CiliumSpec;
  rule: CiliumRule;
  port: number;
}

/** The TCP ports on which a rule has HTTP rules, towards `dest` (named ports resolve on the destination). */
function httpPorts(engine: CiliumEngine, rule: CiliumRule, dest: Workload | undefined): number[] {
  const out: number[] = [];
  for (const pr of rule.ports ?? []) {
    if (pr.l7?.type !== "http") continue;
    for (const p of pr.ports) {
      const conns = engine.ruleConns({ ...rule, ports: [{ ...pr, ports: [p] }] }, dest);
      const first = conns.portsOf("TCP").intervals()[0];
      if (first) out.push(first[0]);
    }
  }
  return out;
}

/** Whether an allow rule lets TCP `port` through without L7 rules (no toPorts, or a toPorts entry without rules). */
function l4OnlyOn(engine: CiliumEngine, rule: CiliumRule, port: number, dest: Workload | undefined): boolean {
  if (rule.deny || rule.icmpOnly) return false;
  if (!rule.ports) return true;
  return rule.ports.some((pr) => !pr.l7 && engine.ruleConns({ ...rule, ports: [pr] }, dest).contains("TCP", port));
}

/** The policies without the given rules. */
function without(policies: readonly CiliumPolicy[], drop: ReadonlySet<CiliumRule>): CiliumPolicy[] {
  return policies.map((p) => {
    const copy: CiliumPolicy = { ...p, specs: [] };
    copy.specs = p.specs.map((s) => ({ ...s, policy: copy, rules: s.rules.filter((r) => !drop.has(r)) }));
    return copy;
  });
}

/** Whether the engine's list of matching rules names this rule. */
function refersTo(refs: readonly PolicyRef[], spec: CiliumSpec, rule: CiliumRule): boolean {
  const p = spec.policy;
  return refs.some((r) => r.kind === p.kind && r.namespace === p.namespace && r.name === p.name && r.line === rule.line);
}

function describeRequest(r: L7Request): string {
  return `${r.method} ${r.path}${r.host ? ` (Host ${r.host})` : ""}`;
}

function describePeer(peer: Peer): string {
  return peer.kind === "workload" ? peer.workload.id : "the world";
}

/** The L7 rule's HTTP rules on `port`, as written, moved onto the L4-only rule's port. */
function fixFor(l7: L7Port): string | undefined {
  const entries = rawAt(l7.spec.policy, rulePath(l7.spec, l7.rule, "toPorts"));
  if (!Array.isArray(entries)) return undefined;
  type Entry = { ports?: { port?: unknown }[]; rules?: { http?: unknown } } | null;
  const withHttp = (entries as Entry[]).filter((e) => Array.isArray(e?.rules?.http));
  // The entry for this very port when there is one; its port may also be a name.
  const entry = withHttp.find((e) => e?.ports?.some((p) => String(p.port) === String(l7.port))) ?? withHttp[0];
  const http = entry?.rules?.http;
  if (!http) return undefined;
  return yamlSnippet({ toPorts: [{ ports: [{ port: String(l7.port), protocol: "TCP" }], rules: { http } }] });
}

interface Shadowing {
  l4: { spec: CiliumSpec; rule: CiliumRule };
  l7: L7Port;
  direction: Direction;
  endpoints: Set<string>;
  peers: Set<string>;
  request: L7Request;
}

export default createRule({
  id: "cilium-l4-rule-disables-l7",
  description: "An L4-only rule on the same endpoint, port and peers makes HTTP rules ineffective",
  severity: "warning",
  messages: {
    shadowed:
      "{{l4}} allows {{peers}} on TCP/{{port}} of {{endpoints}} ({{direction}}) without L7 rules, so the HTTP rules of {{l7}} have no effect there: {{request}} is allowed although they deny it",
  },
  check({ scenario, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    const probes = new Map<string, CiliumEngine>();
    const ruleIds = new Map<CiliumRule, number>();
    const idOf = (r: CiliumRule): number => ruleIds.get(r) ?? (ruleIds.set(r, ruleIds.size), ruleIds.size - 1);
    const found = new Map<string, Shadowing>();
    const peers: Peer[] = [...scenario.cluster.workloads.filter((w) => !w.hostNetwork).map((w): Peer => ({ kind: "workload", workload: w })), OUTSIDE];
    for (const w of scenario.cluster.workloads) {
      if (!engine.applies(w)) continue;
      for (const direction of ["ingress", "egress"] as const) {
        const specs = engine.factsOf(w).selectedBy[direction].map((si) => engine.specs[si]!);
        const allows = specs.flatMap((spec) => spec.rules.filter((r) => r.direction === direction && !r.deny).map((rule) => ({ spec, rule })));
        const withHttp = allows.filter(({ rule }) => rule.ports?.some((pr) => pr.l7?.type === "http"));
        if (withHttp.length === 0) continue;
        for (const peer of peers) {
          // A pod's traffic to itself never crosses the policy.
          if (peer.kind === "workload" && peer.workload === w) continue;
          const dest = direction === "ingress" ? w : peer.kind === "workload" ? peer.workload : undefined;
          for (const { spec, rule } of withHttp) {
            for (const port of httpPorts(engine, rule, dest)) {
              const l4 = allows.filter((x) => x.rule !== rule && l4OnlyOn(engine, x.rule, port, dest));
              if (l4.length === 0) continue;
              // The rules that match this peer on this port, as the engine lists them for an L4 allow.
              const conn: WireConn = { protocol: "TCP", port };
              const matching = engine.evaluate(w, direction, peer, conn);
              if (matching.verdict !== "allow" || !refersTo(matching.policies, spec, rule)) continue;
              const shadowing = l4.filter((x) => refersTo(matching.policies, x.spec, x.rule));
              if (shadowing.length === 0) continue;
              const key = shadowing.map((x) => idOf(x.rule)).sort((a, b) => a - b).join(",");
              let probe = probes.get(key);
              if (!probe) probes.set(key, (probe = probeEngine(scenario, without(engine.policies, new Set(shadowing.map((x) => x.rule))))));
              for (const request of PROBE_REQUESTS) {
                const alone = probe.evaluate(w, direction, peer, conn, request);
                if (alone.verdict !== "deny" || alone.observed !== "http-403") continue;
                if (engine.evaluate(w, direction, peer, conn, request).verdict !== "allow") break;
                for (const x of shadowing) {
                  const id = `${idOf(x.rule)}|${idOf(rule)}|${port}`;
                  const entry = found.get(id) ?? { l4: x, l7: { spec, rule, port }, direction, endpoints: new Set(), peers: new Set(), request };
                  entry.endpoints.add(w.id);
                  entry.peers.add(describePeer(peer));
                  found.set(id, entry);
                }
                break;
              }
            }
          }
        }
      }
    }
    for (const s of found.values()) {
      const fix = fixFor(s.l7);
      const l4Policy = s.l4.spec.policy;
      report({
        messageId: "shadowed",
        data: {
          l4: ruleName(s.l4.spec, s.l4.rule),
          peers: listed([...s.peers]),
          port: s.l7.port,
          endpoints: listed([...s.endpoints]),
          direction: s.direction,
          l7: ruleName(s.l7.spec, s.l7.rule),
          request: describeRequest(s.request),
        },
        resource: ciliumResource(l4Policy),
        workloads: [...s.endpoints],
        file: l4Policy.file,
        line: s.l4.rule.line,
        ...(fix ? { fix } : {}),
      });
    }
  },
});
