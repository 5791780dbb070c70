import type { ClusterProfile } from "../../model/profile.js";
import type { Cluster, Workload } from "../../model/types.js";
import { ConnSet, IPSet } from "../../sets/index.js";
import type { CniLayer, Decision, Direction, ExternalAllowance, Peer, PolicyRef, RoleKeys, WireConn } from "../types.js";
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicyRule } from "./scan.js";

/** What the layer precomputes for each workload: selection and peer membership. */
interface WorkloadFacts {
  /** Policies that isolate it, per direction (indexes into `policies`). */
  selectedBy: Record<Direction, number[]>;
  /** Ids of the peer groups (see `peerIds`) that match it. */
  memberOf: Set<number>;
  /** The same ids, ascending, split by the direction of the rule the peer is in. */
  memberIn: Record<Direction, number[]>;
}

/**
 * Kubernetes NetworkPolicy (semantics.md §1), evaluated per endpoint and
 * direction. Selection and peer membership are computed once per workload, so a
 * matrix costs one set lookup per rule instead of re-running selectors.
 */
export class NetworkPolicyLayer implements CniLayer {
  readonly id = "networkpolicy" as const;
  private readonly facts = new Map<Workload, WorkloadFacts>();
  /** The group of every peer of every rule: equal peers share one. */
  private readonly peerIds = new Map<NetworkPolicyPeer, number>();
  /** Port names used by the rules of each direction: only these distinguish destinations. */
  private readonly portNames: Record<Direction, Set<string>> = { ingress: new Set(), egress: new Set() };
  /** Whether any workload runs in the host network (then node identity matters, §1.6 r27). */
  private readonly anyHostNetwork: boolean;
  /** Workloads whose addresses the input gives: the only ones an ipBlock can match. */
  private readonly addressed: readonly Workload[];

  constructor(
    readonly policies: readonly NetworkPolicy[],
    private readonly cluster: Cluster,
    private readonly profile: ClusterProfile,
  ) {
    const byNamespace = new Map<string, Workload[]>();
    for (const w of cluster.workloads) {
      const list = byNamespace.get(w.namespace) ?? [];
      list.push(w);
      byNamespace.set(w.namespace, list);
      this.facts.set(w, { selectedBy: { ingress: [], egress: [] }, memberOf: new Set(), memberIn: { ingress: [], egress: [] } });
    }
    this.anyHostNetwork = cluster.workloads.some((w) => w.hostNetwork);
    this.addressed = cluster.workloads.filter((w) => (w.hostNetwork ? w.hostIPs.length > 0 : w.ips.length > 0));
    // Many policies share a namespaceSelector: match it against the namespaces once.
    const namespacesOf = new Map<string, string[]>();
    // Equal peers (same selectors in the same namespace, or the same addresses) form one
    // group: membership is computed once per group, and workloads are told apart by groups.
    const groupIds = new Map<string, number>();
    const groups: { members: Workload[]; ingress: boolean; egress: boolean }[] = [];
    policies.forEach((p, pi) => {
      for (const w of byNamespace.get(p.namespace) ?? []) {
        if (w.hostNetwork || !p.podSelector.matches(w.labels)) continue;
        for (const d of p.policyTypes) this.facts.get(w)!.selectedBy[d].push(pi);
      }
      for (const direction of ["ingress", "egress"] as const) {
        for (const rule of p[direction]) {
          for (const port of rule.ports ?? []) if (typeof port.port === "string") this.portNames[direction].add(port.port);
          for (const peer of rule.peers ?? []) {
            const key = peerGroupKey(peer, p);
            let id = groupIds.get(key);
            if (id === undefined) {
              id = groups.length;
              groupIds.set(key, id);
              groups.push({ members: [...this.peerMembers(peer, p, byNamespace, namespacesOf)], ingress: false, egress: false });
            }
            groups[id]![direction] = true;
            this.peerIds.set(peer, id);
          }
        }
      }
    });
    groups.forEach((g, id) => {
      for (const w of g.members) {
        const f = this.facts.get(w)!;
        f.memberOf.add(id);
        if (g.ingress) f.memberIn.ingress.push(id);
        if (g.egress) f.memberIn.egress.push(id);
      }
    });
  }

