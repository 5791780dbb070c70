/**
 * `npm run oracle:istio [-- --case NAME]`: compares Palisade with the expected
 * connectivity maps of np-guard/network-config-analyzer's Istio corpus and prints
 * one row per case, the agreement rate and a diff for each disagreement.
 * See docs/oracle-nca-istio.md.
 */
import { pad, row } from "./oracle/report.js";
import {
  VARIANTS,
  diffUnder,
  formatDiff,
  listCases,
  oracleDir,
  oracleMissing,
  runAll,
  summarize,
  type CaseResult,
  type VariantId,
} from "./oracle/nca-istio.js";

const UNEXPLAINED = "not explained by a documented NCA reading";

const USAGE = `usage: npm run oracle:istio [-- --case NAME [--variants V1,V2]] [--max-diff N]
  --case NAME      run one case and print its whole diff, and both sides in NCA's pairwise format
  --variants LIST  with --case: what still differs when Palisade reads the input as NCA does
                   (${VARIANTS.map((v) => v.id).join(", ")})
  --max-diff N     pairs shown per disagreeing case in the full run (default 10)`;

interface Args {
  only?: string;
  variants?: VariantId[];
  maxDiff: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { maxDiff: 10 };
  const fail = (msg?: string): never => {
    console.error(msg ? `${msg}\n${USAGE}` : USAGE);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (name: string) => (a.startsWith(`${name}=`) ? a.slice(name.length + 1) : argv[++i]);
    if (a === "--case" || a.startsWith("--case=")) args.only = value("--case") ?? fail();
    else if (a === "--variants" || a.startsWith("--variants=")) {
      const list = (value("--variants") ?? fail()).split(",").filter(Boolean);
      const unknown = list.filter((v) => !VARIANTS.some((x) => x.id === v));
      if (unknown.length > 0) fail(`unknown variant ${unknown.join(", ")}`);
      args.variants = list as VariantId[];
    } else if (a === "--max-diff" || a.startsWith("--max-diff=")) args.maxDiff = Number(value("--max-diff"));
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (args.only === "" || !Number.isFinite(args.maxDiff) || (args.variants && !args.only)) fail();
  return args;
}

async function main(): Promise<void> {
  const { only, variants, maxDiff } = parseArgs(process.argv.slice(2));
  const dir = oracleDir();
  const missing = oracleMissing(dir);
  if (missing) {
    console.log(`${missing}: nothing to compare.`);
    return;
  }
  const c = only ? listCases(dir).find((x) => x.name === only) : undefined;
  if (only && !c) {
    console.error(`no case "${only}" in ${dir} (npm run oracle:istio lists them)`);
    process.exit(2);
  }
  if (c && variants) {
    if (c.skip) {
      console.log(`${c.name}: skipped (${c.skip})`);
      return;
    }
    const diffs = await diffUnder(c, variants);
    console.log(`${c.name} read with ${variants.join(" + ") || "no variant"}: ${diffs.length} pair${diffs.length === 1 ? "" : "s"} differ`);
    if (diffs.length > 0) console.log(formatDiff({ diffs } as unknown as CaseResult));
    return;
  }

  const results = await runAll(dir, only ? { only } : {});
  const width = Math.max(4, ...results.map((r) => r.name.length));
  console.log(`NCA Istio oracle: ${dir}\n`);
  console.log(`${pad("case", width)}  ${pad("status", 8)}  ${pad("pairs g/p", 11)}  detail`);
  console.log(`${"-".repeat(width)}  --------  -----------  ------`);
  for (const r of results) console.log(row(r, width, UNEXPLAINED));

  const s = summarize(results);
  console.log(`\n${s.total} case${s.total === 1 ? "" : "s"}: ${s.agree} agree, ${s.disagree} disagree, ${s.skipped} skipped`);
  console.log(`agreement: ${s.agree}/${s.agree + s.disagree} compared = ${(100 * s.rate).toFixed(1)}%`);
  const explained = results.filter((r) => r.explainedBy).length;
  if (s.disagree > 0) console.log(`disagreements explained by NCA's documented readings: ${explained}/${s.disagree}`);

  const used = new Set(results.flatMap((r) => r.explainedBy ?? []));
  if (used.size > 0) {
    console.log("\nvariants (Palisade reading the input as NCA does):");
    for (const v of VARIANTS) if (used.has(v.id)) console.log(`  ${v.id}: ${v.title}`);
  }

  for (const r of results) {
    if (r.status !== "disagree" && !only) continue;
    console.log(`\n=== ${r.name}: ${r.status}${r.reason ? ` (${r.reason})` : ""}`);
    for (const n of r.notes) console.log(`  note: ${n}`);
    if (r.explainedBy) console.log(`  agrees when read with: ${r.explainedBy.join(" + ")}`);
    if (r.diffs.length > 0) {
      const shown = only ? r.diffs : r.diffs.slice(0, maxDiff);
      console.log(formatDiff({ ...r, diffs: shown }));
      if (shown.length < r.diffs.length) console.log(`  … ${r.diffs.length - shown.length} more (npm run oracle:istio -- --case ${r.name})`);
    }
    if (only && r.pairwise) {
      console.log(`\n  golden, expanded to pairs (${r.expected.length} pairs):\n`);
      console.log(r.pairwise.golden.replace(/^/gm, "    "));
      console.log(`  Palisade (${r.actual.length} pairs):\n`);
      console.log(r.pairwise.palisade.replace(/^/gm, "    "));
    }
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
