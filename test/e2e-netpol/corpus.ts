/**
 * The Kubernetes e2e NetworkPolicy truth-table corpus: reading the `.expected`
 * files next to each case and comparing a verdict function against them.
 *
 * A case is `cases/NAME.yaml` (namespaces x, y, z; pods a, b, c; the policies in
 * their final state) plus `cases/NAME.expected`:
 *
 *   origin: upstream | derived
 *   namespaces: x=netpol-x-1234 y=netpol-y-5678 z=netpol-z-9012
 *   probe TCP/80
 *   -     x/a  x/b  ...            (tab separated; rows = from, columns = to)
 *   x/a   X    .    ...            ('.' connected, 'X' blocked)
 *
 * Lines starting with `#` are comments. The diagonal (a pod to itself) is kept
 * as the upstream expected table has it, but upstream never fails on it
 * (`ignoreLoopback`), so it is reported apart from the agreement count.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isProtocol, type Protocol } from "../../src/sets/index.js";

export type Alias = "x" | "y" | "z";

export interface Probe {
  protocol: Protocol;
  port: number;
}

export interface TruthTable {
  probe: Probe;
  /** Pod aliases in table order (`x/a` …), the same for rows and columns. */
  pods: string[];
  /** `cells[from][to]`: true when upstream expects the connection to work. */
  cells: boolean[][];
}

export interface ExpectedFile {
  title: string;
  origin: "upstream" | "derived";
  namespaces: Record<Alias, string>;
  tables: TruthTable[];
}

export interface CaseFiles {
  id: string;
  yaml: string;
  expected: string;
}

/** Every case in `dir`, sorted by name; a YAML without `.expected` (or the reverse) is an error. */
export function listCases(dir: string): CaseFiles[] {
  const files = readdirSync(dir);
  const ids = new Set(files.filter((f) => f.endsWith(".yaml") || f.endsWith(".expected")).map((f) => f.replace(/\.(yaml|expected)$/, "")));
  return [...ids].sort().map((id) => {
    if (!files.includes(`${id}.yaml`)) throw new Error(`${id}.expected has no ${id}.yaml`);
    if (!files.includes(`${id}.expected`)) throw new Error(`${id}.yaml has no ${id}.expected`);
    return { id, yaml: join(dir, `${id}.yaml`), expected: join(dir, `${id}.expected`) };
  });
}

export function readExpected(path: string): ExpectedFile {
  return parseExpected(readFileSync(path, "utf8"), basename(path));
}

export function parseExpected(text: string, name = "<expected>"): ExpectedFile {
  const lines = text.split(/\r?\n/);
  let title = "";
  let origin: ExpectedFile["origin"] | undefined;
  let namespaces: Record<Alias, string> | undefined;
  const tables: TruthTable[] = [];
  let current: TruthTable | undefined;
  const fail = (i: number, msg: string): never => {
    throw new Error(`${name}:${i + 1}: ${msg}`);
  };

  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.startsWith("#")) {
      if (!title) title = line.slice(1).trim();
      return;
    }
    if (line === "") return;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^origin:\s*(upstream|derived)$/))) {
      origin = m[1] as ExpectedFile["origin"];
    } else if ((m = line.match(/^namespaces:\s*x=(\S+)\s+y=(\S+)\s+z=(\S+)$/))) {
      namespaces = { x: m[1]!, y: m[2]!, z: m[3]! };
    } else if ((m = line.match(/^probe\s+(\w+)\/(\d+)$/))) {
      const protocol = m[1]!.toUpperCase();
      if (!isProtocol(protocol)) fail(i, `unknown protocol ${m[1]}`);
      current = { probe: { protocol: protocol as Protocol, port: Number(m[2]) }, pods: [], cells: [] };
      tables.push(current);
    } else if (line.startsWith("-\t")) {
      if (!current) fail(i, "table header before any probe line");
      current!.pods = line.split("\t").slice(1);
    } else {
      if (!current || current.pods.length === 0) fail(i, `unexpected line: ${line}`);
      const [from, ...marks] = line.split("\t");
      const t = current!;
      if (from !== t.pods[t.cells.length]) fail(i, `row ${t.cells.length + 1} should be ${t.pods[t.cells.length]}, found ${from}`);
      if (marks.length !== t.pods.length) fail(i, `row ${from} has ${marks.length} cells, expected ${t.pods.length}`);
      t.cells.push(
        marks.map((c) => {
          if (c === ".") return true;
          if (c === "X") return false;
          return fail(i, `cell "${c}" is neither "." nor "X"`);
        }),
      );
    }
  });

  if (!origin) throw new Error(`${name}: no origin line`);
  if (!namespaces) throw new Error(`${name}: no namespaces line`);
  if (tables.length === 0) throw new Error(`${name}: no probe table`);
  for (const t of tables) {
    if (t.cells.length !== t.pods.length) throw new Error(`${name}: probe ${t.probe.protocol}/${t.probe.port} has ${t.cells.length} rows for ${t.pods.length} pods`);
  }
  return { title, origin, namespaces, tables };
}

