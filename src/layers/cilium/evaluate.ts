import { ciliumAllowsLocalhost, type ClusterProfile } from "../../model/profile.js";
import type { Cluster, Workload } from "../../model/types.js";
import { ConnSet, IPSet, parseIP } from "../../sets/index.js";
import type { CniLayer, Decision, Direction, ExternalAllowance, LayerId, Peer, PolicyRef, RoleKeys, WireConn } from "../types.js";
import {
  CLUSTER_LABEL,
  entityMatches,
  Identity,
  IdentitySelector,
  NAMESPACE_LABELS_PREFIX,
  POD_NAMESPACE_LABEL,
  SERVICE_ACCOUNT_LABEL,
} from "./labels.js";
import { SafeRegex } from "./re2.js";
import type { CiliumPolicy, CiliumPortRule, CiliumRule, CiliumSpec, HttpRule, L7Rules, PeerPart } from "./scan.js";

/** HTTP attributes of a request, for L7 rules (`reach --method/--path/--host`). */
export interface L7Request {
  method?: string;
  path?: string;
  host?: string;
  headers?: Readonly<Record<string, string>>;
}

/** The policy APIs a Cilium endpoint's direction can be isolated by, as `blockedBy.layer` names them. */
export type CiliumApi = "networkpolicy" | "cilium";

export interface CiliumDecision extends Decision {
  /** The API that isolates the endpoint in this direction: `cilium` when any CNP/CCNP takes part (design.md contract). */
  layer: CiliumApi;
  /** What the client sees on a denial: a silent drop, or Envoy's 403 for an L7 rule (§3.9 r44). */
  observed?: "timeout" | "http-403";
}

/** How an endpoint's peer looks to Cilium: its identity labels, and an address CIDR rules may see. */
export interface PeerView {
  identity: Identity;
  /** Address a CIDR rule can match (outside addresses; node addresses in `nodes` mode). */
  cidrIPs: readonly string[];
  /** The local host (kubelet probes, host-network pods on the endpoint's node). */
  localHost: boolean;
  /** The workload behind the peer, for named ports on egress. */
  workload: Workload | undefined;
  text: string;
}

interface WorkloadFacts {
  /** Specs selecting it that have something to say in each direction. */
  selectedBy: Record<Direction, number[]>;
  /** Which API owns each direction (see `CiliumApi`). */
  owner: Record<Direction, CiliumApi>;
  /** Ids of the peer parts (per direction of the rules they are in) that match it as a pod peer. */
  memberIn: Record<Direction, number[]>;
  /** The same ids, both directions, for lookups. */
  memberSet: ReadonlySet<number>;
}

const WORLD_V4 = new Identity([
  ["reserved", "world", ""],
  ["reserved", "world-ipv4", ""],
]);
const WORLD_V6 = new Identity([
  ["reserved", "world", ""],
  ["reserved", "world-ipv6", ""],
]);
const HOST = new Identity([["reserved", "host", ""]]);
const REMOTE_NODE = new Identity([["reserved", "remote-node", ""]]);

const kindShort = (kind: string): string => (kind === "CiliumNetworkPolicy" ? "CNP" : kind === "CiliumClusterwideNetworkPolicy" ? "CCNP" : "NetworkPolicy");

/**
 * Cilium's policy engine (semantics.md §3.12): per endpoint and direction, the
 * union of the rules of every CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy
 * and Kubernetes NetworkPolicy that selects it, with deny rules taking
 * precedence over every allow, entities, CIDR rules that never see pods,
 * ports after Service translation, and L7 rules.
 *
 * Selection and pod-peer membership are computed once per distinct identity
 * (pods with equal labels, namespace and service account share one), so a
 * matrix costs table lookups, not selector runs.
 */
export class CiliumEngine {
  readonly specs: readonly CiliumSpec[];
  private readonly facts = new Map<Workload, WorkloadFacts>();
  private readonly identities = new Map<Workload, Identity>();
  /** Every distinct peer part, by id; `partId` maps each part object to its id. */
  private readonly partId = new Map<PeerPart, number>();
  private readonly partSelectors: (IdentitySelector[] | undefined)[] = [];
  private readonly portNames: Record<Direction, Set<string>> = { ingress: new Set(), egress: new Set() };
  private readonly portNamesMemo = new Map<string, Set<string>>();
  private readonly anyHostNetwork: boolean;
  private readonly kubeApiserverIPs: IPSet;
  /** The agent options the engine applies. */
  readonly switches: ClusterProfile["cilium"];

