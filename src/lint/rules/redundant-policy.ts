/**
 * A policy that changes nothing: the pods it selects are isolated by other policies
 * and every connection it allows is allowed by their rules. Often a narrower policy
 * written to restrict traffic that a broader one already admits. NetworkPolicies of
 * the NetworkPolicy layer; CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
 * NetworkPolicy under the Cilium engine; AuthorizationPolicy ALLOW policies
 * (facts/redundancy.ts).
 */
import { ciliumRedundancy, describeCiliumSite, describeIstioSite, describeSite, istioRedundancy, networkPolicyRedundancy } from "../facts/redundancy.js";
import { createRule } from "../rule.js";
import { listed } from "../util.js";

const qualified = (p: { namespace: string | null; name: string }): string => (p.namespace === null ? p.name : `${p.namespace}/${p.name}`);

export default createRule({
  id: "redundant-policy",
  description: "A NetworkPolicy, Cilium policy or ALLOW AuthorizationPolicy allows nothing, and isolates nothing, that other policies do not already",
  severity: "warning",
  messages: {
    covered:
      "{{kind}} {{policy}} changes nothing for {{workloads}}: other policies isolate them too ({{isolatedBy}}), and every connection it allows is already allowed by {{coveredBy}} (policies only add allowances: a narrower policy cannot restrict what another one allows)",
    coveredRequests:
      "AuthorizationPolicy {{policy}} changes nothing for {{workloads}}: other ALLOW policies apply wherever it does ({{alsoApplying}}), and every request it allows is also allowed by {{coveredBy}} (ALLOW policies only add: a narrower one cannot restrict what another one allows)",
  },
  check({ scenario, report }) {
    const found = [
      ...networkPolicyRedundancy(scenario).policies.map((r) => ({ ...r, kind: "NetworkPolicy", coveredBy: r.coveredBy.map(describeSite) })),
      ...ciliumRedundancy(scenario).policies.map((r) => ({ ...r, kind: r.policy.kind, coveredBy: r.coveredBy.map(describeCiliumSite) })),
    ];
    for (const { policy, kind, coveredBy, isolatedBy, workloads } of found) {
      report({
        messageId: "covered",
        data: {
          kind,
          policy: qualified(policy),
          workloads: listed(workloads.map((w) => w.id)),
          isolatedBy: listed(isolatedBy.map(qualified)),
          coveredBy: listed(coveredBy),
        },
        resource: { kind, namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: policy.line,
      });
    }
    for (const { policy, coveredBy, alsoApplying, workloads } of istioRedundancy(scenario).policies) {
      report({
        messageId: "coveredRequests",
        data: {
          policy: qualified(policy),
          workloads: workloads.length > 0 ? listed(workloads.map((w) => w.id)) : "the workloads it targets",
          alsoApplying: listed(alsoApplying.map(qualified)),
          coveredBy: listed([...new Set(coveredBy.map(describeIstioSite))]),
        },
        resource: { kind: "AuthorizationPolicy", namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: policy.line,
      });
    }
  },
});
