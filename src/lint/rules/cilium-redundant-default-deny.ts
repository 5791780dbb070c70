/**
 * A Cilium policy written only to switch on default deny (`ingress: [{}]`,
 * `egress: [{}]`: rules that match no peer) for endpoints that other policies
 * already put in default deny in that direction. Decided with a probe engine
 * without the policy: the endpoints are in default deny there too.
 */
import type { CiliumPolicy } from "../../layers/cilium/index.js";
import type { Workload } from "../../model/types.js";
import { createRule } from "../rule.js";
import { ciliumResource, endpointsOf, isCiliumKind, policyName, specPath } from "../facts/cilium.js";
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
      // The endpoint's default deny without this policy: read from the engine's selection, no second engine.
      const mode = engine.switches.policyEnforcementMode;
      const otherSpecs = (w: Workload, direction: "ingress" | "egress") =>
        engine.factsOf(w).selectedBy[direction].map((si) => engine.specs[si]!).filter((s) => s.policy !== policy);
      const staysDefaultDeny = (w: Workload, direction: "ingress" | "egress"): boolean =>
        engine.applies(w) && mode !== "never" && (mode === "always" || otherSpecs(w, direction).some((s) => s.defaultDeny[direction]));
      for (const spec of policy.specs) {
        for (const direction of ["ingress", "egress"] as const) {
          if (!spec.defaultDeny[direction]) continue;
          const endpoints = endpointsOf(scenario, engine, spec, direction);
          if (endpoints.length === 0 || !endpoints.every((w) => staysDefaultDeny(w, direction))) continue;
          const others = [...new Set(endpoints.flatMap((w) => otherSpecs(w, direction).map((s) => policyName(s.policy))))];
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