  constructor(
    readonly policies: readonly CiliumPolicy[],
    private readonly cluster: Cluster,
    private readonly profile: ClusterProfile,
  ) {
    this.switches = profile.cilium;
    this.specs = policies.flatMap((p) => p.specs);
    this.anyHostNetwork = cluster.workloads.some((w) => w.hostNetwork);
    this.kubeApiserverIPs = profile.cilium.kubeApiserverIPs.reduce((s, ip) => (parseIP(ip) ? s.union(IPSet.fromIP(ip)) : s), IPSet.none());

    // Distinct peer parts: equal parts share an id (and a membership computation).
    const keys = new Map<string, number>();
    const partDirections: Set<Direction>[] = [];
    for (const spec of this.specs) {
      for (const rule of spec.rules) {
        for (const pr of rule.ports ?? []) for (const p of pr.ports) if (typeof p.port === "string") this.portNames[rule.direction].add(p.port);
        for (const part of rule.peers) {
          const k = this.partKey(part);
          let id = keys.get(k);
          if (id === undefined) {
            id = this.partSelectors.length;
            keys.set(k, id);
            this.partSelectors.push(this.selectorsOf(part));
            partDirections.push(new Set());
          }
          partDirections[id]!.add(rule.direction);
          this.partId.set(part, id);
        }
      }
    }

    // Selection and membership, once per distinct identity. Most selectors name their
    // namespace (Cilium's implicit scoping), so each is matched against that namespace's
    // identities only.
    type Shared = { selectedBy: Record<Direction, number[]>; memberIn: Record<Direction, number[]> };
    const byIdentity = new Map<string, Shared>();
    const reps: { w: Workload; id: Identity; shared: Shared }[] = [];
    const repsByNamespace = new Map<string, number[]>();
    const keyOf = new Map<Workload, string>();
    for (const w of cluster.workloads) {
      const id = this.podIdentity(w);
      this.identities.set(w, id);
      const k = `${w.hostNetwork ? "hn" : "pod"}|${id}`;
      keyOf.set(w, k);
      if (byIdentity.has(k)) continue;
      const shared: Shared = { selectedBy: { ingress: [], egress: [] }, memberIn: { ingress: [], egress: [] } };
      byIdentity.set(k, shared);
      repsByNamespace.set(w.namespace, [...(repsByNamespace.get(w.namespace) ?? []), reps.length]);
      reps.push({ w, id, shared });
    }
    const allReps = reps.map((_, i) => i);
    const candidates = (selectors: readonly IdentitySelector[]): number[] => {
      const namespaces = new Set<string>();
      for (const sel of selectors) {
        const ns = namespacesOf(sel);
        if (!ns) return allReps;
        for (const n of ns) namespaces.add(n);
      }
      return [...namespaces].flatMap((n) => repsByNamespace.get(n) ?? []).sort((a, b) => a - b);
    };
    this.specs.forEach((spec, si) => {
      const pool = spec.subject.type === "endpoints" ? candidates([spec.subject.selector]) : allReps;
      for (const r of pool) {
        const { w, id, shared } = reps[r]!;
        if (!this.subjectSelects(spec, w, id)) continue;
        for (const d of ["ingress", "egress"] as const) if (spec.hasRules[d] || spec.defaultDeny[d]) shared.selectedBy[d].push(si);
      }
    });
    this.partSelectors.forEach((sels, pid) => {
      if (!sels) return;
      for (const r of candidates(sels)) {
        const { w, id, shared } = reps[r]!;
        if (w.hostNetwork || !sels.some((s) => s.matches(id))) continue;
        for (const d of partDirections[pid]!) shared.memberIn[d].push(pid);
      }
    });
    const memberSets = new Map<Shared, Set<number>>();
    for (const w of cluster.workloads) {
      const shared = byIdentity.get(keyOf.get(w)!)!;
      const owner = (d: Direction): CiliumApi =>
        (this.switches.policyEnforcementMode === "always" && this.applies(w)) || shared!.selectedBy[d].some((si) => this.specs[si]!.policy.kind !== "NetworkPolicy")
          ? "cilium"
          : "networkpolicy";
      let memberSet = memberSets.get(shared);
      if (!memberSet) {
        memberSet = new Set([...shared.memberIn.ingress, ...shared.memberIn.egress]);
        memberSets.set(shared, memberSet);
      }
      this.facts.set(w, { selectedBy: shared.selectedBy, memberIn: shared.memberIn, memberSet, owner: { ingress: owner("ingress"), egress: owner("egress") } });
    }
  }

  get hasCiliumPolicies(): boolean {
    return this.policies.some((p) => p.kind !== "NetworkPolicy");
  }

  /** Identity labels of a pod (§3.3 r18): its labels, namespace, service account, cluster, namespace labels. */
  private podIdentity(w: Workload): Identity {
    if (w.hostNetwork) return this.isApiserver(w) ? new Identity([["reserved", "host", ""], ["reserved", "kube-apiserver", ""]]) : HOST;
    const labels: [string, string, string][] = Object.entries(w.labels).map(([k, v]) => ["k8s", k, v]);
    labels.push(["k8s", POD_NAMESPACE_LABEL, w.namespace]);
    labels.push(["k8s", SERVICE_ACCOUNT_LABEL, w.serviceAccount]);
    labels.push(["k8s", CLUSTER_LABEL, this.switches.clusterName]);
    for (const [k, v] of Object.entries(this.cluster.namespaces.get(w.namespace)?.labels ?? {})) labels.push(["k8s", `${NAMESPACE_LABELS_PREFIX}${k}`, v]);
    return new Identity(labels);
  }

  /** A static kube-apiserver pod runs in the host network and carries the `kube-apiserver` identity. */
  private isApiserver(w: Workload): boolean {
    return w.hostNetwork && w.namespace === "kube-system" && (w.labels["component"] === "kube-apiserver" || w.name.startsWith("kube-apiserver"));
  }

  /** Whether Cilium enforces policy on this workload at all (pod endpoints; host-network pods only under the host firewall). */
  applies(w: Workload): boolean {
    return !w.hostNetwork || this.switches.hostFirewall;
  }

  private subjectSelects(spec: CiliumSpec, w: Workload, id: Identity): boolean {
    if (spec.subject.type === "endpoints") return !w.hostNetwork && spec.subject.selector.matches(id);
    // Host policies: the input gives no node labels, so only selectors every node satisfies match.
    return w.hostNetwork && this.switches.hostFirewall && spec.subject.selector.matches(new Identity([]));
  }

  private partKey(part: PeerPart): string {
    switch (part.type) {
      case "all":
        return "all";
      case "selector":
      case "node":
        return `${part.type}:${part.selector}`;
      case "entity":
        return `entity:${part.entity}`;
      case "cidr":
        return `cidr:${part.ips.toRanges().join(",")}`;
      case "service":
        return `svc:${(this.selectorsOf(part) ?? []).map(String).join("|")}`;
      case "fqdn":
      case "unresolved":
        return `${part.type}:${part.text}`;
    }
  }

