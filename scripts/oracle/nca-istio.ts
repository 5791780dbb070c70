/**
 * Differential testing against the Istio corpus of np-guard/network-config-analyzer
 * (NCA): its `example_policies/` inputs, `*-scheme.yaml` scheme files and the
 * `expected_output/` goldens of their `connectivityMap` queries. The corpus is not
 * part of this repository: it is read from `../shared/oracles/nca-istio/` next to
 * the repository root.
 *
 * A case is one network configuration of one `connectivityMap` query that has an
 * `expectedOutput`. Its inputs are assembled as NCA assembles them (global and
 * per-configuration `namespaceList` / `podList` / `resourceList` /
 * `networkPolicyList`), loaded with `loadInputs`, and Palisade's connectivity is
 * computed pair by pair with `traceFlow`. Both sides are printed in NCA's pairwise
 * format (`SRC => DST : conns`, as in its `txt_no_fw_rules` output) and compared
 * per pair; NCA's grouped "fw-rules" and dot goldens are expanded into that form.
 *
 * Used by `npm run oracle:istio` (scripts/oracle-nca-istio.ts) and by
 * test/oracle/nca-istio.test.ts. See docs/oracle-nca-istio.md.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import jsYaml from "js-yaml";
import { buildScenario, type Scenario } from "../../src/analysis/scenario.js";
import { loadInputs } from "../../src/load/index.js";
import type { InputDiagnostic, LoadResult, Manifest } from "../../src/load/types.js";
import type { AuthorizationPolicy } from "../../src/layers/istio/authorization.js";
import type { EgressDestination } from "../../src/layers/istio/sidecar-egress.js";
import type { Peer } from "../../src/layers/types.js";
import { WORKLOAD_KINDS, type Service, type ServicePort, type Workload } from "../../src/model/types.js";
import { pairConns, serviceBackends, traceFlow, type FlowSource, type FlowTarget, type HttpRequest, type WirePath } from "../../src/path/index.js";
import { usesHbone } from "../../src/path/mesh.js";
import { ConnSet, MAX_PORT, MIN_PORT, type Protocol } from "../../src/sets/index.js";

/** Where the corpus is expected, relative to the repository root. */
export const ORACLE_RELATIVE_PATH = "../shared/oracles/nca-istio";

