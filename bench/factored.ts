/**
 * Prototype for the matrix bottleneck (see docs/benchmarks.md, "Where the time
 * goes"): instead of evaluating every pair of equivalence classes, evaluate each
 * direction once per combination of what it actually depends on, then read a
 * cell as the intersection of two table entries.
 *
 *   egress half  = allowedConns(src, egress, dst)  depends on (src's egress-selecting policies,
 *                  dst's membership of egress peers, dst's named ports, dst's host network/IPs)
 *   ingress half = allowedConns(dst, ingress, src) depends on (dst's ingress-selecting policies
 *                  and named ports, src's membership of ingress peers, src's host network/IPs)
 *
 * Uses only public layer calls (`allowedConns`), and reads the NetworkPolicy
 * layer's fingerprint string to learn each workload's selection and peer
 * membership (a diagnostic shortcut, not an API). Counts the same tuples as
 * bench/count.ts and checks them against ConnectivityMatrix.
 *
 *   tsx bench/factored.ts [--only S,L] [--reference]
 *
 * `--reference` also runs ConnectivityMatrix.computeAll() for the comparison
 * (slow on L); without it, L is compared with bench-out/results.json when present.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ConnectivityMatrix } from "../src/analysis/matrix.js";
import { buildScenario, type Scenario } from "../src/analysis/scenario.js";
import { NetworkPolicyLayer } from "../src/layers/networkpolicy/index.js";
import type { Workload } from "../src/model/types.js";
import { loadText } from "../src/load/index.js";
import { ConnSet } from "../src/sets/index.js";
import { classify, countAllowedTuples, countTuples } from "./count.js";
import { findScenario, inputFile, OUT_DIR, ROOT, SCENARIOS } from "./scenarios.js";

interface Signatures {
  egressProfile: Int32Array;
  ingressProfile: Int32Array;
  asEgressPeer: Int32Array;
  asIngressPeer: Int32Array;
  /** Whether a profile selects anything (otherwise its half is "all"). */
  egressIsolating: boolean[];
  ingressIsolating: boolean[];
  counts: [number, number, number, number];
}

function intern(map: Map<string, number>, key: string): number {
  let id = map.get(key);
  if (id === undefined) {
    id = map.size;
    map.set(key, id);
  }
  return id;
}

export function signatures(layer: NetworkPolicyLayer, ws: readonly Workload[]): Signatures {
  // Peer ids follow the layer's order: policies, then ingress and egress rules, then peers.
  const egressPeer: boolean[] = [];
  for (const p of layer.policies) for (const rule of [...p.ingress, ...p.egress]) for (const _ of rule.peers ?? []) egressPeer.push(p.egress.includes(rule));
  const maps = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>(), new Map<string, number>()] as const;
  const out: Signatures = {
    egressProfile: new Int32Array(ws.length),
    ingressProfile: new Int32Array(ws.length),
    asEgressPeer: new Int32Array(ws.length),
    asIngressPeer: new Int32Array(ws.length),
    egressIsolating: [],
    ingressIsolating: [],
    counts: [0, 0, 0, 0],
  };
  ws.forEach((w, i) => {
    const [ingressSel = "", egressSel = "", member = "", named = ""] = layer.fingerprint(w).split("|");
    const ids = member ? member.split(",").map(Number) : [];
    const host = w.hostNetwork ? `host:${w.hostIPs.join(",")}` : "";
    // A host-network endpoint is exempt: its halves are "all".
    const ep = w.hostNetwork ? "H" : egressSel;
    const ip = w.hostNetwork ? "H" : `${ingressSel}|${named}`;
    out.egressProfile[i] = intern(maps[0], ep);
    out.egressIsolating[out.egressProfile[i]!] = ep !== "H" && ep !== "";
    out.ingressProfile[i] = intern(maps[1], ip);
    out.ingressIsolating[out.ingressProfile[i]!] = !w.hostNetwork && ingressSel !== "";
    out.asEgressPeer[i] = intern(maps[2], `${ids.filter((m) => egressPeer[m]).join(",")}|${named}|${host}`);
    out.asIngressPeer[i] = intern(maps[3], `${ids.filter((m) => !egressPeer[m]).join(",")}|${host}`);
  });
  out.counts = [maps[0].size, maps[1].size, maps[2].size, maps[3].size];
  return out;
}

/** One representative workload per signature value. */
function representatives(ids: Int32Array, count: number): number[] {
  const reps = new Array<number>(count).fill(-1);
  ids.forEach((id, i) => {
    if (reps[id] === -1) reps[id] = i;
  });
  return reps;
}

export interface FactoredResult {
  signaturesMs: number;
  tablesMs: number;
  countMs: number;
  allowedConnsCalls: number;
  allowed: number;
  emptyPairs: number;
  classes: number;
}

