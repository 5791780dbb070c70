/**
 * Differential testing against the public test corpus of np-guard/netpol-analyzer
 * (its `tests/<case>/` inputs and `expected/connlist/<case>_connlist_output.txt`
 * goldens). The corpus is not part of this repository: it is read from
 * `../shared/oracles/netpol-analyzer/` next to the repository root.
 *
 * For each case with a plain golden, the input directory is loaded and analysed
 * with Palisade, the allowed connections are printed in the golden's format
 * (`SRC => DST : CONNS`) and both sides are compared after normalisation.
 *
 * Used by `npm run oracle` (scripts/oracle-netpol-analyzer.ts) and by
 * test/oracle/netpol-analyzer.test.ts.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConnectivityMatrix } from "../../src/analysis/matrix.js";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadInputs } from "../../src/load/index.js";
import type { LoadResult, Manifest } from "../../src/load/types.js";
import type { Workload } from "../../src/model/types.js";
import { ConnSet, IntervalSet, IPSet, formatIP, isProtocol, parseCidr } from "../../src/sets/index.js";

/** Where the corpus is expected, relative to the repository root. */
export const ORACLE_RELATIVE_PATH = "../shared/oracles/netpol-analyzer";

/** The repository root (this file is `scripts/oracle/netpol-analyzer.ts`). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function oracleDir(repoRoot: string = REPO_ROOT): string {
  return resolve(repoRoot, ORACLE_RELATIVE_PATH);
}

/** Why the corpus cannot be used, or undefined when it is there. */
export function oracleMissing(dir: string = oracleDir()): string | undefined {
  if (!existsSync(join(dir, "tests")) || !existsSync(join(dir, "expected", "connlist"))) {
    return `netpol-analyzer oracle not found at ${dir} (expected tests/ and expected/connlist/ there; clone shared/ next to the repository)`;
  }
  return undefined;
}

/**
 * Kinds whose semantics Palisade does not evaluate. A case containing one is
 * skipped: its golden depends on them.
 */
export const UNSUPPORTED_KINDS: ReadonlySet<string> = new Set([
  "AdminNetworkPolicy",
  "BaselineAdminNetworkPolicy",
  "MultiNetworkPolicy",
  "UserDefinedNetwork",
  "ClusterUserDefinedNetwork",
  "NetworkAttachmentDefinition",
  "VirtualMachine",
  "VirtualMachineInstance",
]);

/**
 * Kinds that only add `{ingress-controller} => …` lines to the golden (netpol-analyzer's
 * Ingress/Route analysis). Those lines are dropped and the rest is compared.
 */
export const INGRESS_CONTROLLER_KINDS: ReadonlySet<string> = new Set(["Route", "Ingress"]);

const GOLDEN_SUFFIX = "_connlist_output.txt";

export interface OracleCase {
  name: string;
  /** The input directory. */
  input: string;
  /** The plain golden. */
  golden: string;
}

/**
 * Cases that have a plain golden: `expected/connlist/<case>_connlist_output.txt`
 * where `<case>` is exactly an input directory. Explain, exposure and focus
 * variants (`<case>_explain_…`, `<case>_focus_workload_…`, `<case>_tcp-80`, …)
 * are not directories and are left out, even when a case name is a prefix of
 * another one.
 */