/** `x/a` → `netpol-x-1234/a`. */
export function qualify(alias: string, namespaces: Record<Alias, string>): string {
  const [ns, pod] = alias.split("/");
  const real = namespaces[ns as Alias];
  if (!real || !pod) throw new Error(`bad pod alias ${alias}`);
  return `${real}/${pod}`;
}

export interface Mismatch {
  probe: Probe;
  from: string;
  to: string;
  expected: boolean;
  actual: boolean;
}

export interface Comparison {
  /** Off-diagonal cells compared (the ones upstream passes or fails on). */
  compared: number;
  agreed: number;
  mismatches: Mismatch[];
  /** Diagonal cells: upstream's literal expectation and the verdict, not counted above. */
  loopback: { probe: Probe; pod: string; upstream: boolean; actual: boolean }[];
  /** Per probe: the verdicts in table layout (for messages). */
  observed: TruthTable[];
}

/** Compares `verdict(from, to, probe)` (aliases) with every table of a case. */
export function compare(expected: ExpectedFile, verdict: (from: string, to: string, probe: Probe) => boolean): Comparison {
  const out: Comparison = { compared: 0, agreed: 0, mismatches: [], loopback: [], observed: [] };
  for (const t of expected.tables) {
    const seen: boolean[][] = [];
    t.pods.forEach((from, i) => {
      seen.push(
        t.pods.map((to, j) => {
          const actual = verdict(from, to, t.probe);
          const want = t.cells[i]![j]!;
          if (i === j) out.loopback.push({ probe: t.probe, pod: from, upstream: want, actual });
          else {
            out.compared++;
            if (actual === want) out.agreed++;
            else out.mismatches.push({ probe: t.probe, from, to, expected: want, actual });
          }
          return actual;
        }),
      );
    });
    out.observed.push({ probe: t.probe, pods: t.pods, cells: seen });
  }
  return out;
}

/** Upstream's PrettyPrint layout. */
export function formatTable(pods: readonly string[], cells: readonly (readonly boolean[])[], mark = (v: boolean) => (v ? "." : "X")): string {
  const lines = [["-", ...pods].join("\t")];
  pods.forEach((from, i) => lines.push([from, ...cells[i]!.map(mark)].join("\t")));
  return lines.join("\n");
}

/** Expected, observed and comparison tables of every probe that has a mismatch (diagonal ignored). */
export function describeMismatches(expected: ExpectedFile, c: Comparison): string {
  const parts: string[] = [];
  expected.tables.forEach((t, k) => {
    const obs = c.observed[k]!;
    const same = t.cells.map((row, i) => row.map((v, j) => i === j || v === obs.cells[i]![j]));
    if (same.every((row) => row.every(Boolean))) return;
    parts.push(
      `probe ${t.probe.protocol}/${t.probe.port}`,
      `expected:\n${formatTable(t.pods, t.cells)}`,
      `observed:\n${formatTable(t.pods, obs.cells)}`,
      `comparison ('.' agrees, diagonal ignored):\n${formatTable(t.pods, same)}`,
    );
  });
  return parts.join("\n\n");
}
