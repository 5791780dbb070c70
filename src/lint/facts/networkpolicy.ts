/**
 * Facts the NetworkPolicy rules share: the policies as written (under every CNI
 * profile), the pods a policy or a peer item selects, and every allow rule of
 * every CNI layer (NetworkPolicy, and Cilium's engine with the policies it reads)
 * with what it selects and how the layer's own evaluator decides it.
 */
import { stringify } from "yaml";
import type { Scenario } from "../../analysis/scenario.js";
import { CiliumEngine, type CiliumRule, type CiliumSpec, type PeerPart } from "../../layers/cilium/index.js";
import { CLUSTER_LABEL, Identity, IdentitySelector, NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_LABEL } from "../../layers/cilium/labels.js";
import {
  NetworkPolicyLayer,
  rulePorts,
  type NetworkPolicy,
  type NetworkPolicyRule,
  type PodPeer,
} from "../../layers/networkpolicy/index.js";
import type { FieldPath, Manifest } from "../../load/types.js";
import type { Direction, PolicyRef, WireConn } from "../../layers/types.js";
import type { LabelSelector } from "../../model/selector.js";
import type { Namespace, Workload } from "../../model/types.js";
import { ConnSet, PROTOCOLS, type IPSet, type Protocol } from "../../sets/index.js";
import { ciliumEngine } from "../util.js";
import { qualifiedName } from "../../layers/policy-ref.js";



export function policyName(p: { namespace: string | null; name: string }): string {
  return qualifiedName(p);
}

/** The pods a NetworkPolicy selects (host-network pods are node traffic to NetworkPolicy, semantics §1.6 r29). */
export function selectedPods(scenario: Scenario, p: NetworkPolicy): Workload[] {
  return (podIndex(scenario).get(p.namespace) ?? []).filter((w) => p.podSelector.matches(w.labels));
}

export function namespacesMatching(scenario: Scenario, sel: LabelSelector): Namespace[] {
  return [...scenario.cluster.namespaces.values()].filter((ns) => sel.matches(ns.labels));
}

/** The namespaces a pod peer item looks in: the policy's own, or those its namespaceSelector matches. */
export function peerNamespaces(scenario: Scenario, p: NetworkPolicy, peer: PodPeer): string[] {
  return peer.namespaceSelector ? namespacesMatching(scenario, peer.namespaceSelector).map((n) => n.name) : [p.namespace];
}

/** The pods a pod peer item selects (semantics §1.3 r11–13). */
export function peerPods(scenario: Scenario, p: NetworkPolicy, peer: PodPeer): Workload[] {
  return podsIn(podIndex(scenario), peerNamespaces(scenario, p, peer)).filter((w) => !peer.podSelector || peer.podSelector.matches(w.labels));
}

/** Whether a pod peer item constrains pod labels (a non-empty podSelector). */
export function namesPods(peer: PodPeer): boolean {
  return !!peer.podSelector && !peer.podSelector.isEverything;
}

export function definesPort(w: Workload, name: string, protocol: Protocol): boolean {
  return w.ports.some((cp) => cp.name?.toLowerCase() === name.toLowerCase() && cp.protocol === protocol);
}

/**
 * Two peer items of one rule, one with only a namespaceSelector and one with only
 * a podSelector, where the pods the podSelector names live in the selected
 * namespaces and not in the policy's own: the OR of two items where one item with
 * both selectors (AND, semantics §1.3 r13) was meant.
 */
export interface SplitPeers {
  direction: Direction;
  rule: NetworkPolicyRule;
  namespaceItem: { index: number; peer: PodPeer };
  podItem: { index: number; peer: PodPeer };
  /** Every pod the namespace item admits. */
  namespacePods: Workload[];
  /** The pods one item with both selectors would admit. */
  combinedPods: Workload[];
}

