/**
 * A NetworkPolicy that lists application ports for an ambient pod and also admits
 * HBONE (TCP 15008) from mesh clients: the tunnel carries any destination port, and
 * the CNI sees only 15008, so those clients reach ports the policy does not list.
 * Decided on the wire path: a port the policies refuse from the client is reached.
 */
import { HBONE_PORT } from "../../layers/istio/index.js";
import { rulePorts, type NetworkPolicy } from "../../layers/networkpolicy/index.js";
import type { PolicyRef } from "../../layers/types.js";
import { traceFlow } from "../../path/index.js";
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { meshMode, networkPolicies } from "../util.js";

/** The TCP ports other than 15008 that the policy's ingress rules list for `dest` (named ports resolved). */
function listedAppPorts(p: NetworkPolicy, dest: Workload): number[] {
  const ports = new Set<number>();
  for (const rule of p.ingress) {
    if (!rule.ports) continue;
    const conns = rulePorts(rule, dest);
    for (const cp of dest.ports) if (cp.protocol === "TCP" && cp.port !== HBONE_PORT && conns.contains("TCP", cp.port)) ports.add(cp.port);
    for (const item of rule.ports) if (item.protocol === "TCP" && typeof item.port === "number" && item.port !== HBONE_PORT) ports.add(item.port);
  }
  return [...ports].sort((a, b) => a - b);
}

/** The pod selector of the policy as `matchLabels`, when it is one; else the workload's labels. */
function selectorLabels(p: NetworkPolicy, dest: Workload): Record<string, string> {
  const reqs = p.podSelector.requirements;
  if (reqs.every((r) => r.operator === "In" && r.values.length === 1)) return Object.fromEntries(reqs.map((r) => [r.key, r.values[0]!]));
  return { ...dest.labels };
}

function authorizationFix(p: NetworkPolicy, dest: Workload, ports: readonly number[]): string {
  const labels = selectorLabels(p, dest);
  const selector = Object.keys(labels).length > 0 ? `  selector:\n    matchLabels:\n${Object.entries(labels).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}\n`).join("")}` : "";
  return (
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${p.name}-ports\n  namespace: ${p.namespace}\nspec:\n${selector}` +
    `  action: ALLOW\n  rules:\n  - to:\n    - operation:\n        ports: [${ports.map((n) => `"${n}"`).join(", ")}]\n`
  );
}

export default createRule({
  id: "ambient-hbone-widens-ports",
  description: "A NetworkPolicy lists ports for an ambient-mesh pod but also admits HBONE (TCP 15008), which carries every port",
  severity: "warning",
  messages: {
    widened:
      "NetworkPolicy {{policy}} lists TCP {{ports}} for {{dest}} and also admits TCP {{hbone}} (HBONE) from {{client}}: the tunnel carries any port and NetworkPolicy sees only {{hbone}}, so {{client}} reaches {{dest}} on TCP {{port}}, which the policy does not list",
  },
  check({ scenario, report }) {
    if (!scenario.mesh) return;
    const modes = new Map(scenario.cluster.workloads.map((w) => [w, meshMode(scenario, w)] as const));
    if (![...modes.values()].includes("ambient")) return;
    // Clients the layers cannot tell apart at an ingress give the same answers: one per class.
    const clients = new Map<string, Workload>();
    for (const w of scenario.cluster.workloads) {
      const mode = modes.get(w)!;
      if (mode !== "ambient" && mode !== "sidecar") continue;
      const key = `${mode} ${scenario.layers.map((l) => l.roleKeys(w).ingressPeer).join(" ")}`;
      if (!clients.has(key)) clients.set(key, w);
    }
    const policies = networkPolicies(scenario);
    type Widening = { client: Workload; port: number; ref: PolicyRef; policy: NetworkPolicy; listed: number[] };
    /** One example client and port per destination is enough to show the widening. */
    const firstWidening = (dest: Workload): Widening | null => {
      const appPorts = dest.ports.filter((cp) => cp.protocol === "TCP" && cp.port !== HBONE_PORT);
      for (const client of clients.values()) {
        if (client === dest) continue;
        const peer = { kind: "workload" as const, workload: client };
        const admits = (port: number) => scenario.layers.every((l) => l.evaluate(dest, "ingress", peer, { protocol: "TCP", port }).verdict === "allow");
        if (!admits(HBONE_PORT)) continue;
        for (const cp of appPorts) {
          // A port the policies admit from this client directly is not widened by the tunnel.
          if (admits(cp.port)) continue;
          const [path] = traceFlow(scenario, { kind: "workload", workload: client }, { kind: "workload", workload: dest }, { protocol: "TCP", port: cp.port });
          if (!path || path.verdict !== "allowed") continue;
          const hop = path.hops.find((h) => h.step === "ingress" && h.at === dest.id && h.enforcer === "networkpolicy" && h.wire.port === HBONE_PORT);
          const ref = hop?.policies[0];
          const policy = ref && policies.find((p) => p.namespace === ref.namespace && p.name === ref.name);
          if (!ref || !policy) continue;
          const listed = listedAppPorts(policy, dest);
          // A policy that opens only the tunnel lists no ports to widen.
          if (listed.length === 0 || listed.includes(cp.port)) continue;
          return { client, port: cp.port, ref, policy, listed };
        }
      }
      return null;
    };
    // Destinations of one class (ports, role keys, labels the fix selects on) widen the same way.
    const found = new Map<string, Widening | null>();
    for (const dest of scenario.cluster.workloads) {
      if (modes.get(dest) !== "ambient" || !scenario.layers.some((l) => l.isolates(dest, "ingress"))) continue;
      const key = `${dest.namespace} ${JSON.stringify(dest.labels)} ${dest.ports.map((p) => `${p.protocol}/${p.port}/${p.name ?? ""}`).join(",")} ${scenario.layers.map((l) => l.roleKeys(dest).ingressEndpoint).join(" ")}`;
      if (!found.has(key)) found.set(key, firstWidening(dest));
      const w = found.get(key);
      if (!w) continue;
      report({
        messageId: "widened",
        data: { policy: `${w.policy.namespace}/${w.policy.name}`, ports: w.listed.join(", "), dest: dest.id, hbone: HBONE_PORT, client: w.client.id, port: w.port },
        resource: { kind: "NetworkPolicy", namespace: w.policy.namespace, name: w.policy.name },
        workloads: [dest.id, w.client.id],
        file: w.ref.file,
        line: w.ref.line,
        fix: authorizationFix(w.policy, dest, w.listed),
      });
    }
  },
});
