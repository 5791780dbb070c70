/**
 * Counting the allowed (ordered workload pair, declared destination port) tuples
 * of a ConnectivityMatrix without materialising them.
 *
 * The matrix computes one ConnSet per pair of equivalence classes. The number of
 * allowed tuples is then
 *
 *   Σ over source class I, destination group G:  |I| · |G| · |conns(I, J(G)) ∩ ports(G)|
 *
 * where a destination group G gathers the workloads of one class J that declare
 * the same evaluated ports, plus a correction for bare Pods talking to
 * themselves (`isSelfTraffic`: all ports allowed whatever the class says).
 *
 * ConnectivityMatrix keeps its class assignment private (`classOf`,
 * `representatives`), so `classify` recomputes it from the layers' public
 * `fingerprint()`, with exactly the key the matrix uses. That duplicate pass is
 * timed separately so its cost is visible.
 */
import type { ConnectivityMatrix } from "../src/analysis/matrix.js";
import type { Scenario } from "../src/analysis/scenario.js";
import type { Workload } from "../src/model/types.js";
import { isSelfTraffic } from "../src/path/index.js";
import { ConnSet, PROTOCOLS } from "../src/sets/index.js";

export interface Classes {
  /** Class id of each workload (index into `matrix.workloads`). */
  classOf: Int32Array;
  /** Members of each class, as workload indexes. */
  members: number[][];
}

/** The matrix's equivalence classes, recomputed from the public `fingerprint()`. */
export function classify(scenario: Scenario, matrix: ConnectivityMatrix): Classes {
  const ws = matrix.workloads;
  const classOf = new Int32Array(ws.length);
  const ids = new Map<string, number>();
  const members: number[][] = [];
  ws.forEach((w, i) => {
    const key = scenario.layers.map((l) => l.fingerprint(w)).join("#");
    let id = ids.get(key);
    if (id === undefined) {
      id = members.length;
      ids.set(key, id);
      members.push([]);
    }
    members[id]!.push(i);
    classOf[i] = id;
  });
  return { classOf, members };
}

export interface TupleCount {
  /** Ordered workload pairs (n², self pairs included, as `connections()` lists them). */
  pairs: number;
  /** Evaluated (pair, declared destination port) tuples. */
  evaluated: number;
  /** Allowed ones among them. */
  allowed: number;
  /** Destination groups (class × declared port set). */
  groups: number;
  /** Ordered workload pairs whose cell allows nothing at all, and every connection (self pairs of bare Pods included). */
  emptyPairs: number;
  allPairs: number;
  /** Milliseconds spent recomputing the class assignment (API gap, see above). */
  classifyMs: number;
}

const NONE = ConnSet.none();
const ALL = ConnSet.all();

/** Ports in `evaluated` (small: the declared container ports) that `allowed` contains. */
function allowedPorts(allowed: ConnSet, evaluated: ConnSet, evaluatedCount: number): number {
  // Most class pairs are the shared none() or all() instances: no need to look at ports.
  if (allowed === NONE) return 0;
  if (allowed === ALL) return evaluatedCount;
  let n = 0;
  for (const proto of PROTOCOLS) {
    for (const [lo, hi] of evaluated.portsOf(proto).intervals()) {
      for (let p = lo; p <= hi; p++) if (allowed.contains(proto, p)) n++;
    }
  }
  return n;
}

function portCount(evaluated: ConnSet): number {
  let n = 0;
  for (const proto of PROTOCOLS) for (const [lo, hi] of evaluated.portsOf(proto).intervals()) n += hi - lo + 1;
  return n;
}

/** Counts allowed tuples over all ordered workload pairs, reading only class-level results. */
export function countAllowedTuples(scenario: Scenario, matrix: ConnectivityMatrix): TupleCount {
  const t0 = performance.now();
  const classes = classify(scenario, matrix);
  const classifyMs = performance.now() - t0;
  return {
    ...countTuples(
      matrix.workloads,
      classes,
      (w) => matrix.evaluatedFor(w),
      (src, dst) => matrix.conns(src, dst),
    ),
    classifyMs,
  };
}