export function listCases(dir: string = oracleDir()): OracleCase[] {
  const testsDir = join(dir, "tests");
  const goldenDir = join(dir, "expected", "connlist");
  const cases: OracleCase[] = [];
  for (const file of readdirSync(goldenDir)) {
    if (!file.endsWith(GOLDEN_SUFFIX)) continue;
    const name = file.slice(0, -GOLDEN_SUFFIX.length);
    const input = join(testsDir, name);
    if (!existsSync(input) || !statSync(input).isDirectory()) continue;
    cases.push({ name, input, golden: join(goldenDir, file) });
  }
  return cases.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------
// The golden format

/** One line `SRC => DST : CONNS`, with the connections parsed. */
export interface ConnLine {
  src: string;
  dst: string;
  conns: ConnSet;
}

export class GoldenFormatError extends Error {}

/**
 * Parses `All Connections` or `TCP 80,8080-8090,UDP 53` (protocol names start a
 * new group; a bare number or range continues the current protocol).
 */
export function parseConns(text: string): ConnSet {
  const t = text.trim();
  if (t === "All Connections") return ConnSet.all();
  let out = ConnSet.none();
  let proto: string | undefined;
  for (const raw of t.split(",")) {
    let token = raw.trim();
    const m = /^([A-Z]+)\s+(.*)$/.exec(token);
    if (m) {
      proto = m[1];
      token = m[2]!.trim();
    }
    if (!proto || !isProtocol(proto)) throw new GoldenFormatError(`unknown protocol in connections "${text}"`);
    const range = /^(\d+)(?:-(\d+))?$/.exec(token);
    if (!range) throw new GoldenFormatError(`cannot read port "${token}" in connections "${text}"`);
    const lo = Number(range[1]);
    out = out.union(ConnSet.ports(proto, lo, range[2] ? Number(range[2]) : lo));
  }
  return out;
}

export function parseLine(line: string): ConnLine {
  const m = /^(\S+) => (\S+) : (.+)$/.exec(line.trim());
  if (!m) throw new GoldenFormatError(`not a connectivity line: "${line}"`);
  return { src: m[1]!, dst: m[2]!, conns: parseConns(m[3]!) };
}

export function formatLine(l: ConnLine): string {
  return `${l.src} => ${l.dst} : ${l.conns.toString()}`;
}

// ---------------------------------------------------------------------------
// External address ranges, split as netpol-analyzer splits them

type Block = IntervalSet<bigint>;
const V4_ALL: Block = IntervalSet.of(0n, 0xffffffffn);

function cidrBlock(cidr: string): Block | undefined {
  const { family, network, prefix } = parseCidr(cidr);
  if (family !== 4) return undefined;
  const hostBits = BigInt(32 - prefix);
  const lo = (network >> hostBits) << hostBits;
  return IntervalSet.of(lo, lo + (1n << hostBits) - 1n);
}

/** The ipBlocks of every NetworkPolicy, each cut into its contiguous ranges, per rule direction. */
export function referencedIPBlocks(manifests: readonly Manifest[]): { ingress: Block[]; egress: Block[] } {
  const out = { ingress: [] as Block[], egress: [] as Block[] };
  for (const m of manifests) {
    if (m.kind !== "NetworkPolicy") continue;
    const spec = (m.raw.spec ?? {}) as Record<string, unknown>;
    for (const [direction, peersKey] of [["ingress", "from"], ["egress", "to"]] as const) {
      const rules = Array.isArray(spec[direction]) ? (spec[direction] as unknown[]) : [];
      for (const rule of rules) {
        const peers = (rule as Record<string, unknown> | null)?.[peersKey];
        if (!Array.isArray(peers)) continue;
        for (const peer of peers) {
          const ipBlock = (peer as { ipBlock?: { cidr?: unknown; except?: unknown } } | null)?.ipBlock;
          if (!ipBlock || typeof ipBlock.cidr !== "string") continue;
          try {
            let block = cidrBlock(ipBlock.cidr);
            if (!block) continue;
            for (const ex of Array.isArray(ipBlock.except) ? ipBlock.except : []) {
              const e = typeof ex === "string" ? cidrBlock(ex) : undefined;
              if (e) block = block.subtract(e);
            }
            for (const [lo, hi] of block.intervals()) out[direction].push(IntervalSet.of(lo, hi));
          } catch {
            // An invalid CIDR: Palisade reports it; the partition ignores it.
          }
        }
      }
    }
  }
  return out;
}

/**
 * The disjoint address blocks netpol-analyzer uses as external peers
 * (`netset.DisjointIPBlocks(blocks, [0.0.0.0/0])`): blocks are taken smallest
 * first; a new block is cut where it overlaps earlier ones, its remainder is
 * split into contiguous ranges. A resulting block can still be made of several
 * ranges; it is printed with its ranges joined by commas.
 */
export function disjointBlocks(blocks: readonly Block[]): Block[] {
  const list = [...blocks, V4_ALL].map((b, i) => ({ b, i }));
  list.sort((x, y) => {
    const d = x.b.size() - y.b.size();
    return d < 0n ? -1 : d > 0n ? 1 : x.i - y.i;
  });
  let res: Block[] = [];
  for (const { b } of list) {
    let added = b;
    const toAdd: Block[] = [];
    for (let idx = 0; idx < res.length; idx++) {
      const existing = res[idx]!;
      const common = existing.intersect(added);
      if (common.isEmpty()) continue;
      added = added.subtract(common);
      if (!existing.equals(common)) {
        toAdd.push(common);
        res[idx] = existing.subtract(common);
      }
      if (added.isEmpty()) break;
    }
    res = [...res, ...added.intervals().map(([lo, hi]) => IntervalSet.of(lo, hi)), ...toAdd];
  }
  return res;
}

export function blockName(b: Block): string {
  return b
    .intervals()
    .map(([lo, hi]) => `${formatIP(4, lo)}-${formatIP(4, hi)}`)
    .join(",");
}

function blockIPs(b: Block): IPSet {
  let s = IPSet.none();
  for (const [lo, hi] of b.intervals()) s = s.union(IPSet.range(4, lo, hi));
  return s;
}

// ---------------------------------------------------------------------------
// Workload names as netpol-analyzer prints them

interface OwnerReference {
  kind?: unknown;
  name?: unknown;
  controller?: unknown;
}

/**
 * `ns/name[Kind]`: a controller object by its own name and kind; a Pod by its
 * controller owner (`ownerReferences` entry with `controller: true`, not a Node),
 * else by its own name with kind Pod.
 */
export function analyzerName(w: Workload): string {
  const m = w.manifest;
  const ns = m.namespace ?? "default";
  if (m.kind !== "Pod") return `${ns}/${m.name}[${m.kind}]`;
  const refs = (m.raw.metadata as { ownerReferences?: unknown } | undefined)?.ownerReferences;
  if (Array.isArray(refs)) {
    const ctrl = (refs as OwnerReference[]).find((r) => r && r.controller === true);
    // An owner without a kind prints as kind Pod (netpol-analyzer's WorkloadPeer.Kind()).
    if (ctrl && typeof ctrl.name === "string" && ctrl.kind !== "Node") {
      return `${ns}/${ctrl.name}[${typeof ctrl.kind === "string" && ctrl.kind ? ctrl.kind : "Pod"}]`;
    }
  }
  return `${ns}/${m.name}[Pod]`;
}

// ---------------------------------------------------------------------------
// What-if variants: the input rewritten so that one documented semantic choice of
// Palisade cannot make a difference. A disagreement that disappears under a
// variant is explained by that choice (see docs/oracle-netpol-analyzer.md).

export interface Variant {
  id: string;
  /** What the rewrite neutralises, for people. */
  title: string;
  rewrite(raw: Record<string, unknown>): Record<string, unknown>;
}

function withoutKey(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutKey(v, key));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== key) out[k] = withoutKey(v, key);
    return out;
  }
  return value;
}

