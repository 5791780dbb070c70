/**
 * An ambient pod isolated for ingress that does not admit 169.254.7.127: istio-cni
 * SNATs kubelet probes to that address, so they are dropped and the pod is never ready.
 */
import { AMBIENT_PROBE_SOURCE } from "../../layers/istio/index.js";
import { traceFlow } from "../../path/index.js";
import { createRule } from "../rule.js";
import { isolatingPolicies, meshMode, policyResource } from "../util.js";

export default createRule({
  id: "ambient-probes-blocked",
  description: "An ambient-mesh pod isolated for ingress does not admit the kubelet probe address 169.254.7.127",
  severity: "error",
  messages: {
    probesDropped:
      "{{dest}} is in the ambient mesh: kubelet probes arrive from {{probe}} (SNAT by istio-cni), which {{policy}} does not admit, so health probes on TCP {{port}} fail",
  },
  check({ scenario, report }) {
    if (!scenario.mesh) return;
    for (const dest of scenario.cluster.workloads) {
      if (meshMode(scenario, dest) !== "ambient") continue;
      const isolating = isolatingPolicies(scenario, dest, "ingress");
      if (isolating.length === 0) continue;
      const port = dest.ports.find((p) => p.protocol === "TCP")?.port ?? 8080;
      const [path] = traceFlow(scenario, { kind: "kubelet" }, { kind: "workload", workload: dest }, { protocol: "TCP", port });
      const blocked = path?.blocked;
      if (!blocked || blocked.step !== "ingress" || blocked.wire.srcIP !== AMBIENT_PROBE_SOURCE) continue;
      const policy = blocked.policies[0] ?? isolating[0]!;
      report({
        messageId: "probesDropped",
        data: { dest: dest.id, probe: AMBIENT_PROBE_SOURCE, policy: `${policy.kind} ${policy.namespace}/${policy.name}`, port },
        resource: policyResource(policy),
        workloads: [dest.id],
        file: policy.file,
        line: policy.line,
        fix: `ingress:\n- from:\n  - ipBlock:\n      cidr: ${AMBIENT_PROBE_SOURCE}/32\n`,
      });
    }
  },
});