/** The repository root (this file is `scripts/oracle/nca-istio.ts`). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function oracleDir(repoRoot: string = REPO_ROOT): string {
  return resolve(repoRoot, ORACLE_RELATIVE_PATH);
}

/** Why the corpus cannot be used, or undefined when it is there. */
export function oracleMissing(dir: string = oracleDir()): string | undefined {
  if (!existsSync(join(dir, "example_policies")) || !existsSync(join(dir, "expected_output"))) {
    return `NCA Istio oracle not found at ${dir} (expected example_policies/ and expected_output/ there; clone shared/ next to the repository)`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Case discovery: scheme files → queries with an expectedOutput

export type GoldenFormat = "fw-rules" | "pairwise" | "dot";

/** The inputs of one network configuration, as NCA reads them. */
export interface ConfigSources {
  /** Sources of Namespaces. */
  namespaces: string[];
  /** Sources of workloads and Services. */
  pods: string[];
  /** Sources of policies (every kind that is not topology). */
  policies: string[];
}

export interface OracleCase {
  /** The golden's file name without extension, `@config` appended when the query has several configurations. */
  name: string;
  /** The scheme file, relative to the corpus. */
  scheme: string;
  query: string;
  /** The query type (`connectivityMap`, `semanticDiff`, …). */
  queryKind: string;
  config: string;
  /** The golden, absolute. */
  golden: string;
  format: GoldenFormat | undefined;
  /** Set when the inputs were resolved. */
  sources?: ConfigSources;
  /** Why the case cannot be compared, decided from the scheme alone. */
  skip?: string;
}

interface SchemeConfig {
  name?: unknown;
  namespaceList?: unknown;
  podList?: unknown;
  resourceList?: unknown;
  networkPolicyList?: unknown;
}

interface SchemeQuery {
  name?: unknown;
  expectedOutput?: unknown;
  outputConfiguration?: { outputFormat?: unknown } | null;
  [key: string]: unknown;
}

interface Scheme {
  namespaceList?: unknown;
  podList?: unknown;
  resourceList?: unknown;
  networkConfigList?: SchemeConfig[];
  queries?: SchemeQuery[];
}

const QUERY_KINDS = [
  "connectivityMap",
  "semanticDiff",
  "equivalence",
  "strongEquivalence",
  "containment",
  "twoWayContainment",
  "permits",
  "forbids",
  "interferes",
  "pairwiseInterferes",
  "sanity",
  "vacuity",
  "redundancy",
  "emptiness",
  "disjointness",
  "allCaptured",
];

function listOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return undefined;
}

function findSchemes(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findSchemes(p, out);
    else if (e.isFile() && /-scheme\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** A source that is not a path under the corpus (live cluster, URL, Windows path). */
function remoteSource(s: string): boolean {
  return s === "k8s" || s === "calico" || s === "istio" || /^https?:\/\//.test(s) || s.includes("\\");
}

/**
 * Every query with an `expectedOutput`, one case per configuration. Queries that
 * are not connectivity maps are listed too, with a reason not to compare them.
 */
export function listCases(dir: string = oracleDir()): OracleCase[] {
  const cases: OracleCase[] = [];
  for (const file of findSchemes(dir)) {
    let scheme: Scheme;
    try {
      scheme = (jsYaml.load(readFileSync(file, "utf8")) ?? {}) as Scheme;
    } catch {
      continue;
    }
    const schemeDir = dirname(file);
    const configs = new Map<string, SchemeConfig>();
    for (const c of scheme.networkConfigList ?? []) if (c && typeof c.name === "string") configs.set(c.name, c);
    for (const q of scheme.queries ?? []) {
      if (!q || typeof q.expectedOutput !== "string" || typeof q.name !== "string") continue;
      const queryKind = QUERY_KINDS.find((k) => q[k] !== undefined) ?? "unknown";
      const golden = resolve(schemeDir, q.expectedOutput);
      const outputFormat = typeof q.outputConfiguration?.outputFormat === "string" ? q.outputConfiguration.outputFormat : undefined;
      const format: GoldenFormat | undefined =
        queryKind !== "connectivityMap" ? undefined : golden.endsWith(".dot") ? "dot" : outputFormat === "txt_no_fw_rules" ? "pairwise" : "fw-rules";
      const configNames = listOf(q[queryKind]) ?? [];
      const base = basename(golden).replace(/\.[a-z]+$/, "");
      for (const config of queryKind === "connectivityMap" ? configNames : [configNames.join(",")]) {
        const c: OracleCase = {
          name: configNames.length > 1 && queryKind === "connectivityMap" ? `${base}@${config}` : base,
          scheme: relative(dir, file),
          query: q.name,
          queryKind,
          config,
          golden,
          format,
        };
        if (queryKind !== "connectivityMap") c.skip = `not a connectivity map (${queryKind} query)`;
        else if (!existsSync(golden)) c.skip = `golden ${relative(dir, golden)} is missing`;
        else if (!configs.has(config)) c.skip = `configuration ${config} is a single policy or is not defined in the scheme`;
        else {
          const resolved = resolveSources(scheme, configs.get(config)!, schemeDir);
          if (typeof resolved === "string") c.skip = resolved;
          else c.sources = resolved;
        }
        cases.push(c);
      }
    }
  }
  return cases.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The sources of one configuration (NCA `ResourcesHandler`): topology from the
 * configuration's `namespaceList` / `podList`, else its `resourceList`, else the
 * scheme's global lists; policies from its `networkPolicyList`, else its
 * `resourceList` (never from the global lists).
 */
function resolveSources(scheme: Scheme, cfg: SchemeConfig, schemeDir: string): ConfigSources | string {
  const cfgNs = listOf(cfg.namespaceList);
  const cfgPods = listOf(cfg.podList);
  const cfgRes = listOf(cfg.resourceList);
  const np = listOf(cfg.networkPolicyList);
  const gNs = listOf(scheme.namespaceList);
  const gPods = listOf(scheme.podList);
  const gRes = listOf(scheme.resourceList);
  const all = [cfgNs, cfgPods, cfgRes, np, gNs, gPods, gRes].flatMap((l) => l ?? []);
  const remote = all.find(remoteSource);
  if (remote) return `input from a live cluster or a remote repository (${remote})`;
  const abs = (l: string[] | undefined) => (l ?? []).map((p) => resolve(schemeDir, p));
  const ownNs = cfgNs ?? cfgRes;
  const ownPods = cfgPods ?? cfgRes;
  return {
    namespaces: abs(ownNs ?? gNs ?? gRes),
    pods: abs(ownPods ?? gPods ?? gRes),
    policies: abs(np ?? cfgRes),
  };
}

// ---------------------------------------------------------------------------
// Loading a case's input

/**
 * Kinds NCA takes from topology lists: namespaces, pods and their controllers,
 * Services, and ServiceEntries (their hosts are peers, "DNS entries", in NCA).
 */
const TOPOLOGY_KINDS: ReadonlySet<string> = new Set(["Namespace", "Service", "ServiceEntry", ...WORKLOAD_KINDS]);

/** Files NCA reads for one source: a file, the YAML/JSON files of a directory, or of a tree with `/**`. */
export function sourceFiles(source: string): string[] {
  const recursive = source.endsWith("/**");
  const path = recursive ? source.slice(0, -3) : source.replace(/\/$/, "");
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (recursive) walk(p);
      } else if (/\.(ya?ml|json)$/.test(e.name)) out.push(p);
    }
  };
  walk(path);
  return out;
}

export interface CaseInput {
  load: LoadResult;
  notes: string[];
}

/** The manifests of one configuration: topology kinds from topology sources, every other kind from policy sources. */
export async function loadCaseInput(sources: ConfigSources): Promise<CaseInput> {
  const notes: string[] = [];
  const cache = new Map<string, LoadResult>();
  const read = async (file: string): Promise<LoadResult> => {
    let r = cache.get(file);
    if (!r) {
      r = await loadInputs([file]);
      cache.set(file, r);
    }
    return r;
  };
  const manifests: Manifest[] = [];
  const diagnostics: InputDiagnostic[] = [];
  const seenFiles = new Set<string>();
  const take = async (list: string[], keep: (m: Manifest) => boolean) => {
    for (const source of list) {
      const files = sourceFiles(source);
      if (files.length === 0) notes.push(`source ${source} has no YAML or JSON file`);
      for (const f of files) {
        const r = await read(f);
        manifests.push(...r.manifests.filter(keep));
        if (!seenFiles.has(f)) diagnostics.push(...r.diagnostics);
        seenFiles.add(f);
      }
    }
  };
  await take(sources.namespaces, (m) => m.kind === "Namespace");
  await take(sources.pods, (m) => m.kind !== "Namespace" && TOPOLOGY_KINDS.has(m.kind));
  await take(sources.policies, (m) => !TOPOLOGY_KINDS.has(m.kind) && !m.kind.endsWith("List"));
  // One object read through two sources (a directory and a file in it) counts once.
  const unique: Manifest[] = [];
  const keys = new Set<string>();
  for (const m of manifests) {
    const k = `${m.source.file}:${m.source.line}:${m.kind}:${m.namespace ?? ""}/${m.name}`;
    if (keys.has(k)) continue;
    keys.add(k);
    unique.push(m);
  }
  return { load: { manifests: unique, diagnostics }, notes };
}

// ---------------------------------------------------------------------------
// The goldens

export class GoldenFormatError extends Error {}

/** NCA's pod expressions in fw-rules: `*`, names, `key=v`, `key!=v`, `key in (a,b)`, `key not in (a,b)`. */
export type PodExpr =
  | { kind: "all" }
  | { kind: "names"; names: string[] }
  | { kind: "eq"; key: string; value: string; negated: boolean }
  | { kind: "in"; key: string; values: string[]; negated: boolean }
  | { kind: "has"; key: string; negated: boolean };

export type GoldenPeer =
  /** A fw-rules workload group: pods of these namespaces matching the expression. */
  | { kind: "pods"; namespaces: string[]; expr: PodExpr }
  /** A pairwise or dot workload: one namespace, one or more names (a dot node can stand for several). */
  | { kind: "workload"; namespace: string; names: string[] }
  /** An address block; NCA's goldens in this corpus only use the whole space. */
  | { kind: "ip"; text: string }
  /** A DNS entry (a ServiceEntry host). */
  | { kind: "dns"; host: string };

export interface GoldenRule {
  src: GoldenPeer;
  dst: GoldenPeer;
  /** The connections, projected on protocols and destination ports. */
  conns: ConnSet;
  /** True when the golden narrows the connections by HTTP attributes (methods, paths, hosts). */
  http: boolean;
  /** The line as written (or the dot edge). */
  text: string;
}

const NON_TCP = ConnSet.protocol("UDP").union(ConnSet.protocol("SCTP"));
const TCP_ALL = ConnSet.protocol("TCP");

function parsePortList(text: string, where: string): [number, number][] {
  const out: [number, number][] = [];
  for (const raw of text.split(",")) {
    const t = raw.trim();
    if (!t) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(t);
    if (!m) throw new GoldenFormatError(`cannot read port "${t}" in ${where}`);
    out.push([Number(m[1]), m[2] ? Number(m[2]) : Number(m[1])]);
  }
  return out;
}

const CUBE_KEYS = ["protocols", "src_ports", "dst_ports", "methods", "paths", "hosts", "icmp_type", "icmp_code"];

/**
 * `All connections` or `{dst_ports:7070,methods:GET, POST},{…}`, projected on
 * (protocol, destination port): a cube that narrows only HTTP attributes still
 * allows some request on its ports. `section` is what `All` and a cube without
 * `protocols` mean (TCP, or every non-TCP protocol).
 */
export function parseConn(text: string, section: ConnSet): { conns: ConnSet; http: boolean } {
  const t = text.trim();
  if (t === "All connections" || t === "All" || t === "All Connections") return { conns: section, http: false };
  if (!t.startsWith("{") || !t.endsWith("}")) throw new GoldenFormatError(`cannot read connections "${text}"`);
  let conns = ConnSet.none();
  let http = false;
  for (const cube of t.slice(1, -1).split(/\},\s*\{/)) {
    const keyRe = new RegExp(`(?:^|,)(${CUBE_KEYS.join("|")}):`, "g");
    const marks: { key: string; start: number; end: number }[] = [];
    for (let m = keyRe.exec(cube); m; m = keyRe.exec(cube)) marks.push({ key: m[1]!, start: m.index, end: m.index + m[0].length });
    if (marks.length === 0 || marks[0]!.start !== 0) throw new GoldenFormatError(`cannot read connections "${text}"`);
    const values = new Map<string, string>();
    marks.forEach((mk, i) => values.set(mk.key, cube.slice(mk.end, i + 1 < marks.length ? marks[i + 1]!.start : cube.length).trim()));
    let protos: Protocol[];
    const p = values.get("protocols");
    if (p === undefined) protos = (["TCP", "UDP", "SCTP"] as const).filter((x) => !section.portsOf(x).isEmpty());
    else {
      protos = [];
      for (const x of p.split(/[,\s]+/).filter(Boolean)) {
        if (x === "TCP" || x === "UDP" || x === "SCTP") protos.push(x);
        else if (!/^(ICMP|ICMPv6|\d+)$/i.test(x)) throw new GoldenFormatError(`unknown protocol "${x}" in "${text}"`);
      }
    }
    const ports = values.has("dst_ports") ? parsePortList(values.get("dst_ports")!, `"${text}"`) : [[MIN_PORT, MAX_PORT] as [number, number]];
    for (const proto of protos) for (const [lo, hi] of ports) conns = conns.union(ConnSet.ports(proto, lo, hi));
    if (values.has("methods") || values.has("paths") || values.has("hosts")) http = true;
  }
  return { conns: conns.intersect(section), http };
}

export function parsePodExpr(text: string): PodExpr {
  const t = text.trim();
  if (t === "*") return { kind: "all" };
  if (/\sand\s|\sor\s/.test(t)) throw new GoldenFormatError(`compound pod expression "${t}"`);
  let m = /^([\w./-]+) (not )?in \(([^)]*)\)$/.exec(t);
  if (m) return { kind: "in", key: m[1]!, negated: !!m[2], values: m[3]!.split(",").map((s) => s.trim()).filter(Boolean) };
  m = /^([\w./-]+)(!=|=)([\w./-]*)$/.exec(t);
  if (m) return { kind: "eq", key: m[1]!, negated: m[2] === "!=", value: m[3]! };
  m = /^(!)?has\(([\w./-]+)\)$/.exec(t);
  if (m) return { kind: "has", key: m[2]!, negated: !!m[1] };
  const names = t.split(",").map((s) => s.trim());
  if (names.some((n) => !/^[\w.-]+$/.test(n))) throw new GoldenFormatError(`cannot read pod expression "${t}"`);
  return { kind: "names", names };
}

const FW_PEER = String.raw`(?:(src|dst): (\S+)|(src|dst)_ns: \[([^\]]*)\] (?:src|dst)_pods: \[([^\]]*)\])`;
const FW_LINE = new RegExp(`^${FW_PEER} ${FW_PEER} conn: (.+)$`);

function fwPeer(addr: string | undefined, nsList: string | undefined, pods: string | undefined): GoldenPeer {
  if (addr !== undefined) return /^[\d.:/a-f-]+$/i.test(addr) && /\d/.test(addr) && !/[g-z]/i.test(addr) ? { kind: "ip", text: addr } : { kind: "dns", host: addr };
  return { kind: "pods", namespaces: nsList!.split(",").map((s) => s.trim()).filter(Boolean), expr: parsePodExpr(pods!) };
}

/**
 * NCA's default txt output ("fw-rules"): per configuration, a TCP and a non-TCP
 * section of grouped rules. Only the sections of `config` are read.
 */
export function parseFwRules(text: string, config: string): GoldenRule[] {
  const rules: GoldenRule[] = [];
  let section: ConnSet | undefined;
  let sections = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const head = /^For connections of type (TCP|non-TCP), final fw rules for query: .*, config: (.*):$/.exec(line);
    if (head) {
      section = head[2] === config ? (head[1] === "TCP" ? TCP_ALL : NON_TCP) : undefined;
      if (section) sections++;
      continue;
    }
    if (!section) continue;
    const m = FW_LINE.exec(line);
    if (!m) throw new GoldenFormatError(`not a fw-rules line: "${line}"`);
    const src = fwPeer(m[2], m[4], m[5]);
    const dst = fwPeer(m[7], m[9], m[10]);
    const { conns, http } = parseConn(m[11]!, section);
    rules.push({ src, dst, conns, http, text: line });
  }
  if (sections === 0) throw new GoldenFormatError(`no section for configuration ${config}`);
  return rules;
}

