/**
 * A NetworkPolicy that changes nothing: the pods it selects are isolated by other
 * policies and every connection it allows is allowed by their rules. Often a
 * narrower policy written to restrict traffic that a broader one already admits.
 */
import { describeSite, listSome, networkPolicyRedundancy } from "../facts/redundancy.js";
import { createRule } from "../rule.js";

export default createRule({
  id: "redundant-policy",
  description: "A NetworkPolicy allows nothing, and isolates nothing, that other policies do not already",
  severity: "warning",
  messages: {
    covered:
      "NetworkPolicy {{policy}} changes nothing for {{workloads}}: other policies isolate them too ({{isolatedBy}}), and every connection it allows is already allowed by {{coveredBy}} (policies only add allowances: a narrower policy cannot restrict what another one allows)",
  },
  check({ scenario, report }) {
    for (const { policy, coveredBy, isolatedBy, workloads } of networkPolicyRedundancy(scenario).policies) {
      report({
        messageId: "covered",
        data: {
          policy: `${policy.namespace}/${policy.name}`,
          workloads: listSome(workloads.map((w) => w.id)),
          isolatedBy: listSome(isolatedBy.map((p) => `${p.namespace}/${p.name}`)),
          coveredBy: listSome(coveredBy.map(describeSite)),
        },
        resource: { kind: "NetworkPolicy", namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: policy.line,
      });
    }
  },
});
