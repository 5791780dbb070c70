/**
 * What the mesh changes in a connectivity matrix, with every workload reached the
 * way `reach` reaches a workload named without its address: through its Service
 * when one fronts the port, else directly:
 * mesh-to-mesh TCP travels as HBONE, so the CNI layers decide on TCP/15008 for
 * every application port at once (semantics.md §5.3 r7); and the destination's
 * PeerAuthentication and AuthorizationPolicy restrict TCP ports per client
 * identity. Workloads are grouped by what these depend on, so each check runs
 * once per (client identity, destination policy set), not per pair.
 *
 * A sidecar client forwards a connection its registry does not know (a pod port
 * no Service fronts, under ALLOW_ANY) as passthrough: plaintext on the
 * application port, no tunnel and no identity (§4.8). The ports it does that for
 * are decided per (client outbound class, destination outbound class), with the
 * sidecar's own decision on representatives. Gateways and ambient clients
 * always tunnel to ambient pods.
 *
 * Not in the matrix (see `reach` for them): a sidecar client's outbound denials
 * (REGISTRY_ONLY, scope), and waypoints, which serve Service traffic by default.
 */
import type { AuthorizationPolicy, PeerAuthentication } from "../layers/istio/authorization.js";
import { HBONE_PORT, type IstioMesh, type MeshMode } from "../layers/istio/index.js";
import type { Labels } from "../model/selector.js";
import type { Workload } from "../model/types.js";
import { envoyNamespaceMatches, envoyPrincipalMatches, envoyServiceAccountMatches, envoyTrustDomainMatches } from "../layers/istio/strings.js";
import type { EgressDestination } from "../layers/istio/sidecar-egress.js";
import { CONTROL_PLANE_PORTS, isControlPlaneConnection, serviceInFrontOf } from "../path/index.js";
import { authorizationAt, carriesIdentity, httpAttributes, meshEgressHop, peerAuthenticationAt, speaksHttpByName, usesHbone } from "../path/mesh.js";
import { resolveTargetPort, serviceBackends } from "../path/service.js";
import type { Service } from "../model/types.js";
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

/** Pod annotations that decide which outbound connections the sidecar captures (sidecar-egress.ts). */
const RANGE_ANNOTATIONS = ["traffic.sidecar.istio.io/excludeOutboundIPRanges", "traffic.sidecar.istio.io/includeOutboundIPRanges"];
const CAPTURE_ANNOTATIONS = ["traffic.sidecar.istio.io/excludeOutboundPorts", "traffic.sidecar.istio.io/includeOutboundPorts", ...RANGE_ANNOTATIONS];