function pairwisePeer(text: string): GoldenPeer {
  const w = /^([^/\s]+)\/([^[\s]+)\[(\w+)\]$/.exec(text);
  if (w) return { kind: "workload", namespace: w[1]!, names: [w[2]!] };
  if (/^\d+\.\d+\.\d+\.\d+/.test(text)) return { kind: "ip", text };
  return { kind: "dns", host: text };
}

/** NCA's `txt_no_fw_rules` output: `TCP Connections:` / `non-TCP Connections:` and `SRC => DST : conns` lines. */
export function parsePairwise(text: string): GoldenRule[] {
  const rules: GoldenRule[] = [];
  let section: ConnSet | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line === "TCP Connections:") {
      section = TCP_ALL;
      continue;
    }
    if (line === "non-TCP Connections:") {
      section = NON_TCP;
      continue;
    }
    const m = /^(.+?) => (.+?) : (.+)$/.exec(line);
    if (!m || !section) throw new GoldenFormatError(`not a connectivity line: "${line}"`);
    const { conns, http } = parseConn(m[3]!, section);
    rules.push({ src: pairwisePeer(m[1]!), dst: pairwisePeer(m[2]!), conns, http, text: line });
  }
  return rules;
}

interface DotNode {
  id: string;
  attrs: Record<string, string>;
}
interface DotEdge {
  from: string;
  to: string;
  attrs: Record<string, string>;
}

/** Splits a dot body into node and edge statements (quoted strings may span lines; `<…>` labels nest). */
function dotStatements(body: string): { nodes: DotNode[]; edges: DotEdge[] } {
  const nodes: DotNode[] = [];
  const edges: DotEdge[] = [];
  let i = 0;
  const n = body.length;
  const skipWs = () => {
    while (i < n && /\s/.test(body[i]!)) i++;
  };
  const quoted = (): string => {
    let out = "";
    i++; // opening quote
    while (i < n && body[i] !== '"') {
      if (body[i] === "\\" && i + 1 < n) {
        out += body[i + 1];
        i += 2;
        continue;
      }
      out += body[i++];
    }
    i++;
    return out;
  };
  const value = (): string => {
    if (body[i] === '"') return quoted();
    if (body[i] === "<") {
      let depth = 0;
      const start = i;
      while (i < n) {
        if (body[i] === "<") depth++;
        else if (body[i] === ">") {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
        }
        i++;
      }
      return body.slice(start + 1, i - 1);
    }
    const start = i;
    while (i < n && !/[\s,\]]/.test(body[i]!)) i++;
    return body.slice(start, i);
  };
  const attrs = (): Record<string, string> => {
    const out: Record<string, string> = {};
    i++; // [
    for (;;) {
      skipWs();
      if (i >= n || body[i] === "]") {
        i++;
        return out;
      }
      if (body[i] === ",") {
        i++;
        continue;
      }
      const start = i;
      while (i < n && /[\w-]/.test(body[i]!)) i++;
      const key = body.slice(start, i);
      skipWs();
      if (body[i] === "=") {
        i++;
        skipWs();
        out[key] = value();
      } else if (!key) i++;
    }
  };
  while (i < n) {
    skipWs();
    if (i >= n) break;
    if (body[i] === '"') {
      const id = quoted();
      skipWs();
      if (body.startsWith("->", i)) {
        i += 2;
        skipWs();
        const to = body[i] === '"' ? quoted() : value();
        skipWs();
        edges.push({ from: id, to, attrs: body[i] === "[" ? attrs() : {} });
      } else if (body[i] === "[") nodes.push({ id, attrs: attrs() });
      continue;
    }
    // Keywords, subgraph headers, graph attributes, comments: skip to the end of the line.
    if (body.startsWith("//", i)) {
      while (i < n && body[i] !== "\n") i++;
      continue;
    }
    const start = i;
    while (i < n && !/[\s"]/.test(body[i]!)) i++;
    const word = body.slice(start, i);
    const eq = /^(\w+)=$/.exec(word) || (/^\w+$/.test(word) && body[i] === "=" ? [word, word] : null);
    if (eq) {
      // `label="…"` graph attribute: consume its value.
      if (body[i] === "=") i++;
      skipWs();
      value();
    } else if (i === start) i++;
  }
  return { nodes, edges };
}

/**
 * NCA's dot output: a TCP and a non-TCP digraph. Workload nodes are `ns/name(Kind)`
 * or `ns/pod`; a node whose label lists several workloads stands for all of them;
 * `biclique_*` nodes connect every source to every destination, `clique_*` nodes
 * every pair of their members; an edge with `arrowtail=normal` goes both ways.
 */
export function parseDot(text: string): GoldenRule[] {
  const rules: GoldenRule[] = [];
  const graphs = text.split(/^\/\/ /m).filter((g) => g.includes("digraph"));
  if (graphs.length === 0) throw new GoldenFormatError("no digraph");
  for (const g of graphs) {
    const head = /^The Connectivity Graph of [^\n]*?(?:, for (TCP|non-TCP) connections)?\s*\n/.exec(g);
    if (!head) throw new GoldenFormatError(`unknown graph "${g.split("\n")[0]}"`);
    // Without a protocol split (no Istio layer), one graph holds every protocol.
    const section = head[1] === "TCP" ? TCP_ALL : head[1] === "non-TCP" ? NON_TCP : ConnSet.all();
    const { nodes, edges } = dotStatements(g.slice(g.indexOf("{") + 1));
    const byId = new Map(nodes.map((nd) => [nd.id, nd]));
    const peersOf = (id: string): GoldenPeer[] => {
      if (/^\d+\.\d+\.\d+\.\d+/.test(id)) return [{ kind: "ip", text: id }];
      const slash = id.indexOf("/");
      if (slash < 0) return [{ kind: "dns", host: id }];
      const ns = id.slice(0, slash);
      const label = byId.get(id)?.attrs.label ?? "";
      const cells = [...label.matchAll(/<td>([^<]+)<\/td>/g)].map((c) => c[1]!);
      const names = (cells.length > 0 ? cells : [id.slice(slash + 1)]).map((s) => s.replace(/\([^)]*\)$/, ""));
      return names.map((name) => ({ kind: "workload", namespace: ns, names: [name] }));
    };
    const connOf = (attrs: Record<string, string>, what: string): { conns: ConnSet; http: boolean } => {
      const tip = attrs.labeltooltip ?? attrs.tooltip?.split("\n").slice(1).join("\n") ?? attrs.xlabel ?? attrs.label;
      if (tip === undefined) throw new GoldenFormatError(`no connections on ${what}`);
      return parseConn(tip, section);
    };
    const add = (a: GoldenPeer[], b: GoldenPeer[], c: { conns: ConnSet; http: boolean }, text: string) => {
      for (const s of a) for (const d of b) rules.push({ src: s, dst: d, conns: c.conns, http: c.http, text });
    };
    const special = (id: string) => id.startsWith("biclique_") || id.startsWith("clique_");
    for (const e of edges) {
      if (special(e.from) || special(e.to)) continue;
      const c = connOf(e.attrs, `edge ${e.from} -> ${e.to}`);
      const text = `${e.from} -> ${e.to} : ${e.attrs.labeltooltip ?? e.attrs.label}`;
      add(peersOf(e.from), peersOf(e.to), c, text);
      if (e.attrs.arrowtail === "normal") add(peersOf(e.to), peersOf(e.from), c, text);
      // A node standing for several workloads with an edge to itself connects them all.
    }
    for (const nd of nodes) {
      if (!special(nd.id)) continue;
      const c = connOf(nd.attrs, `node ${nd.id}`);
      if (nd.id.startsWith("biclique_")) {
        const srcs = edges.filter((e) => e.to === nd.id).flatMap((e) => peersOf(e.from));
        const dsts = edges.filter((e) => e.from === nd.id).flatMap((e) => peersOf(e.to));
        add(srcs, dsts, c, `${nd.id} : ${nd.attrs.xlabel ?? ""}`);
      } else {
        const members = edges.flatMap((e) => (e.from === nd.id ? peersOf(e.to) : e.to === nd.id ? peersOf(e.from) : []));
        add(members, members, c, `${nd.id} : ${nd.attrs.xlabel ?? ""}`);
      }
    }
  }
  return rules;
}

export function readGolden(c: OracleCase): GoldenRule[] {
  const text = readFileSync(c.golden, "utf8");
  if (c.format === "pairwise") return parsePairwise(text);
  if (c.format === "dot") return parseDot(text);
  return parseFwRules(text, c.config);
}

// ---------------------------------------------------------------------------
// Peers: names in NCA's pairwise format, and how golden peers map to Palisade's workloads

/** The whole address space, NCA's only external peer in this corpus. */
export const EXTERNAL_PEER = "0.0.0.0-255.255.255.255";
/** The address Palisade is asked about for the external peer (TEST-NET-3, never a pod in the corpus). */
export const EXTERNAL_IP = "203.0.113.7";

export function workloadName(w: Workload): string {
  return `${w.namespace}/${w.name}[${w.kind}]`;
}

function ownerNames(m: Manifest): string[] {
  const refs = (m.raw.metadata as { ownerReferences?: unknown } | undefined)?.ownerReferences;
  if (!Array.isArray(refs)) return [];
  return refs.filter((r): r is { name: string } => !!r && typeof r === "object" && typeof (r as { name?: unknown }).name === "string").map((r) => r.name);
}

/** The names a golden may use for a workload: its own, its pod's, its pod's owner (a ReplicaSet). */
function aliases(w: Workload): Set<string> {
  return new Set([w.name, w.manifest.name, ...ownerNames(w.manifest)]);
}

