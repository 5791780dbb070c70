/**
 * What each NetworkPolicy rule and NetworkPolicy, each Cilium allow rule and policy, and
 * each AuthorizationPolicy ALLOW rule adds to the allowances of the pods it selects,
 * compared with the other rules and policies selecting them. (AuthorizationPolicy rules
 * are compared for every request, see the Istio section below.)
 *
 * The comparison is made per direction over classes, not pairs: endpoints with equal
 * `roleKeys` endpoint keys are selected by the same policies (and resolve the same
 * named ports), peers with equal peer keys are matched by the same rules, so one
 * representative of each stands for the class. A rule's peer matching is the layer's
 * own (`ruleMatchesPeer`, private to the layers, hence element access), its ports are
 * `rulePorts` / `ruleConns`. The peers checked are every peer class of the input's
 * workloads, the whole address space outside them (exact, as products of IPSet ×
 * ConnSet), and nodes (for NetworkPolicy, one whose address no ipBlock matches: only
 * rules without peers admit it).
 *
 * Findings are chosen greedily, later policies and rules first, and a finding is
 * removed before the next one is decided: everything reported can be removed at
 * once without changing any verdict, and among mutually covering rules the one
 * written first is kept.
 */
import { intern } from "../../analysis/intern.js";
import type { Scenario } from "../../analysis/scenario.js";
import type { CiliumEngine, CiliumPolicy, CiliumRule, CiliumSpec } from "../../layers/cilium/index.js";
import { Identity } from "../../layers/cilium/labels.js";
import {
  SOURCE_FIELDS,
  ztunnelUnenforceable,
  type AuthorizationPolicy,
  type AuthzRule,
  type PolicyTargetRef,
  type SourceField,
} from "../../layers/istio/authorization.js";
import { ipBlock, parsePortString, stringForm } from "../../layers/istio/strings.js";
import { NetworkPolicyLayer, rulePorts, type NetworkPolicy, type NetworkPolicyRule } from "../../layers/networkpolicy/index.js";
import type { Direction, Peer } from "../../layers/types.js";
import { ciliumAllowsLocalhost } from "../../model/profile.js";
import type { Workload } from "../../model/types.js";
import { ConnSet, IPSet } from "../../sets/index.js";
import { ciliumEngine } from "../util.js";

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

