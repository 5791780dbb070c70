/**
 * A CiliumNetworkPolicy's fromEndpoints/toEndpoints selector without a namespace
 * key is confined to the policy's own namespace (semantics.md §3.3 r20). When it
 * matches no pod there but would match pods elsewhere, the author meant those
 * pods and the rule admits nothing. Decided by two probe engines holding the
 * selector alone: as Cilium reads it, and with the implicit namespace lifted.
 */
import { CLUSTER_LABEL, IdentitySelector, POD_NAMESPACE_LABEL, parseSelectKey } from "../../layers/cilium/labels.js";
import type { PeerPart } from "../../layers/cilium/index.js";
import { createRule } from "../rule.js";
import { ciliumResource, endpointsOf, podsMatchedBy, rawAt, ruleName, rulePath, yamlSnippet } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

type SelectorPart = Extract<PeerPart, { type: "selector" }>;

/** The keys a selector names, as written (matchLabels and matchExpressions). */
function writtenKeys(raw: unknown): string[] {
  if (!raw || typeof raw !== "object") return [];
  const sel = raw as { matchLabels?: unknown; matchExpressions?: unknown };
  const keys = sel.matchLabels && typeof sel.matchLabels === "object" ? Object.keys(sel.matchLabels) : [];
  if (Array.isArray(sel.matchExpressions)) {
    for (const e of sel.matchExpressions) if (e && typeof e === "object" && typeof (e as { key?: unknown }).key === "string") keys.push((e as { key: string }).key);
  }
  return keys;
}

/** Whether Cilium added the policy's namespace to this selector (the author did not write one). */
function implicitlyScoped(part: SelectorPart, raw: unknown, namespace: string): boolean {
  const named = writtenKeys(raw).some((k) => {
    const { source, key } = parseSelectKey(k);
    return key === POD_NAMESPACE_LABEL && (source === "k8s" || source === "any");
  });
  if (named) return false;
  return part.selector.requirements.some((r) => r.source === "k8s" && r.key === POD_NAMESPACE_LABEL && r.operator === "In" && r.values.length === 1 && r.values[0] === namespace);
}

/** The selector without the namespace and cluster Cilium added to it. */
function asWritten(part: SelectorPart, namespace: string, clusterName: string): IdentitySelector {
  const added = (r: SelectorPart["selector"]["requirements"][number]): boolean =>
    r.source === "k8s" && r.operator === "In" && r.values.length === 1 && ((r.key === POD_NAMESPACE_LABEL && r.values[0] === namespace) || (r.key === CLUSTER_LABEL && r.values[0] === clusterName));
  return IdentitySelector.of(part.selector.requirements.filter((r) => !added(r)));
}

/** The selector as written, with the namespaces of the pods it was meant for. */
function scopedSelector(raw: unknown, namespaces: readonly string[]): Record<string, unknown> {
  const sel = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  if (namespaces.length === 1) {
    const labels = sel.matchLabels && typeof sel.matchLabels === "object" ? (sel.matchLabels as Record<string, unknown>) : {};
    return { ...sel, matchLabels: { [POD_NAMESPACE_LABEL]: namespaces[0], ...labels } };
  }
  const expressions = Array.isArray(sel.matchExpressions) ? sel.matchExpressions : [];
  return { ...sel, matchExpressions: [{ key: POD_NAMESPACE_LABEL, operator: "In", values: [...namespaces] }, ...expressions] };
}

export default createRule({
  id: "cilium-implicit-namespace-scope",
  description: "A CiliumNetworkPolicy endpoint selector without a namespace key matches pods of other namespaces only, but Cilium confines it to the policy's namespace",
  severity: "warning",
  messages: {
    confined:
      "{{rule}}: {{member}} {{{selector}}} names no namespace, so Cilium confines it to the policy's namespace {{namespace}}, where it matches no pod; the pods it describes ({{peers}}) are in {{elsewhere}}, and the rule admits none of them",
    confinedDeny:
      "{{rule}}: {{member}} {{{selector}}} names no namespace, so Cilium confines it to the policy's namespace {{namespace}}, where it matches no pod; the pods it describes ({{peers}}) are in {{elsewhere}}, and the deny rule stops none of them",
  },
  check({ scenario, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    for (const spec of engine.specs) {
      const policy = spec.policy;
      if (policy.kind !== "CiliumNetworkPolicy" || policy.namespace === null) continue;
      for (const rule of spec.rules) {
        const member = rule.direction === "ingress" ? "fromEndpoints" : "toEndpoints";
        const entries = rawAt(policy, rulePath(spec, rule, member));
        if (!Array.isArray(entries) || entries.length !== rule.peers.length) continue;
        const endpoints = endpointsOf(scenario, engine, spec, rule.direction);
        rule.peers.forEach((part, j) => {
          if (part.type !== "selector" || !implicitlyScoped(part, entries[j], policy.namespace!)) return;
          if (endpoints.length === 0 || podsMatchedBy(scenario, spec, rule, [part], endpoints[0]!).length > 0) return;
          const lifted: SelectorPart = {
            ...part,
            selector: part.selector.without("k8s", POD_NAMESPACE_LABEL).and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "Exists", values: [] }),
          };
          const meant = podsMatchedBy(scenario, spec, rule, [lifted], endpoints[0]!);
          if (meant.length === 0) return;
          const namespaces = [...new Set(meant.map((w) => w.namespace))].sort();
          report({
            messageId: rule.deny ? "confinedDeny" : "confined",
            data: {
              rule: ruleName(spec, rule),
              member,
              selector: String(asWritten(part, policy.namespace!, scenario.profile.cilium.clusterName)),
              namespace: policy.namespace!,
              peers: listed(meant.map((w) => w.id)),
              elsewhere: namespaces.length === 1 ? `namespace ${namespaces[0]}` : `namespaces ${namespaces.join(", ")}`,
            },
            resource: ciliumResource(policy),
            workloads: endpoints.map((w) => w.id),
            file: policy.file,
            line: policy.manifest.lineOf(rulePath(spec, rule, member, j)),
            fix: yamlSnippet({ [member]: [scopedSelector(entries[j], namespaces)] }),
          });
        });
      }
    }
  },
});