  /** The identity selectors a part amounts to for pods; undefined when pods never match it. */
  private selectorsOf(part: PeerPart): IdentitySelector[] | undefined {
    switch (part.type) {
      case "all":
        return [IdentitySelector.everything];
      case "selector":
        return [part.selector];
      case "entity":
        return part.entity === "all" || part.entity === "cluster" ? [IdentitySelector.everything] : undefined;
      case "service":
        return this.serviceSelectors(part);
      default:
        return undefined;
    }
  }

  /** toServices (§3.7): each matching Service's pod selector, in its namespace. */
  private serviceSelectors(part: Extract<PeerPart, { type: "service" }>): IdentitySelector[] {
    if (this.switches.toServicesScope === "endpoints") return [];
    const out: IdentitySelector[] = [];
    for (const svc of this.cluster.services) {
      if (part.namespace !== undefined && svc.namespace !== part.namespace) continue;
      if (part.name !== undefined ? svc.name !== part.name : !part.selector!.matches(labelsOf(svc.manifest.raw))) continue;
      if (!svc.selector) continue; // Endpoints turned into CIDRs, which never select pods.
      out.push(IdentitySelector.fromLabels(svc.selector).and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "In", values: [svc.namespace] }));
    }
    return out;
  }

  factsOf(w: Workload): WorkloadFacts {
    const f = this.facts.get(w);
    if (!f) throw new Error(`workload ${w.id} is not part of the cluster this layer was built for`);
    return f;
  }

  owner(w: Workload, d: Direction): CiliumApi {
    return this.factsOf(w).owner[d];
  }

  /** Whether the endpoint is in default deny in this direction. */
  defaultDeny(w: Workload, d: Direction): boolean {
    if (!this.applies(w) || this.switches.policyEnforcementMode === "never") return false;
    if (this.switches.policyEnforcementMode === "always") return true;
    return this.factsOf(w).selectedBy[d].some((si) => this.specs[si]!.defaultDeny[d]);
  }

  isolates(w: Workload, d: Direction): boolean {
    if (!this.applies(w) || this.switches.policyEnforcementMode === "never") return false;
    return this.switches.policyEnforcementMode === "always" || this.factsOf(w).selectedBy[d].length > 0;
  }

  isolatingPolicies(w: Workload, d: Direction): PolicyRef[] {
    if (!this.isolates(w, d)) return [];
    return dedupe(this.factsOf(w).selectedBy[d].map((si) => policyRef(this.specs[si]!.policy)));
  }

  // -------------------------------------------------------------------------
  // Peers

  /** What the engine knows of `peer` as seen from `endpoint`: its identity, addresses, entities. */
  view(endpoint: Workload, peer: Peer): PeerView {
    const nodes = this.switches.policyCidrMatchMode === "nodes";
    switch (peer.kind) {
      case "workload": {
        const w = peer.workload;
        if (!w.hostNetwork) return { identity: this.identities.get(w) ?? this.podIdentity(w), cidrIPs: [], localHost: false, workload: w, text: w.id };
        const local = sharesNode(w, endpoint);
        const base = local ? HOST : REMOTE_NODE;
        const identity = this.isApiserver(w) ? withApiserver(base) : base;
        return { identity, cidrIPs: nodes ? w.hostIPs : [], localHost: local, workload: w, text: `${w.id} (host network, ${local ? "host" : "remote-node"})` };
      }
      case "node":
        return {
          identity: peer.local ? HOST : REMOTE_NODE,
          cidrIPs: nodes && peer.ip ? [peer.ip] : [],
          localHost: peer.local,
          workload: undefined,
          text: peer.local ? "the local node (host)" : `node ${peer.ip ?? "(address unknown)"} (remote-node)`,
        };
      case "external":
        return { identity: this.externalIdentity(peer.ip), cidrIPs: [peer.ip], localHost: false, workload: undefined, text: `${peer.ip} (world)` };
    }
  }

  /** An address outside the cluster: `world` (per family), plus `kube-apiserver` for the profile's API server addresses. */
  private externalIdentity(ip: string): Identity {
    const base = parseIP(ip)?.family === 6 ? WORLD_V6 : WORLD_V4;
    return this.kubeApiserverIPs.contains(ip) ? withApiserver(base) : base;
  }

  private partMatches(part: PeerPart, v: PeerView): boolean {
    switch (part.type) {
      case "all":
        return true;
      case "selector": {
        // A pod peer with its own identity: membership was computed once, up front.
        const pid = this.partId.get(part);
        if (pid !== undefined && v.workload && !v.workload.hostNetwork && v.identity === this.identities.get(v.workload)) {
          return this.factsOf(v.workload).memberSet.has(pid);
        }
        return part.selector.matches(v.identity);
      }
      case "node":
        return part.selector.matches(v.identity);
      case "entity":
        return entityMatches(part.entity, v.identity, this.switches.clusterName);
      case "cidr":
        return v.cidrIPs.some((ip) => part.ips.contains(ip));
      case "service": {
        if (!v.workload || v.workload.hostNetwork) return false;
        const pid = this.partId.get(part);
        const sels = pid === undefined ? this.serviceSelectors(part) : this.partSelectors[pid]!;
        return sels.some((s) => s.matches(v.identity));
      }
      case "fqdn":
      case "unresolved":
        return false;
    }
  }

  /** Whether one rule's peer parts match the peer, ports aside. Public for rule-level analyses (redundancy). */
  ruleMatchesPeer(rule: CiliumRule, v: PeerView): boolean {
    return rule.peers.some((p) => this.partMatches(p, v));
  }

  // -------------------------------------------------------------------------
  // Ports

  /** The connections a rule covers towards `dest` (named ports resolved on it, §3.8 r35). */
  ruleConns(rule: CiliumRule, dest: Workload | undefined): ConnSet {
    if (rule.icmpOnly) return ConnSet.none();
    if (!rule.ports) return ConnSet.all();
    let out = ConnSet.none();
    for (const pr of rule.ports) out = out.union(portRuleConns(pr, dest));
    return out;
  }

  // -------------------------------------------------------------------------
  // Evaluation

  evaluate(endpoint: Workload, direction: Direction, peer: Peer, conn: WireConn, http?: L7Request): CiliumDecision {
    const f = this.factsOf(endpoint);
    const layer = f.owner[direction];
    const allow = (reason: string, policies: PolicyRef[] = [], isolated = false): CiliumDecision => ({ verdict: "allow", isolated, policies, reason, misses: [], layer });
    if (!this.applies(endpoint)) {
      return allow(`${endpoint.id} uses the host network: Cilium's endpoint policies do not apply to it${this.specs.some((s) => s.subject.type === "nodes") ? " (host policies need hostFirewall)" : ""}`);
    }
    if (this.switches.policyEnforcementMode === "never") return allow("Cilium policy enforcement is disabled (policyEnforcementMode never)");
    const v = this.view(endpoint, peer);
    const dest = direction === "ingress" ? endpoint : v.workload;
    const what = `${conn.protocol}/${conn.port}`;
    const towards = direction === "ingress" ? "from" : "to";
    const selecting = f.selectedBy[direction];
    const isolated = this.isolates(endpoint, direction);

    // 1. Deny rules win over every allow, from every policy kind (§3.1 r6).
    const denying: PolicyRef[] = [];
    for (const si of selecting) {
      const spec = this.specs[si]!;
      for (const rule of spec.rules) {
        if (rule.direction !== direction || !rule.deny) continue;
        if (this.ruleMatchesPeer(rule, v) && this.ruleConns(rule, dest).contains(conn.protocol, conn.port)) denying.push(ruleRef(spec.policy, rule));
      }
    }
    if (denying.length > 0) {
      return {
        verdict: "deny",
        isolated: true,
        policies: denying,
        reason: `denied by ${denying.map(refName).join(", ")}: a deny rule matches ${what} ${towards} ${v.text}, and deny rules take precedence over every allow`,
        byDenyRule: true,
        misses: [],
        layer,
        observed: "timeout",
      };
    }

    // 2. The local host reaches its endpoints unless allow-localhost=policy (§1.6 r27, C17).
    if (direction === "ingress" && v.localHost && ciliumAllowsLocalhost(this.switches)) {
      return allow(`traffic from the local node (host) is always allowed into ${endpoint.id} (Cilium allow-localhost=${this.switches.allowLocalhost})`, [], isolated);
    }

    // 3. Allow rules, and the default posture (§3.1 r1–2).
    const defaultDeny = this.defaultDeny(endpoint, direction);
    const matching: { spec: CiliumSpec; rule: CiliumRule }[] = [];
    const misses: string[] = [];
    for (const si of selecting) {
      const spec = this.specs[si]!;
      const rules = spec.rules.filter((r) => r.direction === direction && !r.deny);
      if (rules.length === 0 && spec.defaultDeny[direction]) misses.push(`${specName(spec)} has no ${direction} allow rules: it only puts ${endpoint.id} in default deny`);
      for (const rule of rules) {
        const peerOk = this.ruleMatchesPeer(rule, v);
        const conns = this.ruleConns(rule, dest);
        const portOk = conns.contains(conn.protocol, conn.port);
        if (peerOk && portOk) matching.push({ spec, rule });
        else if (defaultDeny) {
          const why = [
            !peerOk ? `${direction === "ingress" ? "source" : "destination"} ${v.text} is not among ${describeParts(rule)}` : "",
            !portOk ? `${what} is not in ${rule.icmpOnly ? "its ICMP types" : conns.toString()}${describeNamed(rule, dest)}` : "",
          ].filter(Boolean);
          misses.push(`${specName(spec)} ${rule.label}: ${why.join("; ")}`);
        }
      }
    }
    if (matching.length === 0) {
      if (!defaultDeny) {
        return allow(
          selecting.length === 0
            ? `no ${layer === "networkpolicy" ? "NetworkPolicy" : "Cilium policy"} selects ${endpoint.id} for ${direction}`
            : `${endpoint.id} is not in default deny for ${direction} (enableDefaultDeny): traffic no rule matches is allowed`,
          [],
          isolated,
        );
      }
      const isolating = this.switches.policyEnforcementMode === "always" && selecting.length === 0 ? [] : this.isolatingPolicies(endpoint, direction);
      const by = isolating.length > 0 ? isolating.map(refName).join(", ") : "policyEnforcementMode always";
      return {
        verdict: "deny",
        isolated: true,
        policies: isolating,
        reason: `${endpoint.id} is in default deny for ${direction} (${by}) and no rule allows ${what} ${towards} ${v.text}`,
        misses,
        layer,
        observed: "timeout",
      };
    }

    // 4. L7: an L4-only match on this port wins over L7 rules (§3.9 r41).
    const refs = dedupe(matching.map(({ spec, rule }) => ruleRef(spec.policy, rule)));
    const l7: { spec: CiliumSpec; rule: CiliumRule; l7: L7Rules }[] = [];
    for (const { spec, rule } of matching) {
      const prs = (rule.ports ?? []).filter((pr) => portRuleConns(pr, dest).contains(conn.protocol, conn.port));
      if (!rule.ports || prs.some((pr) => !pr.l7)) return allow(`allowed by ${refs.map(refName).join(", ")}`, refs, true);
      for (const pr of prs) l7.push({ spec, rule, l7: pr.l7! });
    }
    return this.evaluateL7(endpoint, direction, conn, l7, http, layer);
  }

  private evaluateL7(
    endpoint: Workload,
    direction: Direction,
    conn: WireConn,
    l7: { spec: CiliumSpec; rule: CiliumRule; l7: L7Rules }[],
    http: L7Request | undefined,
    layer: CiliumApi,
  ): CiliumDecision {
    const refs = dedupe(l7.map(({ spec, rule }) => ruleRef(spec.policy, rule)));
    const names = refs.map(refName).join(", ");
    const httpRules = l7.flatMap((x) => (x.l7.type === "http" ? x.l7.rules.map((r) => ({ ...x, r })) : []));
    const others = l7.filter((x) => x.l7.type !== "http");
    const what = `${conn.protocol}/${conn.port}`;
    if (others.length > 0 || !http || !hasHttp(http)) {
      const kinds = [...new Set(l7.map((x) => x.l7.type.toUpperCase()))].join("/");
      const rulesText = httpRules.map((x) => x.r.text).join("; ");
      return {
        verdict: "allow",
        isolated: true,
        policies: refs,
        reason:
          `allowed at L3/L4 by ${names}; ${what} goes through Cilium's L7 proxy, which checks each ${kinds} request` +
          (others.some((x) => x.l7.type === "dns")
            ? " (DNS queries by name; a refused query gets REFUSED)"
            : rulesText
              ? ` against: ${rulesText} (assumed to match; give --method/--path/--host to check a request, a miss is HTTP 403)`
              : " (assumed to match)"),
        misses: [],
        layer,
      };
    }
    const req = { method: http.method ?? "GET", path: http.path ?? "/", host: http.host, headers: lowerKeys(http.headers ?? {}) };
    const misses: string[] = [];
    for (const x of httpRules) {
      const miss = httpMiss(x.r, req);
      if (miss === undefined) {
        const ref = ruleRef(x.spec.policy, x.rule);
        const assumed = x.r.unsupported ? ` (assumed: ${x.r.unsupported})` : "";
        return {
          verdict: "allow",
          isolated: true,
          policies: [ref],
          reason: `allowed by ${refName(ref)}: ${req.method} ${req.path} matches its HTTP rule (${x.r.text})${assumed}`,
          misses: [],
          layer,
        };
      }
      misses.push(`${specName(x.spec)} ${x.rule.label} HTTP rule (${x.r.text}): ${miss}`);
    }
    return {
      verdict: "deny",
      isolated: true,
      policies: refs,
      reason: `${req.method} ${req.path}${req.host ? ` (Host ${req.host})` : ""} matches no HTTP rule of ${names} on ${what}: Cilium's proxy answers 403 Access denied`,
      misses,
      layer,
      observed: "http-403",
    };
  }

  /**
   * Egress to a DNS name (§3.6): its addresses are learned at run time, so a
   * `toFQDNs` rule admits the connection when it matches the name and a DNS L7
   * rule of the same endpoint lets it look the name up through Cilium's DNS
   * proxy (r27, C11); any other rule admits it only when it covers every
   * outside address. Deny rules that cover every outside address deny it.
   */
  evaluateName(endpoint: Workload, host: string, conn: WireConn): CiliumDecision {
    const f = this.factsOf(endpoint);
    const layer = f.owner.egress;
    const what = `${conn.protocol}/${conn.port}`;
    const allow = (reason: string, policies: PolicyRef[] = [], isolated = false): CiliumDecision => ({ verdict: "allow", isolated, policies, reason, misses: [], layer });
    if (!this.applies(endpoint) || this.switches.policyEnforcementMode === "never") return allow(`Cilium does not restrict ${endpoint.id}'s egress`);
    const selecting = f.selectedBy.egress;
    const name = host.toLowerCase().replace(/\.$/, "");
    const everywhere = (rule: CiliumRule): boolean => {
      let ips = IPSet.none();
      for (const part of rule.peers) ips = ips.union(this.partIPs(part));
      return IPSet.allOf(4).isSubsetOf(ips);
    };
    const denying: PolicyRef[] = [];
    for (const si of selecting) {
      const spec = this.specs[si]!;
      for (const rule of spec.rules) {
        if (rule.direction === "egress" && rule.deny && everywhere(rule) && this.ruleConns(rule, undefined).contains(conn.protocol, conn.port)) denying.push(ruleRef(spec.policy, rule));
      }
    }
    if (denying.length > 0) {
      return { verdict: "deny", isolated: true, policies: denying, reason: `denied by ${denying.map(refName).join(", ")}: a deny rule covers ${what} to every outside address, so to ${host} too`, misses: [], layer, observed: "timeout", byDenyRule: true };
    }
    const defaultDeny = this.defaultDeny(endpoint, "egress");
    if (!defaultDeny) return allow(`${endpoint.id} is not in default deny for egress`, [], this.isolates(endpoint, "egress"));
    const lookups = this.dnsVisibility(endpoint, name);
    const admitting: PolicyRef[] = [];
    const misses: string[] = [];
    for (const si of selecting) {
      const spec = this.specs[si]!;
      for (const rule of spec.rules) {
        if (rule.direction !== "egress" || rule.deny) continue;
        if (!this.ruleConns(rule, undefined).contains(conn.protocol, conn.port)) continue;
        if (everywhere(rule)) {
          admitting.push(ruleRef(spec.policy, rule));
          continue;
        }
        const fqdns = rule.peers.filter((p): p is Extract<PeerPart, { type: "fqdn" }> => p.type === "fqdn" && fqdnMatches(p.matchName, p.matchPattern, name));
        if (fqdns.length === 0) continue;
        if (lookups.length > 0) admitting.push(ruleRef(spec.policy, rule));
        else misses.push(`${specName(spec)} ${rule.label}: ${fqdns[0]!.text} matches ${host}, but no DNS rule (toPorts rules.dns on port 53) lets ${endpoint.id} look it up through Cilium's DNS proxy, so no address is ever learned`);
      }
    }
    if (admitting.length > 0) {
      const refs = dedupe(admitting);
      return allow(`allowed by ${refs.map(refName).join(", ")}${lookups.length > 0 ? ` (addresses of ${host} learned from DNS answers allowed by ${lookups.map(refName).join(", ")})` : ""}`, refs, true);
    }
    const isolating = this.isolatingPolicies(endpoint, "egress");
    return {
      verdict: "deny",
      isolated: true,
      policies: isolating,
      reason: `${endpoint.id} is in default deny for egress (${isolating.map(refName).join(", ") || "policyEnforcementMode always"}) and no rule allows ${what} to ${host}: no toFQDNs rule matching it, and no rule covering every outside address`,
      misses,
      layer,
      observed: "timeout",
    };
  }

  /** The egress rules with a DNS L7 rule that lets the endpoint resolve `name` (§3.9 r45). */
  private dnsVisibility(endpoint: Workload, name: string): PolicyRef[] {
    const out: PolicyRef[] = [];
    for (const si of this.factsOf(endpoint).selectedBy.egress) {
      const spec = this.specs[si]!;
      for (const rule of spec.rules) {
        if (rule.direction !== "egress" || rule.deny) continue;
        for (const pr of rule.ports ?? []) {
          if (pr.l7?.type !== "dns") continue;
          if (!portRuleConns(pr, undefined).contains("UDP", 53) && !portRuleConns(pr, undefined).contains("TCP", 53)) continue;
          if (pr.l7.rules.some((d) => fqdnMatches(d.matchName, d.matchPattern, name))) out.push(ruleRef(spec.policy, rule));
        }
      }
    }
    return dedupe(out);
  }

  allowedConns(endpoint: Workload, direction: Direction, peer: Peer): ConnSet {
    if (!this.applies(endpoint) || this.switches.policyEnforcementMode === "never") return ConnSet.all();
    const f = this.factsOf(endpoint);
    const selecting = f.selectedBy[direction];
    const defaultDeny = this.defaultDeny(endpoint, direction);
    if (selecting.length === 0 && !defaultDeny) return ConnSet.all();
    const v = this.view(endpoint, peer);
    const dest = direction === "ingress" ? endpoint : v.workload;
    let allowed = defaultDeny && !(direction === "ingress" && v.localHost && ciliumAllowsLocalhost(this.switches)) ? ConnSet.none() : ConnSet.all();
    let denied = ConnSet.none();
    for (const si of selecting) {
      for (const rule of this.specs[si]!.rules) {
        if (rule.direction !== direction) continue;
        if (!rule.deny && allowed.isAll()) continue;
        if (!this.ruleMatchesPeer(rule, v)) continue;
        const conns = this.ruleConns(rule, dest);
        if (rule.deny) denied = denied.union(conns);
        else allowed = allowed.union(conns);
      }
    }
    return denied.isEmpty() ? allowed : allowed.subtract(denied);
  }

  /** Identities of addresses outside the cluster, with the addresses that carry each. */
  private externalClasses(): { ips: IPSet; identity: Identity }[] {
    const api = this.kubeApiserverIPs;
    const out = [
      { ips: IPSet.allOf(4).subtract(api), identity: WORLD_V4 },
      { ips: IPSet.allOf(6).subtract(api), identity: WORLD_V6 },
    ];
    for (const range of api.toCidrs()) {
      const ip = range.split("/")[0]!;
      out.push({ ips: IPSet.fromCidr(range), identity: this.externalIdentity(ip) });
    }
    return out;
  }

  /** The outside addresses a part matches. */
  partIPs(part: PeerPart): IPSet {
    if (part.type === "cidr") return part.ips;
    if (part.type === "service" || part.type === "fqdn" || part.type === "unresolved") return IPSet.none();
    let out = IPSet.none();
    for (const c of this.externalClasses()) {
      const v: PeerView = { identity: c.identity, cidrIPs: [], localHost: false, workload: undefined, text: "" };
      if (this.partMatches(part, v)) out = out.union(c.ips);
    }
    return out;
  }

  externalAllowances(endpoint: Workload, direction: Direction): ExternalAllowance[] {
    if (!this.applies(endpoint) || this.switches.policyEnforcementMode === "never") return [{ ips: IPSet.all(), conns: ConnSet.all() }];
    const selecting = this.factsOf(endpoint).selectedBy[direction];
    const defaultDeny = this.defaultDeny(endpoint, direction);
    const dest = direction === "ingress" ? endpoint : undefined;
    let pieces: ExternalAllowance[] = defaultDeny ? [] : [{ ips: IPSet.all(), conns: ConnSet.all() }];
    const denies: ExternalAllowance[] = [];
    for (const si of selecting) {
      for (const rule of this.specs[si]!.rules) {
        if (rule.direction !== direction) continue;
        const conns = this.ruleConns(rule, dest);
        if (conns.isEmpty()) continue;
        let ips = IPSet.none();
        for (const part of rule.peers) ips = ips.union(this.partIPs(part));
        if (ips.isEmpty()) continue;
        if (rule.deny) denies.push({ ips, conns });
        else if (defaultDeny) pieces.push({ ips, conns });
      }
    }
    for (const d of denies) {
      const next: ExternalAllowance[] = [];
      for (const p of pieces) {
        const common = p.ips.intersect(d.ips);
        if (common.isEmpty()) {
          next.push(p);
          continue;
        }
        const rest = p.ips.subtract(d.ips);
        if (!rest.isEmpty()) next.push({ ips: rest, conns: p.conns });
        const left = p.conns.subtract(d.conns);
        if (!left.isEmpty()) next.push({ ips: common, conns: left });
      }
      pieces = next;
    }
    return pieces;
  }

  /** Port names the rules of these specs use in one direction (only they tell destinations apart). */
  private portNamesOf(specIds: readonly number[], direction: Direction): Set<string> {
    const key = `${direction}|${specIds.join(",")}`;
    let out = this.portNamesMemo.get(key);
    if (!out) {
      out = new Set<string>();
      for (const si of specIds) {
        for (const rule of this.specs[si]!.rules) {
          if (rule.direction !== direction) continue;
          for (const pr of rule.ports ?? []) for (const p of pr.ports) if (typeof p.port === "string") out.add(p.port);
        }
      }
      this.portNamesMemo.set(key, out);
    }
    return out;
  }

  roleKeys(w: Workload): RoleKeys {
    const f = this.factsOf(w);
    const names = (direction: Direction, of: Workload, used: ReadonlySet<string> = this.portNames[direction]): string => {
      if (used.size === 0) return "";
      return of.ports
        .filter((p) => p.name && used.has(p.name.toLowerCase()))
        .map((p) => `${p.name}=${p.protocol}${p.port}`)
        .sort()
        .join(",");
    };
    const node = this.anyHostNetwork ? w.hostIPs.join(",") : "";
    const endpointKey = (d: Direction): string => {
      if (!this.applies(w) || this.switches.policyEnforcementMode === "never") return "*";
      if (f.selectedBy[d].length === 0 && !this.defaultDeny(w, d)) return `open|${f.owner[d]}`;
      return `${f.owner[d]}|${f.selectedBy[d].join(",")}|${d === "ingress" ? names("ingress", w, this.portNamesOf(f.selectedBy.ingress, "ingress")) : ""}|${node}|${w.hostNetwork ? "hn" : ""}`;
    };
    const peerKey = (d: Direction): string => {
      if (w.hostNetwork) return `hn:${w.hostIPs.join(",")}|${this.isApiserver(w) ? "api" : ""}|${d === "egress" ? names("egress", w) : ""}`;
      return `${f.memberIn[d].join(",")}|${d === "egress" ? names("egress", w) : ""}`;
    };
    return {
      egressEndpoint: endpointKey("egress"),
      ingressEndpoint: endpointKey("ingress"),
      egressPeer: peerKey("egress"),
      ingressPeer: peerKey("ingress"),
    };
  }
}

