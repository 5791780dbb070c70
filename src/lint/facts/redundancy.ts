/**
 * What each NetworkPolicy rule, and each NetworkPolicy, adds to the allowances of
 * the pods it selects, compared with the other rules and policies selecting them.
 *
 * The comparison is made per direction over classes, not pairs: endpoints with equal
 * `roleKeys` endpoint keys are selected by the same policies (and resolve the same
 * named ports), peers with equal peer keys are matched by the same rules, so one
 * representative of each stands for the class. A rule's peer matching is the layer's
 * own (`ruleMatchesPeer`), its ports are `rulePorts`. Three kinds of peer are checked:
 * every peer class of the input's workloads, the whole address space outside them
 * (exact, as products of IPSet × ConnSet), and a node whose address no ipBlock
 * matches (only rules without peers admit it).
 *
 * Findings are chosen greedily, later policies and rules first, and a finding is
 * removed before the next one is decided: everything reported can be removed at
 * once without changing any verdict, and among mutually covering rules the one
 * written first is kept.
 */
import { intern } from "../../analysis/intern.js";
import type { Scenario } from "../../analysis/scenario.js";
import { NetworkPolicyLayer, rulePorts, type NetworkPolicy, type NetworkPolicyRule } from "../../layers/networkpolicy/index.js";
import type { Direction, Peer } from "../../layers/types.js";
import type { Workload } from "../../model/types.js";
import { ConnSet, IPSet } from "../../sets/index.js";

/** One rule of one direction of one policy. */
export interface RuleSite {
  policy: NetworkPolicy;
  direction: Direction;
  rule: NetworkPolicyRule;
}

export interface RedundantRule {
  site: RuleSite;
  /** The rules whose allowances overlap it (they cover it together). */
  coveredBy: RuleSite[];
  /** The workloads its policy selects in its direction. */
  workloads: Workload[];
}

export interface RedundantPolicy {
  policy: NetworkPolicy;
  coveredBy: RuleSite[];
  /** The other policies that isolate its workloads. */
  isolatedBy: NetworkPolicy[];
  workloads: Workload[];
}

export interface Redundancy {
  policies: RedundantPolicy[];
  rules: RedundantRule[];
}

const DIRECTIONS = ["ingress", "egress"] as const;

/** Any connection: exemption is per peer, not per port. */
const PROBE = { protocol: "TCP", port: 1 } as const;

type RuleMatcher = (rule: NetworkPolicyRule, policy: NetworkPolicy, peer: Peer) => boolean;

/** Whether a rule adds anything at one endpoint, and whether it allows anything there at all. */
interface Contribution {
  adds: boolean;
  allowsAny: boolean;
}

function refKey(r: { namespace: string | null; name: string; file: string; line: number }): string {
  return `${r.namespace}/${r.name}@${r.file}:${r.line}`;
}

/** The addresses outside the input's workloads a rule admits: all for a rule without peers, else its ipBlocks. */
function externalAddresses(rule: NetworkPolicyRule): IPSet {
  if (!rule.peers) return IPSet.all();
  let out = IPSet.none();
  for (const p of rule.peers) if (p.type === "ipBlock") out = out.union(p.ips);
  return out;
}

/** One direction of the layer, seen as endpoint classes × peer classes. */
class DirectionCoverage {
  private readonly peerReps: number[] = [];
  private readonly endpointReps: number[] = [];
  /** Per endpoint class: the policies selecting it in this direction. */
  private readonly selecting: NetworkPolicy[][] = [];
  /** Per policy: its endpoint classes and the workloads it selects in this direction. */
  readonly classesOf = new Map<NetworkPolicy, number[]>();
  readonly workloadsOf = new Map<NetworkPolicy, Workload[]>();
  /** Per rule: which peer classes it matches (null: every peer). */
  private readonly matched = new Map<NetworkPolicyRule, Uint8Array | null>();
  private readonly fixedPorts = new Map<NetworkPolicyRule, ConnSet>();
  private readonly externalOf = new Map<NetworkPolicyRule, IPSet>();