/** One direction of the NetworkPolicy layer, seen as endpoint classes × peer classes. */
class NetworkPolicyDirectionCoverage {
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
    return this.layer.ruleMatchesPeer(site.rule, site.policy, peer);
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
    const candidates = others.filter(matches).map((o) => ({ site: o, conns: this.ports(o.rule, dest) }));
    return connsCovered(allowed, candidates, overlapping);
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
  const views = {
    ingress: new NetworkPolicyDirectionCoverage(layer, "ingress", workloads, policyByRef),
    egress: new NetworkPolicyDirectionCoverage(layer, "egress", workloads, policyByRef),
  };
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

// ---------------------------------------------------------------------------
// Cilium: allow rules of CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and the
// NetworkPolicies the Cilium engine reads, compared within the engine.

/** One allow rule of one Cilium spec. */
export interface CiliumRuleSite {
  spec: CiliumSpec;
  rule: CiliumRule;
}

export interface RedundantCiliumRule {
  site: CiliumRuleSite;
  coveredBy: CiliumRuleSite[];
  workloads: Workload[];
}

/** Reserved identities no workload, node or outside address of the input carries, but traffic can (cilium-health, ...). */
const SPECIAL_IDENTITIES = ["health", "init", "ingress", "unmanaged"].map((name) => new Identity([["reserved", name, ""]]));

/**
 * Whether a rule can be judged here: an allow rule of a pod policy whose effect is all
 * in its L3/L4 match. Rules with L7 (or TLS server names), toFQDNs, unresolved groups or
 * ICMP change more than the connections they admit, and host policies select nodes.
 */
function judgeable(spec: CiliumSpec, rule: CiliumRule): boolean {
  if (rule.deny || rule.icmpOnly || spec.subject.type !== "endpoints" || requiresAuthentication(spec, rule)) return false;
  if (rule.ports?.some((pr) => pr.l7 !== undefined || pr.serverNames.length > 0)) return false;
  return rule.peers.every((p) => p.type !== "fqdn" && p.type !== "unresolved");
}

/**
 * Whether an allow rule asks for mutual authentication (`authentication.mode`), which the
 * engine does not model: such a rule is neither judged nor taken as covering another, since
 * traffic it admits also needs the handshake.
 */
function requiresAuthentication(spec: CiliumSpec, rule: CiliumRule): boolean {
  if (spec.policy.kind === "NetworkPolicy") return false;
  let at: unknown = spec.policy.manifest.raw;
  for (const key of [...(spec.specIndex === null ? ["spec"] : ["specs", spec.specIndex]), rule.section, rule.index, "authentication"]) {
    at = at !== null && typeof at === "object" ? (at as Record<string | number, unknown>)[key] : undefined;
  }
  return at !== undefined && at !== null;
}

/** One direction of the Cilium engine as endpoint classes × peer views. */
class CiliumDirectionCoverage {
  private readonly peerReps: number[] = [];
  private readonly endpointReps: number[] = [];
  /** Per endpoint class: the specs selecting it in this direction (indexes into `engine.specs`). */
  readonly selecting: (readonly number[])[] = [];
  readonly classesOf = new Map<number, number[]>();
  readonly workloadsOf = new Map<number, Workload[]>();
  /** L4-only connections of each rule (its ports without an L7 part), per destination for named ports. */
  private readonly l4 = new Map<CiliumRule, ConnSet>();
  private readonly addressesOf = new Map<CiliumRule, IPSet>();

  constructor(
    private readonly engine: CiliumEngine,
    private readonly direction: Direction,
    private readonly workloads: readonly Workload[],
    private readonly nodeAddresses: readonly string[],
  ) {
    const keys = workloads.map((w) => engine.roleKeys(w));
    const peerRole = direction === "ingress" ? "ingressPeer" : "egressPeer";
    const endpointRole = direction === "ingress" ? "ingressEndpoint" : "egressEndpoint";
    intern(keys.map((k) => k[peerRole]), this.peerReps);
    const judged = workloads.map((w) => engine.applies(w) && engine.factsOf(w).selectedBy[direction].length > 0);
    const endpointOf = intern(keys.map((k, i) => (judged[i] ? k[endpointRole] : "")), this.endpointReps);
    for (const rep of this.endpointReps) this.selecting.push(judged[rep] ? engine.factsOf(workloads[rep]!).selectedBy[direction] : []);
    this.selecting.forEach((specs, c) => {
      for (const si of specs) this.classesOf.set(si, [...(this.classesOf.get(si) ?? []), c]);
    });
    workloads.forEach((w, i) => {
      if (!judged[i]) return;
      for (const si of this.selecting[endpointOf[i]!]!) this.workloadsOf.set(si, [...(this.workloadsOf.get(si) ?? []), w]);
    });
  }

  endpoint(endpointClass: number): Workload {
    return this.workloads[this.endpointReps[endpointClass]!]!;
  }

  private conns(rule: CiliumRule, dest: Workload | undefined): ConnSet {
    const named = rule.ports?.some((pr) => pr.ports.some((p) => typeof p.port === "string"));
    let c = named ? undefined : this.l4.get(rule);
    if (!c) {
      // An L4-only match wins over L7 rules on the same port (§3.9 r41): only those parts cover.
      // (The rule with fewer port rules, made without copying it: copying would resolve its lazy line.)
      const l7 = rule.ports?.some((pr) => pr.l7 !== undefined);
      const l4Only: CiliumRule = l7 ? Object.create(rule, { ports: { value: rule.ports!.filter((pr) => pr.l7 === undefined) } }) : rule;
      c = this.engine.ruleConns(l4Only, dest);
      if (!named) this.l4.set(rule, c);
    }
    return c;
  }