/**
 * One policy API's view of the engine (design.md: `blockedBy.layer` names the
 * API that isolates the endpoint in that direction). With `scope` `all` it
 * answers for every endpoint under the id `cilium`; scoped to `networkpolicy`
 * or `cilium`, it answers for the endpoint directions that API owns and
 * leaves the others open, so a scenario can hold both views and every
 * direction is decided by exactly one of them.
 */
export class CiliumLayer implements CniLayer {
  readonly id: LayerId;

  constructor(
    readonly engine: CiliumEngine,
    readonly scope: "all" | CiliumApi = "all",
  ) {
    this.id = scope === "networkpolicy" ? "networkpolicy" : "cilium";
  }

  static build(policies: readonly CiliumPolicy[], cluster: Cluster, profile: ClusterProfile): CiliumLayer {
    return new CiliumLayer(new CiliumEngine(policies, cluster, profile));
  }

  get policyCount(): number {
    const ps = this.engine.policies;
    if (this.scope === "all") return ps.length;
    return ps.filter((p) => (p.kind === "NetworkPolicy") === (this.scope === "networkpolicy")).length;
  }

  private mine(w: Workload, d: Direction): boolean {
    return this.scope === "all" || this.engine.owner(w, d) === this.scope;
  }

  isolates(endpoint: Workload, direction: Direction): boolean {
    return this.mine(endpoint, direction) && this.engine.isolates(endpoint, direction);
  }

