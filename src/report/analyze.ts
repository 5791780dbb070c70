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

/** Columns are at least this far apart. */
const GAP = "  ";
/** A cell longer than this (but the first column's) wraps after a comma. */
const WRAP_AT = 60;

/** Splits `a, b, c` into lines of at most `max` characters at its commas; a longer item stays whole. */
function wrapList(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const lines: string[] = [];
  let cur = "";
  for (const item of text.split(", ")) {
    const next = cur ? `${cur}, ${item}` : item;
    if (cur && next.length + 1 > max) {
      lines.push(`${cur},`);
      cur = `  ${item}`;
    } else cur = next;
  }
  lines.push(cur);
  return lines;
}

/**
 * Rows laid out in columns as wide as their widest line, so long names never
 * run into the next column; long lists wrap inside their column.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const cells = [header, ...rows].map((row) => row.map((c, j) => (j === 0 ? [c] : wrapList(c, WRAP_AT))));
  const widths = header.map((_, j) => Math.max(...cells.map((row) => Math.max(...(row[j] ?? [""]).map((l) => l.length)))));
  const out: string[] = [];
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      const parts = row.map((c, j) => (j === row.length - 1 ? (c[k] ?? "") : (c[k] ?? "").padEnd(widths[j]!)));
      out.push(parts.join(GAP).trimEnd());
    }
  }
  return out;
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
  const rows = r.isolation.map((i) => [i.workload, names(i.ingress), names(i.egress)]);
  out.push(...table(["WORKLOAD", "INGRESS", "EGRESS"], rows).map((l) => `  ${l}`));

  if (r.mesh) {
    out.push("", "Mesh data plane");
    out.push(...table(["MODE", "WORKLOADS"], r.mesh.map((m) => [m.mode, m.workloads.join(", ")])).map((l) => `  ${l}`));
  }

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

  out.push("", "Lint");
  if (r.lintSkipped) out.push("  not run (--no-lint)");
  else if (r.findings.length === 0) out.push("  no findings");
  for (const f of r.findings) out.push(`  ${f.file}:${f.line}: ${f.severity}: ${f.message} [${f.rule}]`);
  if (r.findings.some((f) => f.fix !== undefined)) out.push("  (palisade lint prints the fixes)");

  if (r.notes.length > 0) {
    out.push("", "Notes");
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join("\n");
}
