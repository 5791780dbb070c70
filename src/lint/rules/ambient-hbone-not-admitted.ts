/**
 * An ambient destination whose ingress policies admit an application port from
 * mesh clients but not HBONE (TCP 15008): the ztunnel carries those flows to
 * 15008, so they are dropped. Confirmed on the wire path.
 */
import { HBONE_PORT } from "../../layers/istio/index.js";
import { traceFlow } from "../../path/index.js";
import { createRule } from "../rule.js";
import { describePolicy, isolatingPolicies, meshMode, policyResource } from "../util.js";

export default createRule({
  id: "ambient-hbone-not-admitted",
  description: "Ingress policies of an ambient-mesh pod admit an application port from mesh clients but not HBONE on TCP 15008",
  severity: "error",
  messages: {
    hboneDropped:
      "{{dest}} is in the ambient mesh: {{client}} reaches it as HBONE on TCP {{hbone}}, which {{policy}} does not admit, so TCP {{port}} (admitted by the policies) is dropped",
  },
  check({ scenario, report }) {
    if (!scenario.mesh) return;
    const clients = scenario.cluster.workloads.filter((w) => {
      const mode = meshMode(scenario, w);
      return mode === "ambient" || mode === "sidecar";
    });
    for (const dest of scenario.cluster.workloads) {
      if (meshMode(scenario, dest) !== "ambient") continue;
      const isolating = isolatingPolicies(scenario, dest, "ingress");
      if (isolating.length === 0) continue;
      let found = false;
      for (const client of clients) {
        if (found) break;
        if (client === dest) continue;
        const peer = { kind: "workload" as const, workload: client };
        if (scenario.layers.every((l) => l.evaluate(dest, "ingress", peer, { protocol: "TCP", port: HBONE_PORT }).verdict === "allow")) continue;
        for (const cp of dest.ports) {
          if (cp.protocol !== "TCP" || cp.port === HBONE_PORT) continue;
          const conn = { protocol: "TCP" as const, port: cp.port };
          if (!scenario.layers.every((l) => l.evaluate(dest, "ingress", peer, conn).verdict === "allow")) continue;
          const [path] = traceFlow(scenario, { kind: "workload", workload: client }, { kind: "workload", workload: dest }, conn);
          const blocked = path?.blocked;
          if (!blocked || blocked.step !== "ingress" || blocked.wire.port !== HBONE_PORT) continue;
          const policy = blocked.policies[0] ?? isolating[0]!;
          report({
            messageId: "hboneDropped",
            data: { dest: dest.id, client: client.id, hbone: HBONE_PORT, policy: describePolicy(policy), port: cp.port },
            resource: policyResource(policy),
            workloads: [dest.id, client.id],
            file: policy.file,
            line: policy.line,
            fix: `ingress:\n- ports:\n  - protocol: TCP\n    port: ${HBONE_PORT}\n`,
          });
          found = true;
          break;
        }
      }
    }
  },
});