  isolatingPolicies(endpoint: Workload, direction: Direction): PolicyRef[] {
    return this.mine(endpoint, direction) ? this.engine.isolatingPolicies(endpoint, direction) : [];
  }

  evaluate(endpoint: Workload, direction: Direction, peer: Peer, conn: WireConn, http?: L7Request): CiliumDecision {
    if (!this.mine(endpoint, direction)) {
      const other = this.engine.owner(endpoint, direction);
      return {
        verdict: "allow",
        isolated: false,
        policies: [],
        reason:
          other === "networkpolicy"
            ? `no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy selects ${endpoint.id} for ${direction}`
            : this.engine.isolatingPolicies(endpoint, direction).some((p) => p.kind === "NetworkPolicy")
              ? `Cilium merges the NetworkPolicies selecting ${endpoint.id} with its Cilium policies for ${direction}: decided at the cilium layer`
              : `a Cilium policy selects ${endpoint.id} for ${direction}: decided at the cilium layer`,
        misses: [],
        layer: other,
      };
    }
    return this.engine.evaluate(endpoint, direction, peer, conn, http);
  }

  /** Egress to a DNS name, with `toFQDNs` (see `CiliumEngine.evaluateName`). */
  evaluateName(endpoint: Workload, host: string, conn: WireConn): CiliumDecision {
    if (!this.mine(endpoint, "egress")) return this.evaluate(endpoint, "egress", { kind: "external", ip: "192.0.2.1" }, conn);
    return this.engine.evaluateName(endpoint, host, conn);
  }

