/**
 * A NetworkPolicy selector that matches nothing in the input: a non-empty
 * podSelector with no pod in the policy's namespace, a peer namespaceSelector
 * with no namespace (often `name: x` written for `kubernetes.io/metadata.name: x`),
 * or a peer podSelector with no pod where the peer looks (the policy's namespace,
 * or the namespaces its namespaceSelector matches).
 */
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { namespacesMatching, namesPods, peerNamespaces, peerPods, policyName, selectedPods, splitPeers } from "../facts/networkpolicy.js";
import { networkPolicies } from "../util.js";

/** Why pods that match a selector still do not count: NetworkPolicy selectors ignore host-network pods (semantics §1.6 r29). */
function hostNetworkHint(matching: readonly Workload[]): string {
  const host = matching.filter((w) => w.hostNetwork).map((w) => w.id);
  return host.length > 0 ? ` (${host.join(", ")} match${host.length === 1 ? "es" : ""} but run${host.length === 1 ? "s" : ""} in the host network, which NetworkPolicy selectors never select)` : "";
}

export default createRule({
  id: "selector-selects-nothing",
  description: "A NetworkPolicy podSelector, or a peer's namespaceSelector or podSelector, matches no workload or namespace in the input",
  severity: "warning",
  messages: {
    podSelector: "NetworkPolicy {{policy}}: spec.podSelector selects no workload in namespace {{namespace}}, so the policy has no effect{{hint}}",
    namespaceSelector:
      "NetworkPolicy {{policy}}: the namespaceSelector of {{direction}} rule {{rule}} matches no namespace in the input (namespaces carry kubernetes.io/metadata.name: NAME)",
    peerPodSelector:
      "NetworkPolicy {{policy}}: the podSelector {{{selector}}} of {{direction}} rule {{rule}} matches no pod in {{where}}, so this peer admits nothing{{hint}}",
  },
  check({ scenario, report }) {
    const { cluster } = scenario;
    const namespaces = [...cluster.namespaces.values()];
    for (const p of networkPolicies(scenario)) {
      const resource = { kind: "NetworkPolicy", namespace: p.namespace, name: p.name };
      const id = policyName(p);
      if (!p.podSelector.isEverything && selectedPods(scenario, p).length === 0) {
        const hint = hostNetworkHint(cluster.workloads.filter((w) => w.namespace === p.namespace && p.podSelector.matches(w.labels)));
        report({ messageId: "podSelector", data: { policy: id, namespace: p.namespace, hint }, resource, workloads: [], file: p.file, line: p.line });
      }
      // A pod item that only means something ANDed with a sibling namespace item is peers-split-across-items' finding.
      const split = new Set(splitPeers(scenario, p).map((s) => s.podItem.peer));
      for (const direction of ["ingress", "egress"] as const) {
        for (const rule of p[direction]) {
          (rule.peers ?? []).forEach((peer, j) => {
            if (peer.type !== "pods") return;
            if (peer.namespaceSelector && !peer.namespaceSelector.isEverything) {
              const sel = peer.namespaceSelector;
              if (!namespaces.some((ns) => sel.matches(ns.labels))) {
                report({ messageId: "namespaceSelector", data: { policy: id, direction, rule: rule.index }, resource, workloads: [], file: p.file, line: rule.line });
                return;
              }
            }
            if (!namesPods(peer) || split.has(peer) || peerPods(scenario, p, peer).length > 0) return;
            const where = peerNamespaces(scenario, p, peer);
            const inWhere = cluster.workloads.filter((w) => where.includes(w.namespace));
            // The input shows no workload of those namespaces: it is partial there, not wrong.
            if (inWhere.length === 0) return;
            const sel = peer.namespaceSelector;
            report({
              messageId: "peerPodSelector",
              data: {
                policy: id,
                selector: String(peer.podSelector),
                direction,
                rule: rule.index,
                where: sel
                  ? `the namespace${where.length === 1 ? "" : "s"} its namespaceSelector {${sel}} matches (${sel.isEverything ? "all" : namespacesMatching(scenario, sel).map((n) => n.name).join(", ")})`
                  : `namespace ${p.namespace} (without a namespaceSelector a peer is in the policy's namespace)`,
                hint: hostNetworkHint(inWhere.filter((w) => peer.podSelector!.matches(w.labels))),
              },
              resource,
              workloads: [],
              file: p.file,
              line: p.manifest.lineOf(["spec", direction, rule.index, direction === "ingress" ? "from" : "to", j, "podSelector"]),
            });
          });
        }
      }
    }
  },
});
