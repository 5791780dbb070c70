import { appendFile, readFile, stat, writeFile } from "node:fs/promises";
import { Command, CommanderError, Option } from "commander";
import { analyze } from "../analysis/analyze.js";
import { ConnectivityMatrix } from "../analysis/matrix.js";
import { reach, type ReachRequest } from "../analysis/reach.js";
import { ReferenceError } from "../analysis/reference.js";
import { buildScenario, hasErrors, type Scenario } from "../analysis/scenario.js";
import { loadCluster } from "../load/cluster.js";
import { loadInputs } from "../load/index.js";
import { loadScenario } from "../main.js";
import type { CniName } from "../model/profile.js";
import { formatAnalyzeJson, formatAnalyzeText } from "../report/analyze.js";
import { formatMatrix, type MatrixFormat } from "../report/matrix.js";
import { formatReachJson, formatReachText } from "../report/reach.js";
import { DEFAULT_CONFIG_FILE, LintConfigError, parseLintConfig, rules as lintRules, runLint, SEVERITY_RANK, type LintConfig } from "../lint/index.js";
import { formatLint, type LintFormat } from "../report/lint.js";
import { fixedFiles, fixFlow, readFromDisk } from "../fix/index.js";
import { formatFixJson, formatFixText, formatFixYaml, type FixFormat } from "../report/fix.js";
import { isProtocol, type Protocol } from "../sets/index.js";
import { VERSION } from "../version.js";

/** Exit codes of the command-line contract. */
export const EXIT = { allowed: 0, denied: 1, usage: 2 } as const;

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readStdin: () => Promise<string>;
}

const defaultIO: CliIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
};

/** A mistake in how the command was called (exit code 2, message without a stack). */
class UsageError extends Error {}

interface InputFlags {
  filename?: string[];
  cni?: CniName;
  cluster?: boolean;
  context?: string;
  maxFileSize?: number;
}

/** The flow reach and fix take: FROM, TO[:PORT], and the port, protocol and HTTP attributes. */
interface FlowFlags {
  port?: string;
  protocol?: string;
  method?: string;
  path?: string;
  host?: string;
}

function addFlowArguments(cmd: Command): Command {
  return cmd
    .argument("<from>", "NS/NAME, KIND:NS/NAME, kubelet, or an IP address")
    .argument("<to>", "NS/NAME[:PORT], svc:NS/NAME[:PORT], an IP or a DNS name")
    .option("--port <port>", "destination port (number or name)")
    .option("--protocol <protocol>", "TCP, UDP or SCTP (default TCP, or the named port's)")
    .option("--method <method>", "HTTP method (used by L7 layers)")
    .option("--path <path>", "HTTP path (used by L7 layers)")
    .option("--host <host>", "HTTP host (used by L7 layers)");
}

function flowRequest(from: string, to: string, flags: FlowFlags): ReachRequest {
  const request: ReachRequest = { from, to };
  for (const key of ["port", "protocol", "method", "path", "host"] as const) if (flags[key] !== undefined) request[key] = flags[key];
  return request;
}

interface ConfigFlags {
  /** A path, false for --no-config, undefined for the default file. */
  config?: string | boolean;
}

