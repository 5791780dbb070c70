/**
 * A deliberately naive reference evaluator for Cilium, written straight from
 * semantics.md §3.12 (and §1.8 for the Kubernetes NetworkPolicies Cilium
 * enforces with its own policies): one endpoint, one peer, one (protocol, port)
 * at a time, reading the policies in their API shape. No set algebra, no
 * precomputation, no sharing with `src/`: it is the oracle the property tests
 * hold the real engine against.
 */
import { cidrContains, selectorMatches as k8sSelectorMatches, type RefSelector } from "../networkpolicy/reference.js";

export type RefProtocol = "TCP" | "UDP" | "SCTP";
export type RefLabels = Readonly<Record<string, string>>;

export const NAME_LABEL = "kubernetes.io/metadata.name";
export const CLUSTER = "default";

export interface RefNamespace {
  name: string;
  labels: RefLabels;
}

export interface RefContainerPort {
  name?: string;
  containerPort: number;
  protocol?: RefProtocol;
}

export interface RefPod {
  namespace: string;
  name: string;
  labels: RefLabels;
  serviceAccount: string;
  ports: readonly RefContainerPort[];
  ip?: string;
  replicated?: boolean;
}

export type { RefSelector };

/** Cilium `toPorts[].ports[]`: strings as in the CRD. */
export interface RefCiliumPort {
  port?: string;
  endPort?: number;
  protocol?: "TCP" | "UDP" | "SCTP" | "ANY";
}

export interface RefPortRule {
  ports?: RefCiliumPort[];
  rules?: { http: { method?: string; path?: string }[] };
}

/** A Cilium ingress/egress (or deny) rule: at most one L3 member. */
export interface RefCiliumRule {
  fromEndpoints?: RefSelector[];
  toEndpoints?: RefSelector[];
  fromCIDR?: string[];
  toCIDR?: string[];
  fromCIDRSet?: { cidr: string; except?: string[] }[];
  toCIDRSet?: { cidr: string; except?: string[] }[];
  fromEntities?: string[];
  toEntities?: string[];
  toPorts?: RefPortRule[];
}

export interface RefCiliumSpec {
  endpointSelector: RefSelector;
  ingress?: RefCiliumRule[];
  ingressDeny?: RefCiliumRule[];
  egress?: RefCiliumRule[];
  egressDeny?: RefCiliumRule[];
  enableDefaultDeny?: { ingress?: boolean; egress?: boolean };
}

export interface RefCiliumPolicy {
  kind: "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy";
  metadata: { name: string; namespace?: string };
  spec: RefCiliumSpec;
}