  allowedConns(endpoint: Workload, direction: Direction, peer: Peer): ConnSet {
    return this.mine(endpoint, direction) ? this.engine.allowedConns(endpoint, direction, peer) : ConnSet.all();
  }

  externalAllowances(endpoint: Workload, direction: Direction): ExternalAllowance[] {
    return this.mine(endpoint, direction) ? this.engine.externalAllowances(endpoint, direction) : [{ ips: IPSet.all(), conns: ConnSet.all() }];
  }

  roleKeys(workload: Workload): RoleKeys {
    return this.engine.roleKeys(workload);
  }
}

// ---------------------------------------------------------------------------
// Helpers

function labelsOf(raw: Record<string, unknown>): Record<string, string> {
  const meta = raw["metadata"];
  const labels = meta && typeof meta === "object" ? (meta as { labels?: unknown }).labels : undefined;
  if (!labels || typeof labels !== "object") return {};
  return Object.fromEntries(Object.entries(labels as Record<string, unknown>).filter(([, v]) => typeof v === "string")) as Record<string, string>;
}

function withApiserver(base: Identity): Identity {
  return new Identity([...[...base.labels].map(([k, v]) => [k.slice(0, k.indexOf(":")), k.slice(k.indexOf(":") + 1), v] as const), ["reserved", "kube-apiserver", ""]]);
}

