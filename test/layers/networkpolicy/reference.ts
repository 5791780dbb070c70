/**
 * A deliberately naive reference evaluator for Kubernetes NetworkPolicy, written
 * straight from semantics.md §1.8: one pod, one peer, one (protocol, port) at a
 * time, reading the policies in their API shape (as a person writes them, before
 * defaulting). No set algebra, no precomputation, no sharing with `src/`: it is the
 * oracle the property tests hold the real evaluator against, so it must stay
 * obviously correct rather than fast.
 */

export type RefProtocol = "TCP" | "UDP" | "SCTP";
export type RefLabels = Readonly<Record<string, string>>;

/** The label the API server puts on every namespace (§1.3 r14). */
export const NAME_LABEL = "kubernetes.io/metadata.name";

export interface RefNamespace {
  name: string;
  /** Labels as written; the reference adds `kubernetes.io/metadata.name` itself. */
  labels: RefLabels;
}

export interface RefContainerPort {
  name?: string;
  containerPort: number;
  /** Absent means TCP. */
  protocol?: RefProtocol;
}

export interface RefPod {
  namespace: string;
  name: string;
  labels: RefLabels;
  ports: readonly RefContainerPort[];
  /** Pod IP, when the input states it. */
  ip?: string;
  /**
   * True for a controller with several replicas: "the same workload" then means
   * another pod, which is subject to policy. A bare Pod reaching itself is not (§1.6 r28).
   */
  replicated?: boolean;
}

/** A label selector in its API shape. */
export interface RefSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

