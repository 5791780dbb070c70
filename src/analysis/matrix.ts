import type { CniLayer, Direction, ExternalAllowance } from "../layers/types.js";
import type { Workload } from "../model/types.js";
import { isSelfTraffic } from "../path/index.js";
import { ConnSet, IPSet, PROTOCOLS, type Protocol } from "../sets/index.js";
import { intern } from "./intern.js";
import { MeshMatrix, meshModeIndex, throughHbone } from "./mesh-matrix.js";
import { HBONE_PORT } from "../layers/istio/index.js";
import { usesHbone } from "../path/mesh.js";
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

/** Totals over every ordered workload pair (self pairs included) on the evaluated ports. */
export interface MatrixTally {
  pairs: number;
  /** Evaluated (pair, destination port) tuples. */
  evaluated: number;
  /** Allowed ones among them. */
  allowed: number;
  /** Source classes × destination groups (class and evaluated ports) read from the tables. */
  classPairs: number;
}

/**
 * Distinct ConnSets get small integer ids, so tables hold integers and the
 * intersections of two cells are computed once per pair of distinct values.
 */
class ConnInterner {
  readonly sets: ConnSet[] = [];
  private readonly ids = new Map<string, number>();
  private readonly intersections = new Map<number, number>();
  /** Sets seen before, by identity (most come back from caches). */
  private readonly byObject = new Map<ConnSet, number>();
  static readonly NONE = 0;
  static readonly ALL = 1;

  constructor() {
    this.sets.push(ConnSet.none(), ConnSet.all());
    this.ids.set(ConnSet.none().key(), ConnInterner.NONE);
    this.ids.set(ConnSet.all().key(), ConnInterner.ALL);
  }

  id(c: ConnSet): number {
    if (c === ConnSet.all()) return ConnInterner.ALL;
    if (c === ConnSet.none()) return ConnInterner.NONE;
    const known = this.byObject.get(c);
    if (known !== undefined) return known;
    const k = c.key();
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.sets.length;
      this.ids.set(k, id);
      this.sets.push(c);
    }
    this.byObject.set(c, id);
    return id;
  }

  intersect(a: number, b: number): number {
    if (a === b || b === ConnInterner.ALL || a === ConnInterner.NONE) return a;
    if (a === ConnInterner.ALL || b === ConnInterner.NONE) return b;
    const k = a < b ? a * 0x200000 + b : b * 0x200000 + a;
    let id = this.intersections.get(k);
    if (id === undefined) {
      id = this.id(this.sets[a]!.intersect(this.sets[b]!));
      this.intersections.set(k, id);
    }
    return id;
  }
}

/**
 * One layer in one direction: which endpoint key and which peer key every
 * workload has, and the allowances of each (endpoint key, peer key) pair,
 * filled on first use.
 */
class DirectionTable {
  readonly endpointOf: Int32Array;
  readonly peerOf: Int32Array;
  private readonly endpointReps: number[] = [];
  private readonly peerReps: number[] = [];
  private readonly isolating: boolean[] = [];
  private cells!: Int32Array;

  constructor(
    private readonly layer: CniLayer,
    private readonly direction: Direction,
    private readonly workloads: readonly Workload[],
    endpointKeys: readonly string[],
    peerKeys: readonly string[],
    private readonly interner: ConnInterner,
  ) {
    this.endpointOf = intern(endpointKeys, this.endpointReps);
    this.peerOf = intern(peerKeys, this.peerReps);
    for (const rep of this.endpointReps) this.isolating.push(layer.isolates(workloads[rep]!, direction));
    this.cells = new Int32Array(this.endpointReps.length * this.peerReps.length).fill(-1);
  }

  get endpointCount(): number {
    return this.endpointReps.length;
  }

  get peerCount(): number {
    return this.peerReps.length;
  }