export function factoredCount(scenario: Scenario): FactoredResult {
  const layer = scenario.layers.find((l): l is NetworkPolicyLayer => l instanceof NetworkPolicyLayer);
  if (!layer || scenario.layers.length !== 1) throw new Error("the prototype handles the NetworkPolicy layer alone");
  const ws = scenario.cluster.workloads;

  let t = performance.now();
  const sig = signatures(layer, ws);
  const signaturesMs = performance.now() - t;

  t = performance.now();
  const [nEP, nIP, nDS, nSS] = sig.counts;
  const epRep = representatives(sig.egressProfile, nEP);
  const ipRep = representatives(sig.ingressProfile, nIP);
  const dsRep = representatives(sig.asEgressPeer, nDS);
  const ssRep = representatives(sig.asIngressPeer, nSS);
  const ALL = ConnSet.all();
  const egress = new Array<ConnSet>(nEP * nDS);
  const ingress = new Array<ConnSet>(nIP * nSS);
  let calls = 0;
  for (let e = 0; e < nEP; e++) {
    for (let d = 0; d < nDS; d++) {
      if (!sig.egressIsolating[e]) egress[e * nDS + d] = ALL;
      else {
        egress[e * nDS + d] = layer.allowedConns(ws[epRep[e]!]!, "egress", { kind: "workload", workload: ws[dsRep[d]!]! });
        calls++;
      }
    }
  }
  for (let i = 0; i < nIP; i++) {
    for (let s = 0; s < nSS; s++) {
      if (!sig.ingressIsolating[i]) ingress[i * nSS + s] = ALL;
      else {
        ingress[i * nSS + s] = layer.allowedConns(ws[ipRep[i]!]!, "ingress", { kind: "workload", workload: ws[ssRep[s]!]! });
        calls++;
      }
    }
  }
  const tablesMs = performance.now() - t;

  t = performance.now();
  const matrix = new ConnectivityMatrix(scenario, { external: true });
  const classes = classify(scenario, matrix);
  const { egressProfile, ingressProfile, asEgressPeer, asIngressPeer } = sig;
  const count = countTuples(
    ws,
    classes,
    (w) => matrix.evaluatedFor(w),
    (src, dst) =>
      egress[egressProfile[src]! * nDS + asEgressPeer[dst]!]!.intersect(ingress[ingressProfile[dst]! * nSS + asIngressPeer[src]!]!),
  );
  const countMs = performance.now() - t;
  return {
    signaturesMs,
    tablesMs,
    countMs,
    allowedConnsCalls: calls,
    allowed: count.allowed,
    emptyPairs: count.emptyPairs,
    classes: matrix.classCount,
  };
}

async function main(): Promise<void> {
  const only = process.argv.indexOf("--only");
  const names = only >= 0 ? (process.argv[only + 1] ?? "").split(",").filter(Boolean) : SCENARIOS.filter((s) => s.default).map((s) => s.name);
  const reference = process.argv.includes("--reference");
  const saved = existsSync(join(OUT_DIR, "results.json"))
    ? (JSON.parse(readFileSync(join(OUT_DIR, "results.json"), "utf8")) as { scenarios: { scenario: string; allowedTuples: number; connectedPairs: number }[] })
    : undefined;
  for (const name of names) {
    const def = findScenario(name);
    const file = inputFile(def);
    const scenario = buildScenario(await loadText(readFileSync(file, "utf8"), relative(ROOT, file)));
    const r = factoredCount(scenario);
    const n = scenario.cluster.workloads.length;
    let expected: { allowed: number; connected: number; source: string } | undefined;
    if (reference || n <= 2000) {
      const t = performance.now();
      const matrix = new ConnectivityMatrix(scenario, { external: true });
      matrix.computeAll();
      const c = countAllowedTuples(scenario, matrix);
      expected = { allowed: c.allowed, connected: c.pairs - c.emptyPairs, source: `ConnectivityMatrix, ${(performance.now() - t).toFixed(0)} ms` };
    } else {
      const s = saved?.scenarios.find((x) => x.scenario === name);
      if (s && typeof s.connectedPairs === "number") expected = { allowed: s.allowedTuples, connected: s.connectedPairs, source: "bench-out/results.json" };
    }
    const connected = n * n - r.emptyPairs;
    const same = expected ? expected.allowed === r.allowed && expected.connected === connected : undefined;
    process.stdout.write(
      `${name}: ${n} workloads, ${r.classes} classes; signatures ${r.signaturesMs.toFixed(0)} ms, ` +
        `tables ${r.tablesMs.toFixed(0)} ms (${r.allowedConnsCalls.toLocaleString("en-US")} allowedConns calls), ` +
        `cells + count ${r.countMs.toFixed(0)} ms (${(r.classes ** 2).toLocaleString("en-US")} class pairs read from the tables); ` +
        `allowed tuples ${r.allowed.toLocaleString("en-US")}, connected pairs ${connected.toLocaleString("en-US")}` +
        (expected ? ` — ${same ? "same as" : "DIFFERENT FROM"} ${expected.source} (${expected.allowed.toLocaleString("en-US")}, ${expected.connected.toLocaleString("en-US")})` : "") +
        "\n",
    );
    if (same === false) process.exitCode = 1;
  }
}

await main();