function addInputOptions(cmd: Command): Command {
  return cmd
    .option("-f, --filename <path>", "manifest file, directory (recursive) or - for stdin; repeatable", (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option("--cni <name>", "CNI semantics to apply (default: detected)").choices(["generic", "cilium"]))
    .option("--cluster", "read from the live cluster of the current kubeconfig context, through kubectl (PALISADE_KUBECTL overrides the binary); combines with -f")
    .option("--context <name>", "kubeconfig context for --cluster")
    .option("--max-file-size <MB>", "largest input file to read, in MB (default 32)", (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--max-file-size needs a positive number of MB, got "${v}"`);
      return n;
    });
}

async function scenarioFrom(flags: InputFlags, io: CliIO): Promise<Scenario> {
  if (flags.context !== undefined && !flags.cluster) throw new UsageError("--context selects the kubeconfig context of --cluster: add --cluster");
  const files = flags.filename ?? [];
  if (!flags.cluster && files.length === 0) throw new UsageError("no input: pass manifests with -f FILE|DIR|- (repeatable), or --cluster [--context NAME]");
  const options = {
    filenames: files,
    readStdin: io.readStdin,
    ...(flags.cni ? { cni: flags.cni } : {}),
    ...(flags.maxFileSize ? { maxFileBytes: flags.maxFileSize * 1024 * 1024 } : {}),
  };
  let scenario: Scenario;
  if (flags.cluster) {
    // Nothing to analyse when the cluster cannot be read: one line, exit code 2.
    const live = await loadCluster(flags.context);
    if (live.error !== undefined) throw new UsageError(`--cluster: ${live.error}`);
    // Files given with -f are added to the cluster's objects: policies not applied yet, for instance.
    const local = files.length > 0 ? await loadInputs(files, options) : { manifests: [], diagnostics: [] };
    scenario = buildScenario(
      { manifests: [...live.manifests, ...local.manifests], diagnostics: [...live.diagnostics, ...local.diagnostics] },
      options,
    );
  } else scenario = await loadScenario(options);
  for (const d of scenario.diagnostics) io.stderr(`${d.format()}\n`);
  return scenario;
}

/** Lint rule settings for lint and analyze: `--config FILE`, else `.palisade.yaml` in the working directory. */
function addConfigOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", `lint settings: rules turned off, severities, rule options (default: ${DEFAULT_CONFIG_FILE} when present)`)
    .option("--no-config", `ignore ${DEFAULT_CONFIG_FILE}`);
}

async function lintConfigFrom(config: string | boolean | undefined, io: CliIO): Promise<LintConfig | undefined> {
  if (config === false) return undefined;
  const file = typeof config === "string" ? config : DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (typeof config !== "string" && (e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`--config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parseLintConfig(text, file, lintRules);
  } catch (e) {
    if (!(e instanceof LintConfigError)) throw e;
    for (const d of e.diagnostics) io.stderr(`${d.format()}\n`);
    throw new UsageError(`${file}: invalid lint config`);
  }
}

function parseList<T>(text: string, what: string, parse: (s: string) => T | undefined): T[] {
  return text.split(",").map((s) => {
    const v = parse(s.trim());
    if (v === undefined) throw new UsageError(`invalid ${what} "${s}" in "${text}"`);
    return v;
  });
}

const parsePort = (s: string): number | undefined => (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 65535 ? Number(s) : undefined);
const parseProtocol = (s: string): Protocol | undefined => (isProtocol(s.toUpperCase()) ? (s.toUpperCase() as Protocol) : undefined);

/**
 * Runs one command line and returns its exit code. Never throws for bad input
 * or usage: those are printed as one-line errors and give exit code 2.
 */
export async function run(argv: string[], io: CliIO = defaultIO): Promise<number> {
  let exitCode: number = EXIT.allowed;
  const program = new Command("palisade")
    .description("Will this flow work in your Kubernetes cluster? Offline reachability across NetworkPolicy, Cilium and Istio.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError("(run palisade help for usage)");

  addInputOptions(
    addFlowArguments(program.command("reach").description("will FROM reach TO on PORT? a verdict and the trace through every enforcement point")).addOption(
      new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"),
    ),
  ).action(async (from: string, to: string, opts: InputFlags & FlowFlags & { output: "text" | "json" }) => {
    const scenario = await scenarioFrom(opts, io);
    const result = reach(scenario, flowRequest(from, to, opts));
    io.stdout(`${opts.output === "json" ? formatReachJson(result) : formatReachText(result)}\n`);
    exitCode = hasErrors(scenario) ? EXIT.usage : result.verdict === "allowed" ? EXIT.allowed : EXIT.denied;
  });

  addInputOptions(
    program
      .command("matrix")
      .description("connectivity between every ordered pair of workloads (and the outside world)")
      .option("--ports <list>", "comma-separated ports to evaluate for every destination (default: declared container ports)")
      .option("--protocols <list>", "comma-separated protocols (TCP,UDP,SCTP) for --ports, or a filter on declared ports")
      .option("--no-external", "leave out the outside world as a peer")
      .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json", "csv", "md", "dot"]).default("text")),
  ).action(async (opts: InputFlags & { ports?: string; protocols?: string; external: boolean; output: MatrixFormat }) => {
    const ports = opts.ports !== undefined ? parseList(opts.ports, "port", parsePort) : undefined;
    const protocols = opts.protocols !== undefined ? parseList(opts.protocols, "protocol", parseProtocol) : undefined;
    const scenario = await scenarioFrom(opts, io);
    const matrix = new ConnectivityMatrix(scenario, {
      external: opts.external,
      ...(ports ? { ports } : {}),
      ...(protocols ? { protocols } : {}),
    });
    io.stdout(`${formatMatrix(matrix, opts.output)}\n`);
    exitCode = hasErrors(scenario) ? EXIT.usage : EXIT.allowed;
  });

  addConfigOptions(addInputOptions(
    program
      .command("analyze")
      .description("the main report: isolation of every workload, allowed connections, external exposure, lint findings")
      .option("--no-lint", "leave out the lint findings")
      .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text")),
  )).action(async (opts: InputFlags & ConfigFlags & { lint: boolean; output: "text" | "json" }) => {
    const config = opts.lint ? await lintConfigFrom(opts.config, io) : undefined;
    const scenario = await scenarioFrom(opts, io);
    const report = analyze(scenario, { lint: opts.lint ? (config ? { config } : {}) : false });
    io.stdout(`${opts.output === "json" ? formatAnalyzeJson(report) : formatAnalyzeText(report)}\n`);
    exitCode = hasErrors(scenario) ? EXIT.usage : EXIT.allowed;
  });

  addConfigOptions(addInputOptions(
    program
      .command("lint")
      .description("known pitfalls of the policy set (each rule decided with the evaluator)")
      .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json", "sarif"]).default("text"))
      .addOption(new Option("--fail-on <severity>", "exit 1 when a finding at or above this severity exists").choices(["error", "warning"]).default("error")),
  )).action(async (opts: InputFlags & ConfigFlags & { output: LintFormat; failOn: "error" | "warning" }) => {
    const config = await lintConfigFrom(opts.config, io);
    const scenario = await scenarioFrom(opts, io);
    const { findings, diagnostics } = runLint(scenario, config ? { config } : {});
    for (const d of diagnostics) io.stderr(`${d.format()}\n`);
    io.stdout(`${formatLint(findings, lintRules, opts.output)}\n`);
    const threshold = SEVERITY_RANK[opts.failOn];
    exitCode = hasErrors(scenario) ? EXIT.usage : findings.some((f) => SEVERITY_RANK[f.severity] >= threshold) ? EXIT.denied : EXIT.allowed;
  });

  addInputOptions(
    addFlowArguments(
      program
        .command("fix")
        .description("the smallest change at each point that blocks FROM → TO, applied to the model and verified, with the connectivity it changes"),
    )
      .option("--write", "apply the verified changes to the input files (new documents go to the suggested files)")
      .addOption(new Option("-o, --output <format>", "output format (yaml: only the documents to apply)").choices(["text", "json", "yaml"]).default("text")),
  ).action(async (from: string, to: string, opts: InputFlags & FlowFlags & { write?: boolean; output: FixFormat }) => {
    // Standard input cannot be read twice: keep its text, the fix edits it like a file.
    let stdinText: string | undefined;
    const scenario = await scenarioFrom(opts, { ...io, readStdin: async () => (stdinText = await io.readStdin()) });
    const result = fixFlow(
      scenario,
      flowRequest(from, to, opts),
      {
        // Objects read from a live cluster have no file to edit: their changes become new documents.
        readText: (file) => (file === "<stdin>" ? stdinText : opts.cluster && /^cluster([:/]|$)/.test(file) ? undefined : readFromDisk(file)),
      },
    );
    const text = opts.output === "json" ? formatFixJson(result) : opts.output === "yaml" ? formatFixYaml(result) : formatFixText(result);
    io.stdout(text.endsWith("\n") || text === "" ? text : `${text}\n`);
    const fixed = result.verdictAfter === "allowed";
    if (opts.write && fixed) {
      for (const f of fixedFiles(result)) {
        if (f.file === "<stdin>") throw new UsageError("--write cannot change standard input: use -o yaml and apply the output");
        const exists = await stat(f.file).then(() => true, () => false);
        if (f.created && exists) await appendFile(f.file, `\n---\n${f.text}`);
        else await writeFile(f.file, f.text);
        io.stderr(`palisade: ${f.created && !exists ? "created" : "wrote"} ${f.file}\n`);
      }
    }
    exitCode = hasErrors(scenario) ? EXIT.usage : fixed ? EXIT.allowed : EXIT.denied;
  });

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are successful exits; everything else commander reports is usage.
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help" ? 0 : EXIT.usage;
    }
    if (e instanceof UsageError || e instanceof ReferenceError) {
      io.stderr(`palisade: ${e.message}\n`);
      return EXIT.usage;
    }
    // An unexpected failure is our bug: say so plainly, without a stack unless asked.
    io.stderr(`palisade: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.PALISADE_DEBUG) io.stderr(`${e instanceof Error ? e.stack : ""}\n`);
    return EXIT.usage;
  }
}