function sharesNode(a: Workload, b: Workload): boolean {
  return a.hostIPs.some((ip) => b.hostIPs.includes(ip));
}

function portRuleConns(pr: CiliumPortRule, dest: Workload | undefined): ConnSet {
  if (pr.ports.length === 0) return ConnSet.all();
  let out = ConnSet.none();
  for (const p of pr.ports) {
    for (const proto of p.protocols) {
      if (typeof p.port === "number") {
        out = out.union(p.port === 0 ? ConnSet.protocol(proto) : ConnSet.ports(proto, p.port, p.endPort ?? p.port));
        continue;
      }
      // A named port resolves on the destination pod; it may narrow the protocol, not contradict it.
      for (const cp of dest?.ports ?? []) if (cp.name?.toLowerCase() === p.port && cp.protocol === proto) out = out.union(ConnSet.ports(proto, cp.port));
    }
  }
  return out;
}

function describeParts(rule: CiliumRule): string {
  if (rule.peers.length === 0) return "no peer (an empty peer list selects nothing)";
  return rule.peers
    .map((p) => {
      switch (p.type) {
        case "all":
          return "every peer";
        case "entity":
          return `entity ${p.entity}`;
        case "cidr":
          return `CIDR ${p.text}`;
        case "fqdn":
          return `${p.text} (addresses learned from DNS answers at run time)`;
        default:
          return p.text;
      }
    })
    .join(" or ");
}