  constructor(
    private readonly layer: NetworkPolicyLayer,
    private readonly direction: Direction,
    private readonly workloads: readonly Workload[],
    policyByRef: ReadonlyMap<string, NetworkPolicy>,
  ) {
    const keys = workloads.map((w) => layer.roleKeys(w));
    const peerRole = direction === "ingress" ? "ingressPeer" : "egressPeer";
    const endpointRole = direction === "ingress" ? "ingressEndpoint" : "egressEndpoint";
    intern(keys.map((k) => k[peerRole]), this.peerReps);
    const isolated = workloads.map((w) => layer.isolates(w, direction));
    const endpointOf = intern(keys.map((k, i) => (isolated[i] ? k[endpointRole] : "")), this.endpointReps);
    for (const rep of this.endpointReps) {
      this.selecting.push(isolated[rep] ? layer.isolatingPolicies(workloads[rep]!, direction).map((r) => policyByRef.get(refKey(r))!) : []);
    }
    this.selecting.forEach((policies, c) => {
      for (const p of policies) {
        const list = this.classesOf.get(p) ?? [];
        list.push(c);
        this.classesOf.set(p, list);
      }
    });
    workloads.forEach((w, i) => {
      if (!isolated[i]) return;
      for (const p of this.selecting[endpointOf[i]!]!) {
        const list = this.workloadsOf.get(p) ?? [];
        list.push(w);
        this.workloadsOf.set(p, list);
      }
    });
  }

  selectingPolicies(endpointClass: number): readonly NetworkPolicy[] {
    return this.selecting[endpointClass]!;
  }

  /**
   * The layer's own peer matching (peer groups, the CNI's reading of ipBlock, host-network
   * peers). It is private to the layer, hence the element access.
   */
  private matches(site: RuleSite, peer: Peer): boolean {
    const match: RuleMatcher = (r, p, x) => this.layer["ruleMatchesPeer"](r, p, x);
    return match(site.rule, site.policy, peer);
  }

  private matchedBy(site: RuleSite): Uint8Array | null {
    let m = this.matched.get(site.rule);
    if (m === undefined) {
      if (!site.rule.peers) m = null;
      else {
        const row = new Uint8Array(this.peerReps.length);
        this.peerReps.forEach((rep, k) => (row[k] = this.matches(site, { kind: "workload", workload: this.workloads[rep]! }) ? 1 : 0));
        m = row;
      }
      this.matched.set(site.rule, m);
    }
    return m;
  }

  private ports(rule: NetworkPolicyRule, dest: Workload | undefined): ConnSet {
    if (rule.ports?.some((p) => typeof p.port === "string")) return rulePorts(rule, dest);
    let c = this.fixedPorts.get(rule);
    if (!c) this.fixedPorts.set(rule, (c = rulePorts(rule, undefined)));
    return c;
  }

  private external(rule: NetworkPolicyRule): IPSet {
    let ips = this.externalOf.get(rule);
    if (!ips) this.externalOf.set(rule, (ips = externalAddresses(rule)));
    return ips;
  }

  /** Traffic NetworkPolicy never restricts (a host-network peer on the endpoint's own node): no rule matters there. */
  private exempt(endpoint: Workload, peer: Workload): boolean {
    if (this.direction !== "ingress" || !peer.hostNetwork) return false;
    const d = this.layer.evaluate(endpoint, "ingress", { kind: "workload", workload: peer }, PROBE);
    return d.verdict === "allow" && d.policies.length === 0;
  }

  /** Whether the `others` that match a peer (per `matches`) allow all of `allowed` there; the overlapping ones go to `overlapping`. */
  private covered(allowed: ConnSet, others: readonly RuleSite[], matches: (o: RuleSite) => boolean, dest: Workload | undefined, overlapping: Set<RuleSite>): boolean {
    let covered = ConnSet.none();
    for (const o of others) {
      if (!matches(o)) continue;
      const common = this.ports(o.rule, dest).intersect(allowed);
      if (common.isEmpty()) continue;
      overlapping.add(o);
      covered = covered.union(common);
      if (allowed.isSubsetOf(covered)) return true;
    }
    return false;
  }

