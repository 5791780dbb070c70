/**
 * An ambient pod isolated for ingress that does not admit 169.254.7.127: istio-cni
 * SNATs kubelet probes to that address, so they are dropped and the pod is never ready.
 *
 * Severity depends on the CNI: Cilium gives the SNATed address the `world` identity
 * (it is not the node's address, so allow-localhost does not apply) and drops the
 * probes for certain; for other CNIs Palisade applies NetworkPolicy by source address,
 * which is what Istio documents, but a CNI may treat node-originated traffic apart.
 */
import { AMBIENT_PROBE_SOURCE } from "../../layers/istio/index.js";
import { traceFlow } from "../../path/index.js";
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { describePolicy, isolatingPolicies, meshMode, policyResource } from "../util.js";
import { podSpecOf } from "../../model/pod-template.js";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined);

/** The TCP ports the kubelet probes (httpGet, tcpSocket, grpc), named ports resolved; else the first TCP container port. */
export function probePorts(w: Workload): number[] {
  const ports = new Set<number>();
  const containers = podSpecOf(w).containers;
  for (const c of Array.isArray(containers) ? containers : []) {
    for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      const probe = obj(obj(c)?.[kind]);
      const port = obj(probe?.httpGet)?.port ?? obj(probe?.tcpSocket)?.port ?? obj(probe?.grpc)?.port;
      if (typeof port === "number") ports.add(port);
      else if (typeof port === "string") {
        const named = w.ports.find((p) => p.name === port && p.protocol === "TCP")?.port ?? (/^\d+$/.test(port) ? Number(port) : undefined);
        if (named !== undefined) ports.add(named);
      }
    }
  }
  if (ports.size > 0) return [...ports];
  return [w.ports.find((p) => p.protocol === "TCP")?.port ?? 8080];
}

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
      let port = 0;
      let blocked = null;
      for (const p of probePorts(dest)) {
        const [path] = traceFlow(scenario, { kind: "kubelet" }, { kind: "workload", workload: dest }, { protocol: "TCP", port: p });
        const b = path?.blocked;
        if (b && b.step === "ingress" && b.wire.srcIP === AMBIENT_PROBE_SOURCE) {
          port = p;
          blocked = b;
          break;
        }
      }
      if (!blocked) continue;
      const policy = blocked.policies[0] ?? isolating[0]!;
      const cilium = policy.kind.startsWith("Cilium");
      report({
        messageId: "probesDropped",
        severity: scenario.profile.cni === "cilium" ? "error" : "warning",
        data: { dest: dest.id, probe: AMBIENT_PROBE_SOURCE, policy: describePolicy(policy), port },
        resource: policyResource(policy),
        workloads: [dest.id],
        file: policy.file,
        line: policy.line,
        fix: cilium ? `ingress:\n- fromCIDR:\n  - ${AMBIENT_PROBE_SOURCE}/32\n` : `ingress:\n- from:\n  - ipBlock:\n      cidr: ${AMBIENT_PROBE_SOURCE}/32\n`,
      });
    }
  },
});