  private *peerMembers(
    peer: NetworkPolicyPeer,
    policy: NetworkPolicy,
    byNamespace: Map<string, Workload[]>,
    namespacesOf: Map<string, string[]>,
  ): Iterable<Workload> {
    if (peer.type === "ipBlock") {
      if (!this.profile.ipBlockMatchesNodes && !this.profile.ipBlockMatchesPods) return;
      for (const w of this.addressed) {
        // A host-network pod's traffic carries its node's address (§1.6 r29 b).
        if (w.hostNetwork) {
          if (this.profile.ipBlockMatchesNodes && w.hostIPs.some((ip) => peer.ips.contains(ip))) yield w;
        } else if (this.profile.ipBlockMatchesPods && w.ips.length > 0 && w.ips.every((ip) => peer.ips.contains(ip))) yield w;
      }
      return;
    }
    let namespaces = [policy.namespace];
    if (peer.namespaceSelector) {
      const key = peer.namespaceSelector.toString();
      let names = namespacesOf.get(key);
      if (!names) {
        names = [...this.cluster.namespaces.values()].filter((n) => peer.namespaceSelector!.matches(n.labels)).map((n) => n.name);
        namespacesOf.set(key, names);
      }
      namespaces = names;
    }
    for (const ns of namespaces) {
      for (const w of byNamespace.get(ns) ?? []) {
        // hostNetwork pods are node traffic to NetworkPolicy: selectors never match them (§1.6 r29).
        if (!w.hostNetwork && (!peer.podSelector || peer.podSelector.matches(w.labels))) yield w;
      }
    }
  }

  private factsOf(w: Workload): WorkloadFacts {
    const f = this.facts.get(w);
    if (!f) throw new Error(`workload ${w.id} is not part of the cluster this layer was built for`);
    return f;
  }

  isolates(endpoint: Workload, direction: Direction): boolean {
    return this.factsOf(endpoint).selectedBy[direction].length > 0;
  }

  get policyCount(): number {
    return this.policies.length;
  }

  isolatingPolicies(endpoint: Workload, direction: Direction): PolicyRef[] {
    return this.factsOf(endpoint).selectedBy[direction].map((pi) => policyRef(this.policies[pi]!));
  }

  /** Traffic that NetworkPolicy never restricts, whatever the policies say. */
  private exemption(endpoint: Workload, direction: Direction, peer: Peer): string | undefined {
    if (endpoint.hostNetwork) return `${endpoint.id} uses the host network: NetworkPolicy treats its traffic as node traffic`;
    if (direction === "ingress" && peer.kind === "node" && peer.local) {
      return "traffic from the pod's own node (kubelet probes) is always allowed by NetworkPolicy";
    }
    if (direction === "ingress" && peer.kind === "workload" && peer.workload.hostNetwork && sharesNode(peer.workload, endpoint)) {
      return `${peer.workload.id} uses the host network on ${endpoint.id}'s own node: traffic from the local node is always allowed by NetworkPolicy`;
    }
    return undefined;
  }

  evaluate(endpoint: Workload, direction: Direction, peer: Peer, conn: WireConn): Decision {
    const exempt = this.exemption(endpoint, direction, peer);
    const selecting = this.factsOf(endpoint).selectedBy[direction];
    if (exempt) return { verdict: "allow", isolated: selecting.length > 0, policies: [], reason: exempt, misses: [] };
    if (selecting.length === 0) {
      return { verdict: "allow", isolated: false, policies: [], reason: `no NetworkPolicy selects ${endpoint.id} for ${direction}`, misses: [] };
    }
    const dest = direction === "ingress" ? endpoint : peer.kind === "workload" ? peer.workload : undefined;
    const admitting: PolicyRef[] = [];
    const misses: string[] = [];
    for (const pi of selecting) {
      const p = this.policies[pi]!;
      const rules = p[direction];
      if (rules.length === 0) misses.push(`${p.namespace}/${p.name} has no ${direction} rules: it only isolates`);
      for (const rule of rules) {
        const peerOk = this.ruleMatchesPeer(rule, p, peer);
        const ports = rulePorts(rule, dest);
        const portOk = ports.contains(conn.protocol, conn.port);
        if (peerOk && portOk) admitting.push(ruleRef(p, direction, rule));
        else {
          const why = [
            !peerOk ? `${direction === "ingress" ? "source" : "destination"} ${describePeer(peer)} is not among ${describePeers(rule, p)}` : "",
            !portOk ? `${conn.protocol}/${conn.port} is not in ${ports.toString()}${describeNamedPorts(rule, dest)}` : "",
          ].filter(Boolean);
          misses.push(`${p.namespace}/${p.name} ${direction}[${rule.index}]: ${why.join("; ")}`);
        }
      }
    }
    if (admitting.length > 0) {
      return { verdict: "allow", isolated: true, policies: admitting, reason: `allowed by ${admitting.map(refName).join(", ")}`, misses: [] };
    }
    const isolating = selecting.map((pi) => policyRef(this.policies[pi]!));
    return {
      verdict: "deny",
      isolated: true,
      policies: isolating,
      reason: `${endpoint.id} is isolated for ${direction} by ${isolating.map(refName).join(", ")} and no rule allows ${conn.protocol}/${conn.port} ${direction === "ingress" ? "from" : "to"} ${describePeer(peer)}`,
      misses,
    };
  }

