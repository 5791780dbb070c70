/**
 * A ServiceEntry with resolution STATIC, no endpoints and no workloadSelector:
 * istiod accepts it (semantics.md §4.9 r31), but its cluster has no endpoint, so
 * what the sidecar routes to it has nowhere to go.
 */
import { serviceEntryResource, workloadsRoutedTo } from "../facts/istio.js";
import { createRule } from "../rule.js";
import { listed } from "../util.js";

export default createRule({
  id: "istio-serviceentry-static-without-endpoints",
  description: "A ServiceEntry with resolution STATIC has no endpoints and no workloadSelector: nothing to route to",
  severity: "error",
  messages: {
    noEndpoints:
      "ServiceEntry {{entry}} has resolution STATIC but no endpoints and no workloadSelector: its cluster is empty, so {{who}} routed to {{host}} get HTTP 503 (no healthy upstream) or a closed connection",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    for (const e of mesh.registry.entries) {
      if (e.resolution !== "STATIC" || e.endpoints.length > 0 || e.workloadSelector) continue;
      const routed = [...new Set(e.ports.flatMap((p) => workloadsRoutedTo(scenario, e, p).map((r) => r.workload.id)))];
      // A single address of the entry is the likely endpoint; a block names none.
      const address = e.addresses.find((a) => !a.includes("/") || /\/(32|128)$/.test(a))?.split("/")[0];
      report({
        messageId: "noEndpoints",
        data: {
          entry: `${e.namespace}/${e.name}`,
          who: routed.length === 0 ? "connections" : `the connections of ${listed(routed.length > 3 ? [...routed.slice(0, 3), `${routed.length - 3} more`] : routed)}`,
          host: e.hosts[0] ?? "",
        },
        resource: serviceEntryResource(e),
        workloads: routed,
        file: e.file,
        line: e.manifest.lineOf(["spec", "resolution"]),
        fix: `spec:\n  endpoints:\n  - address: ${address ?? "203.0.113.50   # the address the entry is for"}\n`,
      });
    }
  },
});
