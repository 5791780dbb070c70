/**
 * Palisade against the Kubernetes e2e NetworkPolicy truth tables
 * (kubernetes/kubernetes test/e2e/network/netpol): namespaces x, y, z; pods a, b, c
 * serving 80 and 81 over TCP, UDP and SCTP; one case per upstream test, in the
 * final state of the test, with the truth table of every (protocol, port) it probes.
 * See corpus.ts for the file format and cases/ for the corpus itself.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../src/analysis/matrix.js";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadText } from "../../src/load/index.js";
import { compare, describeMismatches, listCases, parseExpected, qualify, readExpected, type ExpectedFile, type Probe } from "./corpus.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const CASES = listCases(join(HERE, "cases"));
const PORTS = [80, 81];
const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

/** Palisade's verdict for every ordered pod pair of one case, through the library. */
async function libraryVerdicts(yamlPath: string, expected: ExpectedFile) {
  const load = await loadText(readFileSync(yamlPath, "utf8"), yamlPath);
  const scenario = buildScenario(load);
  const matrix = new ConnectivityMatrix(scenario, { ports: PORTS, protocols: [...PROTOCOLS], external: false });
  const index = new Map(matrix.workloads.map((w, i) => [w.id, i]));
  const at = (alias: string): number => {
    const i = index.get(qualify(alias, expected.namespaces));
    if (i === undefined) throw new Error(`${alias} (${qualify(alias, expected.namespaces)}) is not a workload; found ${[...index.keys()].join(", ")}`);
    return i;
  };
  return {
    scenario,
    workloads: matrix.workloads.map((w) => w.id),
    verdict: (from: string, to: string, probe: Probe) => matrix.conns(at(from), at(to)).contains(probe.protocol, probe.port),
  };
}

interface Tally {
  cases: number;
  compared: number;
  agreed: number;
  failing: string[];
  /** Diagonal cells upstream's table writes as blocked while Palisade allows them (ignored upstream). */
  loopbackDiffers: number;
  loopbackCells: number;
}
const tally: Record<"upstream" | "derived", Tally> = {
  upstream: { cases: 0, compared: 0, agreed: 0, failing: [], loopbackDiffers: 0, loopbackCells: 0 },
  derived: { cases: 0, compared: 0, agreed: 0, failing: [], loopbackDiffers: 0, loopbackCells: 0 },
};

describe("e2e NetworkPolicy truth tables (library)", () => {
  it("has every upstream case, each with a well-formed truth table", () => {
    const origins = CASES.map((c) => readExpected(c.expected).origin);
    // 42 TCP tests, 3 UDP and 3 SCTP variants.
    expect(origins.filter((o) => o === "upstream")).toHaveLength(48);
    for (const c of CASES) {
      const e = readExpected(c.expected);
      for (const t of e.tables) {
        expect(t.pods, c.id).toEqual(["x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"]);
        expect(PORTS, c.id).toContain(t.probe.port);
      }
    }
  });

  it("notices a cell that disagrees (the comparison is not vacuous)", async () => {
    const c = CASES.find((k) => k.id === "tcp-28-deny-egress-client-side")!;
    const text = readFileSync(c.expected, "utf8");
    // Flip x/b → y/a (blocked upstream) to allowed.
    const flipped = text.replace(/^x\/b\t(\S)\t(\S)\t(\S)\tX/m, "x/b\t$1\t$2\t$3\t.");
    expect(flipped).not.toBe(text);
    const e = parseExpected(flipped);
    const { verdict } = await libraryVerdicts(c.yaml, e);
    const r = compare(e, verdict);
    expect(r.mismatches).toEqual([{ probe: { protocol: "TCP", port: 80 }, from: "x/b", to: "y/a", expected: true, actual: false }]);
  });

  for (const c of CASES) {
    const expected = readExpected(c.expected);
    it(`${c.id}: ${expected.title}`, async () => {
      const { scenario, workloads, verdict } = await libraryVerdicts(c.yaml, expected);
      expect(scenario.diagnostics.filter((d) => d.severity === "error").map((d) => d.format())).toEqual([]);
      expect(workloads).toHaveLength(9);

      const r = compare(expected, verdict);
      const t = tally[expected.origin];
      t.cases++;
      t.compared += r.compared;
      t.agreed += r.agreed;
      t.loopbackCells += r.loopback.length;
      t.loopbackDiffers += r.loopback.filter((l) => l.actual !== l.upstream).length;
      if (r.mismatches.length > 0) t.failing.push(`${c.id} (${r.mismatches.length} cells)`);

      expect(r.mismatches, `${c.id} disagrees with the upstream truth table\n\n${describeMismatches(expected, r)}`).toEqual([]);
      // Upstream never fails on loopback (ignoreLoopback). Palisade's own rule is that a pod
      // reaching its own IP is always allowed (semantics.md §1.6 r28, N17): check that instead.
      expect(r.loopback.filter((l) => !l.actual).map((l) => `${l.pod} ${l.probe.protocol}/${l.probe.port}`)).toEqual([]);
    });
  }

  afterAll(() => {
    const line = (name: string, t: Tally): string =>
      `${name}: ${t.cases} cases, ${t.agreed}/${t.compared} off-diagonal cells agree (${t.compared ? ((100 * t.agreed) / t.compared).toFixed(2) : "n/a"}%)` +
      `${t.failing.length ? `; disagreeing: ${t.failing.join(", ")}` : ""}; loopback: ${t.loopbackDiffers}/${t.loopbackCells} diagonal cells differ from upstream's literal table (ignored upstream)`;
    if (tally.upstream.cases + tally.derived.cases > 0) {
      console.log(`e2e-netpol agreement\n  ${line("upstream", tally.upstream)}\n  ${line("derived", tally.derived)}`);
    }
  });
});

