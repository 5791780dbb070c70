/**
 * An ALLOW rule whose only condition is a source address block covering every
 * address (0.0.0.0/0, ::/0): it matches every request, so the workloads it
 * selects are open to any client, which is rarely what a source-address rule meant.
 */
import { SOURCE_FIELDS, type AuthzFrom, type AuthzRule } from "../../layers/istio/authorization.js";
import { attachedWorkloads, authzResource, isEveryAddress, policyLine } from "../facts/istio.js";
import { createRule } from "../rule.js";

const BLOCK_FIELDS = ["ipBlocks", "remoteIpBlocks"] as const;

/** The `from` entry, field and index of a block that admits every address, when nothing else in the source narrows it. */
function everyAddressSource(rule: AuthzRule): { from: AuthzFrom; j: number; field: (typeof BLOCK_FIELDS)[number]; k: number } | undefined {
  // `to` and `when` narrow the rule whatever its source.
  if (!rule.from || rule.to !== undefined || rule.when.length > 0) return undefined;
  for (const [j, from] of rule.from.entries()) {
    const others = SOURCE_FIELDS.filter((f) => !(BLOCK_FIELDS as readonly string[]).includes(f) && from.source[f].length > 0);
    if (others.length > 0) continue;
    for (const field of BLOCK_FIELDS) {
      const k = from.source[field].findIndex(isEveryAddress);
      if (k >= 0) return { from, j, field, k };
    }
  }
  return undefined;
}

export default createRule({
  id: "istio-allow-from-anywhere",
  description: "An ALLOW rule admits every source address (0.0.0.0/0 or ::/0) with no other condition",
  severity: "warning",
  messages: {
    anywhere:
      "rules[{{rule}}] of {{policy}} allows {{field}} {{block}} with no other condition: it matches every {{family}} client, so the ALLOW policies of {{workloads}} restrict nothing",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    for (const policy of mesh.authorizationPolicies) {
      if (policy.action !== "ALLOW" || policy.dryRun) continue;
      for (const rule of policy.rules) {
        const found = everyAddressSource(rule);
        if (!found) continue;
        const attached = attachedWorkloads(scenario, policy);
        // ztunnel reads remoteIpBlocks as an HTTP attribute: there the ALLOW rule never matches (semantics.md §5.4 r11–r12).
        const matching = found.field === "remoteIpBlocks" ? attached.filter((w) => mesh.membership(w).mode !== "ambient") : attached;
        if (attached.length > 0 && matching.length === 0) continue;
        const workloads = matching.map((w) => w.id);
        const block = found.from.source[found.field][found.k]!;
        report({
          messageId: "anywhere",
          data: {
            rule: rule.index,
            policy: `AuthorizationPolicy ${policy.namespace}/${policy.name}`,
            field: found.field,
            block,
            family: block.includes(":") ? "IPv6" : "IPv4",
            workloads: workloads.length > 0 ? workloads.join(", ") : policy.targetRefs.length > 0 ? "its targets" : "the workloads it selects",
          },
          resource: authzResource(policy),
          workloads,
          file: policy.file,
          line: policyLine(scenario, policy, ["spec", "rules", rule.index, "from", found.j, "source", found.field, found.k]),
          fix: `rules:\n- from:\n  - source:\n      ${found.field}:\n      - 203.0.113.0/24   # the client ranges meant, not ${block}\n`,
        });
      }
    }
  },
});