const MODES: readonly MeshMode[] = ["none", "sidecar", "ambient", "gateway"];
export function meshModeIndex(mode: MeshMode): number {
  return MODES.indexOf(mode);
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
  /** Per destination key: the scenario seen through its policies only, and the ports they single out. */
  private readonly serverMesh: ServerView[];
  /** Admissions by destination key and what its policies can see of the client. */
  private readonly byView = new Map<string | number, ConnSet>();
  /** Per workload: what a sidecar client's outbound decision depends on (-1: not a sidecar client). */
  readonly egressClientKeyOf: Int32Array;
  /** Per workload: what a sidecar client's outbound decision towards it depends on (-1: no such decision matters). */
  readonly egressServerKeyOf: Int32Array;
  private readonly egressClientReps: number[] = [];
  private readonly egressServerReps: number[] = [];
  private readonly passthroughCells = new Map<number, ConnSet>();
  /** The Services that select each workload (in input order), for the outbound decision on it. */
  private readonly selecting = new Map<Workload, Service[]>();

  constructor(
    private readonly scenario: Scenario,
    private readonly mesh: IstioMesh,
    private readonly workloads: readonly Workload[],
  ) {
    this.modeOf = workloads.map((w) => mesh.membership(w).mode);
    const root = mesh.settings.rootNamespace;
    // Clients are told apart only by what some policy can see of them: the identity
    // patterns their principal matches, their namespace, data plane and (when a
    // policy looks at addresses) their address.
    const identity = identityTests(mesh.authorizationPolicies);
    const byAddress = mesh.authorizationPolicies.some(usesAddresses);
    const td = mesh.settings.trustDomain;
    this.clientKeyOf = intern(
      workloads.map((w, i) => {
        const sa = w.serviceAccount || "default";
        const principal = `${td}/ns/${w.namespace}/sa/${sa}`;
        const named = identity.principals.has(principal) || identity.serviceAccounts.has(`${w.namespace}/${sa}`) ? sa : "";
        const matched = identity.wildcards.map((p, k) => (p(principal) ? k : -1)).filter((k) => k >= 0);
        // A namespace no policy names looks like any other such namespace.
        const ns = identity.namespaces.has(w.namespace) ? w.namespace : "";
        return `${ns}|${this.modeOf[i]}|${named}|${matched.join(",")}|${byAddress ? w.ips.join(",") : ""}`;
      }),
      this.clientReps,
    );
    const selected: { authz: number[]; pa: number[] }[] = [];
    const authzIndex = new PolicyIndex(mesh.authorizationPolicies, root);
    const paIndex = new PolicyIndex(mesh.peerAuthentications, root);
    this.serverKeyOf = intern(
      workloads.map((w, i) => {
        // No proxy receives for a pod outside the mesh: its policies never apply.
        if (this.modeOf[i] === "none") {
          selected.push({ authz: [], pa: [] });
          return "none";
        }
        const authz = authzIndex.selecting(w);
        const pa = paIndex.selecting(w);
        selected.push({ authz, pa });
        // Declared ports matter only when their name makes the proxy read them as HTTP.
        const named = w.ports.filter((p) => speaksHttpByName(p.name, this.modeOf[i]!)).map((p) => p.port);
        // No namespace: a non-root policy set already belongs to one namespace, and root ones apply everywhere.
        return `${this.modeOf[i]}|${authz.join(",")}|${pa.join(",")}|${named.join(",")}`;
      }),
      this.serverReps,
    );
    // Each destination key is evaluated against its own policies only.
    this.serverMesh = this.serverReps.map((rep) => {
      const { authz, pa } = selected[rep]!;
      const identity = identityTests(authz.map((k) => mesh.authorizationPolicies[k]!));
      const byAddress = authz.some((k) => usesAddresses(mesh.authorizationPolicies[k]!));
      const view: IstioMesh = {
        ...mesh,
        authorizationPolicies: authz.map((k) => mesh.authorizationPolicies[k]!),
        peerAuthentications: pa.map((k) => mesh.peerAuthentications[k]!),
      };
      return {
        scenario: { ...scenario, mesh: view },
        ports: namedPorts(view, workloads[rep]!, this.modeOf[rep]!),
        identity,
        portLevelMtls: view.peerAuthentications.some((p) => p.portLevelMtls.size > 0),
        ...simpleView(identity, byAddress),
        byAddress,
      };
    });
    const keys = this.egressKeys();
    this.egressClientKeyOf = intern(keys.clients, this.egressClientReps);
    this.egressServerKeyOf = intern(keys.servers, this.egressServerReps);
    // Interned keys start at 0; "" stands for "no decision": map it to -1.
    const none = (keyOf: Int32Array, list: readonly string[]) => {
      const i = list.indexOf("");
      if (i < 0) return;
      const k = keyOf[i]!;
      for (let x = 0; x < keyOf.length; x++) if (keyOf[x] === k) keyOf[x] = -1;
    };
    none(this.egressClientKeyOf, keys.clients);
    none(this.egressServerKeyOf, keys.servers);
  }

  /**
   * What a sidecar client's outbound decision on a pod depends on (sidecar-egress.ts):
   * of the client, its Sidecar, its capture annotations and (when exportTo, Sidecars
   * or ServiceEntries can tell namespaces apart) its namespace; of the destination,
   * its data plane, the Services that select it and their ports, whether it is the
   * control plane, its HTTP-named ports, and (when a ServiceEntry or a capture range
   * could match it) its address.
   */
  private egressKeys(): { clients: string[]; servers: string[] } {
    const ws = this.workloads;
    const mesh = this.mesh;
    const sidecarClients = ws.some((_, i) => this.modeOf[i] === "sidecar");
    if (!sidecarClients) return { clients: ws.map(() => ""), servers: ws.map(() => "") };
    const byNamespace = mesh.sidecars.length > 0 || mesh.registry.entries.length > 0 || this.scenario.cluster.services.some((s) => !mesh.egress.serviceExportTo(s).includes("*"));
    const capture = (w: Workload) => CAPTURE_ANNOTATIONS.map((a) => w.annotations[a] ?? "").join("|");
    const ranges = ws.some((w, i) => this.modeOf[i] === "sidecar" && RANGE_ANNOTATIONS.some((a) => w.annotations[a] !== undefined));
    const byAddress = ranges || mesh.registry.entries.length > 0;
    const clients = ws.map((w, i) => {
      if (this.modeOf[i] !== "sidecar") return "";
      const sc = mesh.egress.selectSidecar(w).sidecar;
      return `c|${byNamespace ? w.namespace : ""}|${sc ? `${sc.namespace}/${sc.name}` : ""}|${capture(w)}`;
    });
    const inNamespace = new Map<string, { workloads: Workload[]; services: Service[] }>();
    const at = (ns: string) => {
      let e = inNamespace.get(ns);
      if (!e) inNamespace.set(ns, (e = { workloads: [], services: [] }));
      return e;
    };
    for (const w of ws) at(w.namespace).workloads.push(w);
    for (const s of this.scenario.cluster.services) at(s.namespace).services.push(s);
    for (const { workloads, services } of inNamespace.values()) {
      const view: Scenario = { ...this.scenario, cluster: { ...this.scenario.cluster, workloads, services } };
      for (const s of services) {
        for (const w of serviceBackends(view, s)) {
          const list = this.selecting.get(w) ?? [];
          list.push(s);
          this.selecting.set(w, list);
        }
      }
    }
    const servers = ws.map((w, i) => {
      const mode = this.modeOf[i]!;
      // Passthrough changes nothing for a pod outside the mesh: it gets plaintext on the application port anyway.
      if (mode === "none") return "";
      const selecting = this.selecting.get(w) ?? [];
      const headless = (s: Service) => (s.manifest.raw.spec as { clusterIP?: unknown } | undefined)?.clusterIP === "None";
      // Without Sidecars, ServiceEntries or a restricted exportTo, every Service is in every client's
      // scope: only which pod ports a Service fronts matters (and a headless Service's own ports).
      const services = byNamespace
        ? selecting.map((s) => `${s.id}:${headless(s) ? "h" : ""}:${s.ports.map((p) => `${p.protocol}/${p.port}>${resolveTargetPort(p, w) ?? ""}`).join(",")}`).sort()
        : [
            ...new Set(
              selecting.flatMap((s) => [
                ...s.ports.filter((p) => p.protocol === "TCP").map((p) => `>${resolveTargetPort(p, w) ?? ""}`),
                ...(headless(s) ? s.ports.map((p) => `h${p.protocol}/${p.port}`) : []),
              ]),
            ),
          ].sort();
      const http = w.ports.filter((p) => speaksHttpByName(p.name, mode)).map((p) => p.port);
      const cp = [...CONTROL_PLANE_PORTS].some((port) => isControlPlaneConnection(w, { protocol: "TCP", port }));
      return `s|${mode}|${byNamespace ? w.namespace : ""}|${byAddress ? w.ips.join(",") : ""}|${cp ? "cp" : ""}|${http.join(",")}|${services.join(";")}`;
    });
    return { clients, servers };
  }

  /** The scenario as one destination's outbound decision sees it: the Services that select it, and itself as the only workload. */
  private serviceView(w: Workload): Scenario {
    return { ...this.scenario, cluster: { ...this.scenario.cluster, services: this.selecting.get(w) ?? [], workloads: [w] } };
  }

  /**
   * The TCP ports on which `src`'s sidecar forwards a connection to `dst` as
   * passthrough (plaintext, application port, no identity): what `reach` decides
   * for the pod named without its address (traceFlow, step 1).
   */
  passthrough(src: number, dst: number): ConnSet {
    const c = this.egressClientKeyOf[src]!;
    const s = this.egressServerKeyOf[dst]!;
    if (c < 0 || s < 0) return ConnSet.none();
    const k = c * 0x100000 + s;
    let out = this.passthroughCells.get(k);
    if (!out) {
      out = this.computePassthrough(this.workloads[this.egressClientReps[c]!]!, this.workloads[this.egressServerReps[s]!]!, this.modeOf[this.egressServerReps[s]!]!);
      this.passthroughCells.set(k, out);
    }
    return out;
  }

  /** The decision on every port the outbound control singles out, and on one stand-in for the others. */
  private computePassthrough(src: Workload, dst: Workload, dstMode: MeshMode): ConnSet {
    const mesh = this.mesh;
    const view = this.serviceView(dst);
    const named = new Set<number>(CONTROL_PLANE_PORTS);
    const add = (v: number | string | undefined) => {
      const n = Number(v);
      if (v !== undefined && v !== "" && Number.isInteger(n) && n >= MIN_PORT && n <= MAX_PORT) named.add(n);
    };
    for (const p of dst.ports) add(p.port);
    for (const s of view.cluster.services) {
      for (const p of s.ports) {
        add(p.port);
        add(resolveTargetPort(p, dst));
      }
    }
    for (const e of mesh.registry.entries) for (const p of e.ports) add(p.number);
    for (const sc of mesh.sidecars) for (const l of sc.egress) add(l.port?.number);
    for (const a of CAPTURE_ANNOTATIONS) for (const v of (src.annotations[a] ?? "").split(",")) add(v.trim());
    let standIn = MIN_PORT;
    while (named.has(standIn) && standIn < MAX_PORT) standIn++;
    const sends = (port: number): boolean => {
      const conn = { protocol: "TCP" as const, port };
      if (isControlPlaneConnection(dst, conn)) return false;
      const via = serviceInFrontOf(view, dst, conn);
      const ip = dst.ips[0];
      const destination: EgressDestination = via
        ? { kind: "service", service: via.service, port: via.port.port }
        : { kind: "workload", workload: dst, ...(ip ? { ip } : {}), port };
      const http = httpAttributes(undefined, undefined, undefined, dst, dstMode, port, []) !== undefined;
      const wire = { srcIP: null, dstIP: null, port, protocol: "TCP" as const };
      return meshEgressHop(mesh, src, destination, "TCP", wire, http, [])?.passthrough ?? false;
    };
    let out = sends(standIn) ? ALL_TCP : ConnSet.none();
    for (const p of named) {
      const one = ConnSet.ports("TCP", p);
      out = sends(p) ? out.union(one) : out.subtract(one);
    }
    return out;
  }

  get clientCount(): number {
    return this.clientReps.length;
  }

  /** Whether the pair's TCP travels as HBONE. */
  tunnelled(src: number, dst: number): boolean {
    return usesHbone(this.modeOf[src]!, this.modeOf[dst]!, "TCP");
  }

  /**
   * What the destination's proxy admits from the client (UDP and SCTP are never
   * captured); `plaintext`: as a connection without identity (a sidecar's passthrough).
   */
  admits(src: number, dst: number, plaintext = false): ConnSet {
    const c = this.clientKeyOf[src]!;
    const s = this.serverKeyOf[dst]!;
    const k = (c * 0x100000 + s) * 2 + (plaintext ? 1 : 0);
    let out = this.cells.get(k);
    if (!out) {
      const src = this.workloads[this.clientReps[c]!]!;
      const server = this.serverMesh[s]!;
      const mtls = !plaintext && carriesIdentity(this.modeOf[this.clientReps[c]!]!, this.modeOf[this.serverReps[s]!]!, "TCP");
      // Most destinations look only at namespaces: then the view is a small number.
      const simple = server.simple ? (mtls ? 2 + (server.namespaceIndex.get(src.namespace) ?? -1) + 1 : 0) : -1;
      const view = simple >= 0 ? s * 0x10000 + simple : `${s}|${clientView(src, mtls, server, this.mesh.settings.trustDomain)}`;
      out = this.byView.get(view);
      if (!out) {
        out = this.compute(src, this.workloads[this.serverReps[s]!]!, server, mtls);
        this.byView.set(view, out);
      }
      this.cells.set(k, out);
    }
    return out;
  }

  /**
   * Policies compare ports by equality, so every port they do not name behaves
   * like any other such port: evaluate the named ones and one stand-in.
   */
  private compute(src: Workload, dst: Workload, server: ServerView, mtls: boolean): ConnSet {
    const dstMode = this.mesh.membership(dst).mode;
    if (dstMode === "none") return ConnSet.all();
    const named = server.ports;
    let standIn = MIN_PORT;
    while (named.has(standIn) && standIn < MAX_PORT) standIn++;
    const peer = { workload: src, ip: src.ips[0], mtls };
    const mesh = server.scenario.mesh!;
    const dstIP = dst.ips[0] ?? null;
    // PeerAuthentication first; without port-level modes it decides every port at once.
    const paOnce = server.portLevelMtls ? null : peerAuthenticationAt(mesh, dst, dstMode, standIn, peer.mtls);
    if (paOnce && paOnce.verdict === "deny") return NOT_TCP;
    const allows = (port: number): boolean => {
      const pa = paOnce ?? peerAuthenticationAt(mesh, dst, dstMode, port, peer.mtls);
      if (pa && pa.verdict === "deny") return false;
      const http = httpAttributes(undefined, undefined, undefined, dst, dstMode, port, []);
      return authorizationAt(mesh, dst, dstMode, { ...peer, mtls: pa ? pa.connectionMtls : peer.mtls }, port, http, dstIP).verdict === "allow";
    };
    const standInAllowed = allows(standIn);
    let tcp = standInAllowed ? ALL_TCP : ConnSet.none();
    for (const p of named) {
      const one = ConnSet.ports("TCP", p);
      tcp = allows(p) ? tcp.union(one) : tcp.subtract(one);
    }
    return tcp.union(NOT_TCP);
  }
}

