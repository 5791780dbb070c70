/**
 * What the mesh changes in a connectivity matrix (pods addressed directly):
 * mesh-to-mesh TCP travels as HBONE, so the CNI layers decide on TCP/15008 for
 * every application port at once (semantics.md §5.3 r7); and the destination's
 * PeerAuthentication and AuthorizationPolicy restrict TCP ports per client
 * identity. Workloads are grouped by what these depend on, so each check runs
 * once per (client identity, destination policy set), not per pair.
 *
 * Not in the matrix (see `reach` for them): a sidecar client's outbound control,
 * which concerns Service and external hosts rather than pod addresses, and
 * waypoints, which serve Service traffic by default.
 */
import type { AuthorizationPolicy, PeerAuthentication } from "../layers/istio/authorization.js";
import { HBONE_PORT, type IstioMesh, type MeshMode } from "../layers/istio/index.js";
import type { Labels } from "../model/selector.js";
import type { Workload } from "../model/types.js";
import { carriesIdentity, destinationMeshHops, httpAttributes, usesHbone } from "../path/mesh.js";
import { ConnSet, MAX_PORT, MIN_PORT } from "../sets/index.js";
import { intern } from "./intern.js";
import type { Scenario } from "./scenario.js";

const ALL_TCP = ConnSet.protocol("TCP");
const NOT_TCP = ConnSet.all().subtract(ALL_TCP);

/** CNI allowances of a pair whose TCP is tunnelled: every TCP port iff TCP/15008 passes. */
export function throughHbone(c: ConnSet): ConnSet {
  const rest = c.intersect(NOT_TCP);
  return c.contains("TCP", HBONE_PORT) ? rest.union(ALL_TCP) : rest;
}

export class MeshMatrix {
  readonly modeOf: MeshMode[];
  /** Client identity key per workload: namespace, service account, data plane, address. */
  readonly clientKeyOf: Int32Array;
  /** Destination key per workload: data plane, namespace, the mesh policies that select it. */
  readonly serverKeyOf: Int32Array;
  private readonly clientReps: number[] = [];
  private readonly serverReps: number[] = [];
  private readonly cells = new Map<number, ConnSet>();

  constructor(
    private readonly scenario: Scenario,
    private readonly mesh: IstioMesh,
    private readonly workloads: readonly Workload[],
  ) {
    this.modeOf = workloads.map((w) => mesh.membership(w).mode);
    const root = mesh.settings.rootNamespace;
    this.clientKeyOf = intern(
      workloads.map((w, i) => `${w.namespace}|${w.serviceAccount}|${this.modeOf[i]}|${w.ips.join(",")}`),
      this.clientReps,
    );
    this.serverKeyOf = intern(
      workloads.map((w, i) => {
        const authz = selecting(mesh.authorizationPolicies, w, root);
        const pa = selecting(mesh.peerAuthentications, w, root);
        const named = w.ports.filter((p) => p.name).map((p) => `${p.name}=${p.port}`);
        return `${this.modeOf[i]}|${w.namespace}|${authz.join(",")}|${pa.join(",")}|${named.join(",")}`;
      }),
      this.serverReps,
    );
  }

  /** Whether the pair's TCP travels as HBONE. */
  tunnelled(src: number, dst: number): boolean {
    return usesHbone(this.modeOf[src]!, this.modeOf[dst]!, "TCP");
  }

  /** What the destination's proxy admits from the client (UDP and SCTP are never captured). */
  admits(src: number, dst: number): ConnSet {
    const c = this.clientKeyOf[src]!;
    const s = this.serverKeyOf[dst]!;
    const k = c * 0x100000 + s;
    let out = this.cells.get(k);
    if (!out) {
      out = this.compute(this.workloads[this.clientReps[c]!]!, this.workloads[this.serverReps[s]!]!);
      this.cells.set(k, out);
    }
    return out;
  }

  /**
   * Policies compare ports by equality, so every port they do not name behaves
   * like any other such port: evaluate the named ones and one stand-in.
   */
  private compute(src: Workload, dst: Workload): ConnSet {
    const srcMode = this.mesh.membership(src).mode;
    const dstMode = this.mesh.membership(dst).mode;
    if (dstMode === "none") return ConnSet.all();
    const named = namedPorts(this.mesh, dst);
    let standIn = MIN_PORT;
    while (named.has(standIn) && standIn < MAX_PORT) standIn++;
    const allows = (port: number): boolean => {
      const peer = { workload: src, ip: src.ips[0], mtls: carriesIdentity(srcMode, dstMode, "TCP") };
      const http = httpAttributes(undefined, undefined, undefined, dst, dstMode, port, []);
      const wire = { srcIP: src.ips[0] ?? null, dstIP: dst.ips[0] ?? null, port, protocol: "TCP" as const };
      return destinationMeshHops(this.scenario, dst, dstMode, peer, port, "TCP", http, wire, []).every((h) => h.verdict === "allow");
    };
    let tcp = allows(standIn) ? ALL_TCP : ConnSet.none();
    for (const p of named) {
      const one = ConnSet.ports("TCP", p);
      tcp = allows(p) ? tcp.union(one) : tcp.subtract(one);
    }
    return tcp.union(NOT_TCP);
  }
}

/** Indexes of the policies whose namespace and selector take the workload (targetRefs ones never do). */
function selecting(policies: readonly (AuthorizationPolicy | PeerAuthentication)[], w: Workload, root: string): number[] {
  const out: number[] = [];
  policies.forEach((p, i) => {
    if ("targetRefs" in p && p.targetRefs.length > 0) return;
    if (p.namespace !== w.namespace && p.namespace !== root) return;
    if (p.selector && !subset(p.selector, w.labels)) return;
    out.push(i);
  });
  return out;
}

function subset(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Ports the destination's policies or its named container ports single out. */
function namedPorts(mesh: IstioMesh, dst: Workload): Set<number> {
  const out = new Set<number>();
  const add = (v: string) => {
    const n = Number(v);
    if (Number.isInteger(n) && n >= MIN_PORT && n <= MAX_PORT) out.add(n);
  };
  for (const p of mesh.authorizationPolicies) {
    for (const r of p.rules) {
      for (const to of r.to ?? []) for (const v of [...to.operation.ports, ...to.operation.notPorts]) add(v);
      for (const c of r.when) if (c.key === "destination.port") for (const v of [...c.values, ...c.notValues]) add(v);
    }
  }
  for (const pa of mesh.peerAuthentications) for (const port of pa.portLevelMtls.keys()) out.add(port);
  for (const cp of dst.ports) out.add(cp.port);
  return out;
}