function exprMatches(e: PodExpr, w: Workload, names: Set<string>): boolean {
  switch (e.kind) {
    case "all":
      return true;
    case "names":
      return e.names.some((n) => names.has(n));
    case "eq": {
      const v = w.labels[e.key];
      return e.negated ? v !== e.value : v === e.value;
    }
    case "in": {
      const v = w.labels[e.key];
      const inSet = v !== undefined && e.values.includes(v);
      return e.negated ? !inSet : inSet;
    }
    case "has":
      return e.negated ? !(e.key in w.labels) : e.key in w.labels;
  }
}

function isWholeSpace(text: string): boolean {
  return text === "0.0.0.0/0" || text === EXTERNAL_PEER;
}

export interface ExpandedGolden {
  /** `SRC => DST` → connections. */
  pairs: Map<string, ConnSet>;
  /** Pairs whose golden narrows connections by HTTP attributes. */
  http: Set<string>;
  /** Golden peers that match no Palisade workload. */
  unmatched: string[];
}

function peerNames(p: GoldenPeer, workloads: readonly Workload[], dnsHosts: ReadonlySet<string>, unmatched: Set<string>): string[] {
  switch (p.kind) {
    case "ip":
      if (!isWholeSpace(p.text)) throw new GoldenFormatError(`address block ${p.text} (only the whole space is supported)`);
      return [EXTERNAL_PEER];
    case "dns":
      if (!dnsHosts.has(p.host)) unmatched.add(p.host);
      return [p.host];
    case "workload": {
      const found = workloads.filter((w) => w.namespace === p.namespace && p.names.some((n) => aliases(w).has(n)));
      if (found.length === 0) unmatched.add(`${p.namespace}/${p.names.join(",")}`);
      return found.map(workloadName);
    }
    case "pods": {
      const found = workloads.filter((w) => p.namespaces.includes(w.namespace) && exprMatches(p.expr, w, aliases(w)));
      if (found.length === 0 && p.expr.kind === "names") unmatched.add(`[${p.namespaces.join(",")}]/${p.expr.names.join(",")}`);
      for (const ns of p.namespaces) if (!workloads.some((w) => w.namespace === ns)) unmatched.add(`${ns}/*`);
      return found.map(workloadName);
    }
  }
}

/** The golden as pairs of Palisade peer names (self pairs left out; non-TCP never involves a DNS entry). */
export function expandGolden(rules: readonly GoldenRule[], workloads: readonly Workload[], dnsHosts: ReadonlySet<string>): ExpandedGolden {
  const pairs = new Map<string, ConnSet>();
  const http = new Set<string>();
  const unmatched = new Set<string>();
  for (const r of rules) {
    const srcs = peerNames(r.src, workloads, dnsHosts, unmatched);
    const dsts = peerNames(r.dst, workloads, dnsHosts, unmatched);
    const conns = r.src.kind === "dns" || r.dst.kind === "dns" ? r.conns.intersect(TCP_ALL) : r.conns;
    for (const s of srcs) {
      for (const d of dsts) {
        if (s === d) continue;
        const k = `${s} => ${d}`;
        pairs.set(k, (pairs.get(k) ?? ConnSet.none()).union(conns));
        if (r.http) http.add(k);
      }
    }
  }
  return { pairs, http, unmatched: [...unmatched].sort() };
}

// ---------------------------------------------------------------------------
// Palisade's side

type Src = { kind: "workload"; workload: Workload } | { kind: "external" };
type Dst = { kind: "workload"; workload: Workload } | { kind: "external" } | { kind: "dns"; host: string };

const KNOWN_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"];
const FRESH = "nca-oracle";

function matchesIstioPattern(value: string, pattern: string): boolean {
  if (pattern === "*") return value.length > 0;
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}

/** A value an Istio string pattern matches: exact, `prefix*`, `*suffix`, `*` (and path templates). */
function sampleOf(pattern: string, kind: "path" | "host" | "method"): string {
  if (kind === "method") return KNOWN_METHODS.find((m) => matchesIstioPattern(m, pattern)) ?? pattern.replace(/\*/g, "");
  const p = kind === "path" ? pattern.replace(/\{\*\*?\}/g, FRESH) : pattern;
  if (p === "*") return kind === "path" ? `/${FRESH}` : `${FRESH}.example`;
  if (p.startsWith("*")) return (kind === "path" ? `/${FRESH}` : FRESH) + p.slice(1);
  if (p.endsWith("*")) return p.slice(0, -1) + FRESH;
  return p;
}

function avoiding(patterns: readonly string[], kind: "path" | "host" | "method"): string {
  if (kind === "method") return KNOWN_METHODS.find((m) => !patterns.some((p) => matchesIstioPattern(m, p))) ?? "GET";
  return kind === "path" ? `/${FRESH}-other` : `${FRESH}.invalid`;
}

function portAdmitted(ports: readonly string[], notPorts: readonly string[], port: number): boolean {
  if (ports.length > 0 && !ports.includes(String(port))) return false;
  return !notPorts.includes(String(port));
}

function policyApplies(p: AuthorizationPolicy, w: Workload, root: string): boolean {
  if (p.targetRefs.length > 0) return false;
  if (p.namespace !== root && p.namespace !== w.namespace) return false;
  return !p.selector || Object.entries(p.selector).every(([k, v]) => w.labels[k] === v);
}

/** Numbers that may be ports anywhere in an object (port fields and port lists). */
function portsIn(value: unknown, out: Set<number>, key = ""): void {
  if (Array.isArray(value)) {
    for (const v of value) portsIn(v, out, key);
    return;
  }
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    // `when: [{key: destination.port, values: [...]}]`
    if (o.key === "destination.port") for (const k of ["values", "notValues"]) portsIn(o[k], out, "ports");
    for (const [k, v] of Object.entries(o)) portsIn(v, out, k);
    return;
  }
  const portKey = ["port", "number", "targetPort", "containerPort", "endPort", "ports", "notPorts", "hostPort", "nodePort"].includes(key);
  if (!portKey) return;
  const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(n) && n >= MIN_PORT && n <= MAX_PORT) out.add(n);
}

/** Istio's own ports and the conventional ones Palisade treats specially. */
const SPECIAL_PORTS = [80, 443, 15001, 15006, 15008, 15010, 15012, 15014, 15017, 15020, 15021, 15090];

/**
 * TCP port classes: every port any input object or the golden names is a class of
 * its own, the ranges between them are one class each (no decision can tell two
 * ports of one range apart). A class is evaluated on its lowest port.
 */
export function portClasses(ports: Iterable<number>): [number, number][] {
  const sorted = [...new Set([...ports, ...SPECIAL_PORTS])].filter((p) => p >= MIN_PORT && p <= MAX_PORT).sort((a, b) => a - b);
  const out: [number, number][] = [];
  let next = MIN_PORT;
  for (const p of sorted) {
    if (p > next) out.push([next, p - 1]);
    out.push([p, p]);
    next = p + 1;
  }
  if (next <= MAX_PORT) out.push([next, MAX_PORT]);
  return out;
}

// ---------------------------------------------------------------------------
// What-if variants: NCA's documented modelling of Sidecar resources and
// ServiceEntries, reproduced with Palisade's own evaluators. "Readings" replace
// Palisade's sidecar egress decision by NCA's; "rewrites" change the input the way
// NCA reads it. A disagreement that disappears under a set of variants is
// explained by those modelling differences (docs/oracle-nca-istio.md).

export type VariantId =
  | "scope-is-a-firewall"
  | "scope-ignores-ports"
  | "service-host-by-name"
  | "lenient-host-names"
  | "entries-in-every-namespace"
  | "passthrough-keeps-identity";

export interface Variant {
  id: VariantId;
  /** What NCA does differently, for people. */
  title: string;
  /** For a rewrite: the input as NCA reads it (the same array when nothing changes). */
  rewrite?: (manifests: readonly Manifest[]) => readonly Manifest[];
}

/** NCA's `istio_root_namespace`. */
const NCA_ROOT_NAMESPACE = "istio-system";

interface EgressHostEntry {
  namespace: string;
  dnsName: string;
}

/** Adds egress hosts to Sidecars: `extra` gives the hosts to add for one existing `namespace/dnsName` entry. */
function addSidecarHosts(manifests: readonly Manifest[], extra: (sidecarNs: string, h: EgressHostEntry) => string[]): readonly Manifest[] {
  let changed = false;
  const out = manifests.map((m) => {
    if (m.kind !== "Sidecar") return m;
    const egress = (m.raw.spec as { egress?: unknown } | undefined)?.egress;
    if (!Array.isArray(egress)) return m;
    const sidecarNs = m.namespace ?? "default";
    let touched = false;
    const raw = structuredClone(m.raw);
    for (const listener of (raw.spec as { egress: unknown[] }).egress) {
      const hosts = (listener as { hosts?: unknown } | null)?.hosts;
      if (!Array.isArray(hosts)) continue;
      const add: string[] = [];
      for (const h of hosts) {
        if (typeof h !== "string" || h.split("/").length !== 2) continue;
        const [namespace, dnsName] = h.split("/") as [string, string];
        if (namespace.startsWith("~")) continue;
        for (const x of extra(sidecarNs, { namespace, dnsName })) if (!hosts.includes(x) && !add.includes(x)) add.push(x);
      }
      if (add.length > 0) {
        hosts.push(...add);
        touched = true;
      }
    }
    if (!touched) return m;
    changed = true;
    return { ...m, raw };
  });
  return changed ? out : manifests;
}

function servicesNamed(manifests: readonly Manifest[], name: string): string[] {
  return [...new Set(manifests.filter((m) => m.kind === "Service" && m.name === name).map((m) => m.namespace ?? "default"))].sort();
}