  allowedConns(endpoint: Workload, direction: Direction, peer: Peer): ConnSet {
    const selecting = this.factsOf(endpoint).selectedBy[direction];
    if (selecting.length === 0 || this.exemption(endpoint, direction, peer)) return ConnSet.all();
    const dest = direction === "ingress" ? endpoint : peer.kind === "workload" ? peer.workload : undefined;
    let out = ConnSet.none();
    for (const pi of selecting) {
      const p = this.policies[pi]!;
      for (const rule of p[direction]) {
        if (this.ruleMatchesPeer(rule, p, peer)) out = out.union(rulePorts(rule, dest));
        if (out.isAll()) return out;
      }
    }
    return out;
  }

  externalAllowances(endpoint: Workload, direction: Direction): ExternalAllowance[] {
    const selecting = this.factsOf(endpoint).selectedBy[direction];
    if (selecting.length === 0 || endpoint.hostNetwork) return [{ ips: IPSet.all(), conns: ConnSet.all() }];
    const dest = direction === "ingress" ? endpoint : undefined;
    const out: ExternalAllowance[] = [];
    for (const pi of selecting) {
      for (const rule of this.policies[pi]![direction]) {
        const conns = rulePorts(rule, dest);
        if (conns.isEmpty()) continue;
        if (!rule.peers) out.push({ ips: IPSet.all(), conns });
        else for (const peer of rule.peers) if (peer.type === "ipBlock") out.push({ ips: peer.ips, conns });
      }
    }
    return out;
  }

  roleKeys(w: Workload): RoleKeys {
    const f = this.factsOf(w);
    const open = "*";
    const named = (direction: Direction, policyIds?: readonly number[]): string => {
      const names = policyIds ? this.portNamesOf(policyIds, direction) : this.portNames[direction];
      if (names.size === 0) return "";
      return w.ports
        .filter((p) => p.name && names.has(p.name))
        .map((p) => `${p.name}=${p.protocol}${p.port}`)
        .sort()
        .join(",");
    };
    const ingressSelected = f.selectedBy.ingress;
    const egressSelected = f.selectedBy.egress;
    return {
      egressEndpoint: w.hostNetwork || egressSelected.length === 0 ? open : egressSelected.join(","),
      ingressEndpoint:
        w.hostNetwork || ingressSelected.length === 0
          ? open
          : `${ingressSelected.join(",")}|${named("ingress", ingressSelected)}|${this.anyHostNetwork ? w.hostIPs.join(",") : ""}`,
      egressPeer: `${f.memberIn.egress.join(",")}|${named("egress")}`,
      ingressPeer: `${f.memberIn.ingress.join(",")}|${w.hostNetwork ? `host:${w.hostIPs.join(",")}` : ""}`,
    };
  }

  /** Port names the rules of these policies use in one direction. */
  private portNamesOf(policyIds: readonly number[], direction: Direction): Set<string> {
    const out = new Set<string>();
    for (const pi of policyIds) {
      for (const rule of this.policies[pi]![direction]) for (const port of rule.ports ?? []) if (typeof port.port === "string") out.add(port.port);
    }
    return out;
  }

  /** Whether one rule's peers (`from`/`to`) match `peer`, ports aside. Public for rule-level analyses (redundancy). */
  ruleMatchesPeer(rule: NetworkPolicyRule, policy: NetworkPolicy, peer: Peer): boolean {
    if (!rule.peers) return true;
    return rule.peers.some((p) => this.peerMatches(p, policy, peer));
  }

