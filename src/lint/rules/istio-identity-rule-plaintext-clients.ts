/**
 * Rules that need a peer identity (principals, namespaces, service accounts,
 * trust domains) on workloads that clients outside the mesh reach in plaintext:
 * a plaintext connection carries no identity, so an ALLOW rule of that kind never
 * matches it and a DENY rule of the `not…` kind always does (semantics.md §4.5 r18).
 *
 * Decided on the wire path from every workload outside the mesh to every port of
 * the protected workloads: the client must get through the CNI and
 * PeerAuthentication (PERMISSIVE) and be refused by AuthorizationPolicy, and the
 * same request with the client's own identity (as if it had a sidecar) must be
 * allowed. Only then is the missing identity what refuses it.
 */
import type { Scenario } from "../../analysis/scenario.js";
import type { AuthorizationPolicy, AuthzRule, SourceField } from "../../layers/istio/authorization.js";
import type { IstioMesh } from "../../layers/istio/index.js";
import type { PolicyRef } from "../../layers/types.js";
import type { Service, ServicePort, Workload } from "../../model/types.js";
import { resolveTargetPort, serviceBackends, traceFlow, type FlowTarget, type WirePath } from "../../path/index.js";
import { authorizationAt, httpAttributes, meshModeOf, peerAuthenticationAt } from "../../path/mesh.js";
import { attachedWorkloads, authzResource, enforcedSelectorPolicies } from "../facts/istio.js";
import { createRule } from "../rule.js";
import { listed } from "../util.js";

/** Fields only an mTLS peer can satisfy in an ALLOW rule (or, in their `not` form, escape in a DENY rule). */
const IDENTITY_FIELDS = {
  ALLOW: ["principals", "namespaces", "serviceAccounts", "trustDomains"],
  DENY: ["notPrincipals", "notNamespaces", "notServiceAccounts", "notTrustDomains"],
} as const satisfies Record<"ALLOW" | "DENY", readonly SourceField[]>;

function identityFields(p: AuthorizationPolicy, rule: AuthzRule): string[] {
  if (p.action !== "ALLOW" && p.action !== "DENY") return [];
  const fields = IDENTITY_FIELDS[p.action];
  return [...new Set((rule.from ?? []).flatMap((f) => fields.filter((k) => f.source[k].length > 0)))];
}

function usesIdentity(p: AuthorizationPolicy): boolean {
  return p.rules.some((r) => identityFields(p, r).length > 0);
}

/** Istio's own control plane: it never calls application ports. */
function isControlPlane(scenario: Scenario, w: Workload): boolean {
  const root = scenario.mesh?.settings.rootNamespace ?? "istio-system";
  return w.namespace === root && ["istiod", "ztunnel", "istio-cni-node"].includes(w.labels["app"] ?? "");
}

/** How clients reach a workload: through each Service port that selects it, else on its container ports. */
function targetsOf(scenario: Scenario, w: Workload): { target: FlowTarget; port: number; service?: Service; servicePort?: ServicePort }[] {
  const out: { target: FlowTarget; port: number; service?: Service; servicePort?: ServicePort }[] = [];
  for (const service of scenario.cluster.services) {
    if (service.namespace !== w.namespace || !serviceBackends(scenario, service).includes(w)) continue;
    for (const sp of service.ports) if (sp.protocol === "TCP" && resolveTargetPort(sp, w) !== undefined) out.push({ target: { kind: "service", service, port: sp }, port: sp.port, service, servicePort: sp });
  }
  if (out.length > 0) return out;
  return w.ports.filter((p) => p.protocol === "TCP").map((p) => ({ target: { kind: "workload", workload: w }, port: p.port }));
}

function policyOf(mesh: IstioMesh, ref: PolicyRef): AuthorizationPolicy | undefined {
  return mesh.authorizationPolicies.find((p) => ref.kind === "AuthorizationPolicy" && p.namespace === ref.namespace && p.name === ref.name);
}

interface Refusal {
  policy: AuthorizationPolicy;
  rule: AuthzRule;
  ref: PolicyRef;
  destinations: Set<string>;
  clients: Set<string>;
  port: number;
}