export interface RefNpPeer {
  podSelector?: RefSelector;
  namespaceSelector?: RefSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface RefNpPort {
  protocol?: RefProtocol;
  port?: number | string;
  endPort?: number;
}

export interface RefNetworkPolicy {
  kind: "NetworkPolicy";
  metadata: { name: string; namespace: string };
  spec: {
    podSelector?: RefSelector;
    policyTypes?: ("Ingress" | "Egress")[];
    ingress?: { from?: RefNpPeer[]; ports?: RefNpPort[] }[];
    egress?: { to?: RefNpPeer[]; ports?: RefNpPort[] }[];
  };
}

export type RefPolicy = RefCiliumPolicy | RefNetworkPolicy;

export interface RefWorld {
  namespaces: readonly RefNamespace[];
  pods: readonly RefPod[];
  policies: readonly RefPolicy[];
}

export interface RefOptions {
  mode: "default" | "always";
  /** enable-non-default-deny-policies */
  nonDefaultDeny: boolean;
  /** v1.19.4 (`select`) or 2023 docs (`namespace`) reading of namespace-label keys in a CNP. */
  namespaceLabelsInCnp: "select" | "namespace";
  /** allow-localhost is not `policy`. */
  allowLocalhost: boolean;
  /** policy-default-local-cluster (§3.3 r22). */
  localCluster: boolean;
}

export type RefEndpoint = { kind: "pod"; pod: RefPod } | { kind: "ip"; ip: string } | { kind: "node" };

export interface RefVerdict {
  allowed: boolean;
  deniedAt?: "egress" | "ingress";
  /** `networkpolicy` when only NetworkPolicies take part in the denying direction, else `cilium`. */
  layer?: "networkpolicy" | "cilium";
  /** Names of the policies a denial names: the deny rules' policies, or the isolating ones. */
  policies: string[];
}

type Dir = "ingress" | "egress";
type Labels = Map<string, string>; // "source:key" → value

/** §3.3 r18: the identity labels of a pod. */
function podIdentity(world: RefWorld, pod: RefPod): Labels {
  const l: Labels = new Map();
  for (const [k, v] of Object.entries(pod.labels)) l.set(`k8s:${k}`, v);
  l.set("k8s:io.kubernetes.pod.namespace", pod.namespace);
  l.set("k8s:io.cilium.k8s.policy.serviceaccount", pod.serviceAccount);
  l.set("k8s:io.cilium.k8s.policy.cluster", CLUSTER);
  const ns = world.namespaces.find((n) => n.name === pod.namespace);
  for (const [k, v] of Object.entries({ ...(ns?.labels ?? {}), [NAME_LABEL]: pod.namespace })) l.set(`k8s:io.cilium.k8s.namespace.labels.${k}`, v);
  return l;
}

function identityOf(world: RefWorld, e: RefEndpoint): Labels {
  if (e.kind === "pod") return podIdentity(world, e.pod);
  if (e.kind === "node") return new Map([["reserved:host", ""]]);
  return new Map([
    ["reserved:world", ""],
    [e.ip.includes(":") ? "reserved:world-ipv6" : "reserved:world-ipv4", ""],
  ]);
}

/** §3.3 r17: `src:key` or `key` (any source). */
function splitKey(k: string): [string, string] {
  const i = k.indexOf(":");
  return i < 0 ? ["any", k] : [k.slice(0, i), k.slice(i + 1)];
}

function valuesOf(id: Labels, key: string): string[] {
  const [src, k] = splitKey(key);
  const out: string[] = [];
  for (const [lk, v] of id) {
    const [lsrc, lkey] = splitKey(lk);
    if (lkey === k && (src === "any" || src === lsrc)) out.push(v);
  }
  return out;
}

/** A label selector over identity labels (Kubernetes semantics, §3.3 r23). */
function ciliumSelectorMatches(sel: RefSelector, id: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (!valuesOf(id, k).includes(v)) return false;
  for (const e of sel.matchExpressions ?? []) {
    const vals = valuesOf(id, e.key);
    const want = e.values ?? [];
    if (e.operator === "In" && !vals.some((v) => want.includes(v))) return false;
    if (e.operator === "NotIn" && vals.some((v) => want.includes(v))) return false;
    if (e.operator === "Exists" && vals.length === 0) return false;
    if (e.operator === "DoesNotExist" && vals.length > 0) return false;
  }
  return true;
}

const keysOf = (sel: RefSelector): string[] => [...Object.keys(sel.matchLabels ?? {}), ...(sel.matchExpressions ?? []).map((e) => e.key)];

/** §3.3 r20–22: from/toEndpoints scoping. */
function peerSelectorMatches(sel: RefSelector, policy: RefCiliumPolicy, id: Labels, opts: RefOptions): boolean {
  if (!ciliumSelectorMatches(sel, id)) return false;
  const keys = keysOf(sel).map(splitKey);
  if (keys.some(([src]) => src === "reserved")) return true;
  const nsKey = keys.some(([src, k]) => k === "io.kubernetes.pod.namespace" && (src === "k8s" || src === "any"));
  if (!nsKey) {
    const podNs = id.get("k8s:io.kubernetes.pod.namespace");
    if (policy.kind === "CiliumClusterwideNetworkPolicy") {
      if (podNs === undefined) return false;
    } else {
      const nsLabelKey = keys.some(([src, k]) => k.startsWith("io.cilium.k8s.namespace.labels.") && (src === "k8s" || src === "any"));
      if (!(nsLabelKey && opts.namespaceLabelsInCnp === "select") && podNs !== policy.metadata.namespace) return false;
    }
  }
  const clusterKey = keys.some(([src, k]) => k === "io.cilium.k8s.policy.cluster" && (src === "k8s" || src === "any"));
  if (opts.localCluster && !clusterKey && id.get("k8s:io.cilium.k8s.policy.cluster") !== CLUSTER) return false;
  return true;
}

/** §3.4: entity membership (no host-network pods, health, init or ingress endpoints here). */
function entityMatches(entity: string, id: Labels): boolean {
  switch (entity) {
    case "all":
      return true;
    case "none":
      return false;
    case "world":
      return id.has("reserved:world");
    case "cluster":
      return id.has("reserved:host") || id.has("reserved:remote-node") || id.get("k8s:io.cilium.k8s.policy.cluster") === CLUSTER;
    default:
      return id.has(`reserved:${entity}`);
  }
}

/** The address a CIDR rule sees: only outside addresses (§3.5 r25, §1.4 r20). */
const cidrAddress = (e: RefEndpoint): string | undefined => (e.kind === "ip" ? e.ip : undefined);

function cidrSetMatches(set: { cidr: string; except?: string[] }, ip: string): boolean {
  return cidrContains(set.cidr, ip) && !(set.except ?? []).some((x) => cidrContains(x, ip));
}

/** §3.2 r10–13: the rule's L3 part. */
function ciliumPeerMatches(rule: RefCiliumRule, dir: Dir, policy: RefCiliumPolicy, world: RefWorld, peer: RefEndpoint, opts: RefOptions): boolean {
  const endpoints = dir === "ingress" ? rule.fromEndpoints : rule.toEndpoints;
  const cidr = dir === "ingress" ? rule.fromCIDR : rule.toCIDR;
  const cidrSet = dir === "ingress" ? rule.fromCIDRSet : rule.toCIDRSet;
  const entities = dir === "ingress" ? rule.fromEntities : rule.toEntities;
  if (endpoints === undefined && cidr === undefined && cidrSet === undefined && entities === undefined) {
    return (rule.toPorts ?? []).length > 0; // nil L3: a wildcard only with toPorts (r13, C7)
  }
  const id = identityOf(world, peer);
  const ip = cidrAddress(peer);
  if ((endpoints ?? []).some((s) => peerSelectorMatches(s, policy, id, opts))) return true;
  if (ip !== undefined && (cidr ?? []).some((c) => cidrContains(c.includes("/") ? c : `${c}/${c.includes(":") ? 128 : 32}`, ip))) return true;
  if (ip !== undefined && (cidrSet ?? []).some((c) => cidrSetMatches(c, ip))) return true;
  return (entities ?? []).some((e) => entityMatches(e, id));
}

/** §3.8: toPorts (empty: every port); named ports on the destination pod. */
function ciliumPortsMatch(rule: RefCiliumRule, protocol: RefProtocol, port: number, dest: RefPod | undefined): boolean {
  const portRules = rule.toPorts ?? [];
  if (portRules.length === 0) return true;
  return portRules.some((pr) => {
    const ports = pr.ports ?? [];
    if (ports.length === 0) return true;
    return ports.some((p) => {
      const proto = p.protocol ?? "ANY";
      if (proto !== "ANY" && proto !== protocol) return false;
      const text = p.port ?? "0";
      if (/^\d+$/.test(text)) {
        const n = Number(text);
        if (n === 0) return true;
        return p.endPort !== undefined && p.endPort >= n ? n <= port && port <= p.endPort : n === port;
      }
      if (!dest) return false;
      return dest.ports.some((cp) => cp.name === text.toLowerCase() && (cp.protocol ?? "TCP") === protocol && cp.containerPort === port);
    });
  });
}

// Kubernetes NetworkPolicy under Cilium (§1.8 with §1.4 r20: ipBlock never matches pods).

function npSelects(np: RefNetworkPolicy, pod: RefPod): boolean {
  return np.metadata.namespace === pod.namespace && k8sSelectorMatches(np.spec.podSelector ?? {}, pod.labels);
}

function npTypes(np: RefNetworkPolicy): Dir[] {
  const declared = np.spec.policyTypes ?? [];
  if (declared.length > 0) return declared.map((d) => (d === "Ingress" ? "ingress" : "egress"));
  return (np.spec.egress ?? []).length > 0 ? ["ingress", "egress"] : ["ingress"];
}

function npPeerMatches(world: RefWorld, item: RefNpPeer, peer: RefEndpoint, policyNs: string): boolean {
  if (item.ipBlock) {
    if (peer.kind !== "ip") return false;
    return cidrSetMatches(item.ipBlock, peer.ip);
  }
  if (peer.kind !== "pod") return false;
  const pod = peer.pod;
  if (item.namespaceSelector) {
    const ns = world.namespaces.find((n) => n.name === pod.namespace);
    if (!k8sSelectorMatches(item.namespaceSelector, { ...(ns?.labels ?? {}), [NAME_LABEL]: pod.namespace })) return false;
  } else if (pod.namespace !== policyNs) return false;
  return item.podSelector ? k8sSelectorMatches(item.podSelector, pod.labels) : true;
}

function npPortsMatch(ports: RefNpPort[] | undefined, protocol: RefProtocol, port: number, dest: RefPod | undefined): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? "TCP") !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "number") return p.endPort !== undefined ? p.port <= port && port <= p.endPort : p.port === port;
    return !!dest && dest.ports.some((cp) => cp.name === p.port && (cp.protocol ?? "TCP") === protocol && cp.containerPort === port);
  });
}

