/**
 * A policy port given by name that no container of the destination pods defines:
 * the name is resolved on the destination pod (semantics §1.5 r23, §3.8 r35), so
 * the entry matches no connection at all.
 */
import { createRule } from "../rule.js";
import { listed, policyResource } from "../util.js";
import { allowRules, definesPort } from "../facts/networkpolicy.js";

export default createRule({
  id: "named-port-undefined",
  description: "A policy port given by name that no container of the destination pods defines, so it matches nothing",
  severity: "error",
  messages: {
    ingress:
      '{{rule}}: no container of the pods it applies to ({{pods}}) defines a {{protocol}} port named "{{name}}", so this port entry matches nothing{{hint}}',
    egress:
      '{{rule}}: no container of the {{count}} workload(s) it sends to defines a {{protocol}} port named "{{name}}", so this port entry matches nothing{{hint}}',
  },
  check({ scenario, report }) {
    for (const rule of allowRules(scenario)) {
      const named = rule.portEntries.flatMap((e) => (typeof e.port === "string" ? [{ ...e, name: e.port }] : []));
      if (named.length === 0 || rule.subjects.length === 0) continue;
      // Named ports resolve on the destination: the selected pods for ingress, the peers for egress.
      const destinations = rule.direction === "ingress" ? rule.subjects : rule.candidatePeers();
      // No destination pod in the input: selector-selects-nothing speaks for it.
      if (destinations.length === 0) continue;
      for (const port of named) {
        if (destinations.some((w) => port.protocols.some((protocol) => definesPort(w, port.name, protocol)))) continue;
        const sameName = destinations.flatMap((w) => w.ports.filter((cp) => cp.name?.toLowerCase() === port.name.toLowerCase()).map((cp) => `${w.id} defines it for ${cp.protocol}`));
        const ofProtocol = destinations.flatMap((w) => w.ports.filter((cp) => port.protocols.includes(cp.protocol)));
        const numbers = [...new Set(ofProtocol.map((cp) => `${cp.protocol}/${cp.port}`))];
        // With their names: a near miss ("metric" for "metrics") shows at a glance.
        const declared = [...new Set(ofProtocol.map((cp) => `${cp.protocol}/${cp.port}${cp.name ? ` "${cp.name}"` : ""}`))];
        const protocol = port.protocols.join("/");
        const fix =
          numbers.length === 1
            ? rule.ref.kind === "NetworkPolicy"
              ? `- protocol: ${numbers[0]!.split("/")[0]}\n  port: ${numbers[0]!.split("/")[1]}\n`
              : `- port: "${numbers[0]!.split("/")[1]}"\n  protocol: ${numbers[0]!.split("/")[0]}\n`
            : undefined;
        report({
          messageId: rule.direction,
          data: {
            rule: rule.text,
            pods: listed(rule.subjects.map((w) => w.id).sort()),
            count: destinations.length,
            protocol,
            name: port.name,
            hint: sameName.length > 0 ? ` (${sameName.slice(0, 3).join("; ")})` : declared.length > 0 ? ` (their ${protocol} ports: ${declared.slice(0, 8).join(", ")})` : "",
          },
          resource: policyResource(rule.ref),
          workloads: rule.subjects.map((w) => w.id).sort(),
          file: rule.ref.file,
          line: rule.manifest.lineOf(port.path),
          ...(fix ? { fix } : {}),
        });
      }
    }
  },
});
