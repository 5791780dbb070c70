/**
 * A NetworkPolicy rule that allows nothing the other rules selecting the same pods
 * do not already allow. Decided per endpoint class and peer class with the layer's
 * own matching (facts/redundancy.ts); the fix is the rule list without it.
 */
import { stringify } from "yaml";
import type { NetworkPolicy } from "../../layers/networkpolicy/index.js";
import type { Direction } from "../../layers/types.js";
import { describeSite, listSome, networkPolicyRedundancy } from "../facts/redundancy.js";
import { createRule } from "../rule.js";

/** The policy's rule list in `direction` without rule `index`; policyTypes written out when removing it would change their default. */
function withoutRule(policy: NetworkPolicy, direction: Direction, index: number): string {
  const spec = (policy.manifest.raw.spec ?? {}) as Record<string, unknown>;
  const list = Array.isArray(spec[direction]) ? (spec[direction] as unknown[]) : [];
  const rest = list.filter((_, i) => i !== index);
  // Defaulted policyTypes include Egress only while the egress list is non-empty.
  const keepTypes = policy.policyTypesDefaulted && direction === "egress" && rest.length === 0;
  const types = [...policy.policyTypes].map((d) => (d === "ingress" ? "Ingress" : "Egress"));
  return stringify({ ...(keepTypes ? { policyTypes: types } : {}), [direction]: rest }, { lineWidth: 0 });
}

export default createRule({
  id: "redundant-rule",
  description: "A NetworkPolicy rule allows nothing that other rules for the same pods do not already allow",
  severity: "info",
  messages: {
    covered:
      "NetworkPolicy {{policy}} {{rule}} adds nothing for {{workloads}}: every connection it allows is already allowed by {{coveredBy}}",
  },
  check({ scenario, report }) {
    for (const { site, coveredBy, workloads } of networkPolicyRedundancy(scenario).rules) {
      const { policy, direction, rule } = site;
      report({
        messageId: "covered",
        data: {
          policy: `${policy.namespace}/${policy.name}`,
          rule: `${direction}[${rule.index}]`,
          workloads: listSome(workloads.map((w) => w.id)),
          coveredBy: listSome(coveredBy.map(describeSite)),
        },
        resource: { kind: "NetworkPolicy", namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: rule.line,
        fix: withoutRule(policy, direction, rule.index),
      });
    }
  },
});