export const VARIANTS: readonly Variant[] = [
  {
    id: "hostNetwork-as-pod",
    title:
      "hostNetwork pods treated as ordinary pods (netpol-analyzer ignores hostNetwork; Palisade treats their traffic as node traffic, semantics.md §1.6 r29)",
    rewrite: (raw) => withoutKey(raw, "hostNetwork") as Record<string, unknown>,
  },
  {
    id: "ipBlock-not-pods",
    title:
      "pod IPs removed, so no ipBlock can match a pod (netpol-analyzer never matches pods with ipBlock; Palisade's generic profile does when status.podIP is known, semantics.md §1.4 r19-20)",
    rewrite: (raw) => {
      if (raw.kind !== "Pod" || !raw.status || typeof raw.status !== "object") return raw;
      const { podIP: _ip, podIPs: _ips, ...status } = raw.status as Record<string, unknown>;
      return { ...raw, status };
    },
  },
];

export function applyVariants(load: LoadResult, variants: readonly Variant[]): LoadResult {
  if (variants.length === 0) return load;
  const manifests = load.manifests.map((m) => {
    let raw = m.raw;
    for (const v of variants) raw = v.rewrite(raw);
    return raw === m.raw ? m : { ...m, raw };
  });
  return { manifests, diagnostics: load.diagnostics };
}

/** Every non-empty combination of the variants, smallest first. */
function variantCombinations(): Variant[][] {
  const out: Variant[][] = [];
  const n = VARIANTS.length;
  for (let mask = 1; mask < 1 << n; mask++) out.push(VARIANTS.filter((_, i) => mask & (1 << i)));
  return out.sort((a, b) => a.length - b.length);
}