export function splitPeers(scenario: Scenario, p: NetworkPolicy): SplitPeers[] {
  const out: SplitPeers[] = [];
  for (const direction of ["ingress", "egress"] as const) {
    if (!p.policyTypes.has(direction)) continue;
    for (const rule of p[direction]) {
      const items = (rule.peers ?? []).flatMap((peer, index) => (peer.type === "pods" ? [{ peer, index }] : []));
      const namespaceItems = items.filter((x) => x.peer.namespaceSelector && !x.peer.podSelector);
      const podItems = items.filter((x) => !x.peer.namespaceSelector && namesPods(x.peer));
      for (const namespaceItem of namespaceItems) {
        for (const podItem of podItems) {
          // Pods of the policy's own namespace match the pod item: two items are then a plausible OR.
          if (peerPods(scenario, p, podItem.peer).length > 0) continue;
          const combined: PodPeer = { type: "pods", namespaceSelector: namespaceItem.peer.namespaceSelector, podSelector: podItem.peer.podSelector };
          const combinedPods = peerPods(scenario, p, combined);
          if (combinedPods.length === 0) continue;
          out.push({ direction, rule, namespaceItem, podItem, namespacePods: peerPods(scenario, p, namespaceItem.peer), combinedPods });
        }
      }
    }
  }
  return out;
}

/** Up to this many ports, a rule's ports are probed one by one; a wider range is probed on the destination's declared ports. */
const PROBE_LIMIT = 16;

/**
 * Concrete connections to test a set of allowed connections with: each port when
 * the set names a few, else the destination's declared container ports inside it
 * (nothing when it declares none: a port would have to be guessed).
 */
export function probeConns(conns: ConnSet, dest: Workload | undefined): WireConn[] {
  const out: WireConn[] = [];
  for (const protocol of PROTOCOLS) {
    const ports = conns.portsOf(protocol);
    const count = ports.intervals().reduce((n, [lo, hi]) => n + (hi - lo + 1), 0);
    if (count === 0) continue;
    if (count <= PROBE_LIMIT) {
      for (const [lo, hi] of ports.intervals()) for (let port = lo; port <= hi; port++) out.push({ protocol, port });
      continue;
    }
    const declared = new Set((dest?.ports ?? []).filter((cp) => cp.protocol === protocol && ports.contains(cp.port)).map((cp) => cp.port));
    for (const port of [...declared].sort((a, b) => a - b)) out.push({ protocol, port });
  }
  return out;
}

export function connText(conns: readonly WireConn[]): string {
  return [...new Set(conns.map((c) => `${c.protocol}/${c.port}`))].join(", ");
}

/**
 * One allow rule of a CNI layer, as its evaluator sees it: the endpoints it is
 * attached to, the connections it names, and whether it admits a given peer.
 */
export interface AllowRule {
  /** The rule itself (its index and line). */
  ref: PolicyRef;
  direction: Direction;
  /** `NetworkPolicy app/db ingress[0]`, for people. */
  text: string;
  /** The endpoints whose `direction` the rule belongs to. */
  subjects: readonly Workload[];
  /** What the rule's ports admit towards `dest` (named ports resolved on it). */
  conns(dest: Workload | undefined): ConnSet;
  /** Whether the layer's evaluator credits this rule with admitting `conn` between `subject` and `peer`. */
  admits(subject: Workload, peer: Workload, conn: WireConn): boolean;
  /** Whether `peer` is matched by a peer item that names no pod labels: every peer, whole namespaces, address blocks. */
  matchesBroadly(peer: Workload): boolean;
  /** Pod workloads the rule may admit as peers (a superset, cheap to compute: by namespace and selector). */
  candidatePeers(): readonly Workload[];
  /** The rule's port entries that name one port or a range (not "every port"), as written. */
  portEntries: readonly PortEntry[];
  /** The manifest of the policy, for lines of fields. */
  manifest: Manifest;
}

export interface PortEntry {
  /** A number, or a container port name. */
  port: number | string;
  endPort: number | undefined;
  /** The protocols the entry covers (Cilium `ANY`: TCP, UDP and SCTP). */
  protocols: readonly Protocol[];
  /** The field path of the entry's `port` in the manifest. */
  path: FieldPath;
}

/** A rule's reference whose line is read from the manifest only when asked for (finding it parses the document). */
function lazyRuleRef(ref: Omit<PolicyRef, "line">, rule: { line: number }): PolicyRef {
  return Object.defineProperty(ref, "line", { enumerable: true, get: () => rule.line }) as PolicyRef;
}

