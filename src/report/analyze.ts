import type { AnalyzeReport } from "../analysis/analyze.js";
import type { PolicyRef } from "../layers/types.js";

export function formatAnalyzeJson(r: AnalyzeReport): string {
  return JSON.stringify(r, null, 2);
}

const names = (refs: PolicyRef[]): string => (refs.length === 0 ? "open" : `isolated by ${refs.map((p) => p.name).join(", ")}`);

export function formatAnalyzeText(r: AnalyzeReport): string {
  const s = r.summary;
  const out: string[] = [];
  const policyText = Object.entries(s.policies).map(([k, v]) => `${v} ${k === "networkpolicy" ? "NetworkPolicies" : k}`).join(", ");
  out.push(
    `Palisade analysis: ${s.namespaces} namespaces${s.assumedNamespaces ? ` (${s.assumedNamespaces} assumed)` : ""}, ${s.workloads} workloads, ${s.services} Services, ${policyText}; CNI ${s.cni}`,
  );

  out.push("", "Isolation");
  const width = Math.max(8, ...r.isolation.map((i) => i.workload.length)) + 2;
  out.push(`  ${"WORKLOAD".padEnd(width)}${"INGRESS".padEnd(44)}EGRESS`);
  for (const i of r.isolation) out.push(`  ${i.workload.padEnd(width)}${names(i.ingress).padEnd(44)}${names(i.egress)}`);

  out.push("", `Allowed connections (declared ports): ${s.connectedPairs} of ${s.pairs} ordered workload pairs`);
  const bySource = new Map<string, string[]>();
  for (const c of r.connections) bySource.set(c.from, [...(bySource.get(c.from) ?? []), `${c.to} (${c.conns === "all" ? "all ports" : c.conns})`]);
  if (bySource.size === 0) out.push("  none");
  for (const [from, tos] of bySource) {
    out.push(`  ${from} →`);
    for (const t of tos) out.push(`      ${t}`);
  }

  out.push("", "External exposure");
  const ingress = r.exposure.filter((e) => e.direction === "ingress");
  const egress = r.exposure.filter((e) => e.direction === "egress");
  if (ingress.length === 0) out.push("  no workload accepts connections from outside the cluster");
  for (const e of ingress) out.push(`  ← ${e.workload} from ${e.ranges.map((x) => `${x.cidrs.join(",")}: ${x.conns}`).join("; ")}`);
  if (egress.length === 0) out.push("  no workload can open connections to outside the cluster");
  for (const e of egress) out.push(`  → ${e.workload} to ${e.ranges.map((x) => `${x.cidrs.join(",")}: ${x.conns}`).join("; ")}`);

  if (r.notes.length > 0) {
    out.push("", "Notes");
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join("\n");
}