/** The same corpus through the command-line contract (`matrix -o json`), for a few cases. */
describe("e2e NetworkPolicy truth tables (CLI)", () => {
  const CLI_CASES = [
    "tcp-19-egress-one-named-port",
    "tcp-28-deny-egress-client-side",
    "tcp-30-ingress-any-port-specific-protocol",
    "tcp-35-egress-cidr-except",
    "udp-02-ports",
    "sctp-03-only-from-pod-in-other-namespace",
  ];

  beforeAll(() => {
    // The CLI runs the built output: build it when it is missing or older than the sources.
    const built = join(ROOT, "dist", "cli", "cli.js");
    const newest = (dir: string): number =>
      readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
        const p = join(dir, e.name);
        return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith(".ts") ? statSync(p).mtimeMs : 0);
      }, 0);
    if (!existsSync(built) || statSync(built).mtimeMs < newest(join(ROOT, "src"))) {
      execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "pipe" });
    }
  }, 60_000);

  for (const id of CLI_CASES) {
    it(`${id} via palisade matrix -o json`, () => {
      const c = CASES.find((k) => k.id === id);
      expect(c, `case ${id}`).toBeDefined();
      const expected = readExpected(c!.expected);
      // execFileSync throws on a non-zero exit code: the matrix command must exit 0.
      const stdout = execFileSync(
        process.execPath,
        [join(ROOT, "bin", "palisade.js"), "matrix", "-f", c!.yaml, "--ports", "80,81", "--protocols", "TCP,UDP,SCTP", "--no-external", "-o", "json"],
        { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      );
      const out = JSON.parse(stdout) as {
        workloads: string[];
        connections: { from: string; to: string; port: number | null; protocol: string | null; allowed: boolean }[];
      };
      expect(out.workloads).toHaveLength(9);
      // 9 x 9 ordered pairs (diagonal included) x 2 ports x 3 protocols, nothing external.
      expect(out.connections).toHaveLength(9 * 9 * PORTS.length * PROTOCOLS.length);
      const allowed = new Map(out.connections.map((k) => [`${k.from}|${k.to}|${k.protocol}|${k.port}`, k.allowed]));
      const r = compare(expected, (from, to, probe) => {
        const key = `${qualify(from, expected.namespaces)}|${qualify(to, expected.namespaces)}|${probe.protocol}|${probe.port}`;
        const v = allowed.get(key);
        if (v === undefined) throw new Error(`no connection ${key} in the output`);
        return v;
      });
      expect(r.mismatches, describeMismatches(expected, r)).toEqual([]);
      expect(r.loopback.filter((l) => !l.actual)).toEqual([]);
    });
  }
});
