/**
 * Palisade benchmark: parse, model and matrix times and peak memory on synthetic
 * clusters (bench/generate.ts). Every measurement runs in a fresh child process,
 * so memory is per scenario and times include JIT warm-up, as a CLI run would.
 *
 *   npm run bench                       # S and L, 3 runs each, median
 *   npm run bench -- --only S --runs 5
 *   npm run bench -- --only S-pods      # kubectl-dump style input (bare Pods with IPs)
 *   npm run bench -- --verify           # only check the tuple count against connections()
 *   npm run bench -- --only L --runs 1 --profile   # + one profiled run (not counted), hot functions
 *
 * See docs/benchmarks.md for what each number means.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { generateCluster, type GenerateOptions } from "./generate.js";
import { findScenario, inputFile, kb, OUT_DIR, ROOT, SCENARIOS } from "./scenarios.js";
import { mainThreadProfile, saveSourceMaps, sourceMapsFileFor, summariseInclusive, summariseProfile } from "./profile.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** Parsers the loader is compared with, on the same text. */
const PARSERS = ["loader", "yaml.parseAllDocuments", "yaml.parseAllDocuments+toJS", "js-yaml.loadAll"] as const;
type ParserName = (typeof PARSERS)[number];

// ---------------------------------------------------------------------------
// Child: one scenario

interface ScenarioResult {
  scenario: string;
  inputBytes: number;
  documents: number;
  manifests: number;
  errors: number;
  warnings: number;
  namespaces: number;
  workloads: number;
  policies: number;
  /** Distinct sources and destinations (matrix classes). */
  sourceClasses: number;
  destinationClasses: number;
  /** Source classes × destination groups read by the tally. */
  classPairs: number;
  pairs: number;
  evaluatedTuples: number;
  allowedTuples: number;
  /** Ordered workload pairs that may open at least one connection. */
  externalAllowedCells: number;
  parseMs: number;
  modelMs: number;
  /** Model + matrix once more in the same process (code already compiled). */
  warmAnalysisMs: number;
  /** Building the matrix: role keys, classes, tables set up. */
  matrixCtorMs: number;
  /** Counting every allowed (pair, declared port) tuple through the tables. */
  tallyMs: number;
  matrixMs: number;
  analysisMs: number;
  externalMs: number;
  /** Every lint rule once (after the matrix; rules build their own traces). */
  lintMs: number;
  lintFindings: number;
  /** The three slowest rules: "id ms". */
  slowestRules: string[];
  /** 1-minute load average of the machine when the child started: other work skews times. */
  loadAverage: number;
  baselineRss: number;
  /** V8 heap in use after buildScenario and after the tally (garbage included). */
  heapAfterModel: number;
  heapAfterMatrix: number;
  sampledPeakRss: number;
  maxRss: number;
}

function rss(): number {
  return process.memoryUsage().rss;
}

