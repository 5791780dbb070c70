import type { AnalyzeReport } from "../analysis/analyze.js";
import type { PolicyRef } from "../layers/types.js";

export function formatAnalyzeJson(r: AnalyzeReport): string {
  return JSON.stringify(r, null, 2);
}

const names = (refs: PolicyRef[]): string => (refs.length === 0 ? "open" : `isolated by ${refs.map((p) => p.name).join(", ")}`);

const POLICY_NOUN: Record<string, string> = { networkpolicy: "NetworkPolic" };

function plural(n: number, stem: string, one = "", many = "s"): string {
  return `${n} ${stem}${n === 1 ? one : many}`;
}

export function formatAnalyzeText(r: AnalyzeReport): string {
  const s = r.summary;
  const out: string[] = [];
  const policyText = Object.entries(s.policies)
    .map(([k, v]) => plural(v, POLICY_NOUN[k] ?? `${k} polic`, POLICY_NOUN[k] ? "y" : "y", "ies"))
    .join(", ");
  out.push(
    `Palisade analysis: ${plural(s.namespaces, "namespace")}${s.assumedNamespaces ? ` (${s.assumedNamespaces} assumed)` : ""}, ${plural(s.workloads, "workload")}, ${plural(s.services, "Service")}, ${policyText}; CNI ${s.cni}`,
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
  for (const direction of ["ingress", "egress"] as const) {
    const list = r.exposure.filter((e) => e.direction === direction);
    if (list.length === 0) {
      out.push(direction === "ingress" ? "  no workload accepts connections from outside the cluster" : "  no workload can open connections outside the cluster");
      continue;
    }
    // Workloads with the same exposure share one line.
    const groups = new Map<string, string[]>();
    for (const e of list) {
      const key = e.ranges.map((x) => `${x.cidrs.join(",")}: ${x.conns === "all" ? "all ports" : x.conns}`).join("; ");
      groups.set(key, [...(groups.get(key) ?? []), e.workload]);
    }
    out.push(direction === "ingress" ? "  accept connections from outside:" : "  open connections to outside:");
    for (const [key, ws] of groups) out.push(`    ${ws.join(", ")}`, `        ${direction === "ingress" ? "from" : "to"} ${key}`);
  }

  if (r.notes.length > 0) {
    out.push("", "Notes");
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join("\n");
}