// The §3.12 dirAllowed.

interface DirResult {
  allowed: boolean;
  layer: "networkpolicy" | "cilium";
  policies: string[];
}

function dirAllowed(world: RefWorld, subject: RefPod, peer: RefEndpoint, protocol: RefProtocol, port: number, dir: Dir, dest: RefPod | undefined, opts: RefOptions): DirResult {
  const id = podIdentity(world, subject);
  const cnps = world.policies.filter((p): p is RefCiliumPolicy => p.kind !== "NetworkPolicy");
  const nps = world.policies.filter((p): p is RefNetworkPolicy => p.kind === "NetworkPolicy");
  const denyKey = dir === "ingress" ? "ingressDeny" : "egressDeny";
  // Rules whose (implicitly namespaced) selector selects the endpoint.
  const selectingCnps = cnps.filter(
    (p) => ciliumSelectorMatches(p.spec.endpointSelector, id) && (p.kind === "CiliumClusterwideNetworkPolicy" || p.metadata.namespace === subject.namespace),
  );
  const selectingNps = nps.filter((np) => npSelects(np, subject) && npTypes(np).includes(dir));
  const hasDirRules = (p: RefCiliumPolicy) => (p.spec[dir] ?? []).length + (p.spec[denyKey] ?? []).length > 0;
  const cnpDefaultDeny = (p: RefCiliumPolicy): boolean => {
    if (!opts.nonDefaultDeny) return true;
    const explicit = p.spec.enableDefaultDeny?.[dir];
    return explicit ?? hasDirRules(p);
  };
  // Policies that take part in this direction (and so isolate the endpoint there).
  const partCnps = selectingCnps.filter((p) => hasDirRules(p) || cnpDefaultDeny(p));
  const layer: "networkpolicy" | "cilium" = opts.mode === "always" || partCnps.length > 0 ? "cilium" : "networkpolicy";
  const isolating = [...selectingNps.map((p) => p.metadata.name), ...partCnps.map((p) => p.metadata.name)];

  // Deny wins (r6).
  const denying = partCnps.filter((p) => (p.spec[denyKey] ?? []).some((r) => ciliumPeerMatches(r, dir, p, world, peer, opts) && ciliumPortsMatch(r, protocol, port, dest)));
  if (denying.length > 0) return { allowed: false, layer, policies: denying.map((p) => p.metadata.name) };

  // The local host (C17).
  if (dir === "ingress" && peer.kind === "node" && opts.allowLocalhost) return { allowed: true, layer, policies: [] };

  const defaultDeny = opts.mode === "always" || selectingNps.length > 0 || partCnps.some(cnpDefaultDeny);
  const cnpAllows = partCnps.some((p) => (p.spec[dir] ?? []).some((r) => ciliumPeerMatches(r, dir, p, world, peer, opts) && ciliumPortsMatch(r, protocol, port, dest)));
  const npAllows = selectingNps.some((np) =>
    dir === "ingress"
      ? (np.spec.ingress ?? []).some((r) => (!r.from || r.from.length === 0 || r.from.some((f) => npPeerMatches(world, f, peer, np.metadata.namespace))) && npPortsMatch(r.ports, protocol, port, dest))
      : (np.spec.egress ?? []).some((r) => (!r.to || r.to.length === 0 || r.to.some((t) => npPeerMatches(world, t, peer, np.metadata.namespace))) && npPortsMatch(r.ports, protocol, port, dest)),
  );
  // Without request attributes, an L7 rule admits its port (§3.12: the request is checked later).
  if (cnpAllows || npAllows || !defaultDeny) return { allowed: true, layer, policies: [] };
  return { allowed: false, layer, policies: isolating };
}