  /** Interned allowances of endpoint key `e` with peer key `p`. */
  cell(e: number, p: number): number {
    if (!this.isolating[e]) return ConnInterner.ALL;
    const idx = e * this.peerReps.length + p;
    let c = this.cells[idx]!;
    if (c < 0) {
      const peer = this.workloads[this.peerReps[p]!]!;
      c = this.interner.id(this.layer.allowedConns(this.workloads[this.endpointReps[e]!]!, this.direction, { kind: "workload", workload: peer }));
      this.cells[idx] = c;
    }
    return c;
  }
}

/**
 * Connectivity between every ordered pair of workloads.
 *
 * What a source may open to a destination is, per layer, the intersection of
 * the source's egress allowances towards the destination and the destination's
 * ingress allowances from the source. Each half depends on two small keys (the
 * layer's `roleKeys`): the endpoint's key and the peer's key in that direction.
 * The matrix keeps one table per layer and direction, indexed by those keys, and
 * reads a cell as the intersection of table entries, so its cost grows with the
 * number of distinct keys, not with the number of workloads or pods.
 */
export class ConnectivityMatrix {
  readonly workloads: readonly Workload[];
  private readonly interner = new ConnInterner();
  private readonly egress: DirectionTable[] = [];
  private readonly ingress: DirectionTable[] = [];
  /** Workloads with equal source (destination) class are interchangeable as sources (destinations). */
  readonly sourceClassOf: Int32Array;
  readonly destinationClassOf: Int32Array;
  private readonly sourceReps: number[] = [];
  private readonly destinationReps: number[] = [];
  private readonly external: boolean;
  /** The mesh's part, when the scenario has one. */
  private readonly mesh: MeshMatrix | undefined;
  /** Interned allowances → the same through an HBONE tunnel. */
  private readonly tunnelled = new Map<number, number>();

  constructor(
    private readonly scenario: Scenario,
    readonly options: MatrixOptions = {},
  ) {
    this.workloads = scenario.cluster.workloads;
    this.external = options.external ?? true;
    const ws = this.workloads;
    // A layer that isolates no workload allows everything everywhere: it adds nothing to a cell.
    const layers = scenario.layers.filter((l) => ws.some((w) => l.isolates(w, "ingress") || l.isolates(w, "egress")));
    for (const layer of layers) {
      const keys = ws.map((w) => layer.roleKeys(w));
      this.egress.push(
        new DirectionTable(layer, "egress", ws, keys.map((k) => k.egressEndpoint), keys.map((k) => k.egressPeer), this.interner),
      );
      this.ingress.push(
        new DirectionTable(layer, "ingress", ws, keys.map((k) => k.ingressEndpoint), keys.map((k) => k.ingressPeer), this.interner),
      );
    }
    const L = layers.length;
    this.mesh = scenario.mesh ? new MeshMatrix(scenario, scenario.mesh, ws) : undefined;
    const mesh = this.mesh;
    const sourceKeys = ws.map((_, i) => {
      let k = mesh ? `m${mesh.clientKeyOf[i]}.${mesh.egressClientKeyOf[i]}.` : "";
      for (let l = 0; l < L; l++) k += `${this.egress[l]!.endpointOf[i]}.${this.ingress[l]!.peerOf[i]}.`;
      return k;
    });
    const destinationKeys = ws.map((_, i) => {
      let k = mesh ? `m${mesh.serverKeyOf[i]}.${mesh.egressServerKeyOf[i]}.` : "";
      for (let l = 0; l < L; l++) k += `${this.ingress[l]!.endpointOf[i]}.${this.egress[l]!.peerOf[i]}.`;
      return k;
    });
    this.sourceClassOf = intern(sourceKeys, this.sourceReps);
    this.destinationClassOf = intern(destinationKeys, this.destinationReps);
  }

  /** Distinct sources and destinations the matrix actually evaluates. */
  get classCount(): { sources: number; destinations: number } {
    return { sources: this.sourceReps.length, destinations: this.destinationReps.length };
  }