  /**
   * Whether `site` allows, at endpoint class `endpointClass`, a connection none of
   * `others` allows; the others that overlap what it allows are added to `overlapping`.
   */
  contribution(site: RuleSite, endpointClass: number, others: readonly RuleSite[], overlapping: Set<RuleSite>): Contribution {
    const endpoint = this.workloads[this.endpointReps[endpointClass]!]!;
    const ingress = this.direction === "ingress";
    let allowsAny = false;

    // Workload peers, one per peer class.
    const own = this.matchedBy(site);
    for (let k = 0; k < this.peerReps.length; k++) {
      if (own && !own[k]) continue;
      const peer = this.workloads[this.peerReps[k]!]!;
      const dest = ingress ? endpoint : peer;
      const allowed = this.ports(site.rule, dest);
      if (allowed.isEmpty() || this.exempt(endpoint, peer)) continue;
      allowsAny = true;
      const matches = (o: RuleSite): boolean => {
        const m = this.matchedBy(o);
        return !m || m[k] === 1;
      };
      if (!this.covered(allowed, others, matches, dest, overlapping)) return { adds: true, allowsAny };
    }

    // One pod of a workload with several addresses, seen by its address: an ipBlock may hold it
    // without holding the others. Only an egress rule with a port name can then allow more there
    // than at the same address outside the input (checked below).
    if (!ingress && site.rule.peers?.some((p) => p.type === "ipBlock") && site.rule.ports?.some((p) => typeof p.port === "string")) {
      for (const w of this.workloads) {
        if (w.hostNetwork || w.ips.length < 2) continue;
        for (const ip of w.ips) {
          const peer: Peer = { kind: "workload", workload: w, ip };
          if (!this.matches(site, peer)) continue;
          const allowed = this.ports(site.rule, w);
          if (allowed.isEmpty()) continue;
          allowsAny = true;
          if (!this.covered(allowed, others, (o) => this.matches(o, peer), w, overlapping)) return { adds: true, allowsAny };
        }
      }
    }

    // Outside the workloads there is no pod to resolve a named port on, except the endpoint itself on ingress.
    const dest = ingress ? endpoint : undefined;

    // A node whose address no ipBlock matches: admitted only by rules without peers.
    if (!site.rule.peers) {
      const allowed = this.ports(site.rule, dest);
      if (!allowed.isEmpty()) {
        allowsAny = true;
        if (!this.covered(allowed, others, (o) => !o.rule.peers, dest, overlapping)) return { adds: true, allowsAny };
      }
    }

    // Addresses outside the input.
    const ips = this.external(site.rule);
    const conns = this.ports(site.rule, dest);
    if (!ips.isEmpty() && !conns.isEmpty()) {
      allowsAny = true;
      const pieces = others.map((o) => ({ site: o, ips: this.external(o.rule), conns: this.ports(o.rule, dest) }));
      if (!addressesCovered(ips, conns, pieces, overlapping)) return { adds: true, allowsAny };
    }
    return { adds: false, allowsAny };
  }
}

/**
 * Whether `others` together allow every (address, connection) of `ips` × `conns`: what is
 * left once each other's addresses × connections is taken away, as products of sets.
 */
function addressesCovered<S>(ips: IPSet, conns: ConnSet, others: readonly { site: S; ips: IPSet; conns: ConnSet }[], overlapping: Set<S>): boolean {
  let left = [{ ips, conns }];
  for (const o of others) {
    if (o.ips.isEmpty() || o.conns.isEmpty()) continue;
    const next: { ips: IPSet; conns: ConnSet }[] = [];
    for (const piece of left) {
      const inside = piece.ips.intersect(o.ips);
      if (inside.isEmpty() || piece.conns.intersect(o.conns).isEmpty()) {
        next.push(piece);
        continue;
      }
      overlapping.add(o.site);
      const rest = piece.conns.subtract(o.conns);
      if (!rest.isEmpty()) next.push({ ips: inside, conns: rest });
      const outside = piece.ips.subtract(o.ips);
      if (!outside.isEmpty()) next.push({ ips: outside, conns: piece.conns });
    }
    left = next;
    if (left.length === 0) return true;
  }
  return left.length === 0;
}

function sitesOf(policy: NetworkPolicy, direction: Direction): RuleSite[] {
  if (!policy.policyTypes.has(direction)) return [];
  return policy[direction].map((rule) => ({ policy, direction, rule }));
}