/** Is `src` → `dst` on `protocol`/`port` allowed by Cilium? */
export function refAllowed(world: RefWorld, src: RefEndpoint, dst: RefEndpoint, protocol: RefProtocol, port: number, opts: RefOptions): RefVerdict {
  if (src.kind === "pod" && dst.kind === "pod" && src.pod === dst.pod && !src.pod.replicated) return { allowed: true, policies: [] };
  const dest = dst.kind === "pod" ? dst.pod : undefined;
  if (src.kind === "pod") {
    const r = dirAllowed(world, src.pod, dst, protocol, port, "egress", dest, opts);
    if (!r.allowed) return { allowed: false, deniedAt: "egress", layer: r.layer, policies: r.policies };
  }
  if (dst.kind === "pod") {
    const r = dirAllowed(world, dst.pod, src, protocol, port, "ingress", dest, opts);
    if (!r.allowed) return { allowed: false, deniedAt: "ingress", layer: r.layer, policies: r.policies };
  }
  return { allowed: true, policies: [] };
}

/** An HTTP request for L7 rules. */
export interface RefRequest {
  method: string;
  path: string;
}

/**
 * One direction with an HTTP request (§3.12, §3.9 r40–44): deny rules and
 * default deny first; then, among the allow rules matching peer and port, an
 * L4-only one allows (r41), else some HTTP rule must fully match (JavaScript
 * regexes anchored on both ends stand in for RE2 on the tests' simple patterns).
 */