/** A ServiceEntry host as a valid DNS name (NCA accepts `connected_with_mesh.example.com`; Istio's validation does not). */
export function validHostName(host: string): string {
  return host.toLowerCase().replace(/[^a-z0-9.*-]/g, "-");
}

/** NCA's `get_dns_entry_peers_matching_host_name`: the Sidecar host equals or contains the entry's host. */
function sidecarHostCovers(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  return pattern.startsWith("*.") && !host.startsWith("*") && host.endsWith(pattern.slice(1));
}

export const VARIANTS: readonly Variant[] = [
  {
    id: "passthrough-keeps-identity",
    title:
      "NCA gives a sidecar client's connection its mTLS identity on every port of a mesh pod; in Istio a connection the sidecar passes through (a pod address on a port no Service or ServiceEntry in scope covers) leaves in plaintext, so principal-based ALLOW rules and STRICT mTLS refuse it, and so does Palisade (what-if: passthrough treated as a registered route)",
  },
  {
    id: "scope-is-a-firewall",
    title:
      "a client selected by a Sidecar reaches a mesh workload or a ServiceEntry host only when the Sidecar's egress scope imports it, whatever outboundTrafficPolicy says (NCA); Istio passes out-of-scope destinations through under ALLOW_ANY (semantics.md §4.8 r25), and so does Palisade",
  },
  {
    id: "scope-ignores-ports",
    title:
      "once a Sidecar's egress scope (or the registry, under REGISTRY_ONLY) admits a Service of a workload or a ServiceEntry host on one port, NCA admits every port of that workload or host; Istio matches the destination port (a Service port, a ServiceEntry port), and so does Palisade",
  },
  {
    id: "service-host-by-name",
    title:
      "NCA matches a Sidecar host NS/NAME.DOMAIN.svc.cluster.local by the Service name alone (the first label) in NS, so ./cartservice.onlineboutique.svc.cluster.local imports cartservice of the Sidecar's own namespace; Istio compares the whole FQDN, and so does Palisade (rewrite: add NS/NAME.NS.svc.cluster.local for every such Service)",
    rewrite: (ms) =>
      addSidecarHosts(ms, (sidecarNs, h) => {
        const m = /^([a-z0-9-]+)\.(?:.*\.)?svc\.cluster\.local$/.exec(h.dnsName);
        if (!m || h.dnsName.includes("*")) return [];
        const name = m[1]!;
        const global = h.namespace === "." && sidecarNs === NCA_ROOT_NAMESPACE;
        const namespaces = h.namespace === "*" || global ? servicesNamed(ms, name) : [h.namespace === "." ? sidecarNs : h.namespace].filter((n) => servicesNamed(ms, name).includes(n));
        return namespaces.map((ns) => `${h.namespace === "." ? "." : ns}/${name}.${ns}.svc.cluster.local`);
      }),
  },
  {
    id: "lenient-host-names",
    title:
      "NCA accepts ServiceEntry hosts that are not DNS names (connected_with_mesh.example.com); istiod rejects such an entry, and Palisade reports it and leaves the whole entry out (rewrite: make the hosts valid names)",
    rewrite: (ms) => {
      let changed = false;
      const out = ms.map((m) => {
        const hosts = m.kind === "ServiceEntry" ? (m.raw.spec as { hosts?: unknown } | undefined)?.hosts : undefined;
        if (!Array.isArray(hosts) || hosts.every((h) => typeof h !== "string" || validHostName(h) === h)) return m;
        changed = true;
        const raw = structuredClone(m.raw);
        (raw.spec as { hosts: unknown[] }).hosts = hosts.map((h) => (typeof h === "string" ? validHostName(h) : h));
        return { ...m, raw };
      });
      return changed ? out : ms;
    },
  },
  {
    id: "entries-in-every-namespace",
    title:
      "NCA treats ServiceEntry hosts as exported to, and present in, every namespace: any Sidecar host NS/NAME whose NAME covers an entry's host imports it, whatever NS and the entry's exportTo say; in Istio NS must be the entry's namespace (or *) and exportTo must include the client's namespace, and so in Palisade (rewrite: add ENTRY_NS/HOST for every covered host, export every entry everywhere)",
    rewrite: (ms) => {
      const entries = ms.filter((m) => m.kind === "ServiceEntry");
      if (entries.length === 0) return ms;
      let changed = false;
      const exported = ms.map((m) => {
        const exportTo = m.kind === "ServiceEntry" ? (m.raw.spec as { exportTo?: unknown } | undefined)?.exportTo : undefined;
        if (!Array.isArray(exportTo) || (exportTo.length === 1 && exportTo[0] === "*")) return m;
        changed = true;
        const raw = structuredClone(m.raw);
        delete (raw.spec as { exportTo?: unknown }).exportTo;
        return { ...m, raw };
      });
      const out = addSidecarHosts(exported, (_ns, h) => {
        if (h.dnsName.includes("svc.cluster.local")) return [];
        const add: string[] = [];
        for (const e of entries) {
          const hosts = (e.raw.spec as { hosts?: unknown } | undefined)?.hosts;
          for (const x of Array.isArray(hosts) ? hosts : []) {
            if (typeof x === "string" && validHostName(x) === x && sidecarHostCovers(h.dnsName, x)) add.push(`${e.namespace ?? "default"}/${x}`);
          }
        }
        return add;
      });
      return changed || out !== exported ? out : ms;
    },
  },
];

/**
 * Palisade's connectivity for one scenario, in NCA's terms: per pair, the TCP
 * ports on which the client reaches the server (directly by pod address, or
 * through a Service that selects it), where "reaches" means some request gets
 * through (NCA counts a connection as allowed when its AuthorizationPolicies allow
 * some HTTP request on it); non-TCP from the CNI layers, which the mesh never sees.
 */
export class PalisadeView {
  readonly classes: [number, number][];
  private readonly root: string;
  private readonly extPeer: Peer = { kind: "external", ip: EXTERNAL_IP };
  /** Traces run (for the report). */
  traces = 0;
  /** Port classes allowed only for some HTTP request (a plain TCP client is denied there). */
  httpOnly = 0;

  private readonly variants: ReadonlySet<VariantId>;
  private readonly registeredCache = new Map<string, boolean>();
  private readonly probeCache = new Map<string, HttpRequest[]>();

  readonly scenario: Scenario;
  private readonly original: Scenario;

  constructor(
    scenario: Scenario,
    ports: Iterable<number>,
    variants: readonly VariantId[] = [],
    /** ServiceEntry ports by host (for `scope-ignores-ports`). */
    private readonly entryPorts: ReadonlyMap<string, readonly number[]> = new Map(),
  ) {
    this.classes = portClasses(ports);
    this.root = scenario.mesh?.settings.rootNamespace ?? "istio-system";
    this.variants = new Set(variants);
    this.scenario = scenario;
    this.original = scenario;
    const mesh = scenario.mesh;
    if (this.variants.has("passthrough-keeps-identity") && mesh) {
      // What-if: the sidecar's passthrough route is read as a registered one, which keeps mTLS.
      const egress = mesh.egress;
      const patched: typeof egress = Object.create(egress);
      patched.evaluate = (flow) => {
        const d = egress.evaluate(flow);
        return d.route === "passthrough" ? { ...d, route: "service" } : d;
      };
      this.scenario = { ...scenario, mesh: { ...mesh, egress: patched } };
    }
  }

  /** The sidecar egress decision for a destination, when the source has a sidecar and a Sidecar resource selects it. */
  private egressDecision(src: Src, destination: EgressDestination) {
    // The egress step itself as Palisade decides it (before any what-if on the rest of the path).
    const mesh = this.original.mesh;
    if (!mesh || src.kind !== "workload" || this.modeOf(src.workload) !== "sidecar") return undefined;
    const d = mesh.egress.evaluate({ source: src.workload, sourceMode: "sidecar", destination, protocol: "TCP" });
    // NCA applies nothing to a client no Sidecar resource selects.
    return d.sidecar.level === "none" ? undefined : d;
  }

  private admits(src: Src, destination: EgressDestination): boolean {
    const d = this.egressDecision(src, destination);
    if (!d) return true;
    if (d.verdict !== "allow") return false;
    return !(this.variants.has("scope-is-a-firewall") && d.route === "passthrough");
  }

  /** `scope-ignores-ports`: whether the source's egress admits the destination on any of its registered ports. */
  private admitsOnSomePort(src: Src, dst: Dst): boolean {
    if (src.kind !== "workload") return true;
    const key = `${src.workload.id}|${dst.kind === "workload" ? dst.workload.id : dst.kind === "dns" ? dst.host : "*"}`;
    const cached = this.registeredCache.get(key);
    if (cached !== undefined) return cached;
    let ok = false;
    if (dst.kind === "workload") {
      const w = dst.workload;
      for (const s of this.scenario.cluster.services) {
        if (ok || s.namespace !== w.namespace || !s.selector || Object.keys(s.selector).length === 0) continue;
        if (!Object.entries(s.selector).every(([k, v]) => w.labels[k] === v)) continue;
        ok = s.ports.some((sp) => sp.protocol === "TCP" && this.admits(src, { kind: "service", service: s, port: sp.port }));
      }
    } else if (dst.kind === "dns") {
      const original = [...this.entryPorts.keys()].find((h) => sampleHost(h) === dst.host) ?? dst.host;
      ok = (this.entryPorts.get(original) ?? []).some((port) => this.admits(src, { kind: "external", host: dst.host, port }));
    }
    this.registeredCache.set(key, ok);
    return ok;
  }

