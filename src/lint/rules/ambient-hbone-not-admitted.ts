/**
 * Policies that admit an application port between two mesh workloads but not HBONE
 * (TCP 15008): when either end is in the ambient mesh, the connection travels as
 * HBONE to the destination pod's 15008, so the CNI sees 15008 and drops it — at the
 * destination's ingress or at the client's egress. Confirmed on the wire path.
 */
import type { Scenario } from "../../analysis/scenario.js";
import { HBONE_PORT } from "../../layers/istio/index.js";
import type { Direction, PolicyRef } from "../../layers/types.js";
import type { Workload } from "../../model/types.js";
import { usesHbone } from "../../path/mesh.js";
import { traceFlow } from "../../path/index.js";
import { createRule } from "../rule.js";
import { describePolicy, isolatingPolicies, meshMode, policyResource } from "../util.js";

/** Whether every CNI layer lets `endpoint` exchange `port` with `peer` in `direction`. */
function admits(scenario: Scenario, endpoint: Workload, direction: Direction, peer: Workload, port: number): boolean {
  const p = { kind: "workload" as const, workload: peer };
  return scenario.layers.every((l) => l.evaluate(endpoint, direction, p, { protocol: "TCP", port }).verdict === "allow");
}

export default createRule({
  id: "ambient-hbone-not-admitted",
  description: "Policies admit an application port between mesh workloads that talk HBONE (an ambient end), but not TCP 15008",
  severity: "error",
  messages: {
    ingress:
      "{{dest}} receives {{client}}'s connections as HBONE on TCP {{hbone}} (ambient mesh), which {{policy}} does not admit, so TCP {{port}} (admitted by the policies) is dropped",
    egress:
      "{{client}} sends its connections to {{dest}} as HBONE on TCP {{hbone}} (ambient mesh), which {{policy}} does not admit for egress, so TCP {{port}} (admitted by the policies) is dropped",
  },
  check({ scenario, report }) {
    if (!scenario.mesh) return;
    const modes = new Map(scenario.cluster.workloads.map((w) => [w, meshMode(scenario, w)] as const));
    if (![...modes.values()].includes("ambient")) return;
    const mesh = scenario.cluster.workloads.filter((w) => modes.get(w) !== "none");
    const hbone = (client: Workload, dest: Workload): boolean => client !== dest && usesHbone(modes.get(client)!, modes.get(dest)!, "TCP");
    // Workloads with the same mode and role keys get the same answers: peers are tried once per class.
    const peerClass = (w: Workload, direction: Direction): string =>
      `${modes.get(w)} ${scenario.layers.map((l) => (direction === "ingress" ? l.roleKeys(w).ingressPeer : l.roleKeys(w).egressPeer)).join(" ")}`;
    for (const direction of ["ingress", "egress"] as const) {
      const peers = new Map<string, Workload>();
      for (const w of mesh) {
        const key = peerClass(w, direction);
        if (!peers.has(key)) peers.set(key, w);
      }
      // Endpoints of one class (mode, ports, role keys) drop the same peers on the same port.
      const endpointClass = (w: Workload): string =>
        `${modes.get(w)} ${w.ports.map((p) => `${p.protocol}/${p.port}`).join(",")} ${scenario.layers.map((l) => (direction === "ingress" ? l.roleKeys(w).ingressEndpoint : l.roleKeys(w).egressEndpoint)).join(" ")}`;
      const found = new Map<string, { peer: Workload; port: number; policy: PolicyRef } | null>();
      const firstDrop = (endpoint: Workload, isolating: readonly PolicyRef[]): { peer: Workload; port: number; policy: PolicyRef } | null => {
        for (const [, peer] of peers) {
          const [client, dest] = direction === "ingress" ? [peer, endpoint] : [endpoint, peer];
          if (!hbone(client, dest) || admits(scenario, endpoint, direction, peer, HBONE_PORT)) continue;
          for (const cp of dest.ports) {
            if (cp.protocol !== "TCP" || cp.port === HBONE_PORT || !admits(scenario, endpoint, direction, peer, cp.port)) continue;
            const [path] = traceFlow(scenario, { kind: "workload", workload: client }, { kind: "workload", workload: dest }, { protocol: "TCP", port: cp.port });
            const blocked = path?.blocked;
            if (!blocked || blocked.step !== direction || blocked.wire.port !== HBONE_PORT) continue;
            return { peer, port: cp.port, policy: blocked.policies[0] ?? isolating[0]! };
          }
        }
        return null;
      };
      for (const endpoint of mesh) {
        const isolating = isolatingPolicies(scenario, endpoint, direction);
        if (isolating.length === 0) continue;
        // One finding per isolated endpoint: the first peer class that shows the drop.
        const key = endpointClass(endpoint);
        if (!found.has(key)) found.set(key, firstDrop(endpoint, isolating));
        const drop = found.get(key);
        if (!drop) continue;
        const [client, dest] = direction === "ingress" ? [drop.peer, endpoint] : [endpoint, drop.peer];
        report({
          messageId: direction,
          data: { dest: dest.id, client: client.id, hbone: HBONE_PORT, policy: describePolicy(drop.policy), port: drop.port },
          resource: policyResource(drop.policy),
          workloads: [endpoint.id, drop.peer.id],
          file: drop.policy.file,
          line: drop.policy.line,
          fix: `${direction}:\n- ports:\n  - protocol: TCP\n    port: ${HBONE_PORT}\n`,
        });
      }
    }
  },
});
