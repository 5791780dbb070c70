/**
 * `npm run oracle [-- --case NAME]`: compares Palisade with the expected
 * connectivity lists of np-guard/netpol-analyzer's test corpus and prints one
 * row per case, the agreement rate and a diff for each disagreement.
 * See docs/oracle-netpol-analyzer.md.
 */
import { pad, row } from "./oracle/report.js";
import {
  VARIANTS,
  formatDiff,
  listCases,
  oracleDir,
  oracleMissing,
  runAll,
  summarize,
  type CaseResult,
} from "./oracle/netpol-analyzer.js";

const UNEXPLAINED = "not explained by a documented choice";

const USAGE = `usage: npm run oracle [-- --case NAME] [--max-diff N]
  --case NAME    run one case and print its whole diff, golden and Palisade lines
  --max-diff N   pairs shown per disagreeing case in the full run (default 10)`;

function parseArgs(argv: string[]): { only?: string; maxDiff: number } {
  let only: string | undefined;
  let maxDiff = 10;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--case") only = argv[++i];
    else if (a.startsWith("--case=")) only = a.slice("--case=".length);
    else if (a === "--max-diff") maxDiff = Number(argv[++i]);
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (only === "" || (only === undefined && argv.includes("--case")) || !Number.isFinite(maxDiff)) {
    console.error(USAGE);
    process.exit(2);
  }
  return { ...(only !== undefined ? { only } : {}), maxDiff };
}

async function main(): Promise<void> {
  const { only, maxDiff } = parseArgs(process.argv.slice(2));
  const dir = oracleDir();
  const missing = oracleMissing(dir);
  if (missing) {
    console.log(`${missing}: nothing to compare.`);
    return;
  }
  if (only && !listCases(dir).some((c) => c.name === only)) {
    console.error(`no case "${only}" with a plain golden in ${dir}`);
    process.exit(2);
  }

  const results = await runAll(dir, only ? { only } : {});
  const width = Math.max(4, ...results.map((r) => r.name.length));
  console.log(`netpol-analyzer oracle: ${dir}\n`);
  console.log(`${pad("case", width)}  ${pad("status", 8)}  ${pad("lines g/p", 11)}  detail`);
  console.log(`${"-".repeat(width)}  --------  -----------  ------`);
  for (const r of results) console.log(row(r, width, UNEXPLAINED));

  const s = summarize(results);
  const pct = (100 * s.rate).toFixed(1);
  console.log(`\n${s.total} case${s.total === 1 ? "" : "s"}: ${s.agree} agree, ${s.disagree} disagree, ${s.skipped} skipped`);
  console.log(`agreement: ${s.agree}/${s.agree + s.disagree} compared = ${pct}%`);

  const used = new Set(results.flatMap((r) => r.explainedBy ?? []));
  if (used.size > 0) {
    console.log("\nvariants (what-if rewrites of the input that neutralise one documented choice):");
    for (const v of VARIANTS) if (used.has(v.id)) console.log(`  ${v.id}: ${v.title}`);
  }

  for (const r of results) {
    if (r.status !== "disagree" && !only) continue;
    console.log(`\n=== ${r.name}: ${r.status}${r.reason ? ` (${r.reason})` : ""}`);
    for (const n of r.notes) console.log(`  note: ${n}`);
    if (r.explainedBy) console.log(`  agrees once rewritten with: ${r.explainedBy.join(" + ")}`);
    if (r.diffs.length > 0) {
      const shown = only ? r.diffs : r.diffs.slice(0, maxDiff);
      console.log(formatDiff({ ...r, diffs: shown }));
      if (shown.length < r.diffs.length) console.log(`  … ${r.diffs.length - shown.length} more (npm run oracle -- --case ${r.name})`);
    }
    if (only && r.status !== "skipped") {
      console.log(`\n  golden (normalised, ${r.expected.length} lines):`);
      for (const l of r.expected) console.log(`    ${l}`);
      console.log(`\n  Palisade (${r.actual.length} lines):`);
      for (const l of r.actual) console.log(`    ${l}`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