/**
 * The counting itself, for any source of pair results: `pair(src, dst)` (workload
 * indexes) is only asked about pairs that are not self-traffic, and only about
 * one pair per (source class, destination class).
 */
export function countTuples(
  ws: readonly Workload[],
  { classOf, members }: Classes,
  evaluatedFor: (w: Workload) => ConnSet,
  pair: (src: number, dst: number) => ConnSet,
): Omit<TupleCount, "classifyMs"> {
  const n = ws.length;

  // Destination groups: same class and same evaluated ports.
  interface Group {
    cls: number;
    evaluated: ConnSet;
    ports: number;
    size: number;
  }
  const groups: Group[] = [];
  const groupIds = new Map<string, number>();
  const evaluatedOf: ConnSet[] = new Array<ConnSet>(n);
  let evaluatedPerDst = 0;
  for (let j = 0; j < n; j++) {
    const e = evaluatedFor(ws[j]!);
    evaluatedOf[j] = e;
    const ports = portCount(e);
    evaluatedPerDst += ports;
    const key = `${classOf[j]}/${e.key()}`;
    const g = groupIds.get(key);
    if (g === undefined) {
      groupIds.set(key, groups.length);
      groups.push({ cls: classOf[j]!, evaluated: e, ports, size: 1 });
    } else groups[g]!.size++;
  }

  // conns between two classes, read through a pair of members that is not self-traffic.
  const classConns = (I: number, J: number): ConnSet | undefined => {
    const src = members[I]![0]!;
    const dst = members[J]![0]!;
    if (!isSelfTraffic(ws[src]!, ws[dst]!)) return pair(src, dst);
    const other = members[J]![1];
    if (other !== undefined) return pair(src, other);
    const otherSrc = members[I]![1];
    return otherSrc !== undefined ? pair(otherSrc, dst) : undefined;
  };

  let allowed = 0;
  let emptyPairs = 0;
  let allPairs = 0;
  for (let I = 0; I < members.length; I++) {
    const sizeI = members[I]!.length;
    for (const g of groups) {
      const c = classConns(I, g.cls);
      // Undefined only for a one-member class paired with itself: the self correction below covers it.
      if (c === undefined) continue;
      if (c === NONE || c.isEmpty()) emptyPairs += sizeI * g.size;
      else if (c === ALL || c.isAll()) allPairs += sizeI * g.size;
      if (g.ports === 0) continue;
      allowed += sizeI * g.size * allowedPorts(c, g.evaluated, g.ports);
    }
  }
  // Bare Pods reaching themselves: every declared port is allowed, whatever the class pair says.
  for (let i = 0; i < n; i++) {
    const w = ws[i]!;
    if (!isSelfTraffic(w, w)) continue;
    const e = evaluatedOf[i]!;
    const I = classOf[i]!;
    const c = classConns(I, I);
    const ports = portCount(e);
    allowed += ports - (c === undefined ? 0 : allowedPorts(c, e, ports));
    allPairs++;
    if (c !== undefined) {
      if (c === NONE || c.isEmpty()) emptyPairs--;
      else if (c === ALL || c.isAll()) allPairs--;
    }
  }

  return { pairs: n * n, evaluated: n * evaluatedPerDst, allowed, groups: groups.length, emptyPairs, allPairs };
}

/** The same count through `connections()`: one object per tuple. For checking `countAllowedTuples` on small inputs. */
export function countAllowedTuplesBruteForce(matrix: ConnectivityMatrix): { evaluated: number; allowed: number; emptyPairs: number; allPairs: number } {
  let evaluated = 0;
  let allowed = 0;
  for (const c of matrix.connections()) {
    if (c.from === "external" || c.to === "external") continue;
    evaluated++;
    if (c.allowed) allowed++;
  }
  let emptyPairs = 0;
  let allPairs = 0;
  const n = matrix.workloads.length;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const c = matrix.conns(i, j);
      if (c.isEmpty()) emptyPairs++;
      else if (c.isAll()) allPairs++;
    }
  }
  return { evaluated, allowed, emptyPairs, allPairs };
}