  private addresses(rule: CiliumRule): IPSet {
    let ips = this.addressesOf.get(rule);
    if (!ips) {
      ips = IPSet.none();
      for (const part of rule.peers) ips = ips.union(this.engine.partIPs(part));
      this.addressesOf.set(rule, ips);
    }
    return ips;
  }

  /** Whether `site` allows, at the endpoint class, a connection the `others` do not. */
  contribution(site: CiliumRuleSite, endpointClass: number, others: readonly CiliumRuleSite[], overlapping: Set<CiliumRuleSite>): Contribution {
    const endpoint = this.endpoint(endpointClass);
    const ingress = this.direction === "ingress";
    const engine = this.engine;
    let allowsAny = false;
    const coveredAt = (view: ReturnType<CiliumEngine["view"]>, dest: Workload | undefined): boolean => {
      if (!engine.ruleMatchesPeer(site.rule, view)) return true;
      // The local host reaches its endpoints whatever the rules say (allow-localhost).
      if (ingress && view.localHost && ciliumAllowsLocalhost(engine.switches)) return true;
      const allowed = this.conns(site.rule, dest);
      if (allowed.isEmpty()) return true;
      allowsAny = true;
      const candidates = others.filter((o) => engine.ruleMatchesPeer(o.rule, view)).map((o) => ({ site: o, conns: this.conns(o.rule, dest) }));
      return connsCovered(allowed, candidates, overlapping);
    };

    for (const rep of this.peerReps) {
      const peer = this.workloads[rep]!;
      const view = engine.view(endpoint, { kind: "workload", workload: peer });
      if (!coveredAt(view, ingress ? endpoint : view.workload)) return { adds: true, allowsAny };
    }
    const dest = ingress ? endpoint : undefined;
    const nodes: Peer[] = [{ kind: "node", local: true }, { kind: "node", local: false }];
    for (const ip of this.nodeAddresses) nodes.push({ kind: "node", local: true, ip }, { kind: "node", local: false, ip });
    for (const node of nodes) if (!coveredAt(engine.view(endpoint, node), dest)) return { adds: true, allowsAny };
    for (const identity of SPECIAL_IDENTITIES) {
      if (!coveredAt({ identity, cidrIPs: [], localHost: false, workload: undefined, text: "" }, dest)) return { adds: true, allowsAny };
    }

    const ips = this.addresses(site.rule);
    const conns = this.conns(site.rule, dest);
    if (!ips.isEmpty() && !conns.isEmpty()) {
      allowsAny = true;
      const pieces = others.map((o) => ({ site: o, ips: this.addresses(o.rule), conns: this.conns(o.rule, dest) }));
      if (!addressesCovered(ips, conns, pieces, overlapping)) return { adds: true, allowsAny };
      // Egress to a DNS name counts only rules that cover every outside IPv4 address, one by one (evaluateName).
      if (!ingress && IPSet.allOf(4).isSubsetOf(ips)) {
        const everywhere = pieces.filter((p) => IPSet.allOf(4).isSubsetOf(p.ips));
        if (!connsCovered(conns, everywhere, overlapping)) return { adds: true, allowsAny };
      }
    }
    return { adds: false, allowsAny };
  }
}

/** Whether the union of the candidates' connections holds `allowed`; the overlapping candidates go to `overlapping`. */
function connsCovered<S>(allowed: ConnSet, candidates: readonly { site: S; conns: ConnSet }[], overlapping: Set<S>): boolean {
  let covered = ConnSet.none();
  for (const c of candidates) {
    const common = c.conns.intersect(allowed);
    if (common.isEmpty()) continue;
    overlapping.add(c.site);
    covered = covered.union(common);
    if (allowed.isSubsetOf(covered)) return true;
  }
  return false;
}

export interface RedundantCiliumPolicy {
  policy: CiliumPolicy;
  coveredBy: CiliumRuleSite[];
  /** The other policies that keep its endpoints in default deny. */
  isolatedBy: CiliumPolicy[];
  workloads: Workload[];
}

export interface CiliumRedundancy {
  policies: RedundantCiliumPolicy[];
  rules: RedundantCiliumRule[];
}

function ciliumCompute(engine: CiliumEngine, workloads: readonly Workload[], nodeAddresses: readonly string[]): CiliumRedundancy {
  const views = {
    ingress: new CiliumDirectionCoverage(engine, "ingress", workloads, nodeAddresses),
    egress: new CiliumDirectionCoverage(engine, "egress", workloads, nodeAddresses),
  };
  const switches = engine.switches;
  const removedPolicies = new Set<CiliumPolicy>();
  const removed = new Set<CiliumRule>();
  const sites = engine.specs.map((spec) => spec.rules.filter((r) => !r.deny).map((rule) => ({ spec, rule })));
  const specIndex = new Map(engine.specs.map((spec, si) => [spec, si]));

  /** The allow rules in force in `direction` at an endpoint class, but for `except`. */
  const othersAt = (direction: Direction, endpointClass: number, except: (o: CiliumRuleSite) => boolean): CiliumRuleSite[] =>
    views[direction].selecting[endpointClass]!.flatMap((sj) => sites[sj]!).filter(
      (o) => o.rule.direction === direction && !removedPolicies.has(o.spec.policy) && !removed.has(o.rule) && !except(o) && !requiresAuthentication(o.spec, o.rule),
    );

  /**
   * The deny rules in force in `direction` at an endpoint class. What they deny needs no
   * allow (deny wins over every allow), so they take part in covering as allow rules do;
   * they are never named as covering.
   */
  const deniesAt = (direction: Direction, endpointClass: number): CiliumRuleSite[] =>
    views[direction].selecting[endpointClass]!.flatMap((sj) =>
      engine.specs[sj]!.rules.filter((r) => r.deny && r.direction === direction).map((rule) => ({ spec: engine.specs[sj]!, rule })),
    );
  const allowingOnly = (sites: Set<CiliumRuleSite>): CiliumRuleSite[] => [...sites].filter((o) => !o.rule.deny);

  /** The policies, other than `policy` and those already found, that keep an endpoint class in default deny. */
  const defaultDenyingOthers = (direction: Direction, endpointClass: number, policy: CiliumPolicy): CiliumPolicy[] =>
    views[direction].selecting[endpointClass]!.map((sj) => engine.specs[sj]!).filter(
      (spec) => spec.policy !== policy && !removedPolicies.has(spec.policy) && spec.defaultDeny[direction],
    ).map((spec) => spec.policy);

  // Whole policies first: every allow rule covered, no deny rule, and default deny kept by others.
  const policies: RedundantCiliumPolicy[] = [];
  for (const policy of [...engine.policies].reverse()) {
    const overlapping = new Set<CiliumRuleSite>();
    const isolatedBy = new Set<CiliumPolicy>();
    const selected = new Set<Workload>();
    let allowsAny = false;
    let adds = false;
    for (const spec of policy.specs) {
      const si = specIndex.get(spec)!;
      if (spec.rules.some((r) => r.deny || !judgeable(spec, r))) adds = true;
      for (const direction of DIRECTIONS) {
        if (adds || (!spec.hasRules[direction] && !spec.defaultDeny[direction])) continue;
        const view = views[direction];
        for (const c of view.classesOf.get(si) ?? []) {
          const keepers = defaultDenyingOthers(direction, c, policy);
          if (!engine.defaultDeny(view.endpoint(c), direction) || (keepers.length === 0 && switches.policyEnforcementMode !== "always")) {
            adds = true;
            break;
          }
          for (const p of keepers) isolatedBy.add(p);
          const others = [...othersAt(direction, c, (o) => o.spec.policy === policy), ...deniesAt(direction, c)];
          for (const site of sites[si]!) {
            if (site.rule.direction !== direction) continue;
            const r = view.contribution(site, c, others, overlapping);
            allowsAny ||= r.allowsAny;
            if ((adds = r.adds)) break;
          }
          if (adds) break;
        }
        for (const w of view.workloadsOf.get(si) ?? []) selected.add(w);
      }
      if (adds) break;
    }
    // A policy that only puts endpoints in default deny is another lint's business.
    if (adds || !allowsAny) continue;
    removedPolicies.add(policy);
    policies.push({ policy, coveredBy: allowingOnly(overlapping), isolatedBy: [...isolatedBy], workloads: [...selected] });
  }

  /** Whether the endpoint stays in default deny without `site` (a spec with no rule left in a direction stops denying by default). */
  const staysDefaultDeny = (si: number, site: CiliumRuleSite, direction: Direction, endpointClass: number): boolean => {
    if (switches.policyEnforcementMode === "always" || !switches.enableNonDefaultDenyPolicies) return true;
    const restOfSpec = site.spec.rules.some((r) => r !== site.rule && r.direction === direction && !removed.has(r));
    if (restOfSpec && site.spec.defaultDeny[direction]) return true;
    return views[direction].selecting[endpointClass]!.some(
      (sj) => sj !== si && !removedPolicies.has(engine.specs[sj]!.policy) && engine.specs[sj]!.defaultDeny[direction],
    );
  };

  const rules: RedundantCiliumRule[] = [];
  for (let si = engine.specs.length - 1; si >= 0; si--) {
    if (removedPolicies.has(engine.specs[si]!.policy)) continue;
    const specSites = sites[si]!;
    for (let k = specSites.length - 1; k >= 0; k--) {
      const site = specSites[k]!;
      if (!judgeable(site.spec, site.rule)) continue;
      const direction = site.rule.direction;
      const view = views[direction];
      const overlapping = new Set<CiliumRuleSite>();
      let adds = false;
      let allowsAny = false;
      for (const c of view.classesOf.get(si) ?? []) {
        // Outside default deny, an allow rule still decides which rules' L7 parts apply: not judged.
        if (!engine.defaultDeny(view.endpoint(c), direction) || !staysDefaultDeny(si, site, direction, c)) {
          adds = true;
          break;
        }
        const r = view.contribution(site, c, [...othersAt(direction, c, (o) => o === site), ...deniesAt(direction, c)], overlapping);
        allowsAny ||= r.allowsAny;
        if ((adds = r.adds)) break;
      }
      if (adds || !allowsAny) continue;
      removed.add(site.rule);
      rules.push({ site, coveredBy: allowingOnly(overlapping), workloads: view.workloadsOf.get(si) ?? [] });
    }
  }
  return { policies, rules };
}

const ciliumCache = new WeakMap<Scenario, CiliumRedundancy>();

/** Redundant Cilium policies, then redundant allow rules among the policies left (computed once per scenario). */
export function ciliumRedundancy(scenario: Scenario): CiliumRedundancy {
  let r = ciliumCache.get(scenario);
  if (!r) {
    const engine = ciliumEngine(scenario);
    r = engine ? ciliumCompute(engine, scenario.cluster.workloads, scenario.nodeAddresses) : { policies: [], rules: [] };
    ciliumCache.set(scenario, r);
  }
  return r;
}

/** `NS/NAME ingress[1] (file:line)`, or `NAME specs[0].ingress[1] (...)` for a clusterwide policy. */
export function describeCiliumSite(s: CiliumRuleSite): string {
  const p = s.spec.policy;
  return `${p.namespace === null ? "" : `${p.namespace}/`}${p.name} ${s.rule.label} (${p.file}:${s.rule.line})`;
}

// ---------------------------------------------------------------------------
// Istio: ALLOW rules of AuthorizationPolicies. Requests carry strings (principals,
// namespaces, paths) that no input enumerates, so a rule is decided for every request,
// not over the input's classes: it is redundant when one other ALLOW rule, of a policy
// that applies wherever its own does, matches every request it matches — field by field,
// on every chain that evaluates it (Envoy HTTP and TCP, ztunnel). A rule covered only by
// several rules together is not found; what is found holds for any request.

export interface IstioRuleSite {
  policy: AuthorizationPolicy;
  rule: AuthzRule;
}

export interface RedundantIstioRule {
  site: IstioRuleSite;
  coveredBy: IstioRuleSite;
  /** The workloads its policy selects in the input (none for a policy bound by targetRefs). */
  workloads: Workload[];
}

/** Source fields ztunnel checks: a `from` item with none of them never matches there. */
const ZTUNNEL_SOURCE: readonly SourceField[] = ["ipBlocks", "notIpBlocks", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "principals", "notPrincipals"];

/** Whether every string a written value matches (in Istio's four forms) is matched by `outer` too. */
function formWithin(inner: string, outer: string): boolean {
  const o = stringForm(outer);
  const i = stringForm(inner);
  if (o.kind === "presence") return true;
  if (i.kind === "presence") return false;
  if (o.kind === "exact") return i.kind === "exact" && i.value === o.value;
  if (o.kind === "prefix") return (i.kind === "exact" || i.kind === "prefix") && i.value.startsWith(o.value);
  return (i.kind === "exact" || i.kind === "suffix") && i.value.endsWith(o.value);
}

type ValueKind = "string" | "exact" | "ip" | "port" | "serviceAccount";

const SOURCE_KINDS: Record<SourceField, ValueKind> = {
  principals: "string",
  notPrincipals: "string",
  requestPrincipals: "exact",
  notRequestPrincipals: "exact",
  namespaces: "string",
  notNamespaces: "string",
  serviceAccounts: "serviceAccount",
  notServiceAccounts: "serviceAccount",
  ipBlocks: "ip",
  notIpBlocks: "ip",
  remoteIpBlocks: "ip",
  notRemoteIpBlocks: "ip",
  // Trust domains match through a regex of their own: only equal values are compared.
  trustDomains: "exact",
  notTrustDomains: "exact",
};

const CONDITION_KINDS: Record<string, ValueKind> = {
  "source.ip": "ip",
  "destination.ip": "ip",
  "destination.port": "port",
  "source.namespace": "string",
  "source.principal": "string",
};

/**
 * Whether the values `inner` (of a policy in `innerNs`) match only what `outer` (of a policy in
 * `outerNs`) matches. Service accounts are read relative to their policy's namespace.
 */
function valuesWithin(kind: ValueKind, inner: readonly string[], innerNs: string, outer: readonly string[], outerNs: string): boolean {
  switch (kind) {
    case "ip": {
      const union = (vs: readonly string[]) => vs.reduce<IPSet | null>((u, v) => (u && ipBlock(v) ? u.union(ipBlock(v)!) : null), IPSet.none());
      const i = union(inner);
      const o = union(outer);
      return i !== null && o !== null && i.isSubsetOf(o);
    }
    case "port":
      return inner.every((v) => parsePortString(v) !== undefined && outer.some((w) => parsePortString(w) === parsePortString(v)));
    case "serviceAccount": {
      const qualify = (v: string, ns: string) => (v.includes("/") ? v : `${ns}/${v}`);
      return inner.every((v) => outer.some((w) => qualify(w, outerNs) === qualify(v, innerNs)));
    }
    case "exact":
      return inner.every((v) => outer.includes(v));
    case "string":
      return inner.every((v) => outer.some((w) => formWithin(v, w)));
  }
}

/**
 * Whether a positive/negative pair of `inner` implies the pair of `outer`: inner's values lie
 * within outer's (when outer has any), and inner excludes at least what outer excludes.
 */
interface ValuePair {
  values: readonly string[];
  notValues: readonly string[];
  /** The namespace of the policy the values are written in. */
  ns: string;
}

function pairImplies(kind: ValueKind, inner: ValuePair, outer: ValuePair): boolean {
  if (outer.values.length > 0 && (inner.values.length === 0 || !valuesWithin(kind, inner.values, inner.ns, outer.values, outer.ns))) return false;
  return valuesWithin(kind, outer.notValues, outer.ns, inner.notValues, inner.ns);
}

/** Whether a rule can cover others on every chain: nothing in it is dropped or unenforceable anywhere. */
function coversOnEveryChain(rule: AuthzRule): boolean {
  // What ztunnel cannot enforce (HTTP attributes, remote addresses, other `when` keys) drops the
  // rule there, and the HTTP part of it on an Envoy TCP chain.
  if (ztunnelUnenforceable(rule).length > 0) return false;
  // ztunnel never matches a `from` or `to` item left with nothing it checks.
  if ((rule.from ?? []).some((f) => !ZTUNNEL_SOURCE.some((k) => f.source[k].length > 0))) return false;
  if ((rule.to ?? []).some((t) => t.operation.ports.length + t.operation.notPorts.length === 0)) return false;
  return rule.when.every((c) => c.key in CONDITION_KINDS);
}

/** Whether every request `inner` matches, `outer` matches too (outer: a rule that `coversOnEveryChain`). */
function ruleWithin(inner: IstioRuleSite, outer: IstioRuleSite): boolean {
  const iNs = inner.policy.namespace;
  const oNs = outer.policy.namespace;
  if (outer.rule.from) {
    if (!inner.rule.from) return false;
    const ok = inner.rule.from.every((fi) =>
      outer.rule.from!.some((fo) =>
        SOURCE_FIELDS.filter((k) => !k.startsWith("not")).every((k) => {
          const neg = `not${k[0]!.toUpperCase()}${k.slice(1)}` as SourceField;
          return pairImplies(SOURCE_KINDS[k], { values: fi.source[k], notValues: fi.source[neg], ns: iNs }, { values: fo.source[k], notValues: fo.source[neg], ns: oNs });
        }),
      ),
    );
    if (!ok) return false;
  }
  if (outer.rule.to) {
    if (!inner.rule.to) return false;
    const ok = inner.rule.to.every((ti) =>
      outer.rule.to!.some((to) =>
        pairImplies("port", { values: ti.operation.ports, notValues: ti.operation.notPorts, ns: iNs }, { values: to.operation.ports, notValues: to.operation.notPorts, ns: oNs }),
      ),
    );
    if (!ok) return false;
  }
  return outer.rule.when.every((co) =>
    inner.rule.when.some((ci) => ci.key === co.key && pairImplies(CONDITION_KINDS[co.key]!, { ...ci, ns: iNs }, { ...co, ns: oNs })),
  );
}

function sameRef(a: PolicyTargetRef, b: PolicyTargetRef): boolean {
  const group = (g: string) => (g === "core" ? "" : g);
  return group(a.group) === group(b.group) && a.kind === b.kind && a.name === b.name;
}

/** Whether `outer` is enforced at every enforcement point, for every request, where `inner` is. */
function appliesWherever(inner: AuthorizationPolicy, outer: AuthorizationPolicy, root: string): boolean {
  if (outer.dryRun) return false;
  if (inner.targetRefs.length > 0) {
    return outer.namespace === inner.namespace && inner.targetRefs.every((t) => outer.targetRefs.some((o) => sameRef(t, o)));
  }
  if (outer.targetRefs.length > 0) return false;
  if (outer.namespace !== inner.namespace && outer.namespace !== root) return false;
  if (!outer.selector) return true;
  return inner.selector !== undefined && Object.entries(outer.selector).every(([k, v]) => inner.selector![k] === v);
}

export interface RedundantIstioPolicy {
  policy: AuthorizationPolicy;
  coveredBy: IstioRuleSite[];
  /** Other ALLOW policies that apply wherever it does (so the workloads stay under ALLOW policies). */
  alsoApplying: AuthorizationPolicy[];
  workloads: Workload[];
}

export interface IstioRedundancy {
  policies: RedundantIstioPolicy[];
  rules: RedundantIstioRule[];
}

function istioCompute(policies: readonly AuthorizationPolicy[], root: string, workloads: readonly Workload[]): IstioRedundancy {
  const allows = policies.filter((p) => p.action === "ALLOW" && !p.dryRun);
  // A covering policy lives in the rule's namespace or the root namespace.
  const byNamespace = new Map<string, AuthorizationPolicy[]>();
  for (const p of allows) byNamespace.set(p.namespace, [...(byNamespace.get(p.namespace) ?? []), p]);
  const candidatesFor = (policy: AuthorizationPolicy): AuthorizationPolicy[] => [
    ...(byNamespace.get(policy.namespace) ?? []),
    ...(policy.namespace === root ? [] : (byNamespace.get(root) ?? [])),
  ];
  const selectedBy = (policy: AuthorizationPolicy): Workload[] =>
    policy.targetRefs.length > 0
      ? []
      : workloads.filter((w) => (policy.namespace === root || w.namespace === policy.namespace) && Object.entries(policy.selector ?? {}).every(([key, v]) => w.labels[key] === v));
  const removed = new Set<AuthzRule>();
  const deleted = new Set<AuthorizationPolicy>();
  const rules: RedundantIstioRule[] = [];
  const policiesFound: RedundantIstioPolicy[] = [];
  for (let pi = allows.length - 1; pi >= 0; pi--) {
    const policy = allows[pi]!;
    const mine: RedundantIstioRule[] = [];
    for (let k = policy.rules.length - 1; k >= 0; k--) {
      const site = { policy, rule: policy.rules[k]! };
      let cover: IstioRuleSite | undefined;
      for (const other of candidatesFor(policy)) {
        if (deleted.has(other) || !appliesWherever(policy, other, root)) continue;
        const rule = other.rules.find((r) => r !== site.rule && !removed.has(r) && coversOnEveryChain(r) && ruleWithin(site, { policy: other, rule: r }));
        if (rule) {
          cover = { policy: other, rule };
          break;
        }
      }
      if (!cover) continue;
      removed.add(site.rule);
      mine.push({ site, coveredBy: cover, workloads: selectedBy(policy) });
    }
    // Every rule covered: the policy itself changes nothing. Its first rule was covered by another
    // policy's, which applies wherever it does, so its workloads stay under an ALLOW policy.
    if (policy.rules.length > 0 && mine.length === policy.rules.length) {
      const alsoApplying = candidatesFor(policy).filter((o) => o !== policy && !deleted.has(o) && appliesWherever(policy, o, root));
      deleted.add(policy);
      policiesFound.push({ policy, coveredBy: mine.map((m) => m.coveredBy), alsoApplying, workloads: selectedBy(policy) });
    } else rules.push(...mine);
  }
  return { policies: policiesFound, rules };
}

const istioCache = new WeakMap<Scenario, IstioRedundancy>();

/** Redundant AuthorizationPolicies and ALLOW rules of the scenario's mesh (computed once per scenario). */
export function istioRedundancy(scenario: Scenario): IstioRedundancy {
  let r = istioCache.get(scenario);
  if (!r) {
    const mesh = scenario.mesh;
    r = mesh ? istioCompute(mesh.authorizationPolicies, mesh.settings.rootNamespace, scenario.cluster.workloads) : { policies: [], rules: [] };
    istioCache.set(scenario, r);
  }
  return r;
}

/** `ns/name rules[1] (file:line)`. */
export function describeIstioSite(s: IstioRuleSite): string {
  return `${s.policy.namespace}/${s.policy.name} rules[${s.rule.index}] (${s.policy.file}:${s.rule.line})`;
}