// ---------------------------------------------------------------------------
// Running one case

export type CaseStatus = "agree" | "disagree" | "skipped";

export interface PairDiff {
  pair: string;
  /** What the golden allows ("" when the golden has no line). */
  expected: string;
  /** What Palisade allows ("" when Palisade prints no line). */
  actual: string;
}

export interface CaseResult {
  name: string;
  status: CaseStatus;
  /** For a skipped case: why. */
  reason?: string;
  /** Adjustments made before comparing (dropped golden lines, input diagnostics). */
  notes: string[];
  /** Normalised golden lines (after dropping lines that are out of scope). */
  expected: string[];
  /** Palisade's lines, same format. */
  actual: string[];
  diffs: PairDiff[];
  /**
   * For a disagreement: the smallest set of variant ids under which Palisade
   * agrees with the golden (undefined when no variant explains it).
   */
  explainedBy?: string[];
}

export type Loader = (paths: string[]) => Promise<LoadResult>;

const defaultLoader: Loader = (paths) => loadInputs(paths, {});

function sortLines(lines: Iterable<string>): string[] {
  return [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The golden's lines, parsed; `{ingress-controller}` lines are returned apart. */
export function readGolden(text: string): { lines: ConnLine[]; ingressController: string[] } {
  const lines: ConnLine[] = [];
  const ingressController: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("{ingress-controller}")) {
      ingressController.push(line);
      continue;
    }
    lines.push(parseLine(line));
  }
  return { lines, ingressController };
}

/** Palisade's connectivity for the loaded input, in the golden's format. */
export function palisadeLines(load: LoadResult): { lines: ConnLine[]; notes: string[] } {
  const notes: string[] = [];
  const scenario = buildScenario(load);
  const errors = scenario.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    const shown = errors.slice(0, 3).map((d) => d.format());
    notes.push(`${errors.length} input error${errors.length > 1 ? "s" : ""}: ${shown.join(" | ")}${errors.length > shown.length ? " | …" : ""}`);
  }
  const matrix = new ConnectivityMatrix(scenario);
  const workloads = matrix.workloads;
  const names = workloads.map(analyzerName);
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const prev = seen.get(n);
    if (prev !== undefined) notes.push(`workloads ${workloads[prev]!.id} and ${workloads[i]!.id} both print as ${n}`);
    else seen.set(n, i);
  });

  const lines: ConnLine[] = [];
  const add = (src: string, dst: string, conns: ConnSet): void => {
    if (!conns.isEmpty()) lines.push({ src, dst, conns });
  };
  for (let i = 0; i < workloads.length; i++) {
    for (let j = 0; j < workloads.length; j++) {
      // netpol-analyzer leaves out a workload's connections to itself (by printed name).
      if (names[i] === names[j]) continue;
      add(names[i]!, names[j]!, matrix.conns(i, j));
    }
  }

  const blocks = referencedIPBlocks(load.manifests);
  const srcBlocks = disjointBlocks(blocks.ingress);
  const dstBlocks = disjointBlocks(blocks.egress);
  const external = (pieces: readonly { ips: IPSet; conns: ConnSet }[], block: Block, what: string): ConnSet => {
    const ips = blockIPs(block);
    let conns = ConnSet.none();
    for (const p of pieces) {
      const common = p.ips.intersect(ips);
      if (common.isEmpty()) continue;
      if (!common.equals(ips)) notes.push(`${what}: Palisade range ${p.ips.toString()} cuts the block ${blockName(block)}`);
      conns = conns.union(p.conns);
    }
    return conns;
  };
  for (let j = 0; j < workloads.length; j++) {
    const pieces = matrix.externalIngress(j);
    for (const b of srcBlocks) add(`${blockName(b)}[External]`, names[j]!, external(pieces, b, `ingress of ${names[j]}`));
  }
  for (let i = 0; i < workloads.length; i++) {
    const pieces = matrix.externalEgress(i);
    for (const b of dstBlocks) add(names[i]!, `${blockName(b)}[External]`, external(pieces, b, `egress of ${names[i]}`));
  }
  return { lines, notes: [...new Set(notes)] };
}