/** The line is compared last: the evaluator has already read it for a rule it credits. */
const sameRule = (a: PolicyRef, b: PolicyRef): boolean =>
  a.kind === b.kind && a.namespace === b.namespace && a.name === b.name && a.rule === b.rule && a.line === b.line;

/** Every allow rule of every CNI layer of the scenario. */
export function allowRules(scenario: Scenario): readonly AllowRule[] {
  const known = allowRulesOf.get(scenario);
  if (known) return known;
  const pods = podIndex(scenario);
  const out: AllowRule[] = [];
  for (const layer of scenario.layers) if (layer instanceof NetworkPolicyLayer) out.push(...networkPolicyAllowRules(scenario, layer, pods));
  const engine = ciliumEngine(scenario);
  if (engine) out.push(...ciliumAllowRules(scenario, engine, pods));
  allowRulesOf.set(scenario, out);
  return out;
}

/** Several rules read the allow rules of one scenario: they are built once. */
const allowRulesOf = new WeakMap<Scenario, readonly AllowRule[]>();

/** Pod workloads (not host network) by namespace; the key "" holds them all. */
type PodIndex = ReadonlyMap<string, readonly Workload[]>;

const podIndexes = new WeakMap<Scenario, PodIndex>();

function podIndex(scenario: Scenario): PodIndex {
  let index = podIndexes.get(scenario);
  if (index) return index;
  const out = new Map<string, Workload[]>([["", []]]);
  for (const w of scenario.cluster.workloads) {
    if (w.hostNetwork) continue;
    out.get("")!.push(w);
    let list = out.get(w.namespace);
    if (!list) out.set(w.namespace, (list = []));
    list.push(w);
  }
  podIndexes.set(scenario, (index = out));
  return index;
}

/** The pods of some namespaces (all of them for `undefined`), each once. */
function podsIn(pods: PodIndex, namespaces: Iterable<string> | undefined): readonly Workload[] {
  if (namespaces === undefined) return pods.get("")!;
  const out: Workload[] = [];
  for (const ns of new Set(namespaces)) if (ns !== "") for (const w of pods.get(ns) ?? []) out.push(w);
  return out;
}

function networkPolicyCandidates(scenario: Scenario, pods: PodIndex, p: NetworkPolicy, rule: NetworkPolicyRule): readonly Workload[] {
  if (!rule.peers) return podsIn(pods, undefined);
  const out = new Set<Workload>();
  for (const peer of rule.peers) {
    if (peer.type === "ipBlock") {
      for (const w of podsIn(pods, undefined)) if (w.ips.length > 0 && w.ips.every((ip) => peer.ips.contains(ip))) out.add(w);
      continue;
    }
    for (const w of podsIn(pods, peerNamespaces(scenario, p, peer))) if (!peer.podSelector || peer.podSelector.matches(w.labels)) out.add(w);
  }
  return [...out];
}

function ciliumCandidates(scenario: Scenario, pods: PodIndex, rule: CiliumRule, placements: Map<string, Identity>): readonly Workload[] {
  const namespaces = new Set<string>();
  for (const part of rule.peers) {
    switch (part.type) {
      case "all":
        return podsIn(pods, undefined);
      case "entity":
        if (part.entity === "all" || part.entity === "cluster") return podsIn(pods, undefined);
        break;
      case "selector": {
        // Cilium confines most selectors to named namespaces (§3.3 r19–20): only their pods can match.
        const confined = part.selector.requirements.find((r) => r.key === POD_NAMESPACE_LABEL && r.operator === "In" && (r.source === "k8s" || r.source === "any"));
        if (confined) {
          for (const ns of confined.values) namespaces.add(ns);
          break;
        }
        // Otherwise only the namespaces whose placement labels satisfy the selector's placement requirements can hold a match.
        const placement = IdentitySelector.of(part.selector.requirements.filter((r) => isPlacementKey(r.key)));
        for (const ns of scenario.cluster.namespaces.values()) if (placement.matches(placementIdentity(scenario, ns.name, placements))) namespaces.add(ns.name);
        break;
      }
      case "service":
        if (part.namespace === undefined) return podsIn(pods, undefined);
        namespaces.add(part.namespace);
        break;
      default:
        // Addresses, names, nodes: never a pod endpoint.
        break;
    }
  }
  return podsIn(pods, namespaces);
}

