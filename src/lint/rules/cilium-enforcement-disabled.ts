/**
 * A namespace whose escape-hatch label (seed 002: `network-policy.homelab/
 * enforcement=disabled`) has switched Cilium's enforcement off: its pods are not
 * isolated, or admit every peer on every port, while pods elsewhere are
 * isolated. Decided with the engine, so a label the policies do not honour is
 * not reported.
 */
import type { CiliumEngine } from "../../layers/cilium/index.js";
import type { Direction, Peer, PolicyRef } from "../../layers/types.js";
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { OUTSIDE, policyName } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

/** Whether Cilium lets every peer through on every port in this direction, and the rules that do it when it is isolated. */
function wideOpen(engine: CiliumEngine, w: Workload, d: Direction, peers: readonly Peer[]): { open: boolean; by: PolicyRef[] } {
  if (!engine.isolates(w, d)) return { open: true, by: [] };
  if (!peers.every((p) => engine.allowedConns(w, d, p).isAll())) return { open: false, by: [] };
  return { open: true, by: engine.evaluate(w, d, OUTSIDE, { protocol: "TCP", port: 1 }).policies };
}

export default createRule({
  id: "cilium-enforcement-disabled",
  description: "A namespace label has switched Cilium policy enforcement off for the namespace's pods while other pods are isolated",
  severity: "warning",
  defaultOptions: { label: "network-policy.homelab/enforcement", value: "disabled" },
  messages: {
    disabled:
      "namespace {{namespace}} is labelled {{label}}={{value}}: Cilium lets every peer through on every port for {{directions}} of {{workloads}} ({{why}}), while pods of other namespaces are isolated",
  },
  check({ scenario, options, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    const { label, value } = options;
    const pods = scenario.cluster.workloads.filter((w) => engine.applies(w) && !w.hostNetwork);
    for (const ns of scenario.cluster.namespaces.values()) {
      if (ns.labels[label] !== value) continue;
      const inside = pods.filter((w) => w.namespace === ns.name);
      const elsewhere = pods.filter((w) => w.namespace !== ns.name);
      if (inside.length === 0 || !elsewhere.some((w) => engine.isolates(w, "ingress") || engine.isolates(w, "egress"))) continue;
      const peers: Peer[] = [OUTSIDE, ...pods.map((w): Peer => ({ kind: "workload", workload: w }))];
      const directions: Direction[] = [];
      const by = new Set<string>();
      for (const d of ["ingress", "egress"] as const) {
        const results = inside.map((w) => wideOpen(engine, w, d, peers));
        if (!results.every((r) => r.open)) continue;
        directions.push(d);
        for (const r of results) for (const p of r.by) by.add(policyName(p));
      }
      if (directions.length === 0) continue;
      const manifest = scenario.manifests.find((m) => m.kind === "Namespace" && m.name === ns.name);
      report({
        messageId: "disabled",
        data: {
          namespace: ns.name,
          label,
          value,
          directions: directions.join(" and "),
          workloads: listed(inside.map((w) => w.id)),
          why: by.size > 0 ? `allowed by ${listed([...by])}` : "no policy selects them",
        },
        resource: { kind: "Namespace", namespace: null, name: ns.name },
        workloads: inside.map((w) => w.id),
        file: manifest?.source.file ?? ns.source?.file ?? "",
        line: manifest ? manifest.lineOf(["metadata", "labels", label]) : (ns.source?.line ?? 0),
      });
    }
  },
});