  /**
   * Whether a traced path counts as allowed. Without variants: Palisade's verdict.
   * With them, the sidecar egress step is replaced by NCA's reading of it and every
   * other step keeps Palisade's verdict.
   */
  private judge(path: WirePath, src: Src, dst: Dst, destination: EgressDestination): boolean {
    if (this.variants.size === 0) return path.verdict === "allowed";
    const rest = path.hops.every((h) => h.step === "mesh-egress" || h.verdict === "allow");
    if (!rest) return false;
    const hop = path.hops.find((h) => h.step === "mesh-egress");
    if (!hop || dst.kind === "external") return hop ? hop.verdict === "allow" : true;
    if (!this.egressDecision(src, destination)) return hop.verdict === "allow";
    if (this.variants.has("scope-ignores-ports")) return this.admitsOnSomePort(src, dst);
    return hop.verdict === "allow" && this.admits(src, destination);
  }

  private trace(src: Src, dst: Dst, port: number, http?: HttpRequest, via?: { service: Service; port: ServicePort }): WirePath {
    this.traces++;
    const source: FlowSource = src.kind === "workload" ? { kind: "workload", workload: src.workload } : { kind: "external", ip: EXTERNAL_IP };
    if (via) {
      const paths = traceFlow(this.scenario, source, { kind: "service", service: via.service, port: via.port }, { protocol: "TCP", port: via.port.port }, http);
      const backends = serviceBackends(this.scenario, via.service);
      const i = backends.indexOf((dst as { workload: Workload }).workload);
      return paths[i] ?? paths[0]!;
    }
    const target: FlowTarget =
      dst.kind === "workload" ? { kind: "workload", workload: dst.workload } : dst.kind === "external" ? { kind: "external", ip: EXTERNAL_IP } : { kind: "external", host: dst.host };
    return traceFlow(this.scenario, source, target, { protocol: "TCP", port }, http)[0]!;
  }

  /** Services that select `w` with a TCP port whose target is `port` on it. */
  private servicesTo(w: Workload, port: number): { service: Service; port: ServicePort }[] {
    const out: { service: Service; port: ServicePort }[] = [];
    for (const s of this.scenario.cluster.services) {
      if (s.namespace !== w.namespace || !s.selector || Object.keys(s.selector).length === 0) continue;
      if (!Object.entries(s.selector).every(([k, v]) => w.labels[k] === v)) continue;
      for (const sp of s.ports) {
        if (sp.protocol !== "TCP") continue;
        const target = typeof sp.targetPort === "number" ? sp.targetPort : w.ports.find((p) => p.name === sp.targetPort && p.protocol === "TCP")?.port;
        if (target === port) out.push({ service: s, port: sp });
      }
    }
    return out;
  }

  /** HTTP requests worth trying on `port` of `w`: witnesses of its ALLOW operations, and requests escaping its DENY operations. */
  probesFor(w: Workload, port: number): HttpRequest[] {
    const key = `${w.namespace}/${w.name}/${w.kind}:${port}`;
    const cached = this.probeCache.get(key);
    if (cached) return cached;
    const out = new Map<string, HttpRequest>();
    const add = (r: HttpRequest) => out.set(`${r.method} ${r.path} ${r.host ?? ""}`, r);
    add({ method: "GET", path: "/" });
    add({ method: "POST", path: "/" });
    for (const p of this.scenario.mesh?.authorizationPolicies ?? []) {
      if (!policyApplies(p, w, this.root)) continue;
      for (const rule of p.rules) {
        for (const to of rule.to ?? []) {
          const op = to.operation;
          if (p.action === "ALLOW" && !portAdmitted(op.ports, op.notPorts, port)) continue;
          if (p.action === "DENY") {
            if (op.methods.length > 0) add({ method: avoiding(op.methods, "method"), path: "/" });
            if (op.paths.length > 0) add({ method: "GET", path: avoiding(op.paths, "path") });
            if (op.hosts.length > 0) add({ method: "GET", path: "/", host: avoiding(op.hosts, "host") });
            continue;
          }
          const methods = op.methods.length > 0 ? op.methods.map((m) => sampleOf(m, "method")) : op.notMethods.length > 0 ? [avoiding(op.notMethods, "method")] : ["GET"];
          const paths = op.paths.length > 0 ? op.paths.map((x) => sampleOf(x, "path")) : op.notPaths.length > 0 ? [avoiding(op.notPaths, "path")] : ["/"];
          const hosts: (string | undefined)[] = op.hosts.length > 0 ? op.hosts.map((h) => sampleOf(h, "host")) : op.notHosts.length > 0 ? [avoiding(op.notHosts, "host")] : [undefined];
          for (const m of methods) for (const pa of paths) for (const h of hosts) add({ method: m, path: pa, ...(h !== undefined ? { host: h } : {}) });
        }
      }
    }
    const probes = [...out.values()];
    this.probeCache.set(key, probes);
    return probes;
  }

  /** Whether `src` reaches `dst` on TCP `port` (some way, some request). */
  private tcpAllowed(src: Src, dst: Dst, port: number): boolean {
    const vias = dst.kind === "workload" && src.kind === "workload" ? this.servicesTo(dst.workload, port) : [];
    const direct: EgressDestination =
      dst.kind === "workload" ? { kind: "workload", workload: dst.workload, port } : dst.kind === "dns" ? { kind: "external", host: dst.host, port } : { kind: "external", ip: EXTERNAL_IP, port };
    const attempts: { run: (http?: HttpRequest) => WirePath; destination: EgressDestination }[] = [
      { run: (http) => this.trace(src, dst, port, http), destination: direct },
      ...vias.map((v) => ({ run: (http?: HttpRequest) => this.trace(src, dst, port, http, v), destination: { kind: "service" as const, service: v.service, port: v.port.port } })),
    ];
    let authz = false;
    for (const a of attempts) {
      const p = a.run();
      if (this.judge(p, src, dst, a.destination)) return true;
      if (p.hops.some((h) => h.step === "authorization" && h.verdict === "deny")) authz = true;
    }
    if (!authz || dst.kind !== "workload") return false;
    for (const probe of this.probesFor(dst.workload, port)) {
      for (const a of attempts) {
        if (this.judge(a.run(probe), src, dst, a.destination)) {
          this.httpOnly++;
          return true;
        }
      }
    }
    return false;
  }

  private tcp(src: Src, dst: Dst, cni: ConnSet | undefined): ConnSet {
    let out = ConnSet.none();
    for (const [lo, hi] of this.classes) {
      if (cni && !cni.contains("TCP", lo)) continue;
      if (this.tcpAllowed(src, dst, lo)) out = out.union(ConnSet.ports("TCP", lo, hi));
    }
    return out;
  }

  private cniExternal(w: Workload, direction: "ingress" | "egress"): ConnSet {
    let out = ConnSet.all();
    for (const layer of this.scenario.layers) out = out.intersect(layer.allowedConns(w, direction, this.extPeer));
    return out;
  }

  private modeOf(w: Workload) {
    return this.scenario.mesh ? this.scenario.mesh.membership(w).mode : "none";
  }

  workloadToWorkload(a: Workload, b: Workload): ConnSet {
    const cni = pairConns(this.scenario.layers, a, b);
    // The CNI sees the application port unless the connection is tunnelled (HBONE).
    const precheck = usesHbone(this.modeOf(a), this.modeOf(b), "TCP") ? undefined : cni;
    return this.tcp({ kind: "workload", workload: a }, { kind: "workload", workload: b }, precheck).union(cni.intersect(NON_TCP));
  }

  externalToWorkload(b: Workload): ConnSet {
    const cni = this.cniExternal(b, "ingress");
    return this.tcp({ kind: "external" }, { kind: "workload", workload: b }, cni).union(cni.intersect(NON_TCP));
  }

  workloadToExternal(a: Workload): ConnSet {
    const cni = this.cniExternal(a, "egress");
    return this.tcp({ kind: "workload", workload: a }, { kind: "external" }, cni).union(cni.intersect(NON_TCP));
  }

  /** TCP only: NCA gives DNS entries TCP connections only. */
  workloadToDns(a: Workload, host: string): ConnSet {
    return this.tcp({ kind: "workload", workload: a }, { kind: "dns", host: sampleHost(host) }, undefined);
  }
}

/** A name in a ServiceEntry host: the host itself, or a fresh name under a wildcard. */
export function sampleHost(host: string): string {
  const h = validHostName(host);
  return h.startsWith("*.") ? `${FRESH}${h.slice(1)}` : h;
}

// ---------------------------------------------------------------------------
// Input adjustments and scope

const ANNOTATION_STATUS = "sidecar.istio.io/status";
const CONTROL_PLANE_APPS = new Set(["istiod", "ztunnel", "istio-cni-node"]);

function templateMetadataPath(kind: string): string[] {
  if (kind === "Pod") return ["metadata"];
  if (kind === "CronJob") return ["spec", "jobTemplate", "spec", "template", "metadata"];
  return ["spec", "template", "metadata"];
}

