import type { ExternalAllowance } from "../layers/types.js";
import type { Workload } from "../model/types.js";
import { isSelfTraffic, pairConns } from "../path/index.js";
import { ConnSet, IPSet, type Protocol } from "../sets/index.js";
import type { Scenario } from "./scenario.js";

export interface MatrixOptions {
  /** Evaluate these ports for every destination instead of its declared container ports. */
  ports?: readonly number[];
  /** Protocols for `ports` (default TCP), or a filter on declared ports. */
  protocols?: readonly Protocol[];
  /** Include the world outside the cluster as one peer (default true). */
  external?: boolean;
}

export interface MatrixConnection {
  from: string;
  to: string;
  /** Null for the external destination when no ports were given: the cell then covers every port. */
  port: number | null;
  protocol: Protocol | null;
  allowed: boolean;
}

export const EXTERNAL = "external";

/**
 * Connectivity between every ordered pair of workloads. Workloads that no layer
 * can tell apart form one class; the class matrix is computed once and read per
 * workload pair, so the cost grows with the number of classes, not of pods.
 */
export class ConnectivityMatrix {
  readonly workloads: readonly Workload[];
  private readonly classOf: Int32Array;
  private readonly representatives: Workload[] = [];
  private readonly classConns: (ConnSet | undefined)[];
  private readonly external: boolean;

  constructor(
    private readonly scenario: Scenario,
    readonly options: MatrixOptions = {},
  ) {
    this.workloads = scenario.cluster.workloads;
    this.external = options.external ?? true;
    this.classOf = new Int32Array(this.workloads.length);
    const classIds = new Map<string, number>();
    this.workloads.forEach((w, i) => {
      const key = scenario.layers.map((l) => l.fingerprint(w)).join("#");
      let id = classIds.get(key);
      if (id === undefined) {
        id = this.representatives.length;
        classIds.set(key, id);
        this.representatives.push(w);
      }
      this.classOf[i] = id;
    });
    this.classConns = new Array<ConnSet | undefined>(this.representatives.length ** 2);
  }

  get classCount(): number {
    return this.representatives.length;
  }

  /** Computes every class pair now (benchmarks and full outputs call this). */
  computeAll(): void {
    const k = this.representatives.length;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) this.classPair(i, j);
  }

  private classPair(i: number, j: number): ConnSet {
    const idx = i * this.representatives.length + j;
    let c = this.classConns[idx];
    if (!c) {
      c = pairConns(this.scenario.layers, this.representatives[i]!, this.representatives[j]!);
      this.classConns[idx] = c;
    }
    return c;
  }

  /** What workload `src` may open to workload `dst` (indexes into `workloads`). */
  conns(src: number, dst: number): ConnSet {
    const s = this.workloads[src]!;
    const d = this.workloads[dst]!;
    if (isSelfTraffic(s, d)) return ConnSet.all();
    return this.classPair(this.classOf[src]!, this.classOf[dst]!);
  }

  /** What the outside world may open to `dst`, by address range. */
  externalIngress(dst: number): ExternalAllowance[] {
    return intersectLayers(this.scenario, this.workloads[dst]!, "ingress");
  }

  /** What `src` may open to the outside world, by address range. */
  externalEgress(src: number): ExternalAllowance[] {
    return intersectLayers(this.scenario, this.workloads[src]!, "egress");
  }

  /** The (protocol, port) tuples evaluated towards a destination (the external world declares none). */
  evaluatedFor(dst: Workload | typeof EXTERNAL): ConnSet {
    const { ports, protocols } = this.options;
    if (ports && ports.length > 0) {
      let out = ConnSet.none();
      for (const proto of protocols && protocols.length > 0 ? protocols : (["TCP"] as const)) {
        for (const p of ports) out = out.union(ConnSet.ports(proto, p));
      }
      return out;
    }
    let out = ConnSet.none();
    if (dst === EXTERNAL) return out;
    for (const cp of dst.ports) if (!protocols || protocols.length === 0 || protocols.includes(cp.protocol)) out = out.union(ConnSet.ports(cp.protocol, cp.port));
    return out;
  }

  /** Every evaluated tuple, as the contract's `connections` list. */
  *connections(): Iterable<MatrixConnection> {
    const n = this.workloads.length;
    for (let i = 0; i < n; i++) {
      const from = this.workloads[i]!.id;
      for (let j = 0; j < n; j++) {
        const dst = this.workloads[j]!;
        const allowed = this.conns(i, j);
        yield* tuples(from, dst.id, this.evaluatedFor(dst), allowed);
      }
      if (this.external) yield* this.externalTuples(from, externalUnion(this.externalEgress(i)), true);
    }
    if (this.external) {
      for (let j = 0; j < n; j++) {
        const dst = this.workloads[j]!;
        yield* tuples(EXTERNAL, dst.id, this.evaluatedFor(dst), externalUnion(this.externalIngress(j)));
      }
    }
  }

  private *externalTuples(from: string, allowed: ConnSet, toExternal: boolean): Iterable<MatrixConnection> {
    const { ports } = this.options;
    if (ports && ports.length > 0) {
      yield* tuples(from, EXTERNAL, this.evaluatedFor(EXTERNAL), allowed);
      return;
    }
    if (toExternal) yield { from, to: EXTERNAL, port: null, protocol: null, allowed: !allowed.isEmpty() };
  }
}

