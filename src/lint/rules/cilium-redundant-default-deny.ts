/**
 * A Cilium policy written only to switch on default deny (`ingress: [{}]`,
 * `egress: [{}]`: rules that match no peer) for endpoints that other policies
 * already put in default deny in that direction. Decided with a probe engine
 * without the policy: the endpoints are in default deny there too.
 */
import type { CiliumPolicy } from "../../layers/cilium/index.js";
import { createRule } from "../rule.js";
import { ciliumResource, endpointsOf, isCiliumKind, policyName, probeEngine, specPath } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

/** Whether every rule of the policy is an allow rule that matches no peer: all it does is switch on default deny. */
function onlyDefaultDeny(policy: CiliumPolicy): boolean {
  return policy.specs.every((s) => s.rules.every((r) => !r.deny && r.peers.length === 0));
}

export default createRule({
  id: "cilium-redundant-default-deny",
  description: "A Cilium policy that only switches on default deny for endpoints other policies already put in default deny",
  severity: "info",
  messages: {
    redundant:
      "{{policy}} only puts {{endpoints}} in default deny for {{direction}}, and {{others}} already do: without it nothing changes there",
  },
  check({ scenario, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    for (const policy of engine.policies) {
      if (!isCiliumKind(policy) || !onlyDefaultDeny(policy)) continue;
      const rest = probeEngine(scenario, engine.policies.filter((p) => p !== policy));
      for (const spec of policy.specs) {
        for (const direction of ["ingress", "egress"] as const) {
          if (!spec.defaultDeny[direction]) continue;
          const endpoints = endpointsOf(scenario, engine, spec, direction);
          if (endpoints.length === 0 || !endpoints.every((w) => rest.defaultDeny(w, direction))) continue;
          const others = [...new Set(endpoints.flatMap((w) => rest.isolatingPolicies(w, direction).map(policyName)))];
          const field = spec.hasRules[direction] ? direction : "enableDefaultDeny";
          report({
            messageId: "redundant",
            data: {
              policy: policyName(policy),
              endpoints: listed(endpoints.map((w) => w.id)),
              direction,
              others: others.length > 0 ? listed(others) : "the agent's policyEnforcementMode always",
            },
            resource: ciliumResource(policy),
            workloads: endpoints.map((w) => w.id),
            file: policy.file,
            line: policy.manifest.lineOf([...specPath(spec), field]),
          });
        }
      }
    }
  },
});
