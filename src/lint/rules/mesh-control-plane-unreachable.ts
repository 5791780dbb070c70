/**
 * A workload whose Istio proxy needs istiod (a sidecar, a gateway or waypoint
 * proxy, ztunnel) but whose wire path to istiod's xDS and certificate port TCP
 * 15012 is blocked: the proxy never gets its configuration nor its certificate.
 * Ambient application pods are not checked: ztunnel talks to istiod for them.
 */
import type { PolicyRef } from "../../layers/types.js";
import { traceFlow } from "../../path/index.js";
import { createRule } from "../rule.js";
import { policyResource } from "../util.js";
import { controlPlaneTarget, ISTIOD_XDS_PORT, proxyRunBy } from "../facts/mesh.js";

export default createRule({
  id: "mesh-control-plane-unreachable",
  description: "An Istio proxy (sidecar, gateway, waypoint or ztunnel) cannot reach istiod on TCP 15012 for its configuration and certificates",
  severity: "error",
  messages: {
    egressBlocked:
      "{{workload}} runs {{proxy}}, which must reach {{istiod}} on TCP {{port}} (xDS and certificates), but {{policy}} drops it at {{workload}}'s egress: the proxy gets no configuration nor certificate and the pod never becomes ready",
    ingressBlocked:
      "The Istio proxies of {{workloads}} must reach {{istiod}} on TCP {{port}} (xDS and certificates), but {{policy}} drops them at istiod's ingress: the proxies get no configuration nor certificate",
  },
  check({ scenario, report }) {
    if (!scenario.mesh) return;
    const cp = controlPlaneTarget(scenario);
    if (!cp) return;
    // istiod's ingress policy cuts off many proxies at once: one finding for all of them.
    const atIngress = new Map<string, { policy: PolicyRef; workloads: string[] }>();
    for (const w of scenario.cluster.workloads) {
      if (w.hostNetwork || cp.pods.includes(w)) continue;
      const proxy = proxyRunBy(scenario, w);
      if (!proxy) continue;
      const paths = traceFlow(scenario, { kind: "workload", workload: w }, cp.target, { protocol: "TCP", port: ISTIOD_XDS_PORT });
      if (paths.length === 0 || paths.some((p) => p.verdict === "allowed")) continue;
      // Only the CNI layers are a sure verdict here: the proxy's own connection bypasses its mesh controls.
      const blocked = paths.map((p) => p.blocked).find((b) => b && (b.step === "egress" || b.step === "ingress"));
      const policy = blocked?.policies[0];
      if (!blocked || !policy) continue;
      const label = `${policy.kind} ${policy.namespace}/${policy.name}`;
      if (blocked.step === "egress") {
        report({
          messageId: "egressBlocked",
          data: { workload: w.id, proxy, istiod: cp.what, port: ISTIOD_XDS_PORT, policy: label },
          resource: policyResource(policy),
          workloads: [w.id],
          file: policy.file,
          line: policy.line,
          fix: cp.egressFix,
        });
      } else {
        const key = `${policy.file}:${policy.line}:${label}`;
        const entry = atIngress.get(key) ?? { policy, workloads: [] };
        entry.workloads.push(w.id);
        atIngress.set(key, entry);
      }
    }
    for (const { policy, workloads } of atIngress.values()) {
      const namespaces = [...new Set(workloads.map((id) => id.split("/")[0]!))];
      report({
        messageId: "ingressBlocked",
        data: { workloads: workloads.join(", "), istiod: cp.what, port: ISTIOD_XDS_PORT, policy: `${policy.kind} ${policy.namespace}/${policy.name}` },
        resource: policyResource(policy),
        workloads,
        file: policy.file,
        line: policy.line,
        fix: cp.ingressFix(namespaces),
      });
    }
  },
});
