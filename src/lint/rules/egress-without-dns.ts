/**
 * A workload isolated for egress that cannot reach the cluster DNS on UDP 53:
 * every name lookup times out. Decided on the wire path to kube-dns (its Service,
 * else its pods, else any address on UDP 53).
 */
import type { Scenario } from "../../analysis/scenario.js";
import { traceFlow, type FlowTarget } from "../../path/index.js";
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { describePolicy, isolatingPolicies, listed, networkPolicies, policyResource } from "../util.js";
import type { NetworkPolicyPort } from "../../layers/networkpolicy/index.js";
import type { PolicyRef } from "../../layers/types.js";

/** Whether a NetworkPolicy port entry admits UDP 53 (a named port: the usual DNS names). */
function admitsDnsPort(p: NetworkPolicyPort): boolean {
  if (p.protocol !== "UDP") return false;
  if (p.port === undefined) return true;
  if (typeof p.port === "string") return p.port === "dns" || p.port === "dns-udp";
  return p.port === 53 || (p.endPort !== undefined && p.port <= 53 && 53 <= p.endPort);
}

/**
 * Without a DNS server in the input, a NetworkPolicy egress rule to pods on UDP 53 is
 * taken as reaching it (the kube-dns pods are not there to be matched).
 */
function admitsDnsToPods(scenario: Scenario, w: Workload): boolean {
  const isolatingLayers = scenario.layers.filter((l) => l.isolates(w, "egress"));
  if (isolatingLayers.some((l) => l.id !== "networkpolicy")) return false;
  return networkPolicies(scenario).some(
    (p) =>
      p.namespace === w.namespace &&
      p.policyTypes.has("egress") &&
      p.podSelector.matches(w.labels) &&
      p.egress.some((r) => (r.ports === undefined || r.ports.some(admitsDnsPort)) && (r.peers === undefined || r.peers.some((peer) => peer.type === "pods"))),
  );
}

/** Stands for "any address" when the input has no DNS server. */
const ANY_DNS_ADDRESS = "10.96.0.10";

function dnsTarget(scenario: Scenario): { target: FlowTarget; what: string } {
  const svc = scenario.cluster.services.find((s) => s.name === "kube-dns" && s.ports.some((p) => p.port === 53 && p.protocol === "UDP"));
  if (svc) return { target: { kind: "service", service: svc, port: svc.ports.find((p) => p.port === 53 && p.protocol === "UDP")! }, what: `Service ${svc.id}` };
  const pods = scenario.cluster.workloads.find((w) => w.labels["k8s-app"] === "kube-dns");
  if (pods) return { target: { kind: "workload", workload: pods }, what: pods.id };
  return { target: { kind: "external", ip: ANY_DNS_ADDRESS }, what: "any DNS server" };
}

const NP_FIX =
  "egress:\n- to:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: kube-system\n    podSelector:\n      matchLabels:\n        k8s-app: kube-dns\n  ports:\n  - protocol: UDP\n    port: 53\n  - protocol: TCP\n    port: 53\n";
const CILIUM_FIX =
  "egress:\n- toEndpoints:\n  - matchLabels:\n      k8s:io.kubernetes.pod.namespace: kube-system\n      k8s:k8s-app: kube-dns\n  toPorts:\n  - ports:\n    - port: \"53\"\n      protocol: ANY\n";

export default createRule({
  id: "egress-without-dns",
  description: "A workload isolated for egress cannot reach kube-dns on UDP 53",
  severity: "error",
  messages: {
    egress: "{{workloads}} {{are}} isolated for egress by {{policy}}, which does not let {{them}} reach {{dns}} on UDP 53: name resolution fails",
    ingress: "{{workloads}} {{are}} isolated for egress and allowed to reach {{dns}} on UDP 53, but {{policy}} denies it at the DNS server's ingress: name resolution fails",
  },
  check({ scenario, report }) {
    const { target, what } = dnsTarget(scenario);
    const dnsPods = new Set<Workload>(target.kind === "workload" ? [target.workload] : []);
    // One finding per blocking policy and side, listing every workload it cuts off.
    const groups = new Map<string, { side: "egress" | "ingress"; policy: PolicyRef; workloads: string[] }>();
    for (const w of scenario.cluster.workloads) {
      if (dnsPods.has(w) || w.hostNetwork) continue;
      const isolating = isolatingPolicies(scenario, w, "egress");
      if (isolating.length === 0) continue;
      if (target.kind === "service" && target.service.selector && Object.entries(target.service.selector).every(([k, v]) => w.labels[k] === v) && w.namespace === target.service.namespace) continue;
      const paths = traceFlow(scenario, { kind: "workload", workload: w }, target, { protocol: "UDP", port: 53 });
      if (paths.some((p) => p.verdict === "allowed")) continue;
      if (target.kind === "external" && admitsDnsToPods(scenario, w)) continue;
      const blocked = paths.find((p) => p.blocked)?.blocked;
      const side = blocked?.step === "ingress" ? "ingress" : "egress";
      const policy = blocked?.policies[0] ?? isolating[0]!;
      const key = `${side} ${policy.kind} ${policy.namespace}/${policy.name}`;
      const group = groups.get(key) ?? { side, policy, workloads: [] };
      group.workloads.push(w.id);
      groups.set(key, group);
    }
    for (const { side, policy, workloads } of groups.values()) {
      const many = workloads.length > 1;
      report({
        messageId: side,
        data: { workloads: listed(workloads), are: many ? "are" : "is", them: many ? "them" : "it", policy: describePolicy(policy), dns: what },
        resource: policyResource(policy),
        workloads,
        file: policy.file,
        line: policy.line,
        // The egress side gets the rule to add; at the DNS server's ingress, the same peers in the other direction.
        ...(side === "egress" ? { fix: policy.kind.startsWith("Cilium") ? CILIUM_FIX : NP_FIX } : {}),
      });
    }
  },
});