interface ServerView {
  scenario: Scenario;
  /** The policies test nothing of a client but its namespace (by exact name). */
  simple: boolean;
  /** For a simple view: the namespaces the policies name, numbered. */
  namespaceIndex: Map<string, number>;
  ports: Set<number>;
  /** Whether a PeerAuthentication of the destination sets a mode per port. */
  portLevelMtls: boolean;
  identity: ReturnType<typeof identityTests>;
  byAddress: boolean;
}

function simpleView(identity: ReturnType<typeof identityTests>, byAddress: boolean): { simple: boolean; namespaceIndex: Map<string, number> } {
  const simple = !byAddress && identity.principals.size === 0 && identity.serviceAccounts.size === 0 && identity.wildcards.length === 0 && identity.namespaces.size < 0x7ff0;
  return { simple, namespaceIndex: new Map([...identity.namespaces].map((ns, i) => [ns, i])) };
}

/** What a destination's policies can see of a client: whether it has an identity, and the identity tests it passes. */
function clientView(w: Workload, mtls: boolean, server: ServerView, trustDomain: string): string {
  const address = server.byAddress ? w.ips.join(",") : "";
  // Without mTLS the proxy sees no identity at all: only the address can matter.
  if (!mtls) return `plain|${address}`;
  const sa = w.serviceAccount || "default";
  const principal = `${trustDomain}/ns/${w.namespace}/sa/${sa}`;
  const id = server.identity;
  const ns = id.namespaces.has(w.namespace) ? w.namespace : "";
  const named = id.principals.has(principal) || id.serviceAccounts.has(`${w.namespace}/${sa}`) ? principal : "";
  let wild = "";
  id.wildcards.forEach((test, k) => {
    if (test(principal)) wild += `${k},`;
  });
  return `mtls|${ns}|${named}|${wild}|${address}`;
}