  /** Interned allowances from workload `src` to workload `dst`, ignoring self traffic. */
  private cellId(src: number, dst: number): number {
    let c = ConnInterner.ALL;
    for (let l = 0; l < this.egress.length && c !== ConnInterner.NONE; l++) {
      const eg = this.egress[l]!;
      const ing = this.ingress[l]!;
      c = this.interner.intersect(c, eg.cell(eg.endpointOf[src]!, eg.peerOf[dst]!));
      c = this.interner.intersect(c, ing.cell(ing.endpointOf[dst]!, ing.peerOf[src]!));
    }
    if (this.mesh) {
      const plain = c;
      if (this.mesh.tunnelled(src, dst)) {
        let t = this.tunnelled.get(c);
        if (t === undefined) {
          t = this.interner.id(throughHbone(this.interner.sets[c]!));
          this.tunnelled.set(c, t);
        }
        c = t;
      }
      c = this.interner.intersect(c, this.interner.id(this.mesh.admits(src, dst)));
      // Ports the client's sidecar passes through: the application port on the wire, no identity.
      const pt = this.mesh.passthrough(src, dst);
      if (!pt.isEmpty()) {
        const sent = this.interner.sets[plain]!.intersect(this.mesh.admits(src, dst, true)).intersect(pt);
        c = this.interner.id(this.interner.sets[c]!.subtract(pt).union(sent));
      }
    }
    return c;
  }

  /** What workload `src` may open to workload `dst` (indexes into `workloads`). */
  conns(src: number, dst: number): ConnSet {
    const s = this.workloads[src]!;
    const d = this.workloads[dst]!;
    if (isSelfTraffic(s, d)) return ConnSet.all();
    return this.interner.sets[this.cellId(src, dst)]!;
  }