function networkPolicyAllowRules(scenario: Scenario, layer: NetworkPolicyLayer, pods: PodIndex): AllowRule[] {
  const out: AllowRule[] = [];
  for (const p of layer.policies) {
    const subjects = selectedPods(scenario, p);
    for (const direction of ["ingress", "egress"] as const) {
      // Rules of a direction missing from policyTypes are never consulted (§1.1 r2).
      if (!p.policyTypes.has(direction)) continue;
      for (const rule of p[direction]) {
        const ref = lazyRuleRef({ kind: "NetworkPolicy", namespace: p.namespace, name: p.name, rule: rule.index, file: p.file }, rule);
        out.push({
          ref,
          direction,
          text: `NetworkPolicy ${policyName(p)} ${direction}[${rule.index}]`,
          subjects,
          conns: (dest) => rulePorts(rule, dest),
          admits: (subject, peer, conn) => {
            const d = layer.evaluate(subject, direction, { kind: "workload", workload: peer }, conn);
            return d.verdict === "allow" && d.policies.some((r) => sameRule(r, ref));
          },
          matchesBroadly: once(() => networkPolicyBroadMatcher(scenario, p, rule)),
          candidatePeers: () => networkPolicyCandidates(scenario, pods, p, rule),
          portEntries: (rule.ports ?? []).flatMap((port, k) =>
            port.port === undefined ? [] : [{ port: port.port, endPort: port.endPort, protocols: [port.protocol], path: ["spec", direction, rule.index, "ports", k, "port"] }],
          ),
          manifest: p.manifest,
        });
      }
    }
  }
  return out;
}

/** Whether a workload is matched by an item of the rule that names no pod labels (every peer, whole namespaces, address blocks). */
function networkPolicyBroadMatcher(scenario: Scenario, p: NetworkPolicy, rule: NetworkPolicyRule): (w: Workload) => boolean {
  if (!rule.peers) return () => true;
  const namespaces = new Set<string>();
  const blocks: IPSet[] = [];
  for (const peer of rule.peers) {
    if (peer.type === "ipBlock") blocks.push(peer.ips);
    else if (!namesPods(peer)) for (const ns of peerNamespaces(scenario, p, peer)) namespaces.add(ns);
  }
  return (w) => namespaces.has(w.namespace) || blocks.some((ips) => w.ips.length > 0 && w.ips.every((ip) => ips.contains(ip)));
}

function ciliumAllowRules(scenario: Scenario, engine: CiliumEngine, pods: PodIndex): AllowRule[] {
  const out: AllowRule[] = [];
  const placements = new Map<string, Identity>();
  // The endpoints of each spec, per direction, read from the engine's selection once.
  const subjectsOf: Record<Direction, Map<number, Workload[]>> = { ingress: new Map(), egress: new Map() };
  for (const w of scenario.cluster.workloads) {
    if (!engine.applies(w)) continue;
    for (const d of ["ingress", "egress"] as const) {
      for (const si of engine.factsOf(w).selectedBy[d]) {
        let list = subjectsOf[d].get(si);
        if (!list) subjectsOf[d].set(si, (list = []));
        list.push(w);
      }
    }
  }
  engine.specs.forEach((spec, si) => {
    for (const rule of spec.rules) {
      if (rule.deny) continue;
      const direction = rule.direction;
      const p = spec.policy;
      const ref = lazyRuleRef({ kind: p.kind, namespace: p.namespace, name: p.name, rule: rule.index, file: p.file }, rule);
      out.push({
        ref,
        direction,
        text: `${p.kind} ${policyName(p)} ${rule.label}`,
        subjects: subjectsOf[direction].get(si) ?? [],
        conns: (dest) => engine.ruleConns(rule, dest),
        admits: (subject, peer, conn) => {
          const d = engine.evaluate(subject, direction, { kind: "workload", workload: peer }, conn);
          return d.verdict === "allow" && d.policies.some((r) => sameRule(r, ref));
        },
        matchesBroadly: byNamespace((namespace) => ciliumBroadMatch(scenario, rule, namespace, placements)),
        candidatePeers: () => ciliumCandidates(scenario, pods, rule, placements),
        portEntries: ciliumPortEntries(spec, rule),
        manifest: p.manifest,
      });
    }
  });
  return out;
}

