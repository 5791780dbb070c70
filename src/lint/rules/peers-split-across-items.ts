/**
 * `- namespaceSelector: …` and `- podSelector: …` as two peer items where one
 * item with both was meant: two items are ORed, one item ANDs its selectors
 * (semantics §1.3 r13). Reported when the pods the podSelector names are in the
 * selected namespaces and not in the policy's own, the mark of the one-dash slip.
 */
import { stringify } from "yaml";
import type { FieldPath } from "../../load/types.js";
import { createRule } from "../rule.js";
import { peerNamespaces, policyName, selectedPods, splitPeers } from "../facts/networkpolicy.js";
import { listed, networkPolicies } from "../util.js";

function rawAt(root: unknown, path: FieldPath): unknown {
  let v = root;
  for (const key of path) v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[key] : undefined;
  return v;
}

const count = (n: number): string => `${n} workload${n === 1 ? "" : "s"}`;

export default createRule({
  id: "peers-split-across-items",
  description: "A namespaceSelector and a podSelector written as two peer items (OR) where one item with both (AND) was meant",
  severity: "warning",
  messages: {
    split:
      "NetworkPolicy {{policy}} {{direction}}[{{rule}}]: namespaceSelector {{{namespaceSelector}}} and podSelector {{{podSelector}}} are two peer items, which are ORed: the rule admits every pod of {{namespaces}} ({{namespaceCount}}) and the pods {{{podSelector}}} of {{policyNamespace}} (none); the pods {{{podSelector}}} are in {{namespaces}}, and one item with both selectors would admit just those ({{combined}})",
  },
  check({ scenario, report }) {
    for (const p of networkPolicies(scenario)) {
      const subjects = selectedPods(scenario, p);
      for (const split of splitPeers(scenario, p)) {
        const { direction, rule, namespaceItem, podItem } = split;
        const peersKey = direction === "ingress" ? "from" : "to";
        const namespaces = peerNamespaces(scenario, p, namespaceItem.peer).sort();
        const itemPath = (index: number): FieldPath => ["spec", direction, rule.index, peersKey, index];
        const combined = {
          namespaceSelector: rawAt(p.manifest.raw, [...itemPath(namespaceItem.index), "namespaceSelector"]),
          podSelector: rawAt(p.manifest.raw, [...itemPath(podItem.index), "podSelector"]),
        };
        report({
          messageId: "split",
          data: {
            policy: policyName(p),
            direction,
            rule: rule.index,
            namespaceSelector: String(namespaceItem.peer.namespaceSelector),
            podSelector: String(podItem.peer.podSelector),
            namespaces: `namespace${namespaces.length === 1 ? "" : "s"} ${listed(namespaces)}`,
            namespaceCount: count(split.namespacePods.length),
            policyNamespace: p.namespace,
            combined: `${count(split.combinedPods.length)}: ${listed(split.combinedPods.map((w) => w.id))}`,
          },
          resource: { kind: "NetworkPolicy", namespace: p.namespace, name: p.name },
          workloads: subjects.map((w) => w.id).sort(),
          file: p.file,
          line: p.manifest.lineOf(itemPath(Math.min(namespaceItem.index, podItem.index))),
          fix: stringify([combined], { lineWidth: 0 }),
        });
      }
    }
  },
});
