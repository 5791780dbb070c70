/** The rule table of docs/lint.md, rendered from the registry (families in order). */
import { ciliumRules } from "./registry/cilium.js";
import { istioRules } from "./registry/istio.js";
import { meshRules } from "./registry/mesh.js";
import { networkPolicyRules } from "./registry/networkpolicy.js";
import { redundancyRules } from "./registry/redundancy.js";
import type { Rule } from "./rule.js";

const FAMILIES: readonly [string, readonly Rule[]][] = [
  ["NetworkPolicy and both ends of a flow", networkPolicyRules],
  ["Mesh on the wire (ambient, waypoints, control plane)", meshRules],
  ["Cilium", ciliumRules],
  ["Istio", istioRules],
  ["Redundancy", redundancyRules],
];

const START = /<!-- rules:[^>]*-->/;
const END = "<!-- /rules -->";

/** `page` with the text between its rules markers replaced by the current table. */
export function catalogue(page: string): string {
  const start = START.exec(page);
  const end = page.indexOf(END);
  if (!start || end < start.index) throw new Error("docs/lint.md: the rules markers are missing");
  const lines: string[] = [];
  for (const [family, list] of FAMILIES) {
    if (list.length === 0) continue;
    lines.push("", `### ${family}`, "", "| rule | severity | what it finds |", "| --- | --- | --- |");
    for (const r of list) lines.push(`| [${r.meta.id}](rules/${r.meta.id}.md) | ${r.meta.severity} | ${r.meta.description.replace(/\|/g, "\\|")} |`);
  }
  return `${page.slice(0, start.index + start[0].length)}${lines.join("\n")}\n\n${page.slice(end)}`;
}
