import { EXTERNAL, externalUnion, type ConnectivityMatrix, type MatrixConnection } from "../analysis/matrix.js";
import { ConnSet } from "../sets/index.js";

export type MatrixFormat = "text" | "json" | "csv" | "md" | "dot";

/** One row per (source, destination): the allowed and the denied part of what was evaluated. */
export interface MatrixCell {
  from: string;
  to: string;
  allowed: ConnSet;
  denied: ConnSet;
}

/** The evaluated tuples of the matrix folded into one cell per ordered pair. */
export function matrixCells(m: ConnectivityMatrix): MatrixCell[] {
  const cells: MatrixCell[] = [];
  const n = m.workloads.length;
  const withExternal = m.options.external ?? true;
  const portsGiven = (m.options.ports?.length ?? 0) > 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const evaluated = m.evaluatedFor(m.workloads[j]!);
      const allowed = m.conns(i, j);
      cells.push({ from: m.workloads[i]!.id, to: m.workloads[j]!.id, allowed: allowed.intersect(evaluated), denied: evaluated.subtract(allowed) });
    }
    if (withExternal) {
      const allowed = externalUnion(m.externalEgress(i));
      const evaluated = portsGiven ? m.evaluatedFor(EXTERNAL) : ConnSet.all();
      cells.push({ from: m.workloads[i]!.id, to: EXTERNAL, allowed: allowed.intersect(evaluated), denied: evaluated.subtract(allowed) });
    }
  }
  if (withExternal) {
    for (let j = 0; j < n; j++) {
      const evaluated = m.evaluatedFor(m.workloads[j]!);
      const allowed = externalUnion(m.externalIngress(j));
      cells.push({ from: EXTERNAL, to: m.workloads[j]!.id, allowed: allowed.intersect(evaluated), denied: evaluated.subtract(allowed) });
    }
  }
  return cells;
}

export function formatMatrix(m: ConnectivityMatrix, format: MatrixFormat): string {
  switch (format) {
    case "json":
      return formatJson(m);
    case "csv":
      return formatCsv(m);
    case "md":
      return formatMarkdown(m);
    case "dot":
      return formatDot(m);
    case "text":
      return formatText(m);
  }
}

function formatJson(m: ConnectivityMatrix): string {
  // Streamed by hand: a large matrix has millions of tuples and JSON.stringify of one array would be slow.
  const parts: string[] = [];
  parts.push(`{"workloads":${JSON.stringify(m.workloads.map((w) => w.id))},"connections":[`);
  let first = true;
  for (const c of m.connections()) {
    parts.push(`${first ? "\n" : ",\n"}${JSON.stringify(c satisfies MatrixConnection)}`);
    first = false;
  }
  parts.push("\n]}");
  return parts.join("");
}

function formatCsv(m: ConnectivityMatrix): string {
  const lines = ["from,to,port,protocol,allowed"];
  for (const c of m.connections()) lines.push(`${c.from},${c.to},${c.port ?? "*"},${c.protocol ?? "*"},${c.allowed}`);
  return lines.join("\n");
}

const show = (c: ConnSet): string => (c.isAll() ? "all ports" : c.isEmpty() ? "" : c.toString());

function formatMarkdown(m: ConnectivityMatrix): string {
  const lines = ["| from | to | allowed | denied |", "| --- | --- | --- | --- |"];
  for (const c of matrixCells(m)) {
    if (c.allowed.isEmpty() && c.denied.isEmpty()) continue;
    lines.push(`| ${c.from} | ${c.to} | ${show(c.allowed) || "—"} | ${show(c.denied) || "—"} |`);
  }
  return lines.join("\n");
}

function formatDot(m: ConnectivityMatrix): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines = ["digraph palisade {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];", "  edge [fontname=Helvetica, fontsize=10];"];
  const byNs = new Map<string, string[]>();
  for (const w of m.workloads) byNs.set(w.namespace, [...(byNs.get(w.namespace) ?? []), w.id]);
  let k = 0;
  for (const [ns, ids] of byNs) {
    lines.push(`  subgraph cluster_${k++} {`, `    label=${q(ns)};`);
    for (const id of ids) lines.push(`    ${q(id)} [label=${q(id.slice(ns.length + 1))}];`);
    lines.push("  }");
  }
  if (m.options.external ?? true) lines.push(`  ${q(EXTERNAL)} [shape=ellipse, label="external"];`);
  for (const c of matrixCells(m)) {
    if (c.allowed.isEmpty() || c.from === c.to) continue;
    lines.push(`  ${q(c.from)} -> ${q(c.to)} [label=${q(show(c.allowed))}];`);
  }
  lines.push("}");
  return lines.join("\n");
}

/**
 * A grouped list: sources with identical rows share one heading, and a
 * namespace whose every workload is reachable alike is shown as `ns/*`.
 */
function formatText(m: ConnectivityMatrix): string {
  const cells = matrixCells(m);
  const rows = new Map<string, MatrixCell[]>();
  for (const c of cells) rows.set(c.from, [...(rows.get(c.from) ?? []), c]);
  const nsSize = new Map<string, number>();
  for (const w of m.workloads) nsSize.set(w.namespace, (nsSize.get(w.namespace) ?? 0) + 1);

  const rendered = new Map<string, string[]>();
  for (const [from, row] of rows) {
    const lines: string[] = [];
    const byNs = new Map<string, MatrixCell[]>();
    for (const c of row) {
      const ns = c.to === EXTERNAL ? EXTERNAL : c.to.split("/")[0]!;
      byNs.set(ns, [...(byNs.get(ns) ?? []), c]);
    }
    for (const [ns, list] of byNs) {
      const allOpen = ns !== EXTERNAL && list.length === nsSize.get(ns) && list.length > 2 && list.every((c) => c.denied.isEmpty() && !c.allowed.isEmpty());
      if (allOpen) {
        lines.push(`  → ${`${ns}/*`.padEnd(40)} every workload (${list.length}), all evaluated ports`);
        continue;
      }
      for (const c of list) {
        if (!c.allowed.isEmpty()) lines.push(`  → ${c.to.padEnd(40)} ${show(c.allowed)}${c.denied.isEmpty() ? "" : `   (denied: ${show(c.denied)})`}`);
        else if (!c.denied.isEmpty()) lines.push(`  ✗ ${c.to.padEnd(40)} ${show(c.denied)}`);
      }
    }
    const key = lines.join("\n");
    rendered.set(key, [...(rendered.get(key) ?? []), from]);
  }
  const out: string[] = [];
  const evaluated = (m.options.ports?.length ?? 0) > 0 ? `ports ${m.options.ports!.join(",")}` : "declared container ports";
  out.push(`Connectivity of ${m.workloads.length} workloads (${evaluated}; → allowed, ✗ denied)`);
  for (const [body, sources] of rendered) {
    out.push("");
    out.push(sources.length > 3 ? `${sources.slice(0, 3).join(", ")} and ${sources.length - 3} more` : sources.join(", "));
    out.push(body || "  (nothing evaluated)");
  }
  return out.join("\n");
}
