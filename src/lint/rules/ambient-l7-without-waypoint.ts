/**
 * An AuthorizationPolicy bound by selector (or namespace-wide) to ambient workloads
 * that uses L7 attributes while no waypoint serves them: only their ztunnel
 * enforces it, and ztunnel checks L4 only. An ALLOW rule with L7 attributes never
 * matches there; a DENY rule loses them and denies more, or nothing at all.
 */
import { ztunnelUnenforceable } from "../../layers/istio/authorization.js";
import { LABEL_USE_WAYPOINT } from "../../layers/istio/waypoint.js";
import type { Workload } from "../../model/types.js";
import type { Scenario } from "../../analysis/scenario.js";
import { boundWorkloads, hasL4Remainder, servicesOf, waypointGatewayYaml, waypointServing } from "../facts/mesh.js";
import { createRule } from "../rule.js";

/** A waypoint for the namespace, the label that binds the Service to it, and the policy retargeted at the Service. */
function waypointFix(scenario: Scenario, namespace: string, w: Workload): string {
  const svc = servicesOf(scenario, w)[0];
  const gateway = waypointGatewayYaml(namespace, svc ? "service" : "workload");
  if (svc) {
    return (
      `${gateway}---\n# on Service ${svc.id} (or on namespace ${namespace}):\nmetadata:\n  labels:\n    ${LABEL_USE_WAYPOINT}: waypoint\n` +
      `---\n# in the AuthorizationPolicy (in namespace ${namespace}), in place of spec.selector:\nspec:\n  targetRefs:\n  - kind: Service\n    group: ""\n    name: ${svc.name}\n`
    );
  }
  return (
    `${gateway}---\n# on the pods of ${w.id} (or on namespace ${namespace}):\nmetadata:\n  labels:\n    ${LABEL_USE_WAYPOINT}: waypoint\n` +
    `---\n# in the AuthorizationPolicy (in namespace ${namespace}), in place of spec.selector:\nspec:\n  targetRefs:\n  - kind: Gateway\n    group: gateway.networking.k8s.io\n    name: waypoint\n`
  );
}

export default createRule({
  id: "ambient-l7-without-waypoint",
  description: "An AuthorizationPolicy bound by selector to ambient workloads uses L7 attributes, but no waypoint serves them and ztunnel enforces L4 only",
  severity: "error",
  messages: {
    allowDropped:
      "AuthorizationPolicy {{policy}} rules[{{rule}}] uses {{attrs}}, which only a waypoint can check, and no waypoint serves {{workloads}}: their ztunnel drops this ALLOW rule (it never matches), {{effect}}",
    denyWidened:
      "AuthorizationPolicy {{policy}} rules[{{rule}}] uses {{attrs}}, which only a waypoint can check, and no waypoint serves {{workloads}}: their ztunnel enforces this DENY rule without them, so it denies every connection that matches the rest of the rule, whatever the request",
    denyIgnored:
      "AuthorizationPolicy {{policy}} rules[{{rule}}] uses {{attrs}}, which only a waypoint can check, and no waypoint serves {{workloads}}: their ztunnel is left with nothing to match in this DENY rule, so it denies nothing",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    for (const p of mesh.authorizationPolicies) {
      if (p.dryRun || (p.action !== "ALLOW" && p.action !== "DENY")) continue;
      const unserved = boundWorkloads(scenario, p)
        .filter((b) => b.mode === "ambient" && !waypointServing(scenario, b.workload))
        .map((b) => b.workload);
      if (unserved.length === 0) continue;
      const allRulesL7 = p.rules.every((r) => ztunnelUnenforceable(r).length > 0);
      for (const rule of p.rules) {
        const uses = ztunnelUnenforceable(rule);
        if (uses.length === 0) continue;
        const messageId = p.action === "ALLOW" ? "allowDropped" : hasL4Remainder(rule) ? "denyWidened" : "denyIgnored";
        const effect = allRulesL7
          ? "and no rule of the policy is left, so ztunnel denies every connection to them"
          : "so the connections only this rule was meant to admit are denied";
        report({
          messageId,
          data: { policy: `${p.namespace}/${p.name}`, rule: rule.index, attrs: uses.map((u) => u.what).join(", "), workloads: unserved.map((w) => w.id).join(", "), effect },
          resource: { kind: "AuthorizationPolicy", namespace: p.namespace, name: p.name },
          workloads: unserved.map((w) => w.id),
          file: p.file,
          line: p.manifest.lineOf(uses[0]!.path),
          fix: waypointFix(scenario, unserved[0]!.namespace, unserved[0]!),
        });
      }
    }
  },
});