  private peerMatches(p: NetworkPolicyPeer, policy: NetworkPolicy, peer: Peer): boolean {
    if (peer.kind === "workload") {
      if (peer.ip !== undefined && p.type === "ipBlock" && !peer.workload.hostNetwork) {
        return this.profile.ipBlockMatchesPods && p.ips.contains(peer.ip);
      }
      // Node traffic of a host-network pod is among the members of the ipBlocks holding its node's address.
      return this.factsOf(peer.workload).memberOf.has(this.peerIds.get(p)!);
    }
    if (p.type !== "ipBlock" || peer.ip === undefined) return false;
    if (peer.kind === "node" && !this.profile.ipBlockMatchesNodes) return false;
    return p.ips.contains(peer.ip);
  }
}

/** Equal for two peers that match exactly the same workloads (within one cluster and profile). */
function peerGroupKey(peer: NetworkPolicyPeer, policy: NetworkPolicy): string {
  if (peer.type === "ipBlock") return `ip:${peer.ips.toRanges().join(",")}`;
  const ns = peer.namespaceSelector ? `nss:${peer.namespaceSelector.toString()}` : `ns:${policy.namespace}`;
  return `${ns}|${peer.podSelector ? peer.podSelector.toString() : "*"}`;
}

/** Whether two workloads have a node in common (both node addresses known). */
function sharesNode(a: Workload, b: Workload): boolean {
  return a.hostIPs.some((ip) => b.hostIPs.includes(ip));
}

/** The connections a rule's port list admits, named ports resolved on the destination pod (§1.5 r23). */
export function rulePorts(rule: NetworkPolicyRule, dest: Workload | undefined): ConnSet {
  if (!rule.ports) return ConnSet.all();
  let out = ConnSet.none();
  for (const port of rule.ports) out = out.union(portItemConns(port, dest));
  return out;
}

function portItemConns(port: NetworkPolicyPort, dest: Workload | undefined): ConnSet {
  if (port.port === undefined) return ConnSet.protocol(port.protocol);
  if (typeof port.port === "number") return ConnSet.ports(port.protocol, port.port, port.endPort ?? port.port);
  // A named port means nothing towards a destination without pods (§1.5 r23).
  if (!dest) return ConnSet.none();
  let out = ConnSet.none();
  for (const cp of dest.ports) if (cp.name === port.port && cp.protocol === port.protocol) out = out.union(ConnSet.ports(cp.protocol, cp.port));
  return out;
}

function describeNamedPorts(rule: NetworkPolicyRule, dest: Workload | undefined): string {
  const names = (rule.ports ?? []).filter((p) => typeof p.port === "string").map((p) => `${p.protocol}/${p.port}`);
  if (names.length === 0) return "";
  return dest
    ? ` (named port${names.length > 1 ? "s" : ""} ${names.join(", ")} resolved on ${dest.id})`
    : ` (named port${names.length > 1 ? "s" : ""} ${names.join(", ")} cannot match a destination without pods)`;
}

function describePeer(peer: Peer): string {
  switch (peer.kind) {
    case "workload":
      return peer.workload.id;
    case "node":
      return peer.local ? "the local node" : `node ${peer.ip ?? "(address unknown)"}`;
    case "external":
      return peer.ip;
  }
}

function describePeers(rule: NetworkPolicyRule, policy: NetworkPolicy): string {
  return (rule.peers ?? [])
    .map((p) => {
      if (p.type === "ipBlock") return `ipBlock ${p.cidr}${p.except.length ? ` except ${p.except.join(",")}` : ""}`;
      const ns = p.namespaceSelector ? `namespaces {${p.namespaceSelector}}` : `namespace ${policy.namespace}`;
      return p.podSelector ? `pods {${p.podSelector}} in ${ns}` : `all pods in ${ns}`;
    })
    .join(" or ");
}

export function policyRef(p: NetworkPolicy): PolicyRef {
  return { kind: "NetworkPolicy", namespace: p.namespace, name: p.name, rule: null, file: p.file, line: p.line };
}

function ruleRef(p: NetworkPolicy, direction: Direction, rule: NetworkPolicyRule): PolicyRef {
  return { ...policyRef(p), rule: rule.index, line: rule.line };
}

function refName(r: PolicyRef): string {
  return `${r.namespace}/${r.name}${r.rule === null ? "" : `[${r.rule}]`}`;
}