async function childScenario(name: string, input: string): Promise<ScenarioResult> {
  const [{ loadText }, { buildScenario }, { ConnectivityMatrix, externalUnion }, { rules }] = await Promise.all([
    import("../src/load/index.js"),
    import("../src/analysis/scenario.js"),
    import("../src/analysis/matrix.js"),
    import("../src/lint/index.js"),
  ]);
  const loadAverage = loadavg()[0]!;
  const samples: number[] = [];
  const baselineRss = rss();
  samples.push(baselineRss);

  const text = readFileSync(input, "utf8");
  samples.push(rss());

  let t = performance.now();
  const load = await loadText(text, relative(ROOT, input));
  const parseMs = performance.now() - t;
  samples.push(rss());

  t = performance.now();
  const scenario = buildScenario(load);
  const modelMs = performance.now() - t;
  samples.push(rss());
  const heapAfterModel = process.memoryUsage().heapUsed;

  t = performance.now();
  const matrix = new ConnectivityMatrix(scenario, { external: true });
  const matrixCtorMs = performance.now() - t;
  t = performance.now();
  const count = matrix.tally();
  const tallyMs = performance.now() - t;
  samples.push(rss());
  const heapAfterMatrix = process.memoryUsage().heapUsed;
  const matrixMs = matrixCtorMs + tallyMs;

  // The same analysis again in the same process: without the one-time cost of
  // compiling the code on first use (what a long-running `palisade serve` sees).
  t = performance.now();
  new ConnectivityMatrix(buildScenario(load), { external: true }).tally();
  const warmAnalysisMs = performance.now() - t;

  // The external peer (not part of the matrix time): one row and one column per workload.
  t = performance.now();
  let externalAllowedCells = 0;
  for (let i = 0; i < matrix.workloads.length; i++) {
    if (!externalUnion(matrix.externalEgress(i)).isEmpty()) externalAllowedCells++;
    if (!externalUnion(matrix.externalIngress(i)).isEmpty()) externalAllowedCells++;
  }
  const externalMs = performance.now() - t;
  samples.push(rss());

  const ruleTimes: { id: string; ms: number }[] = [];
  let lintFindings = 0;
  for (const rule of rules) {
    t = performance.now();
    lintFindings += rule.run(scenario).length;
    ruleTimes.push({ id: rule.meta.id, ms: performance.now() - t });
  }
  const lintMs = ruleTimes.reduce((sum, r) => sum + r.ms, 0);
  const slowestRules = ruleTimes.sort((a, b) => b.ms - a.ms).slice(0, 3).map((r) => `${r.id} ${Math.round(r.ms)}`);
  samples.push(rss());

  const maxRss = process.resourceUsage().maxRSS * 1024;
  return {
    scenario: name,
    inputBytes: Buffer.byteLength(text),
    documents: text.split(/^---$/m).length,
    manifests: load.manifests.length,
    errors: scenario.diagnostics.filter((d) => d.severity === "error").length,
    warnings: scenario.diagnostics.filter((d) => d.severity === "warning").length,
    namespaces: scenario.cluster.namespaces.size,
    workloads: scenario.cluster.workloads.length,
    policies: scenario.layers.reduce((s, l) => s + l.policyCount, 0),
    sourceClasses: matrix.classCount.sources,
    destinationClasses: matrix.classCount.destinations,
    classPairs: count.classPairs,
    pairs: count.pairs,
    evaluatedTuples: count.evaluated,
    allowedTuples: count.allowed,
    externalAllowedCells,
    parseMs,
    modelMs,
    matrixCtorMs,
    tallyMs,
    matrixMs,
    analysisMs: modelMs + matrixMs,
    warmAnalysisMs,
    externalMs,
    lintMs,
    lintFindings,
    slowestRules,
    loadAverage,
    baselineRss,
    heapAfterModel,
    heapAfterMatrix,
    sampledPeakRss: Math.max(...samples),
    maxRss,
  };
}

// ---------------------------------------------------------------------------
// Child: one parser

interface ParserResult {
  parser: ParserName;
  parseMs: number;
  documents: number;
  maxRss: number;
}

async function childParser(parser: ParserName, input: string): Promise<ParserResult> {
  const text = readFileSync(input, "utf8");
  let documents = 0;
  let t: number;
  switch (parser) {
    case "loader": {
      const { loadText } = await import("../src/load/index.js");
      t = performance.now();
      documents = (await loadText(text, relative(ROOT, input))).manifests.length;
      break;
    }
    case "yaml.parseAllDocuments": {
      const { parseAllDocuments } = await import("yaml");
      t = performance.now();
      const docs = parseAllDocuments(text);
      documents = Array.isArray(docs) ? docs.length : 1;
      break;
    }
    case "yaml.parseAllDocuments+toJS": {
      const { parseAllDocuments } = await import("yaml");
      t = performance.now();
      const docs = parseAllDocuments(text);
      for (const d of Array.isArray(docs) ? docs : [docs]) if (d.toJS()) documents++;
      break;
    }
    case "js-yaml.loadAll": {
      const jsyaml = await import("js-yaml");
      t = performance.now();
      documents = jsyaml.loadAll(text).length;
      break;
    }
  }
  const parseMs = performance.now() - t;
  return { parser, parseMs, documents, maxRss: process.resourceUsage().maxRSS * 1024 };
}

// ---------------------------------------------------------------------------
// Parent

interface Args {
  only: string[] | undefined;
  runs: number;
  compare: boolean;
  verify: boolean;
  profile: boolean;
  json: string | undefined;
  /** Child: where to write the source maps of the loaded modules (for --profile). */
  saveSourceMaps?: string;
}