/** Lines keyed by `SRC => DST`; two lines for one pair are merged (union). */
function byPair(lines: readonly ConnLine[]): Map<string, ConnSet> {
  const out = new Map<string, ConnSet>();
  for (const l of lines) {
    const k = `${l.src} => ${l.dst}`;
    out.set(k, (out.get(k) ?? ConnSet.none()).union(l.conns));
  }
  return out;
}

/** One normalised, sorted line per pair. */
function pairLines(lines: readonly ConnLine[]): string[] {
  return sortLines([...byPair(lines)].map(([pair, conns]) => `${pair} : ${conns.toString()}`));
}

export function comparePairs(expected: readonly ConnLine[], actual: readonly ConnLine[]): PairDiff[] {
  const e = byPair(expected);
  const a = byPair(actual);
  const diffs: PairDiff[] = [];
  for (const pair of sortLines(new Set([...e.keys(), ...a.keys()]))) {
    const x = e.get(pair);
    const y = a.get(pair);
    if (x && y && x.equals(y)) continue;
    diffs.push({ pair, expected: x ? x.toString() : "", actual: y ? y.toString() : "" });
  }
  return diffs;
}

export async function runCase(c: OracleCase, options: { load?: Loader } = {}): Promise<CaseResult> {
  const result: CaseResult = { name: c.name, status: "skipped", notes: [], expected: [], actual: [], diffs: [] };

  const load = await (options.load ?? defaultLoader)([c.input]);
  const kinds = new Set(load.manifests.map((m) => m.kind));
  const unsupported = [...kinds].filter((k) => UNSUPPORTED_KINDS.has(k)).sort();
  if (unsupported.length > 0) {
    result.reason = `uses ${unsupported.join(", ")} (not evaluated by Palisade)`;
    return result;
  }

  let golden: ReturnType<typeof readGolden>;
  try {
    golden = readGolden(readFileSync(c.golden, "utf8"));
  } catch (e) {
    result.reason = `golden is not a connectivity list (${e instanceof Error ? e.message : String(e)})`;
    return result;
  }

  if (golden.ingressController.length > 0) {
    const via = [...kinds].filter((k) => INGRESS_CONTROLLER_KINDS.has(k)).sort();
    result.notes.push(
      `dropped ${golden.ingressController.length} {ingress-controller} line${golden.ingressController.length > 1 ? "s" : ""} of the golden (${via.join("/") || "Ingress/Route"} analysis is out of scope)`,
    );
  }

  const ours = palisadeLines(load);
  // Paths in diagnostics relative to the corpus, as `<case>/<file>`.
  result.notes.push(...ours.notes.map((n) => n.split(`${c.input}/`).join(`${c.name}/`)));
  result.expected = pairLines(golden.lines);
  result.actual = pairLines(ours.lines);
  result.diffs = comparePairs(golden.lines, ours.lines);
  result.status = result.diffs.length === 0 ? "agree" : "disagree";
  if (result.status === "disagree") {
    for (const combo of variantCombinations()) {
      const alt = palisadeLines(applyVariants(load, combo));
      if (comparePairs(golden.lines, alt.lines).length === 0) {
        result.explainedBy = combo.map((v) => v.id);
        break;
      }
    }
  }
  return result;
}

export async function runAll(dir: string = oracleDir(), options: { load?: Loader; only?: string } = {}): Promise<CaseResult[]> {
  const cases = listCases(dir).filter((c) => !options.only || c.name === options.only);
  const out: CaseResult[] = [];
  for (const c of cases) out.push(await runCase(c, options));
  return out;
}

export interface Summary {
  total: number;
  agree: number;
  disagree: number;
  skipped: number;
  /** agree / (agree + disagree). */
  rate: number;
}

export function summarize(results: readonly CaseResult[]): Summary {
  const agree = results.filter((r) => r.status === "agree").length;
  const disagree = results.filter((r) => r.status === "disagree").length;
  const compared = agree + disagree;
  return { total: results.length, agree, disagree, skipped: results.length - compared, rate: compared === 0 ? 0 : agree / compared };
}

/** A readable diff for one case: one line per pair whose connections differ. */
export function formatDiff(r: CaseResult): string {
  const out: string[] = [];
  for (const d of r.diffs) {
    out.push(`  ${d.pair}`);
    out.push(`      netpol-analyzer: ${d.expected || "(no connection)"}`);
    out.push(`      Palisade:        ${d.actual || "(no connection)"}`);
  }
  return out.join("\n");
}