function* tuples(from: string, to: string, evaluated: ConnSet, allowed: ConnSet): Iterable<MatrixConnection> {
  for (const protocol of ["TCP", "UDP", "SCTP"] as const) {
    for (const [lo, hi] of evaluated.portsOf(protocol).intervals()) {
      for (let port = lo; port <= hi; port++) yield { from, to, port, protocol, allowed: allowed.contains(protocol, port) };
    }
  }
}

/** Any address counts: the cell says whether some external client (or server) can be reached. */
export function externalUnion(pieces: readonly ExternalAllowance[]): ConnSet {
  let out = ConnSet.none();
  for (const p of pieces) if (!p.ips.isEmpty()) out = out.union(p.conns);
  return out;
}

/**
 * What every layer admits together with the outside world: the intersection of
 * the layers' allowances, split into address ranges on which it is uniform.
 */
export function intersectLayers(scenario: Scenario, w: Workload, direction: "ingress" | "egress"): ExternalAllowance[] {
  let acc: ExternalAllowance[] = [{ ips: IPSet.all(), conns: ConnSet.all() }];
  for (const layer of scenario.layers) {
    const pieces = layer.externalAllowances(w, direction);
    const next: ExternalAllowance[] = [];
    for (const a of acc) {
      for (const b of pieces) {
        const ips = a.ips.intersect(b.ips);
        const conns = a.conns.intersect(b.conns);
        if (!ips.isEmpty() && !conns.isEmpty()) next.push({ ips, conns });
      }
    }
    acc = next;
  }
  return acc;
}

/**
 * Splits overlapping allowances into disjoint address ranges, each with the union
 * of the connections allowed on it; adjacent ranges with equal connections merge.
 */
export function partitionByAddress(pieces: readonly ExternalAllowance[]): ExternalAllowance[] {
  let parts: ExternalAllowance[] = [];
  for (const piece of pieces) {
    let rest = piece.ips;
    const next: ExternalAllowance[] = [];
    for (const part of parts) {
      const common = part.ips.intersect(piece.ips);
      if (common.isEmpty()) {
        next.push(part);
        continue;
      }
      next.push({ ips: common, conns: part.conns.union(piece.conns) });
      const only = part.ips.subtract(piece.ips);
      if (!only.isEmpty()) next.push({ ips: only, conns: part.conns });
      rest = rest.subtract(part.ips);
    }
    if (!rest.isEmpty()) next.push({ ips: rest, conns: piece.conns });
    parts = next;
  }
  // Merge ranges that ended up with the same connections.
  const byConns = new Map<string, ExternalAllowance>();
  for (const p of parts) {
    const k = p.conns.key();
    const prev = byConns.get(k);
    byConns.set(k, prev ? { ips: prev.ips.union(p.ips), conns: p.conns } : p);
  }
  return [...byConns.values()];
}
