/**
 * A toFQDNs rule for endpoints whose DNS lookups do not go through Cilium's DNS
 * proxy (no `toPorts[].rules.dns` on their DNS egress): Cilium learns the
 * addresses of a name only from the answers its proxy sees, so the rule never
 * matches (semantics.md §3.6 r27, §3.13 C11). Decided with the engine's
 * name evaluation, for a name each selector matches, on a port the rule opens.
 */
import type { PeerPart } from "../../layers/cilium/index.js";
import { ConnSet } from "../../sets/index.js";
import { createRule } from "../rule.js";
import { ciliumPolicyRules, ciliumResource, endpointsOf, ruleName, rulePath, sampleConn, yamlSnippet } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

type FqdnPart = Extract<PeerPart, { type: "fqdn" }>;

/** A name the selector matches: the name itself, or the pattern with each wildcard filled in. */
function nameFor(part: FqdnPart): string {
  if (part.matchName !== undefined) return part.matchName;
  const pattern = part.matchPattern!;
  if (pattern === "*") return "example.com";
  return pattern.replace(/^\*\*\./, "sub.").replace(/\*/g, "x");
}

const DNS_EGRESS_WITH_PROXY = {
  egress: [
    {
      toEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns" } }],
      toPorts: [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*" }] } }],
    },
  ],
};

export default createRule({
  id: "cilium-fqdn-without-dns",
  description: "A toFQDNs rule for endpoints whose DNS lookups do not go through Cilium's DNS proxy never matches",
  severity: "error",
  messages: {
    neverLearned:
      "{{rule}}: toFQDNs {{fqdn}} never matches for {{workloads}}: no DNS rule (toPorts rules.dns on port 53) sends their lookups of {{name}} through Cilium's DNS proxy, so Cilium learns no address for it and {{conn}} to it is dropped",
  },
  check({ scenario, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    for (const { spec, rule } of ciliumPolicyRules(engine)) {
      if (rule.direction !== "egress" || rule.deny) continue;
      const conn = sampleConn(rule.ports ? engine.ruleConns(rule, undefined) : ConnSet.ports("TCP", 443));
      if (!conn) continue;
      const fqdns = rule.peers.filter((p): p is FqdnPart => p.type === "fqdn");
      for (const part of fqdns) {
        const name = nameFor(part);
        // A denial that explains itself with a toFQDNs miss is one the DNS proxy would have turned into an allow.
        const stuck = endpointsOf(scenario, engine, spec, "egress").filter((w) => {
          const d = engine.evaluateName(w, name, conn);
          return d.verdict === "deny" && d.misses.length > 0;
        });
        if (stuck.length === 0) continue;
        report({
          messageId: "neverLearned",
          data: {
            rule: ruleName(spec, rule),
            fqdn: part.matchName !== undefined ? `matchName ${part.matchName}` : `matchPattern ${part.matchPattern}`,
            workloads: listed(stuck.map((w) => w.id)),
            name,
            conn: `${conn.protocol}/${conn.port}`,
          },
          resource: ciliumResource(spec.policy),
          workloads: stuck.map((w) => w.id),
          file: spec.policy.file,
          line: spec.policy.manifest.lineOf(rulePath(spec, rule, "toFQDNs")),
          fix: yamlSnippet(DNS_EGRESS_WITH_PROXY),
        });
        break;
      }
    }
  },
});