function parseArgs(argv: readonly string[]): Args & { child?: { kind: string; name: string; input: string } } {
  const args: Args & { child?: { kind: string; name: string; input: string } } = {
    only: undefined,
    runs: 3,
    compare: true,
    verify: false,
    profile: false,
    json: undefined,
  };
  let childKind: string | undefined;
  let childName: string | undefined;
  let input: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "--only":
        args.only = value().split(",").map((s) => s.trim()).filter(Boolean);
        break;
      case "--runs": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new Error("--runs needs a positive integer");
        args.runs = n;
        break;
      }
      case "--no-compare":
        args.compare = false;
        break;
      case "--verify":
        args.verify = true;
        break;
      case "--profile":
        args.profile = true;
        break;
      case "--json":
        args.json = value();
        break;
      case "--scenario":
        childKind = "scenario";
        childName = value();
        break;
      case "--parser":
        childKind = "parser";
        childName = value();
        break;
      case "--input":
        input = value();
        break;
      case "--save-source-maps":
        args.saveSourceMaps = value();
        break;
      case "--help":
      case "-h":
        process.stdout.write(
          "usage: tsx bench/run.ts [--only S,L,S-pods] [--runs N] [--no-compare] [--verify] [--profile] [--json FILE]\n" +
            `scenarios: ${SCENARIOS.map((s) => `${s.name}${s.default ? "" : " (not run by default)"}: ${s.description}`).join("\n           ")}\n`,
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (try --help)`);
    }
  }
  if (childKind) {
    if (!input || !childName) throw new Error("--scenario/--parser need --input");
    args.child = { kind: childKind, name: childName, input };
  }
  return args;
}

function spawnChild(args: string[], nodeFlags: string[] = []): unknown {
  const r = spawnSync(process.execPath, [...nodeFlags, ...process.execArgv, SELF, ...args], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    cwd: ROOT,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (r.status !== 0 || !line) {
    throw new Error(`child ${args.join(" ")} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return JSON.parse(line.slice("RESULT ".length));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median of every numeric field; other fields from the first run. */
function medianOf<T extends object>(runs: readonly T[]): T {
  const out = { ...runs[0]! } as Record<string, unknown>;
  for (const [k, v] of Object.entries(runs[0]!)) {
    if (typeof v === "number") out[k] = median(runs.map((r) => (r as Record<string, number>)[k]!));
  }
  return out as T;
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const int = (x: number): string => Math.round(x).toLocaleString("en-US");

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
}

interface Check {
  name: string;
  value: string;
  pass: boolean;
}

function checks(results: ReadonlyMap<string, ScenarioResult>): Check[] {
  const out: Check[] = [];
  const S = results.get("S");
  const L = results.get("L");
  if (S) {
    out.push({ name: "S analysis (model + matrix) < 100 ms", value: `${ms(S.analysisMs)} ms`, pass: S.analysisMs < 100 });
    out.push({ name: "S analysis, code compiled (warm) < 100 ms", value: `${ms(S.warmAnalysisMs)} ms`, pass: S.warmAnalysisMs < 100 });
  }
  if (L) {
    out.push({ name: "L analysis (model + matrix) < 5 s", value: `${ms(L.analysisMs)} ms`, pass: L.analysisMs < 5000 });
    const e2e = L.parseMs + L.analysisMs;
    out.push({ name: "L parse + model + matrix < 5 s", value: `${ms(e2e)} ms`, pass: e2e < 5000 });
    out.push({ name: "L peak RSS (maxRSS) < 1.5 GB", value: `${mb(L.maxRss)} MB`, pass: L.maxRss < 1.5 * 1024 ** 3 });
    out.push({ name: "L matrix time <= L parse time", value: `${ms(L.matrixMs)} ms vs ${ms(L.parseMs)} ms`, pass: L.matrixMs <= L.parseMs });
    // Lint runs in CI on every change: all rules together within the same budget as the analysis.
    out.push({ name: "L lint (every rule) < 5 s", value: `${ms(L.lintMs)} ms`, pass: L.lintMs < 5000 });
    const LC = results.get("L-cilium");
    if (LC) {
      out.push({
        name: "L-cilium matrix time <= 2 x L matrix time",
        value: `${ms(LC.matrixMs)} ms vs 2 x ${ms(L.matrixMs)} ms`,
        pass: LC.matrixMs <= 2 * L.matrixMs,
      });
    }
    const LI = results.get("L-istio");
    if (LI) {
      out.push({
        name: "L-istio matrix time <= 2 x L matrix time",
        value: `${ms(LI.matrixMs)} ms vs 2 x ${ms(L.matrixMs)} ms`,
        pass: LI.matrixMs <= 2 * L.matrixMs,
      });
    }
  }
  return out;
}

async function verify(): Promise<void> {
  const { loadText } = await import("../src/load/index.js");
  const { buildScenario } = await import("../src/analysis/scenario.js");
  const { ConnectivityMatrix } = await import("../src/analysis/matrix.js");
  const { countAllowedTuplesBruteForce } = await import("./count.js");
  const cases: GenerateOptions[] = [
    { namespaces: 12, workloadsPerNs: 6, podsPerWorkload: 1, policiesPerNs: 4, labelVariety: 4, seed: 3 },
    { namespaces: 10, workloadsPerNs: 5, podsPerWorkload: 2, policiesPerNs: 6, labelVariety: 20, seed: 5, emitPods: true },
    { namespaces: 20, workloadsPerNs: 8, podsPerWorkload: 1, policiesPerNs: 1, labelVariety: 3, seed: 9 },
  ];
  let failed = 0;
  for (const c of cases) {
    const { yaml } = generateCluster(c);
    const scenario = buildScenario(await loadText(yaml, "verify.yaml"));
    const matrix = new ConnectivityMatrix(scenario, { external: true });
    const fast = matrix.tally();
    const slow = countAllowedTuplesBruteForce(matrix);
    const ok = fast.allowed === slow.allowed && fast.evaluated === slow.evaluated;
    if (!ok) failed++;
    process.stdout.write(
      `verify ${JSON.stringify(c)}: ${matrix.workloads.length} workloads, ${matrix.classCount.sources}/${matrix.classCount.destinations} classes, ` +
        `allowed ${fast.allowed}/${fast.evaluated} (brute force: ${slow.allowed}/${slow.evaluated}) ${ok ? "OK" : "MISMATCH"}\n`,
    );
  }
  // Bare Pods without owners, whose self pairs are always allowed.
  const barePods = [
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n",
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: a\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    ...["p1", "p2", "p3"].map(
      (n, i) =>
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${n}\n  namespace: a\n  labels:\n    app: ${i < 2 ? "x" : "y"}\nspec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 80\n    - containerPort: 53\n      protocol: UDP\n`,
    ),
  ].join("---\n");
  const scenario = buildScenario(await loadText(barePods, "bare-pods.yaml"));
  const matrix = new ConnectivityMatrix(scenario, { external: true });
  const fast = matrix.tally();
  const slow = countAllowedTuplesBruteForce(matrix);
  const ok = fast.allowed === slow.allowed && fast.evaluated === slow.evaluated && fast.allowed === 6;
  if (!ok) failed++;
  process.stdout.write(`verify bare pods: allowed ${fast.allowed}/${fast.evaluated} (connections(): ${slow.allowed}/${slow.evaluated}) ${ok ? "OK" : "MISMATCH"}\n`);
  if (failed > 0) throw new Error(`${failed} verification case(s) failed`);
}

async function parent(args: Args): Promise<void> {
  if (args.verify) return verify();
  const startLoad = loadavg()[0]!;
  if (startLoad > cpus().length / 2) {
    process.stderr.write(`warning: the machine is busy (1-minute load average ${startLoad.toFixed(2)} on ${cpus().length} cores): times will be inflated\n`);
  }
  const selected = args.only
    ? args.only.map(findScenario)
    : SCENARIOS.filter((s) => s.default);

  const results = new Map<string, ScenarioResult>();
  const parserResults = new Map<string, ParserResult[]>();
  const profiles: string[] = [];
  for (const def of selected) {
    const input = inputFile(def);
    const runs: ScenarioResult[] = [];
    // With --profile, one extra run is profiled first; it does not count (profiling slows it down).
    for (let r = args.profile ? -1 : 0; r < args.runs; r++) {
      const flags: string[] = [];
      const childArgs = ["--scenario", def.name, "--input", input];
      let profileDir: string | undefined;
      if (r === -1) {
        // One directory per profiled run: --cpu-prof writes a profile per thread.
        profileDir = join(OUT_DIR, "profiles", `${def.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
        mkdirSync(profileDir, { recursive: true });
        flags.push("--cpu-prof", "--cpu-prof-dir", profileDir, "--enable-source-maps");
        childArgs.push("--save-source-maps", join(profileDir, "sourcemaps.json"));
      }
      const res = spawnChild(childArgs, flags) as ScenarioResult;
      if (profileDir) {
        const main = mainThreadProfile(profileDir, "childScenario");
        if (main) profiles.push(main);
      }
      process.stderr.write(
        `${def.name} ${r === -1 ? "profiled run (not counted)" : `run ${r + 1}/${args.runs}`}: parse ${ms(res.parseMs)} ms, ` +
          `model ${ms(res.modelMs)} ms, matrix ${ms(res.matrixMs)} ms, maxRSS ${mb(res.maxRss)} MB\n`,
      );
      if (r >= 0) runs.push(res);
    }
    results.set(def.name, medianOf(runs));
    if (args.compare) {
      const rows: ParserResult[] = [];
      for (const p of PARSERS) {
        const pr: ParserResult[] = [];
        for (let r = 0; r < args.runs; r++) pr.push(spawnChild(["--parser", p, "--input", input]) as ParserResult);
        rows.push(medianOf(pr));
      }
      parserResults.set(def.name, rows);
    }
  }

  const rs = [...results.values()];
  const out: string[] = [];
  out.push(
    `Palisade benchmark — node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} cores, ` +
      `median of ${args.runs} run(s), each in a fresh process; 1-minute load average ${startLoad.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end\n`,
  );
  out.push(
    table(
      ["scenario", "workloads", "policies", "input KB", "parse ms", "model ms", "src / dst classes", "matrix ms", "analysis ms", "warm analysis ms", "allowed / evaluated tuples", "peak RSS MB (sampled)", "maxRSS MB"],
      rs.map((r) => [
        r.scenario,
        int(r.workloads),
        int(r.policies),
        kb(r.inputBytes),
        ms(r.parseMs),
        ms(r.modelMs),
        `${int(r.sourceClasses)} / ${int(r.destinationClasses)}`,
        ms(r.matrixMs),
        ms(r.analysisMs),
        ms(r.warmAnalysisMs),
        `${int(r.allowedTuples)} / ${int(r.evaluatedTuples)}`,
        mb(r.sampledPeakRss),
        mb(r.maxRss),
      ]),
    ),
  );
  out.push("\nMatrix breakdown (ms) and other facts:\n");
  out.push(
    table(
      ["scenario", "matrix ctor", "tally", "class pairs read", "external row+col", "lint (findings; slowest rules ms)", "manifests", "errors", "warnings", "baseline RSS MB", "heap MB after model / matrix", "load avg"],
      rs.map((r) => [
        r.scenario,
        ms(r.matrixCtorMs),
        ms(r.tallyMs),
        int(r.classPairs),
        ms(r.externalMs),
        `${ms(r.lintMs)} (${int(r.lintFindings)}; ${r.slowestRules.join(", ")})`,
        int(r.manifests),
        int(r.errors),
        int(r.warnings),
        mb(r.baselineRss),
        `${mb(r.heapAfterModel)} / ${mb(r.heapAfterMatrix)}`,
        r.loadAverage.toFixed(2),
      ]),
    ),
  );
  if (parserResults.size > 0) {
    out.push("\nParse time of the same input (ms, each parser in a fresh process):\n");
    const names = [...parserResults.keys()];
    out.push(
      table(
        ["parser", ...names.map((n) => `${n} ms`), ...names.map((n) => `${n} maxRSS MB`)],
        PARSERS.map((p) => [
          p,
          ...names.map((n) => ms(parserResults.get(n)!.find((x) => x.parser === p)!.parseMs)),
          ...names.map((n) => mb(parserResults.get(n)!.find((x) => x.parser === p)!.maxRss)),
        ]),
      ),
    );
  }
  const cs = checks(results);
  if (cs.length > 0) {
    out.push("\nTargets:\n");
    out.push(table(["target", "measured", "result"], cs.map((c) => [c.name, c.value, c.pass ? "PASS" : "FAIL"])));
  }
  process.stdout.write(`${out.join("\n")}\n`);

  for (const p of profiles) {
    if (!existsSync(p)) continue;
    process.stdout.write(`\nCPU profile ${relative(ROOT, p)} (${kb(statSync(p).size)} KB) — top functions by self time:\n`);
    const profile = JSON.parse(readFileSync(p, "utf8"));
    process.stdout.write(`${summariseProfile(profile, 25, sourceMapsFileFor(p))}\n\nBy inclusive time:\n`);
    process.stdout.write(`${summariseInclusive(profile, 25, sourceMapsFileFor(p))}\n`);
  }
  const jsonOut = args.json ?? join(OUT_DIR, "results.json");
  mkdirSync(dirname(jsonOut), { recursive: true });
  writeFileSync(
    jsonOut,
    JSON.stringify({ node: process.version, runs: args.runs, scenarios: rs, parsers: Object.fromEntries(parserResults), checks: cs }, null, 2),
  );
  process.stderr.write(`results written to ${relative(ROOT, jsonOut)}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child?.kind === "scenario") {
    const result = await childScenario(args.child.name, args.child.input);
    if (args.saveSourceMaps) saveSourceMaps(args.saveSourceMaps, [join(ROOT, "src"), HERE]);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } else if (args.child?.kind === "parser") {
    const p = args.child.name as ParserName;
    if (!PARSERS.includes(p)) throw new Error(`unknown parser ${p}`);
    process.stdout.write(`RESULT ${JSON.stringify(await childParser(p, args.child.input))}\n`);
  } else {
    await parent(args);
  }
}

await main();