function withPodAnnotation(raw: Record<string, unknown>, kind: string, key: string, value: string): Record<string, unknown> {
  const path = templateMetadataPath(kind);
  const clone = structuredClone(raw);
  let o: Record<string, unknown> = clone;
  for (const k of path) {
    if (!o[k] || typeof o[k] !== "object") o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o.annotations = { ...((o.annotations as Record<string, unknown> | undefined) ?? {}), [key]: value };
  return clone;
}

/** The pod spec (and pod metadata) of a manifest, located by the manifest's own kind. */
function podTemplate(m: Manifest): { spec: Record<string, unknown>; metadata: Record<string, unknown> } {
  let o: unknown = m.raw;
  for (const k of templateMetadataPath(m.kind).slice(0, -1)) o = (o as Record<string, unknown> | undefined)?.[k];
  const t = (o ?? {}) as { spec?: unknown; metadata?: unknown };
  const obj = (x: unknown) => (x && typeof x === "object" ? (x as Record<string, unknown>) : {});
  return { spec: obj(t.spec), metadata: obj(t.metadata) };
}

/** Whether the input itself shows an Istio proxy in the pod (an `istio-proxy` container or the injection status annotation). */
export function showsProxy(m: Manifest): boolean {
  const { spec, metadata } = podTemplate(m);
  const containers = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])];
  if (containers.some((c) => c && typeof c === "object" && (c as { name?: unknown }).name === "istio-proxy")) return true;
  const annotations = metadata.annotations;
  return !!annotations && typeof annotations === "object" && ANNOTATION_STATUS in annotations;
}

/**
 * NCA has no notion of sidecar injection: every pod is a mesh member with an
 * identity. Workloads Palisade would leave outside the mesh for want of an
 * injection label on their namespace or pod are marked as already injected, so
 * both sides reason about the same mesh. Gateways, Istio's own control plane,
 * hostNetwork pods, and pods whose input already shows a proxy keep Palisade's
 * reading (for those the input decides, and a wrong reading is Palisade's).
 * Returns the adjusted input and the workloads changed.
 */
export function meshEverywhere(load: LoadResult, scenario: Scenario): { load: LoadResult; changed: string[] } {
  const mesh = scenario.mesh;
  if (!mesh) return { load, changed: [] };
  const root = mesh.settings.rootNamespace;
  const targets = new Set<Manifest>();
  const changed: string[] = [];
  for (const w of scenario.cluster.workloads) {
    if (mesh.membership(w).mode !== "none" || w.hostNetwork || showsProxy(w.manifest)) continue;
    if (w.namespace === root && CONTROL_PLANE_APPS.has(w.labels.app ?? "")) continue;
    targets.add(w.manifest);
    changed.push(w.id);
  }
  if (targets.size === 0) return { load, changed };
  // Every Pod of a collapsed workload, not only the one the workload keeps.
  const ids = new Set(changed);
  const manifests = load.manifests.map((m) => {
    const collapsed =
      m.kind === "Pod" &&
      scenario.cluster.workloads.some((w) => ids.has(w.id) && w.namespace === (m.namespace ?? "default") && [m.name, ...ownerNames(m)].some((n) => aliases(w).has(n)));
    if (!targets.has(m) && !collapsed) return m;
    return { ...m, raw: withPodAnnotation(m.raw, m.kind, ANNOTATION_STATUS, "{}") };
  });
  return { load: { manifests, diagnostics: load.diagnostics }, changed: changed.sort() };
}

/** Labels of a `spec.selector` map. */
function selectorOf(raw: Record<string, unknown>): Record<string, string> | undefined {
  const sel = (raw.spec as { selector?: unknown } | undefined)?.selector;
  if (!sel || typeof sel !== "object") return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel)) if (typeof v === "string") out[k] = v;
  return out;
}

function hostMatches(host: string, pattern: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) || host === pattern;
  return host === pattern;
}

export interface OutOfScope {
  /** Peer names left out of the comparison, with why. */
  peers: Map<string, string>;
}

/**
 * Peers whose connectivity NCA derives from objects Palisade does not evaluate:
 * Istio ingress/egress gateway pods (selected by a `networking.istio.io` Gateway),
 * the DNS hosts a VirtualService routes, and the ingress-nginx controller of a
 * Kubernetes Ingress (NCA's Ingress layer: pods of Services named `*ingress-nginx*`).
 */
export function outOfScope(manifests: readonly Manifest[], scenario: Scenario, dnsHosts: readonly string[]): OutOfScope {
  const peers = new Map<string, string>();
  const workloads = scenario.cluster.workloads;
  for (const m of manifests) {
    if (m.kind === "Gateway" && m.apiVersion.startsWith("networking.istio.io/")) {
      const sel = selectorOf(m.raw);
      if (!sel || Object.keys(sel).length === 0) continue;
      for (const w of workloads) {
        if (Object.entries(sel).every(([k, v]) => w.labels[k] === v)) peers.set(workloadName(w), `selected by Istio Gateway ${m.namespace ?? "default"}/${m.name}`);
      }
    } else if (m.kind === "VirtualService") {
      const hosts = (m.raw.spec as { hosts?: unknown } | undefined)?.hosts;
      for (const h of Array.isArray(hosts) ? hosts : []) {
        if (typeof h !== "string") continue;
        for (const d of dnsHosts) if (hostMatches(d, h) || hostMatches(h, d)) peers.set(d, `routed by VirtualService ${m.namespace ?? "default"}/${m.name}`);
      }
    } else if (m.kind === "Ingress") {
      for (const s of scenario.cluster.services) {
        if (!s.name.includes("ingress-nginx")) continue;
        for (const w of serviceBackends(scenario, s)) peers.set(workloadName(w), `ingress controller of Ingress ${m.namespace ?? "default"}/${m.name}`);
      }
    }
  }
  return { peers };
}

/** The hosts of every ServiceEntry (NCA's DNS entries). */
export function dnsEntries(manifests: readonly Manifest[]): string[] {
  const out = new Set<string>();
  for (const m of manifests) {
    if (m.kind !== "ServiceEntry") continue;
    const hosts = (m.raw.spec as { hosts?: unknown } | undefined)?.hosts;
    for (const h of Array.isArray(hosts) ? hosts : []) if (typeof h === "string") out.add(h);
  }
  return [...out].sort();
}

/** The port numbers of every ServiceEntry, by host. */
function entryPorts(manifests: readonly Manifest[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of manifests) {
    if (m.kind !== "ServiceEntry") continue;
    const spec = (m.raw.spec ?? {}) as { hosts?: unknown; ports?: unknown };
    const ports = (Array.isArray(spec.ports) ? spec.ports : []).map((p) => (p as { number?: unknown } | null)?.number).filter((n): n is number => typeof n === "number");
    for (const h of Array.isArray(spec.hosts) ? spec.hosts : []) if (typeof h === "string") out.set(h, [...new Set([...(out.get(h) ?? []), ...ports])]);
  }
  return out;
}

