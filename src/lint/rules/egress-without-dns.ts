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

/**
 * Where lookups go, per protocol: the kube-dns Service's port 53, else its pods, else
 * any address. Without a TCP 53 port on the Service there is no TCP target (nothing to judge).
 */
function dnsTarget(scenario: Scenario): { target: FlowTarget; tcpTarget: FlowTarget | undefined; what: string } {
  const svc = scenario.cluster.services.find((s) => s.name === "kube-dns" && s.ports.some((p) => p.port === 53 && p.protocol === "UDP"));
  if (svc) {
    const port = (protocol: string) => svc.ports.find((p) => p.port === 53 && p.protocol === protocol);
    const tcp = port("TCP");
    return { target: { kind: "service", service: svc, port: port("UDP")! }, tcpTarget: tcp && { kind: "service", service: svc, port: tcp }, what: `Service ${svc.id}` };
  }
  const pods = scenario.cluster.workloads.find((w) => w.labels["k8s-app"] === "kube-dns");
  if (pods) return { target: { kind: "workload", workload: pods }, tcpTarget: { kind: "workload", workload: pods }, what: pods.id };
  return { target: { kind: "external", ip: ANY_DNS_ADDRESS }, tcpTarget: { kind: "external", ip: ANY_DNS_ADDRESS }, what: "any DNS server" };
}

const NP_FIX =
  "egress:\n- to:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: kube-system\n    podSelector:\n      matchLabels:\n        k8s-app: kube-dns\n  ports:\n  - protocol: UDP\n    port: 53\n  - protocol: TCP\n    port: 53\n";
const CILIUM_FIX =
  "egress:\n- toEndpoints:\n  - matchLabels:\n      k8s:io.kubernetes.pod.namespace: kube-system\n      k8s:k8s-app: kube-dns\n  toPorts:\n  - ports:\n    - port: \"53\"\n      protocol: ANY\n";

export default createRule({
  id: "egress-without-dns",
  description: "A workload isolated for egress cannot reach kube-dns on UDP 53",
  severity: "error",
  // TCP 53 carries truncated answers; many working setups open UDP only, so it is checked on request.
  defaultOptions: { tcp: false },
  messages: {
    egress: "{{workloads}} {{are}} isolated for egress by {{policy}}, which does not let {{them}} reach {{dns}} on UDP 53: name resolution fails",
    ingress: "{{workloads}} {{are}} isolated for egress and allowed to reach {{dns}} on UDP 53, but {{policy}} denies it at the DNS server's ingress: name resolution fails",
    tcp: "{{workloads}} {{are}} allowed to reach {{dns}} on UDP 53 but {{policy}} blocks TCP 53: answers too large for UDP (truncated, retried over TCP) fail",
  },
  check({ scenario, options, report }) {
    const { target, tcpTarget, what } = dnsTarget(scenario);
    const dnsPods = new Set<Workload>(target.kind === "workload" ? [target.workload] : []);
    // One finding per blocking policy and side, listing every workload it cuts off.
    const groups = new Map<string, { side: "egress" | "ingress" | "tcp"; policy: PolicyRef; workloads: string[] }>();
    const add = (side: "egress" | "ingress" | "tcp", policy: PolicyRef, w: Workload): void => {
      const key = `${side} ${policy.kind} ${policy.namespace}/${policy.name}`;
      const group = groups.get(key) ?? { side, policy, workloads: [] };
      group.workloads.push(w.id);
      groups.set(key, group);
    };
    for (const w of scenario.cluster.workloads) {
      if (dnsPods.has(w) || w.hostNetwork) continue;
      const isolating = isolatingPolicies(scenario, w, "egress");
      if (isolating.length === 0) continue;
      if (target.kind === "service" && target.service.selector && Object.entries(target.service.selector).every(([k, v]) => w.labels[k] === v) && w.namespace === target.service.namespace) continue;
      const paths = traceFlow(scenario, { kind: "workload", workload: w }, target, { protocol: "UDP", port: 53 });
      if (paths.some((p) => p.verdict === "allowed")) {
        // UDP works; TCP 53 is what resolvers fall back to for truncated answers.
        if (!options.tcp || !tcpTarget) continue;
        const tcp = traceFlow(scenario, { kind: "workload", workload: w }, tcpTarget, { protocol: "TCP", port: 53 });
        const blocked = tcp.find((p) => p.blocked)?.blocked;
        if (tcp.every((p) => p.verdict !== "allowed") && blocked && (blocked.step === "egress" || blocked.step === "ingress") && blocked.policies[0]) add("tcp", blocked.policies[0], w);
        continue;
      }
      if (target.kind === "external" && admitsDnsToPods(scenario, w)) continue;
      const blocked = paths.find((p) => p.blocked)?.blocked;
      add(blocked?.step === "ingress" ? "ingress" : "egress", blocked?.policies[0] ?? isolating[0]!, w);
    }
    for (const { side, policy, workloads } of groups.values()) {
      const many = workloads.length > 1;
      report({
        messageId: side,
        ...(side === "tcp" ? { severity: "info" as const } : {}),
        data: { workloads: listed(workloads), are: many ? "are" : "is", them: many ? "them" : "it", policy: describePolicy(policy), dns: what },
        resource: policyResource(policy),
        workloads,
        file: policy.file,
        line: policy.line,
        // The egress side gets the rule to add; at the DNS server's ingress, the same peers in the other direction.
        ...(side !== "ingress" ? { fix: policy.kind.startsWith("Cilium") ? CILIUM_FIX : NP_FIX } : {}),
      });
    }
  },
});