function describeNamed(rule: CiliumRule, dest: Workload | undefined): string {
  const names = (rule.ports ?? []).flatMap((pr) => pr.ports.filter((p) => typeof p.port === "string").map((p) => p.port as string));
  if (names.length === 0) return "";
  return dest ? ` (named ports ${names.join(", ")} resolved on ${dest.id})` : ` (named ports ${names.join(", ")} cannot match a destination without pods)`;
}

export function policyRef(p: CiliumPolicy): PolicyRef {
  return { kind: p.kind, namespace: p.namespace, name: p.name, rule: null, file: p.file, line: p.line };
}

function ruleRef(p: CiliumPolicy, rule: CiliumRule): PolicyRef {
  return { ...policyRef(p), rule: rule.index, line: rule.line };
}

function refName(r: PolicyRef): string {
  return `${kindShort(r.kind)} ${r.namespace ? `${r.namespace}/` : ""}${r.name}${r.rule === null ? "" : `[${r.rule}]`}`;
}

function specName(spec: CiliumSpec): string {
  const p = spec.policy;
  return `${kindShort(p.kind)} ${p.namespace ? `${p.namespace}/` : ""}${p.name}${spec.specIndex === null ? "" : ` specs[${spec.specIndex}]`}`;
}

function dedupe(refs: readonly PolicyRef[]): PolicyRef[] {
  const seen = new Map<string, PolicyRef>();
  for (const r of refs) seen.set(`${r.kind}|${r.namespace}|${r.name}|${r.rule}|${r.line}`, r);
  return [...seen.values()];
}

/**
 * Cilium's FQDN matching (§3.6 r29, §3.9 r45): case-insensitive; `matchName`
 * exact; in `matchPattern`, `*` alone is every name, a leading `**.` is one or
 * more labels, and any other `*` is zero or more characters within one label.
 */
export function fqdnMatches(matchName: string | undefined, matchPattern: string | undefined, name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  if (matchName !== undefined) return matchName.toLowerCase().replace(/\.$/, "") === n;
  const p = (matchPattern ?? "").toLowerCase().replace(/\.$/, "");
  if (p === "*") return true;
  let re = "";
  let rest = p;
  if (rest.startsWith("**.")) {
    re = "([-a-z0-9_]+\\.)+";
    rest = rest.slice(3);
  }
  for (const ch of rest) re += ch === "*" ? "[-a-z0-9_]*" : ch === "." ? "\\." : ch;
  return SafeRegex.compile(re).test(n);
}

function hasHttp(h: L7Request): boolean {
  return h.method !== undefined || h.path !== undefined || h.host !== undefined || (h.headers !== undefined && Object.keys(h.headers).length > 0);
}

function lowerKeys(h: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Why a request misses an HTTP rule (fields are ANDed, regexes full-match, §3.9 r42–43), or undefined when it matches. */
function httpMiss(rule: HttpRule, req: { method: string; path: string; host: string | undefined; headers: Record<string, string> }): string | undefined {
  if (rule.method && !rule.method.test(req.method)) return `method ${req.method} does not fully match ${rule.method.source}`;
  if (rule.path && !rule.path.test(req.path)) return `path ${req.path} does not fully match ${rule.path.source}`;
  if (rule.host) {
    if (req.host === undefined) return `no Host given, and the rule requires one matching ${rule.host.source}`;
    if (!rule.host.test(req.host)) return `Host ${req.host} does not fully match ${rule.host.source}`;
  }
  for (const h of rule.headers) {
    if (h.secret) continue; // A secret's value is not in the input: assumed present.
    const got = req.headers[h.name.toLowerCase()];
    if (got === undefined) return `header ${h.name} is not sent`;
    if (h.value !== undefined && got !== h.value) return `header ${h.name} is ${JSON.stringify(got)}, not ${JSON.stringify(h.value)}`;
  }
  return undefined;
}


/** The namespaces a selector is confined to (an `In` on the pod namespace label), or undefined when it is not. */
/** The namespaces a selector confines its pods to (its `io.kubernetes.pod.namespace In` requirement), or undefined. */
export function namespacesOf(sel: IdentitySelector): readonly string[] | undefined {
  if (sel.nothing) return [];
  for (const r of sel.requirements) {
    if (r.key === POD_NAMESPACE_LABEL && r.operator === "In" && (r.source === "k8s" || r.source === "any")) return r.values;
  }
  return undefined;
}