/** Port numbers the inputs and the golden name. */
function interestingPorts(manifests: readonly Manifest[], golden: Iterable<ConnSet>): Set<number> {
  const out = new Set<number>();
  for (const m of manifests) portsIn(m.raw, out);
  for (const c of golden) {
    for (const proto of ["TCP", "UDP", "SCTP"] as const) {
      for (const [lo, hi] of c.portsOf(proto).intervals()) {
        out.add(lo);
        out.add(hi);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Output in NCA's pairwise format

function portText(ports: ReturnType<ConnSet["portsOf"]>): string {
  return ports
    .intervals()
    .map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`))
    .join(",");
}

/** One protocol group of a connection set as NCA prints it (`All connections`, `{dst_ports:…}`). */
export function connText(c: ConnSet, group: "TCP" | "non-TCP"): string {
  if (group === "TCP") {
    const tcp = c.portsOf("TCP");
    if (tcp.isEmpty()) return "";
    return ConnSet.protocol("TCP").isSubsetOf(c) ? "All connections" : `{dst_ports:${portText(tcp)}}`;
  }
  const rest = c.intersect(NON_TCP);
  if (rest.isEmpty()) return "";
  if (NON_TCP.isSubsetOf(rest)) return "All connections";
  return (["UDP", "SCTP"] as const)
    .filter((p) => !rest.portsOf(p).isEmpty())
    .map((p) => (rest.portsOf(p).equals(ConnSet.protocol(p).portsOf(p)) ? `{protocols:${p}}` : `{protocols:${p},dst_ports:${portText(rest.portsOf(p))}}`))
    .join(",");
}

/** Both groups in one string, for diffs: `TCP {dst_ports:7070}; non-TCP All connections`. */
export function describeConns(c: ConnSet | undefined): string {
  if (!c || c.isEmpty()) return "(no connection)";
  const parts: string[] = [];
  const t = connText(c, "TCP");
  const n = connText(c, "non-TCP");
  if (t) parts.push(`TCP ${t}`);
  if (n) parts.push(`non-TCP ${n}`);
  return parts.join("; ");
}

function sortStrings(xs: Iterable<string>): string[] {
  return [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A whole connectivity map in NCA's `txt_no_fw_rules` format. */
export function formatPairwise(pairs: ReadonlyMap<string, ConnSet>): string {
  const out: string[] = [];
  for (const group of ["TCP", "non-TCP"] as const) {
    out.push(`${group} Connections:`);
    for (const k of sortStrings(pairs.keys())) {
      const t = connText(pairs.get(k)!, group);
      if (t) out.push(`${k} : ${t}`);
    }
    out.push("");
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------
// Running one case

export type CaseStatus = "agree" | "disagree" | "skipped";

export interface PairDiff {
  pair: string;
  expected: string;
  actual: string;
  /** The golden narrows this pair's connections by HTTP attributes. */
  http: boolean;
}

export interface CaseResult {
  name: string;
  status: CaseStatus;
  reason?: string;
  notes: string[];
  /** Normalised golden (pairwise format). */
  expected: string[];
  /** Palisade, same format. */
  actual: string[];
  diffs: PairDiff[];
  /** Pairs compared. */
  pairs: number;
  /** Which variants (what-if readings) make the case agree, when it disagrees. */
  explainedBy?: string[];
  /** Traces run. */
  traces: number;
  /** Both sides as whole documents in NCA's pairwise (`txt_no_fw_rules`) format. */
  pairwise?: { golden: string; palisade: string };
}

function pairLines(pairs: ReadonlyMap<string, ConnSet>): string[] {
  return sortStrings([...pairs].filter(([, c]) => !c.isEmpty()).map(([k, c]) => `${k} : ${describeConns(c)}`));
}

export function comparePairs(expected: ReadonlyMap<string, ConnSet>, actual: ReadonlyMap<string, ConnSet>, http: ReadonlySet<string>): PairDiff[] {
  const diffs: PairDiff[] = [];
  for (const pair of sortStrings(new Set([...expected.keys(), ...actual.keys()]))) {
    const e = expected.get(pair) ?? ConnSet.none();
    const a = actual.get(pair) ?? ConnSet.none();
    if (e.equals(a)) continue;
    diffs.push({ pair, expected: describeConns(e), actual: describeConns(a), http: http.has(pair) });
  }
  return diffs;
}

interface Prepared {
  scenario: Scenario;
  manifests: readonly Manifest[];
  notes: string[];
}

/** Palisade's pairs for a prepared scenario. */
export function palisadePairs(
  p: Prepared,
  ports: Iterable<number>,
  dns: readonly string[],
  excluded: ReadonlySet<string>,
  variants: readonly VariantId[] = [],
): { pairs: Map<string, ConnSet>; traces: number; httpOnly: number } {
  const view = new PalisadeView(p.scenario, ports, variants, entryPorts(p.manifests));
  const pairs = new Map<string, ConnSet>();
  const ws = p.scenario.cluster.workloads.filter((w) => !excluded.has(workloadName(w)));
  const put = (a: string, b: string, c: ConnSet) => {
    if (!c.isEmpty()) pairs.set(`${a} => ${b}`, c);
  };
  for (const a of ws) {
    for (const b of ws) if (a !== b && workloadName(a) !== workloadName(b)) put(workloadName(a), workloadName(b), view.workloadToWorkload(a, b));
    put(EXTERNAL_PEER, workloadName(a), view.externalToWorkload(a));
    put(workloadName(a), EXTERNAL_PEER, view.workloadToExternal(a));
    for (const h of dns) if (!excluded.has(h)) put(workloadName(a), h, view.workloadToDns(a, h));
  }
  return { pairs, traces: view.traces, httpOnly: view.httpOnly };
}

/** The input as Palisade evaluates it: NCA's rewrites (when asked), then the mesh-everywhere adjustment. */
export function prepare(input: CaseInput, variants: readonly VariantId[] = []): Prepared {
  const notes = [...input.notes];
  let manifests: readonly Manifest[] = input.load.manifests;
  for (const v of VARIANTS) if (variants.includes(v.id) && v.rewrite) manifests = v.rewrite(manifests);
  const load: LoadResult = { manifests: [...manifests], diagnostics: input.load.diagnostics };
  let scenario = buildScenario(load);
  const adjusted = meshEverywhere(load, scenario);
  if (adjusted.changed.length > 0) {
    scenario = buildScenario(adjusted.load);
    const n = adjusted.changed.length;
    notes.push(`mesh everywhere: ${n} workload${n > 1 ? "s" : ""} outside Palisade's mesh treated as sidecar-injected, as NCA assumes (${adjusted.changed.slice(0, 4).join(", ")}${n > 4 ? ", …" : ""})`);
  }
  const errors = scenario.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    const shown = errors.slice(0, 3).map((d) => d.format());
    notes.push(`${errors.length} input error${errors.length > 1 ? "s" : ""}: ${shown.join(" | ")}${errors.length > shown.length ? " | …" : ""}`);
  }
  return { scenario, manifests: adjusted.load.manifests, notes };
}

/** One comparison of a case, under a set of variants. */
export interface Comparison {
  golden: ExpandedGolden;
  ours: Map<string, ConnSet>;
  diffs: PairDiff[];
  notes: string[];
  traces: number;
}

/** Compares one case under `variants` (the golden is read and expanded against the scenario of those variants). */
export function compare(input: CaseInput, rules: readonly GoldenRule[], variants: readonly VariantId[] = []): Comparison {
  const prepared = prepare(input, variants);
  const notes = [...prepared.notes];
  const { scenario, manifests } = prepared;
  // DNS entries are named as the input writes them; the lenient-host-names rewrite does not rename peers.
  const dns = dnsEntries(input.load.manifests);
  const golden = expandGolden(rules, scenario.cluster.workloads, new Set(dns));
  if (golden.unmatched.length > 0) notes.push(`golden peers without a Palisade workload or DNS entry (NCA simulates some missing pods): ${golden.unmatched.join(", ")}`);
  const scope = outOfScope(manifests, scenario, dns);
  const excluded = new Set(scope.peers.keys());
  let dropped = 0;
  for (const k of [...golden.pairs.keys()]) {
    const [s, d] = k.split(" => ") as [string, string];
    if (excluded.has(s) || excluded.has(d)) {
      golden.pairs.delete(k);
      dropped++;
    }
  }
  if (excluded.size > 0) {
    const list = [...scope.peers].map(([peer, why]) => `${peer} (${why})`).join(", ");
    notes.push(`left out ${list} and the ${dropped} golden pair${dropped === 1 ? "" : "s"} involving them: Istio Gateway, VirtualService and Ingress routing are not evaluated`);
  }
  const ours = palisadePairs(prepared, interestingPorts(manifests, golden.pairs.values()), dns, excluded, variants);
  if (ours.httpOnly > 0) {
    notes.push(`${ours.httpOnly} (pair, port range) allowance${ours.httpOnly > 1 ? "s hold" : " holds"} only for some HTTP request built from the AuthorizationPolicies (a plain TCP connection is denied there)`);
  }
  return { golden, ours: ours.pairs, diffs: comparePairs(golden.pairs, ours.pairs, golden.http), notes, traces: ours.traces };
}

/** Variants that can change anything for this input: readings need a Sidecar, rewrites must change the input. */
function relevantVariants(input: CaseInput): VariantId[] {
  const ms = input.load.manifests;
  const hasSidecar = ms.some((m) => m.kind === "Sidecar");
  return VARIANTS.filter((v) => (v.rewrite ? v.rewrite(ms) !== ms : v.id === "passthrough-keeps-identity" || hasSidecar)).map((v) => v.id);
}

/**
 * A smallest set of variants (greedy: every relevant one, then each dropped if the
 * case still agrees without it) under which the case agrees; undefined when even
 * all of them together leave a difference.
 */
export function explain(input: CaseInput, rules: readonly GoldenRule[]): VariantId[] | undefined {
  let set = relevantVariants(input);
  if (set.length === 0 || compare(input, rules, set).diffs.length > 0) return undefined;
  for (const v of [...set]) {
    const without = set.filter((x) => x !== v);
    if (compare(input, rules, without).diffs.length === 0) set = without;
  }
  return set;
}

export async function runCase(c: OracleCase, options: { explain?: boolean } = {}): Promise<CaseResult> {
  const result: CaseResult = { name: c.name, status: "skipped", notes: [], expected: [], actual: [], diffs: [], pairs: 0, traces: 0 };
  if (c.skip) {
    result.reason = c.skip;
    return result;
  }
  let rules: GoldenRule[];
  let cmp: Comparison;
  const input = await loadCaseInput(c.sources!);
  try {
    rules = readGolden(c);
    cmp = compare(input, rules);
  } catch (e) {
    if (!(e instanceof GoldenFormatError)) throw e;
    result.reason = `golden not read (${e.message})`;
    return result;
  }
  result.notes.push(...cmp.notes);
  result.traces = cmp.traces;
  result.expected = pairLines(cmp.golden.pairs);
  result.actual = pairLines(cmp.ours);
  result.pairs = new Set([...cmp.golden.pairs.keys(), ...cmp.ours.keys()]).size;
  result.diffs = cmp.diffs;
  result.pairwise = { golden: formatPairwise(cmp.golden.pairs), palisade: formatPairwise(cmp.ours) };
  result.status = result.diffs.length === 0 ? "agree" : "disagree";
  if (result.status === "disagree" && options.explain !== false) {
    const by = explain(input, rules);
    if (by) result.explainedBy = by;
  }
  return result;
}

/** Runs one case under the given variants and returns what still differs. */
export async function diffUnder(c: OracleCase, variants: readonly VariantId[]): Promise<PairDiff[]> {
  return compare(await loadCaseInput(c.sources!), readGolden(c), variants).diffs;
}

export async function runAll(dir: string = oracleDir(), options: { only?: string } = {}): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of listCases(dir)) if (!options.only || c.name === options.only) out.push(await runCase(c));
  return out;
}

export interface Summary {
  total: number;
  agree: number;
  disagree: number;
  skipped: number;
  rate: number;
}

export function summarize(results: readonly CaseResult[]): Summary {
  const agree = results.filter((r) => r.status === "agree").length;
  const disagree = results.filter((r) => r.status === "disagree").length;
  const compared = agree + disagree;
  return { total: results.length, agree, disagree, skipped: results.length - compared, rate: compared === 0 ? 0 : agree / compared };
}

export function formatDiff(r: CaseResult): string {
  const out: string[] = [];
  for (const d of r.diffs) {
    out.push(`  ${d.pair}${d.http ? "   (golden narrows it by HTTP attributes)" : ""}`);
    out.push(`      NCA:      ${d.expected}`);
    out.push(`      Palisade: ${d.actual}`);
  }
  return out.join("\n");
}
