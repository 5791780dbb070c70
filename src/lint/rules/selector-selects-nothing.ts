/**
 * A NetworkPolicy selector that matches nothing in the input: a non-empty
 * podSelector with no pod in the policy's namespace, or a peer namespaceSelector
 * with no namespace (often `name: x` written for `kubernetes.io/metadata.name: x`).
 */
import { createRule } from "../rule.js";
import { networkPolicies } from "../util.js";

export default createRule({
  id: "selector-selects-nothing",
  description: "A NetworkPolicy podSelector or peer namespaceSelector matches no workload or namespace in the input",
  severity: "warning",
  messages: {
    podSelector: "NetworkPolicy {{policy}}: spec.podSelector selects no workload in namespace {{namespace}}, so the policy has no effect",
    namespaceSelector:
      "NetworkPolicy {{policy}}: the namespaceSelector of {{direction}} rule {{rule}} matches no namespace in the input (namespaces carry kubernetes.io/metadata.name: NAME)",
  },
  check({ scenario, report }) {
    const { cluster } = scenario;
    const namespaces = [...cluster.namespaces.values()];
    for (const p of networkPolicies(scenario)) {
      const resource = { kind: "NetworkPolicy", namespace: p.namespace, name: p.name };
      const id = `${p.namespace}/${p.name}`;
      if (!p.podSelector.isEverything) {
        const selected = cluster.workloads.filter((w) => w.namespace === p.namespace && p.podSelector.matches(w.labels));
        if (selected.length === 0) {
          report({ messageId: "podSelector", data: { policy: id, namespace: p.namespace }, resource, workloads: [], file: p.file, line: p.line });
        }
      }
      for (const direction of ["ingress", "egress"] as const) {
        for (const rule of p[direction]) {
          for (const peer of rule.peers ?? []) {
            if (peer.type !== "pods" || !peer.namespaceSelector || peer.namespaceSelector.isEverything) continue;
            const sel = peer.namespaceSelector;
            if (namespaces.some((ns) => sel.matches(ns.labels))) continue;
            report({
              messageId: "namespaceSelector",
              data: { policy: id, direction, rule: rule.index },
              resource,
              workloads: [],
              file: p.file,
              line: rule.line,
            });
          }
        }
      }
    }
  },
});