/**
 * What policies can see of a client's identity. Patterns without `*` compare the
 * namespace (already part of the client key), the whole principal, or the
 * namespace and service account: sets answer them. Only wildcard patterns need
 * evaluating per client.
 */
function identityTests(policies: readonly AuthorizationPolicy[]): {
  namespaces: Set<string>;
  principals: Set<string>;
  serviceAccounts: Set<string>;
  wildcards: ((principal: string) => boolean)[];
} {
  const namespaces = new Set<string>();
  const principals = new Set<string>();
  const serviceAccounts = new Set<string>();
  const wildcards = new Map<string, (principal: string) => boolean>();
  const principal = (v: string) => {
    if (v.includes("*")) wildcards.set(`p:${v}`, (x) => envoyPrincipalMatches(v, x));
    else principals.add(v);
  };
  const namespace = (v: string) => {
    if (v.includes("*")) wildcards.set(`n:${v}`, (x) => envoyNamespaceMatches(v, x));
    else namespaces.add(v);
  };
  const serviceAccount = (v: string, policyNamespace: string) => {
    if (v.includes("*")) wildcards.set(`s:${policyNamespace}:${v}`, (x) => envoyServiceAccountMatches(v, policyNamespace, x));
    else serviceAccounts.add(v.includes("/") ? v : `${policyNamespace}/${v}`);
  };
  for (const p of policies) {
    for (const r of p.rules) {
      for (const f of r.from ?? []) {
        const src = f.source;
        for (const v of [...src.principals, ...src.notPrincipals]) principal(v);
        for (const v of [...src.namespaces, ...src.notNamespaces]) namespace(v);
        for (const v of [...src.serviceAccounts, ...src.notServiceAccounts]) serviceAccount(v, p.namespace);
        for (const v of [...src.trustDomains, ...src.notTrustDomains]) wildcards.set(`t:${v}`, (x) => envoyTrustDomainMatches(v, x));
      }
      for (const c of r.when) {
        for (const v of [...c.values, ...c.notValues]) {
          if (c.key === "source.principal") principal(v);
          else if (c.key === "source.namespace") namespace(v);
          else if (c.key === "source.serviceAccount") serviceAccount(v, p.namespace);
        }
      }
    }
  }
  return { namespaces, principals, serviceAccounts, wildcards: [...wildcards.values()] };
}

