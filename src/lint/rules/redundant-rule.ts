/**
 * A rule that allows nothing the other rules selecting the same pods do not already
 * allow: a NetworkPolicy rule (NetworkPolicy layer), an allow rule of a
 * CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy under the
 * Cilium engine (both decided per endpoint class and peer class with the layer's own
 * matching), or an AuthorizationPolicy ALLOW rule that one other ALLOW rule covers for
 * every request (facts/redundancy.ts). The fix is the rule list without it.
 */
import { stringify } from "yaml";
import type { Manifest } from "../../load/types.js";
import {
  ciliumRedundancy,
  describeCiliumSite,
  describeIstioSite,
  describeSite,
  istioRedundancy,
  networkPolicyRedundancy,
} from "../facts/redundancy.js";
import { createRule } from "../rule.js";
import { listed } from "../util.js";

/**
 * The list at `path` in the manifest without item `index`, under its last key; `policyTypes`
 * written out when given (removing the last egress rule of a NetworkPolicy whose policyTypes
 * were defaulted would stop isolating its pods for egress).
 */
function listWithout(manifest: Manifest, path: readonly (string | number)[], index: number, policyTypes?: string[]): string {
  let at: unknown = manifest.raw;
  for (const key of path) at = at !== null && typeof at === "object" ? (at as Record<string | number, unknown>)[key] : undefined;
  const rest = (Array.isArray(at) ? at : []).filter((_, i) => i !== index);
  return stringify({ ...(policyTypes ? { policyTypes } : {}), [path[path.length - 1]!]: rest }, { lineWidth: 0 });
}

/**
 * A NetworkPolicy whose policyTypes are defaulted isolates egress only while its egress
 * list is non-empty: removing its last egress rule must write them out.
 */
function policyTypesToKeep(manifest: Manifest, direction: string, rulesLeft: number): string[] | undefined {
  const spec = (manifest.raw.spec ?? {}) as { policyTypes?: unknown };
  const defaulted = !Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0;
  return defaulted && direction === "egress" && rulesLeft === 0 ? ["Ingress", "Egress"] : undefined;
}

export default createRule({
  id: "redundant-rule",
  description: "A NetworkPolicy, Cilium or AuthorizationPolicy ALLOW rule allows nothing that other rules for the same pods do not already allow",
  severity: "info",
  messages: {
    covered: "{{kind}} {{policy}} {{rule}} adds nothing for {{workloads}}: every connection it allows is already allowed by {{coveredBy}}",
    coveredRequests:
      "AuthorizationPolicy {{policy}} {{rule}} adds nothing: every request it allows, at every proxy it applies to, is also allowed by {{coveredBy}}",
  },
  check({ scenario, report }) {
    for (const { site, coveredBy, workloads } of networkPolicyRedundancy(scenario).rules) {
      const { policy, direction, rule } = site;
      report({
        messageId: "covered",
        data: {
          kind: "NetworkPolicy",
          policy: `${policy.namespace}/${policy.name}`,
          rule: `${direction}[${rule.index}]`,
          workloads: listed(workloads.map((w) => w.id)),
          coveredBy: listed(coveredBy.map(describeSite)),
        },
        resource: { kind: "NetworkPolicy", namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: rule.line,
        fix: listWithout(policy.manifest, ["spec", direction], rule.index, policyTypesToKeep(policy.manifest, direction, policy[direction].length - 1)),
      });
    }
    for (const { site, coveredBy, workloads } of ciliumRedundancy(scenario).rules) {
      const { spec, rule } = site;
      const policy = spec.policy;
      const specPath = spec.specIndex === null ? ["spec"] : ["specs", spec.specIndex];
      report({
        messageId: "covered",
        data: {
          kind: policy.kind,
          policy: policy.namespace === null ? policy.name : `${policy.namespace}/${policy.name}`,
          rule: rule.label,
          workloads: listed(workloads.map((w) => w.id)),
          coveredBy: listed(coveredBy.map(describeCiliumSite)),
        },
        resource: { kind: policy.kind, namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: rule.line,
        // A Cilium policy without rules is rejected: removing its only rule means deleting it.
        ...(spec.rules.length > 1 || policy.kind === "NetworkPolicy"
          ? {
              fix: listWithout(
                policy.manifest,
                [...specPath, rule.section],
                rule.index,
                policy.kind === "NetworkPolicy" ? policyTypesToKeep(policy.manifest, rule.section, spec.rules.filter((r) => r.section === rule.section).length - 1) : undefined,
              ),
            }
          : {}),
      });
    }
    for (const { site, coveredBy, workloads } of istioRedundancy(scenario).rules) {
      const { policy, rule } = site;
      report({
        messageId: "coveredRequests",
        data: { policy: `${policy.namespace}/${policy.name}`, rule: `rules[${rule.index}]`, coveredBy: describeIstioSite(coveredBy) },
        resource: { kind: "AuthorizationPolicy", namespace: policy.namespace, name: policy.name },
        workloads: workloads.map((w) => w.id),
        file: policy.file,
        line: rule.line,
        fix: listWithout(policy.manifest, ["spec", "rules"], rule.index),
      });
    }
  },
});