export default createRule({
  id: "istio-identity-rule-plaintext-clients",
  description: "An AuthorizationPolicy rule that needs a peer identity refuses clients outside the mesh, which connect in plaintext",
  severity: "error",
  messages: {
    allowNeverMatches:
      "{{clients}} {{reach}} {{destinations}} on container port {{port}} in plaintext, without a sidecar, and rules[{{rule}}] of {{policy}} needs {{fields}}, which only an mTLS peer has: it never matches them, so they are refused, though with a sidecar their identity would be admitted",
    denyAlwaysMatches:
      "{{clients}} {{reach}} {{destinations}} on container port {{port}} in plaintext, without a sidecar, and rules[{{rule}}] of {{policy}} denies every peer outside the identities its {{fields}} lists: a plaintext client has no identity, so they are refused, though with a sidecar their identity would be admitted",
  },
  // Each client class is traced to each protected destination port: on very large inputs the
  // search stops after this many traces (findings stay true, later ones may be missed).
  defaultOptions: { maxTraces: 20_000 },
  check({ scenario, options, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    let traces = 0;
    const identityPolicies = enforcedSelectorPolicies(mesh).filter(usesIdentity);
    const destinations = [...new Set(identityPolicies.flatMap((p) => attachedWorkloads(scenario, p)))];
    const clients = scenario.cluster.workloads.filter((w) => meshModeOf(scenario, w) === "none" && !isControlPlane(scenario, w));
    // Clients the CNI layers cannot tell apart, of one namespace, service account and address set,
    // get the same answer: one trace per class, every member reported.
    const classes = new Map<string, Workload[]>();
    for (const w of clients) {
      const keys = scenario.layers.map((l) => {
        const k = l.roleKeys(w);
        return `${k.egressEndpoint}|${k.ingressPeer}`;
      });
      const key = `${w.namespace} ${w.serviceAccount} ${w.ips.join(",")} ${w.hostNetwork} ${keys.join(" ")}`;
      classes.set(key, [...(classes.get(key) ?? []), w]);
    }
    const refusals = new Map<string, Refusal>();
    for (const dst of destinations) {
      const dstMode = meshModeOf(scenario, dst);
      for (const t of targetsOf(scenario, dst)) {
        for (const members of classes.values()) {
          const client = members.find((m) => m !== dst);
          if (!client) continue;
          if (++traces > options.maxTraces) break;
          const conn = { protocol: "TCP" as const, port: t.port };
          const path: WirePath | undefined = traceFlow(scenario, { kind: "workload", workload: client }, t.target, conn).find((p) => p.hops.some((h) => h.at === dst.id));
          // Only a refusal by AuthorizationPolicy: the CNI and PeerAuthentication let the client through.
          const blocked = path?.blocked;
          if (!blocked || blocked.step !== "authorization" || blocked.at !== dst.id) continue;
          const port = blocked.wire.port;
          const http = httpAttributes(undefined, t.servicePort, t.service, dst, dstMode, port, []);
          // Under PeerAuthentication DISABLE even a mesh client arrives without its identity.
          if (peerAuthenticationAt(mesh, dst, dstMode, port, true)?.connectionMtls === false) continue;
          const withIdentity = authorizationAt(mesh, dst, dstMode, { workload: client, ip: blocked.wire.srcIP ?? undefined, mtls: true }, port, http, blocked.wire.dstIP);
          if (withIdentity.verdict !== "allow") continue;
          // A DENY rule that refuses the missing identity, else the ALLOW rule the identity would match.
          const deny = blocked.policies.map((r) => ({ r, p: policyOf(mesh, r) })).find(({ r, p }) => p?.action === "DENY" && r.rule !== null);
          const decisive = deny ?? withIdentity.policies.map((r) => ({ r, p: policyOf(mesh, r) })).find(({ r, p }) => p?.action === "ALLOW" && r.rule !== null);
          if (!decisive?.p) continue;
          const rule = decisive.p.rules.find((r) => r.index === decisive.r.rule);
          if (!rule || identityFields(decisive.p, rule).length === 0) continue;
          const key = `${decisive.p.namespace}/${decisive.p.name}#${rule.index}`;
          const entry = refusals.get(key) ?? { policy: decisive.p, rule, ref: decisive.r, destinations: new Set<string>(), clients: new Set<string>(), port };
          entry.destinations.add(dst.id);
          for (const m of members) if (m !== dst) entry.clients.add(m.id);
          refusals.set(key, entry);
        }
      }
    }
    for (const r of refusals.values()) {
      const clientIds = [...r.clients];
      const shown = clientIds.length > 3 ? [...clientIds.slice(0, 3), `${clientIds.length - 3} more`] : clientIds;
      report({
        messageId: r.policy.action === "DENY" ? "denyAlwaysMatches" : "allowNeverMatches",
        data: {
          clients: listed(shown),
          reach: clientIds.length === 1 ? "reaches" : "reach",
          destinations: listed([...r.destinations]),
          port: r.port,
          rule: r.rule.index,
          policy: `AuthorizationPolicy ${r.policy.namespace}/${r.policy.name}`,
          fields: listed(identityFields(r.policy, r.rule)),
        },
        resource: authzResource(r.policy),
        workloads: [...r.destinations, ...clientIds],
        file: r.policy.file,
        line: r.ref.line,
        fix: "# put the clients in the mesh: on their pod template\nmetadata:\n  labels:\n    sidecar.istio.io/inject: \"true\"\n",
      });
    }
  },
});