export interface RefPeer {
  podSelector?: RefSelector;
  namespaceSelector?: RefSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface RefPort {
  protocol?: RefProtocol;
  port?: number | string;
  endPort?: number;
}

export interface RefRule {
  from?: RefPeer[];
  to?: RefPeer[];
  ports?: RefPort[];
}

/** A NetworkPolicy as written in a manifest (nothing defaulted). */
export interface RefPolicy {
  metadata: { name: string; namespace: string };
  spec: {
    podSelector?: RefSelector;
    policyTypes?: ("Ingress" | "Egress")[];
    ingress?: RefRule[];
    egress?: RefRule[];
  };
}

export interface RefWorld {
  namespaces: readonly RefNamespace[];
  pods: readonly RefPod[];
  policies: readonly RefPolicy[];
}

/** One end of a flow: a pod, an address outside the pod network, or the destination pod's own node (kubelet). */
export type RefEndpoint = { kind: "pod"; pod: RefPod } | { kind: "ip"; ip: string } | { kind: "node" };

export interface RefOptions {
  /** Whether an ipBlock matches a pod's own IP (§1.4 r20: yes for the generic reference, no on Cilium). */
  ipBlockMatchesPods: boolean;
}

export interface RefVerdict {
  allowed: boolean;
  /** For a denial: the direction that denied (egress is checked first). */
  deniedAt?: "egress" | "ingress";
  /** For a denial: names of the policies that isolate the denying pod in that direction. */
  isolatedBy: string[];
}

type Dir = "Ingress" | "Egress";

/** Is `src` → `dst` on `protocol`/`port` allowed by NetworkPolicy? */
export function refAllowed(
  world: RefWorld,
  src: RefEndpoint,
  dst: RefEndpoint,
  protocol: RefProtocol,
  port: number,
  opts: RefOptions,
): RefVerdict {
  // N17: a pod reaching its own IP. Two replicas of one controller are two pods.
  if (src.kind === "pod" && dst.kind === "pod" && src.pod === dst.pod && !src.pod.replicated) {
    return { allowed: true, isolatedBy: [] };
  }
  // The named-port rule (§1.5 r23) always looks at the destination pod, for both directions.
  const destPod = dst.kind === "pod" ? dst.pod : undefined;
  if (src.kind === "pod") {
    const denied = allowedDir(world, src.pod, dst, protocol, port, "Egress", destPod, opts);
    if (denied) return { allowed: false, deniedAt: "egress", isolatedBy: denied };
  }
  if (dst.kind === "pod") {
    const denied = allowedDir(world, dst.pod, src, protocol, port, "Ingress", destPod, opts);
    if (denied) return { allowed: false, deniedAt: "ingress", isolatedBy: denied };
  }
  return { allowed: true, isolatedBy: [] };
}

/** The §1.8 `allowedDir`: undefined when allowed, else the names of the isolating policies. */
function allowedDir(
  world: RefWorld,
  subject: RefPod,
  peer: RefEndpoint,
  protocol: RefProtocol,
  port: number,
  dir: Dir,
  destPod: RefPod | undefined,
  opts: RefOptions,
): string[] | undefined {
  const pols = world.policies.filter(
    (np) =>
      np.metadata.namespace === subject.namespace &&
      selectorMatches(np.spec.podSelector ?? {}, subject.labels) &&
      effectivePolicyTypes(np).includes(dir),
  );
  if (pols.length === 0) return undefined;
  if (dir === "Ingress" && peer.kind === "node") return undefined; // §1.6 r27
  for (const np of pols) {
    const rules = (dir === "Ingress" ? np.spec.ingress : np.spec.egress) ?? [];
    for (const r of rules) {
      const peers = dir === "Ingress" ? r.from : r.to;
      if (peersMatch(world, peers, peer, np.metadata.namespace, opts) && portsMatch(r.ports, protocol, port, destPod)) return undefined;
    }
  }
  return pols.map((np) => np.metadata.name);
}

/** §1.1 r5: an empty or absent list is defaulted to Ingress, plus Egress when there are egress rules. */
export function effectivePolicyTypes(np: RefPolicy): Dir[] {
  const declared = np.spec.policyTypes ?? [];
  if (declared.length > 0) return declared;
  return (np.spec.egress ?? []).length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
}

function peersMatch(world: RefWorld, peers: RefPeer[] | undefined, peer: RefEndpoint, policyNs: string, opts: RefOptions): boolean {
  if (!peers || peers.length === 0) return true; // §1.2 r9
  return peers.some((item) => peerItemMatches(world, item, peer, policyNs, opts));
}

function peerItemMatches(world: RefWorld, item: RefPeer, peer: RefEndpoint, policyNs: string, opts: RefOptions): boolean {
  if (item.ipBlock) {
    let ip: string | undefined;
    if (peer.kind === "ip") ip = peer.ip;
    else if (peer.kind === "pod" && opts.ipBlockMatchesPods) ip = peer.pod.ip;
    if (ip === undefined) return false;
    return cidrContains(item.ipBlock.cidr, ip) && !(item.ipBlock.except ?? []).some((e) => cidrContains(e, ip));
  }
  // §1.3 r11–13: selectors only ever select pods; both fields in one item are ANDed.
  if (peer.kind !== "pod") return false;
  const pod = peer.pod;
  if (item.namespaceSelector) {
    const ns = world.namespaces.find((n) => n.name === pod.namespace);
    const nsLabels = { ...(ns?.labels ?? {}), [NAME_LABEL]: pod.namespace };
    if (!selectorMatches(item.namespaceSelector, nsLabels)) return false;
  } else if (pod.namespace !== policyNs) {
    return false;
  }
  return item.podSelector ? selectorMatches(item.podSelector, pod.labels) : true;
}

function portsMatch(ports: RefPort[] | undefined, protocol: RefProtocol, port: number, destPod: RefPod | undefined): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((item) => {
    if ((item.protocol ?? "TCP") !== protocol) return false;
    if (item.port === undefined) return true;
    if (typeof item.port === "number") {
      if (item.endPort !== undefined) return item.port <= port && port <= item.endPort;
      return item.port === port;
    }
    // A named port: the destination pod must declare that name, protocol and number.
    if (!destPod) return false;
    return destPod.ports.some((cp) => cp.name === item.port && (cp.protocol ?? "TCP") === protocol && cp.containerPort === port);
  });
}

export function selectorMatches(sel: RefSelector, labels: RefLabels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Plain bit arithmetic on IPv4 and IPv6 addresses, enough for the tests' CIDRs. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const a = ipToBits(base!);
  const b = ipToBits(ip);
  if (!a || !b || a.length !== b.length) return false;
  const bits = Number(bitsText ?? a.length);
  return a.slice(0, bits) === b.slice(0, bits);
}

function ipToBits(ip: string): string | undefined {
  if (ip.includes(".") && !ip.includes(":")) {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return undefined;
    return parts.map((p) => p.toString(2).padStart(8, "0")).join("");
  }
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  if (groups.length !== 8) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
}
