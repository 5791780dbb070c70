import type { ClusterProfile } from "../../model/profile.js";
import type { Cluster, Workload } from "../../model/types.js";
import { ConnSet, IPSet } from "../../sets/index.js";
import type { CniLayer, Decision, Direction, ExternalAllowance, Peer, PolicyRef, WireConn } from "../types.js";
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicyRule } from "./scan.js";

/** What the layer precomputes for each workload: selection and peer membership. */
interface WorkloadFacts {
  /** Policies that isolate it, per direction (indexes into `policies`). */
  selectedBy: Record<Direction, number[]>;
  /** Ids of the pod peers (see `peerIds`) that match it. */
  memberOf: Set<number>;
}

/**
 * Kubernetes NetworkPolicy (semantics.md §1), evaluated per endpoint and
 * direction. Selection and peer membership are computed once per workload, so a
 * matrix costs one set lookup per rule instead of re-running selectors.
 */
export class NetworkPolicyLayer implements CniLayer {
  readonly id = "networkpolicy" as const;
  private readonly facts = new Map<Workload, WorkloadFacts>();
  private readonly peerIds = new Map<NetworkPolicyPeer, number>();
  /** Port names any policy uses: only these distinguish workloads. */
  private readonly portNames = new Set<string>();

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
      this.facts.set(w, { selectedBy: { ingress: [], egress: [] }, memberOf: new Set() });
    }
    policies.forEach((p, pi) => {
      for (const w of byNamespace.get(p.namespace) ?? []) {
        if (w.hostNetwork || !p.podSelector.matches(w.labels)) continue;
        for (const d of p.policyTypes) this.facts.get(w)!.selectedBy[d].push(pi);
      }
      for (const rule of [...p.ingress, ...p.egress]) {
        for (const port of rule.ports ?? []) if (typeof port.port === "string") this.portNames.add(port.port);
        for (const peer of rule.peers ?? []) {
          const id = this.peerIds.size;
          this.peerIds.set(peer, id);
          for (const w of this.peerMembers(peer, p, byNamespace)) this.facts.get(w)!.memberOf.add(id);
        }
      }
    });
  }

  private *peerMembers(peer: NetworkPolicyPeer, policy: NetworkPolicy, byNamespace: Map<string, Workload[]>): Iterable<Workload> {
    if (peer.type === "ipBlock") {
      if (!this.profile.ipBlockMatchesPods) return;
      for (const w of this.cluster.workloads) if (w.ips.length > 0 && w.ips.every((ip) => peer.ips.contains(ip))) yield w;
      return;
    }
    const namespaces = peer.namespaceSelector
      ? [...this.cluster.namespaces.values()].filter((n) => peer.namespaceSelector!.matches(n.labels)).map((n) => n.name)
      : [policy.namespace];
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

  fingerprint(w: Workload): string {
    const f = this.factsOf(w);
    const named = w.ports
      .filter((p) => p.name && this.portNames.has(p.name))
      .map((p) => `${p.name}=${p.protocol}${p.port}`)
      .sort();
    return [
      f.selectedBy.ingress.join(","),
      f.selectedBy.egress.join(","),
      [...f.memberOf].sort((a, b) => a - b).join(","),
      named.join(","),
      w.hostNetwork ? `host:${w.hostIPs.join(",")}` : "",
      this.profile.ipBlockMatchesPods ? w.ips.join(",") : "",
    ].join("|");
  }

  private ruleMatchesPeer(rule: NetworkPolicyRule, policy: NetworkPolicy, peer: Peer): boolean {
    if (!rule.peers) return true;
    return rule.peers.some((p) => this.peerMatches(p, policy, peer));
  }

  private peerMatches(p: NetworkPolicyPeer, policy: NetworkPolicy, peer: Peer): boolean {
    if (peer.kind === "workload") {
      if (peer.ip !== undefined && p.type === "ipBlock" && !peer.workload.hostNetwork) {
        return this.profile.ipBlockMatchesPods && p.ips.contains(peer.ip);
      }
      if (peer.workload.hostNetwork) {
        // Node traffic: only an ipBlock holding the node's address can match it.
        return p.type === "ipBlock" && peer.workload.hostIPs.some((ip) => p.ips.contains(ip));
      }
      return this.factsOf(peer.workload).memberOf.has(this.peerIds.get(p)!);
    }
    if (p.type !== "ipBlock" || peer.ip === undefined) return false;
    return p.ips.contains(peer.ip);
  }
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