  /**
   * How many (pair, evaluated port) tuples are allowed, over every ordered pair,
   * without visiting pairs: sources are taken by class, destinations by class and
   * evaluated ports, and a cell's evaluated ports are a bitmask when they are few.
   */
  tally(): MatrixTally {
    const ws = this.workloads;
    const n = ws.length;
    const L = this.egress.length;

    // Destination groups: same destination class and same evaluated ports.
    const portsetIds = new Map<string, number>();
    const portsets: [Protocol, number][][] = [];
    const groups: { rep: number; portset: number; size: number }[] = [];
    const groupIds = new Map<number, number>();
    let evaluated = 0;
    for (let j = 0; j < n; j++) {
      const e = this.evaluatedFor(ws[j]!);
      const k = e.key();
      let ps = portsetIds.get(k);
      if (ps === undefined) {
        ps = portsets.length;
        portsetIds.set(k, ps);
        portsets.push(listPorts(e));
      }
      evaluated += portsets[ps]!.length;
      const gk = this.destinationClassOf[j]! * 0x100000 + ps;
      const g = groupIds.get(gk);
      if (g === undefined) {
        groupIds.set(gk, groups.length);
        groups.push({ rep: j, portset: ps, size: 1 });
      } else groups[g]!.size++;
    }

    // Sources by class, with their table keys per layer.
    const S = this.sourceReps.length;
    const mult = new Float64Array(S);
    for (let i = 0; i < n; i++) mult[this.sourceClassOf[i]!]! += 1;
    const srcEgress = this.egress.map((t) => Int32Array.from(this.sourceReps, (i) => t.endpointOf[i]!));
    const srcIngress = this.ingress.map((t) => Int32Array.from(this.sourceReps, (i) => t.peerOf[i]!));

    // Which evaluated ports of a port set a ConnSet allows, as a bitmask (port sets of at most 32 ports).
    // maskByConn[connId][ps]; -2 until computed (no mask is -2 but "all 31 low bits but one").
    const maskByConn: Int32Array[] = [];
    const UNSET = -2;
    const maskOf = (connId: number, ps: number): number => {
      let row = maskByConn[connId];
      if (!row) {
        row = new Int32Array(portsets.length).fill(UNSET);
        maskByConn[connId] = row;
      }
      let m = row[ps]!;
      if (m === UNSET) {
        m = 0;
        const c = this.interner.sets[connId]!;
        const ports = portsets[ps]!;
        for (let b = 0; b < ports.length; b++) if (c.contains(ports[b]![0], ports[b]![1])) m |= 1 << b;
        if (mesh && c.contains("TCP", HBONE_PORT)) m |= HBONE_BIT;
        row[ps] = m;
      }
      return m;
    };
    const countIn = (connId: number, ps: number): number => {
      const c = this.interner.sets[connId]!;
      let k = 0;
      for (const [proto, port] of portsets[ps]!) if (c.contains(proto, port)) k++;
      return k;
    };

    // Σ over sources of |allowed ∩ evaluated| for one destination. Most destinations are
    // open in one direction (every mask equal): then the other direction's key counts suffice.
    const egressKeyCount = this.egress.map((t) => countKeys(t.endpointOf, t.endpointCount));
    const ingressKeyCount = this.ingress.map((t) => countKeys(t.peerOf, t.peerCount));
    const byEgress = L > 0 ? bucket(srcEgress[0]!, this.egress[0]!.endpointCount) : undefined;
    const byIngress = L > 0 ? bucket(srcIngress[0]!, this.ingress[0]!.peerCount) : undefined;
    // With a mesh: per destination group, which sources tunnel to it, and the proxy's admission mask per client key.
    let tunnelledFrom: Uint8Array | undefined;
    let meshRow: ((s: number) => number) | undefined;
    // Per source class: the evaluated ports its sidecar passes through, and what the proxy admits of them.
    let passthroughRow: ((s: number) => number) | undefined;
    let plainRow: ((s: number) => number) | undefined;
    let tcpBits = 0;
    const sumOverSources = (eMasks: Int32Array[], iMasks: Int32Array[], portCount: number): number => {
      // No layer: everything is allowed, but for what the destination's proxy refuses.
      if (!byEgress || !byIngress) {
        if (!meshRow) return n * portCount;
        const all = portCount >= 32 ? -1 : (1 << portCount) - 1;
        let sum = 0;
        for (let s = 0; s < S; s++) {
          let m = all & meshRow(s);
          const pt = passthroughRow ? passthroughRow(s) : 0;
          if (pt !== 0) m = (m & ~pt) | (all & pt & plainRow!(s));
          m &= ~HBONE_BIT;
          if (m !== 0) sum += mult[s]! * popcount(m);
        }
        return sum;
      }
      if (L === 1 && !meshRow) {
        const em = eMasks[0]!;
        const im = iMasks[0]!;
        // (Bit 31 is the HBONE bit, not a port.)
        if (isUniform(em)) return weightedPopcount(im, em[0]! & ~HBONE_BIT, ingressKeyCount[0]!);
        if (isUniform(im)) return weightedPopcount(em, im[0]! & ~HBONE_BIT, egressKeyCount[0]!);
      }
      // Only sources whose first-layer masks are non-zero can add anything: visit those,
      // through whichever first-layer key leaves fewer of them.
      const em = eMasks[0]!;
      const im = iMasks[0]!;
      let viaEgress = 0;
      for (let e = 0; e < em.length; e++) if (em[e] !== 0) viaEgress += byEgress.start[e + 1]! - byEgress.start[e]!;
      let viaIngress = 0;
      for (let q = 0; q < im.length; q++) if (im[q] !== 0) viaIngress += byIngress.start[q + 1]! - byIngress.start[q]!;
      const [buckets, masks] = viaEgress <= viaIngress ? [byEgress, em] : [byIngress, im];
      let sum = 0;
      for (let k = 0; k < masks.length; k++) {
        if (masks[k] === 0) continue;
        for (let x = buckets.start[k]!; x < buckets.start[k + 1]!; x++) {
          const s = buckets.sources[x]!;
          let m = -1;
          for (let l = 0; l < L; l++) m &= eMasks[l]![srcEgress[l]![s]!]! & iMasks[l]![srcIngress[l]![s]!]!;
          if (meshRow) {
            const sent = m;
            // HBONE: every TCP port iff TCP/15008 passes; then what the destination's proxy admits.
            if (tunnelledFrom![s]) m = (m & HBONE_BIT ? tcpBits : 0) | (m & ~tcpBits);
            m &= meshRow(s);
            // Passthrough ports: as the CNI sees the application port, admitted without identity.
            const pt = passthroughRow ? passthroughRow(s) : 0;
            if (pt !== 0) m = (m & ~pt) | (sent & pt & plainRow!(s));
          }
          m &= ~HBONE_BIT;
          if (m !== 0) sum += mult[s]! * popcount(m);
        }
      }
      return sum;
    };

    const mesh = this.mesh;
    const HBONE_BIT = 1 << 31;
    const srcClient = mesh ? Int32Array.from(this.sourceReps, (i) => mesh.clientKeyOf[i]!) : undefined;
    const srcOutbound = mesh ? Int32Array.from(this.sourceReps, (i) => mesh.egressClientKeyOf[i]!) : undefined;
    const outboundClients = srcOutbound ? srcOutbound.reduce((a, b) => Math.max(a, b), -1) + 1 : 0;
    const tunnelRows = new Map<number, Uint8Array>();
    // Admission masks by (destination key, port set, client key), for the sources actually visited.
    const meshMasks = new Map<number, number>();
    const plainMasks = new Map<number, number>();
    // Passthrough masks by (destination outbound key, port set, client outbound key).
    const passthroughMasks = new Map<number, number>();

    // Table rows as connection ids: egress by the destination's peer key, ingress by its endpoint key.
    const egressRows = this.egress.map(() => new Map<number, Int32Array>());
    const ingressRows = this.ingress.map(() => new Map<number, Int32Array>());
    // Mask rows depend on (peer key, port set) for egress and (endpoint key, port set) for ingress.
    const egressMasks = this.egress.map(() => new Map<number, Int32Array>());
    const ingressMasks = this.ingress.map(() => new Map<number, Int32Array>());
    const toMasks = (ids: Int32Array, ps: number): Int32Array => {
      const out = new Int32Array(ids.length);
      let lastId = -1;
      let lastMask = 0;
      for (let x = 0; x < ids.length; x++) {
        const id = ids[x]!;
        // Rows are long runs of one value (mostly all or none).
        if (id !== lastId) {
          lastId = id;
          lastMask = maskOf(id, ps);
        }
        out[x] = lastMask;
      }
      return out;
    };

    let allowed = 0;
    for (const g of groups) {
      const ports = portsets[g.portset]!;
      if (ports.length === 0) continue;
      const dst = g.rep;
      // With a mesh, bit 31 carries "TCP/15008 passes" (and -2 marks an unknown mask).
      if (ports.length <= (mesh ? 30 : 32)) {
        // A destination outside the mesh: no tunnel and no proxy, the plain path.
        meshRow = undefined;
        passthroughRow = undefined;
        plainRow = undefined;
        if (mesh && mesh.modeOf[dst] !== "none") {
          tcpBits = 0;
          ports.forEach(([proto], b) => {
            if (proto === "TCP") tcpBits |= 1 << b;
          });
          const dstMode = mesh.modeOf[dst]!;
          tunnelledFrom = memo(tunnelRows, meshModeIndex(dstMode), () => Uint8Array.from(this.sourceReps, (i) => (usesHbone(mesh.modeOf[i]!, dstMode, "TCP") ? 1 : 0)));
          const ps = g.portset;
          const base = (mesh.serverKeyOf[dst]! * portsets.length + ps) * mesh.clientCount;
          meshRow = (s: number) => {
            const k = base + srcClient![s]!;
            let m = meshMasks.get(k);
            if (m === undefined) {
              m = maskOf(this.interner.id(mesh.admits(this.sourceReps[s]!, dst)), ps);
              meshMasks.set(k, m);
            }
            return m;
          };
          const outbound = mesh.egressServerKeyOf[dst]!;
          if (outbound >= 0) {
            const outBase = (outbound * portsets.length + ps) * outboundClients;
            passthroughRow = (s: number) => {
              const c = srcOutbound![s]!;
              if (c < 0) return 0;
              let m = passthroughMasks.get(outBase + c);
              if (m === undefined) {
                m = maskOf(this.interner.id(mesh.passthrough(this.sourceReps[s]!, dst)), ps) & ~HBONE_BIT;
                passthroughMasks.set(outBase + c, m);
              }
              return m;
            };
            plainRow = (s: number) => {
              const k = base + srcClient![s]!;
              let m = plainMasks.get(k);
              if (m === undefined) {
                m = maskOf(this.interner.id(mesh.admits(this.sourceReps[s]!, dst, true)), ps);
                plainMasks.set(k, m);
              }
              return m;
            };
          }
        }
        // Per layer: the mask of every egress endpoint key towards this destination, and of this
        // destination's ingress towards every peer key.
        const eMasks: Int32Array[] = [];
        const iMasks: Int32Array[] = [];
        for (let l = 0; l < L; l++) {
          const eg = this.egress[l]!;
          const ing = this.ingress[l]!;
          const p = eg.peerOf[dst]!;
          const e = ing.endpointOf[dst]!;
          eMasks.push(
            memo(egressMasks[l]!, p * portsets.length + g.portset, () =>
              toMasks(memo(egressRows[l]!, p, () => Int32Array.from({ length: eg.endpointCount }, (_, x) => eg.cell(x, p))), g.portset),
            ),
          );
          iMasks.push(
            memo(ingressMasks[l]!, e * portsets.length + g.portset, () =>
              toMasks(memo(ingressRows[l]!, e, () => Int32Array.from({ length: ing.peerCount }, (_, q) => ing.cell(e, q))), g.portset),
            ),
          );
        }
        allowed += g.size * sumOverSources(eMasks, iMasks, ports.length);
      } else {
        for (let s = 0; s < S; s++) allowed += mult[s]! * g.size * countIn(this.cellId(this.sourceReps[s]!, dst), g.portset);
      }
    }
    // Bare Pods reaching themselves: every evaluated port is allowed, whatever the tables say.
    for (let i = 0; i < n; i++) {
      const w = ws[i]!;
      if (!isSelfTraffic(w, w)) continue;
      const ports = listPorts(this.evaluatedFor(w));
      const c = this.interner.sets[this.cellId(i, i)]!;
      allowed += ports.filter(([proto, port]) => !c.contains(proto, port)).length;
    }
    return { pairs: n * n, evaluated: n * evaluated, allowed, classPairs: S * groups.length };
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

function listPorts(c: ConnSet): [Protocol, number][] {
  const out: [Protocol, number][] = [];
  for (const proto of PROTOCOLS) for (const [lo, hi] of c.portsOf(proto).intervals()) for (let p = lo; p <= hi; p++) out.push([proto, p]);
  return out;
}

function memo<V>(map: Map<number, V>, key: number, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** Indexes grouped by key, in compressed form: `sources[start[k]..start[k+1])` have key `k`. */
function bucket(keyOf: Int32Array, keys: number): { start: Int32Array; sources: Int32Array } {
  const start = new Int32Array(keys + 1);
  for (const k of keyOf) start[k + 1]! += 1;
  for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!;
  const fill = start.slice(0, keys);
  const sources = new Int32Array(keyOf.length);
  keyOf.forEach((k, s) => {
    sources[fill[k]!++] = s;
  });
  return { start, sources };
}

/** How many workloads have each key. */
function countKeys(keyOf: Int32Array, keys: number): Float64Array {
  const out = new Float64Array(keys);
  for (const k of keyOf) out[k]! += 1;
  return out;
}

function isUniform(a: Int32Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] !== a[0]) return false;
  return true;
}

/** Σ_k count[k] · popcount(masks[k] & other). */
function weightedPopcount(masks: Int32Array, other: number, count: Float64Array): number {
  let sum = 0;
  for (let k = 0; k < masks.length; k++) {
    const m = masks[k]! & other;
    if (m !== 0) sum += count[k]! * popcount(m);
  }
  return sum;
}

function popcount(m: number): number {
  m -= (m >>> 1) & 0x55555555;
  m = (m & 0x33333333) + ((m >>> 2) & 0x33333333);
  return (((m + (m >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
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