/** Finds redundant policies, then redundant rules among the policies left. */
function compute(layer: NetworkPolicyLayer, workloads: readonly Workload[]): Redundancy {
  const policyByRef = new Map<string, NetworkPolicy>();
  for (const p of layer.policies) policyByRef.set(refKey({ namespace: p.namespace, name: p.name, file: p.file, line: p.line }), p);
  const views = { ingress: new DirectionCoverage(layer, "ingress", workloads, policyByRef), egress: new DirectionCoverage(layer, "egress", workloads, policyByRef) };
  const sites = new Map<NetworkPolicy, Record<Direction, RuleSite[]>>();
  for (const p of layer.policies) sites.set(p, { ingress: sitesOf(p, "ingress"), egress: sitesOf(p, "egress") });
  const removedPolicies = new Set<NetworkPolicy>();
  const removedRules = new Set<NetworkPolicyRule>();

  /** The rules still in force, in `direction`, of the policies selecting an endpoint class, but for `except`. */
  const othersAt = (direction: Direction, endpointClass: number, except: (s: RuleSite) => boolean): RuleSite[] =>
    views[direction]
      .selectingPolicies(endpointClass)
      .filter((p) => !removedPolicies.has(p))
      .flatMap((p) => sites.get(p)![direction])
      .filter((s) => !removedRules.has(s.rule) && !except(s));

  const policies: RedundantPolicy[] = [];
  for (const policy of [...layer.policies].reverse()) {
    const verdict = policyAddsNothing(policy);
    if (verdict) {
      removedPolicies.add(policy);
      policies.push(verdict);
    }
  }

  function policyAddsNothing(policy: NetworkPolicy): RedundantPolicy | undefined {
    const overlapping = new Set<RuleSite>();
    const isolatedBy = new Set<NetworkPolicy>();
    const selected = new Set<Workload>();
    let allowsAny = false;
    for (const direction of DIRECTIONS) {
      if (!policy.policyTypes.has(direction)) continue;
      const view = views[direction];
      for (const c of view.classesOf.get(policy) ?? []) {
        // Without another policy isolating the endpoint, removing this one would open the direction.
        const isolating = view.selectingPolicies(c).filter((p) => p !== policy && !removedPolicies.has(p));
        if (isolating.length === 0) return undefined;
        for (const p of isolating) isolatedBy.add(p);
        const others = othersAt(direction, c, (s) => s.policy === policy);
        for (const site of sites.get(policy)![direction]) {
          const r = view.contribution(site, c, others, overlapping);
          if (r.adds) return undefined;
          allowsAny ||= r.allowsAny;
        }
      }
      for (const w of view.workloadsOf.get(policy) ?? []) selected.add(w);
    }
    // A policy that only isolates (or whose rules match nothing in the input) is another lint's business.
    if (!allowsAny) return undefined;
    return { policy, coveredBy: [...overlapping], isolatedBy: [...isolatedBy], workloads: [...selected] };
  }

  const rules: RedundantRule[] = [];
  for (const policy of [...layer.policies].reverse()) {
    if (removedPolicies.has(policy)) continue;
    for (const direction of [...DIRECTIONS].reverse()) {
      const view = views[direction];
      const classes = view.classesOf.get(policy) ?? [];
      for (const site of [...sites.get(policy)![direction]].reverse()) {
        const overlapping = new Set<RuleSite>();
        let adds = false;
        let allowsAny = false;
        for (const c of classes) {
          const r = view.contribution(site, c, othersAt(direction, c, (s) => s === site), overlapping);
          allowsAny ||= r.allowsAny;
          if ((adds = r.adds)) break;
        }
        // A rule that allows nothing at all for the input's pods is not "covered": it is another lint's business.
        if (adds || !allowsAny) continue;
        removedRules.add(site.rule);
        rules.push({ site, coveredBy: [...overlapping], workloads: view.workloadsOf.get(policy) ?? [] });
      }
    }
  }
  return { policies, rules };
}

const cache = new WeakMap<Scenario, Redundancy>();

/** Redundant NetworkPolicies and NetworkPolicy rules of the scenario (computed once per scenario). */
export function networkPolicyRedundancy(scenario: Scenario): Redundancy {
  let r = cache.get(scenario);
  if (!r) {
    const layers = scenario.layers.filter((l): l is NetworkPolicyLayer => l instanceof NetworkPolicyLayer);
    const parts = layers.map((l) => compute(l, scenario.cluster.workloads));
    r = { policies: parts.flatMap((p) => p.policies), rules: parts.flatMap((p) => p.rules) };
    cache.set(scenario, r);
  }
  return r;
}

/** `ns/name ingress[1] (file:line)`. */
export function describeSite(s: RuleSite): string {
  return `${s.policy.namespace}/${s.policy.name} ${s.direction}[${s.rule.index}] (${s.policy.file}:${s.rule.line})`;
}

/** Up to `max` items joined, with how many were left out. */
export function listSome(items: readonly string[], max = 4): string {
  if (items.length <= max) return items.join(", ");
  return `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}