export function refL7(
  world: RefWorld,
  subject: RefPod,
  peer: RefEndpoint,
  port: number,
  dir: "ingress" | "egress",
  req: RefRequest,
  opts: RefOptions,
): "allow" | "drop" | "http-403" {
  const dest = dir === "ingress" ? subject : peer.kind === "pod" ? peer.pod : undefined;
  const l4 = dirAllowed(world, subject, peer, "TCP", port, dir, dest, opts);
  if (!l4.allowed) return "drop";
  if (dir === "ingress" && peer.kind === "node" && opts.allowLocalhost) return "allow";
  const id = podIdentity(world, subject);
  const cnps = world.policies.filter(
    (p): p is RefCiliumPolicy =>
      p.kind !== "NetworkPolicy" && ciliumSelectorMatches(p.spec.endpointSelector, id) && (p.kind === "CiliumClusterwideNetworkPolicy" || p.metadata.namespace === subject.namespace),
  );
  const nps = world.policies.filter((p): p is RefNetworkPolicy => p.kind === "NetworkPolicy" && npSelects(p, subject) && npTypes(p).includes(dir));
  // NetworkPolicy rules have no L7: one matching is an L4-only match.
  const npMatch = nps.some((np) =>
    dir === "ingress"
      ? (np.spec.ingress ?? []).some((r) => (!r.from || r.from.length === 0 || r.from.some((f) => npPeerMatches(world, f, peer, np.metadata.namespace))) && npPortsMatch(r.ports, "TCP", port, dest))
      : (np.spec.egress ?? []).some((r) => (!r.to || r.to.length === 0 || r.to.some((t) => npPeerMatches(world, t, peer, np.metadata.namespace))) && npPortsMatch(r.ports, "TCP", port, dest)),
  );
  if (npMatch) return "allow";
  const httpRules: { method?: string; path?: string }[] = [];
  let matched = false;
  for (const p of cnps) {
    for (const r of p.spec[dir] ?? []) {
      if (!ciliumPeerMatches(r, dir, p, world, peer, opts) || !ciliumPortsMatch(r, "TCP", port, dest)) continue;
      matched = true;
      const portRules = r.toPorts ?? [];
      if (portRules.length === 0) return "allow";
      for (const pr of portRules) {
        if (!ciliumPortsMatch({ toPorts: [pr] }, "TCP", port, dest)) continue;
        if (!pr.rules) return "allow";
        httpRules.push(...pr.rules.http);
      }
    }
  }
  // Nothing matched: the endpoint is not in default deny (dirAllowed allowed it).
  if (!matched) return "allow";
  // RE2's leading `(?i)` is JavaScript's `i` flag.
  const full = (re: string | undefined, s: string) =>
    re === undefined || re === "" || (re.startsWith("(?i)") ? new RegExp(`^(?:${re.slice(4)})$`, "i") : new RegExp(`^(?:${re})$`)).test(s);
  return httpRules.some((h) => full(h.method, req.method) && full(h.path, req.path)) ? "allow" : "http-403";
}