function ciliumPortEntries(spec: CiliumSpec, rule: CiliumRule): PortEntry[] {
  const out: PortEntry[] = [];
  // A NetworkPolicy read by Cilium keeps its own layout: one port rule, the entries of `ports`.
  const rulePath: FieldPath =
    spec.policy.kind === "NetworkPolicy" ? ["spec", rule.direction, rule.index] : [...(spec.specIndex === null ? ["spec"] : ["specs", spec.specIndex]), rule.section, rule.index];
  (rule.ports ?? []).forEach((pr, k) =>
    pr.ports.forEach((port, m) => {
      // Port 0 is every port.
      if (port.port === 0) return;
      const path = spec.policy.kind === "NetworkPolicy" ? [...rulePath, "ports", m, "port"] : [...rulePath, "toPorts", k, "ports", m, "port"];
      out.push({ port: port.port, endPort: port.endPort, protocols: port.protocols, path });
    }),
  );
  return out;
}

/** Keys of a Cilium pod identity that say where a pod runs, not which pod it is. */
function isPlacementKey(key: string): boolean {
  return key === POD_NAMESPACE_LABEL || key === CLUSTER_LABEL || key.startsWith(NAMESPACE_LABELS_PREFIX);
}

/** The identity labels of a pod that depend only on where it runs: its namespace (name and labels) and cluster. */
function placementIdentity(scenario: Scenario, namespace: string, memo: Map<string, Identity>): Identity {
  const known = memo.get(namespace);
  if (known) return known;
  const ns = scenario.cluster.namespaces.get(namespace);
  const id = new Identity([
    ["k8s", POD_NAMESPACE_LABEL, namespace],
    ["k8s", CLUSTER_LABEL, scenario.profile.cilium.clusterName],
    ...Object.entries(ns?.labels ?? {}).map(([k, v]) => ["k8s", `${NAMESPACE_LABELS_PREFIX}${k}`, v] as const),
  ]);
  memo.set(namespace, id);
  return id;
}

/** A broad Cilium peer part (every peer, the whole cluster, placement keys only) is decided by a pod's namespace alone. */
function ciliumBroadMatch(scenario: Scenario, rule: CiliumRule, namespace: string, placements: Map<string, Identity>): boolean {
  return rule.peers.some((part: PeerPart) => {
    switch (part.type) {
      case "all":
        return true;
      case "entity":
        return part.entity === "all" || part.entity === "cluster";
      case "selector":
        return part.selector.requirements.every((r) => isPlacementKey(r.key)) && part.selector.matches(placementIdentity(scenario, namespace, placements));
      default:
        return false;
    }
  });
}

/** A workload predicate that depends on the namespace only, answered once per namespace. */
function byNamespace(decide: (namespace: string) => boolean): (w: Workload) => boolean {
  const memo = new Map<string, boolean>();
  return (w) => {
    let v = memo.get(w.namespace);
    if (v === undefined) memo.set(w.namespace, (v = decide(w.namespace)));
    return v;
  };
}

/** A function of one argument built on first use (a rule's matcher is only needed when it has subjects). */
function once<A, R>(build: () => (a: A) => R): (a: A) => R {
  let f: ((a: A) => R) | undefined;
  return (a) => (f ??= build())(a);
}

/** The label a fix selects a workload by: a conventional name label when it has one, else all its labels. */
export function identifyingLabels(w: Workload): Record<string, string> {
  for (const key of ["app.kubernetes.io/name", "app", "k8s-app", "name"]) {
    const v = w.labels[key];
    if (v !== undefined) return { [key]: v };
  }
  return { ...w.labels };
}

/** `key: value` lines of a YAML mapping at `indent` spaces. */
export function yamlMap(labels: Record<string, string>, indent: number): string {
  const pad = " ".repeat(indent);
  return stringify(labels, { lineWidth: 0 })
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => `${pad}${line}\n`)
    .join("");
}