/** Whether a policy looks at the client's address. */
function usesAddresses(p: AuthorizationPolicy): boolean {
  return p.rules.some(
    (r) =>
      (r.from ?? []).some((f) => f.source.ipBlocks.length + f.source.notIpBlocks.length + f.source.remoteIpBlocks.length + f.source.notRemoteIpBlocks.length > 0) ||
      r.when.some((c) => c.key === "source.ip" || c.key === "remote.ip"),
  );
}

/** Policies by namespace, to find those whose namespace and selector take a workload (targetRefs ones never do). */
class PolicyIndex {
  private readonly byNamespace = new Map<string, number[]>();

  constructor(
    private readonly policies: readonly (AuthorizationPolicy | PeerAuthentication)[],
    private readonly root: string,
  ) {
    policies.forEach((p, i) => {
      if ("targetRefs" in p && p.targetRefs.length > 0) return;
      const list = this.byNamespace.get(p.namespace) ?? [];
      list.push(i);
      this.byNamespace.set(p.namespace, list);
    });
  }

  /** Indexes, ascending. */
  selecting(w: Workload): number[] {
    const candidates = [...(this.byNamespace.get(this.root) ?? []), ...(w.namespace === this.root ? [] : (this.byNamespace.get(w.namespace) ?? []))];
    return candidates
      .filter((i) => {
        const sel = this.policies[i]!.selector;
        return !sel || subset(sel, w.labels);
      })
      .sort((a, b) => a - b);
  }
}

function subset(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Ports the destination's policies or its named container ports single out. */
function namedPorts(mesh: IstioMesh, dst: Workload, mode: MeshMode): Set<number> {
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
  for (const cp of dst.ports) if (speaksHttpByName(cp.name, mode)) out.add(cp.port);
  return out;
}
