import type { Scenario } from "../analysis/scenario.js";
import { LabelSelector } from "../model/selector.js";
import type { Service, ServicePort, Workload } from "../model/types.js";
import type { CniLayer, Decision, Direction, LayerId, Peer, PolicyRef, WireConn } from "../layers/types.js";
import { ConnSet, IPSet, parseIP, type Protocol } from "../sets/index.js";

/** Where a flow starts. `ip`: one pod's address, when the user gave it. */
export type FlowSource =
  | { kind: "workload"; workload: Workload; ip?: string }
  /** The kubelet on the destination's node (health probes). */
  | { kind: "kubelet" }
  /** A node, by its address: node traffic (local to the pods that run on it). */
  | { kind: "node"; ip: string }
  | { kind: "external"; ip: string };

/** Where a flow goes. An external endpoint has an address or a DNS name. */
export type FlowTarget =
  | { kind: "workload"; workload: Workload; ip?: string }
  | { kind: "service"; service: Service; port: ServicePort }
  | { kind: "node"; ip: string }
  | { kind: "external"; ip?: string; host?: string };

export interface Wire {
  srcIP: string | null;
  /** Null when unknown (a DNS name, a pod without status.podIP). */
  dstIP: string | null;
  /** The DNS name the client dials, when the destination is one (its address is unknown offline). */
  dstHost?: string;
  port: number;
  protocol: Protocol;
}

/** One enforcement point on the way, with what it decided. */
export interface Hop {
  step: "service" | "egress" | "ingress";
  enforcer: LayerId;
  direction: Direction | null;
  /** The enforcing endpoint: the client for egress, the server for ingress, the Service. */
  at: string;
  verdict: "allow" | "deny";
  wire: Wire;
  policies: PolicyRef[];
  reason: string;
  misses: string[];
}

export type Observed = "timeout" | "reset" | "http-403" | "http-502";

export interface WirePath {
  verdict: "allowed" | "denied";
  hops: Hop[];
  /** The first hop that denies. */
  blocked: Hop | null;
  observed: Observed | null;
  assumptions: string[];
}

const firstIP = (w: Workload): string | null => w.ips[0] ?? null;

/**
 * Follows one flow through every enforcement point on its wire path and asks
 * each layer. Service DNAT happens first, so policies see the backend pod and
 * its targetPort (semantics.md §1.7).
 */
export function traceFlow(scenario: Scenario, source: FlowSource, target: FlowTarget, conn: WireConn): WirePath[] {
  if (target.kind !== "service") return [tracePodFlow(scenario, source, target, conn, [])];
  const { service, port } = target;
  const backends = serviceBackends(scenario, service);
  const serviceWire: Wire = { srcIP: srcIPOf(source), dstIP: service.clusterIPs[0] ?? null, port: port.port, protocol: port.protocol };
  if (backends.length === 0) {
    const reason = service.selector
      ? `no workload in namespace ${service.namespace} matches the selector {${LabelSelector.fromLabels(service.selector)}} of Service ${service.id}`
      : `Service ${service.id} has no selector: its endpoints are managed outside the manifests`;
    return [serviceDenied(service, serviceWire, reason)];
  }
  const paths: WirePath[] = [];
  for (const backend of backends) {
    const targetPort = resolveTargetPort(port, backend);
    if (targetPort === undefined) {
      const reason = `targetPort "${port.targetPort}" of Service ${service.id} names no ${port.protocol} container port of ${backend.id}`;
      paths.push(serviceDenied(service, serviceWire, reason));
      continue;
    }
    const svcHop: Hop = {
      step: "service",
      enforcer: "service",
      direction: null,
      at: service.id,
      verdict: "allow",
      wire: serviceWire,
      policies: [],
      reason: `${service.id}:${port.port} → ${backend.id}:${targetPort} (DNAT to the backend pod; policies see the pod and its targetPort)`,
      misses: [],
    };
    paths.push(tracePodFlow(scenario, source, { kind: "workload", workload: backend }, { protocol: port.protocol, port: targetPort }, [svcHop]));
  }
  return paths;
}

/** A flow the Service itself cannot deliver: the client's connection is refused. */
function serviceDenied(service: Service, wire: Wire, reason: string): WirePath {
  const hop: Hop = {
    step: "service",
    enforcer: "service",
    direction: null,
    at: service.id,
    verdict: "deny",
    wire,
    policies: [{ kind: "Service", namespace: service.namespace, name: service.name, rule: null, file: service.source.file, line: service.source.line }],
    reason,
    misses: [],
  };
  return { verdict: "denied", hops: [hop], blocked: hop, observed: "reset", assumptions: [] };
}

export function serviceBackends(scenario: Scenario, service: Service): Workload[] {
  const sel = service.selector;
  if (!sel || Object.keys(sel).length === 0) return [];
  const selector = LabelSelector.fromLabels(sel);
  return scenario.cluster.workloads.filter((w) => w.namespace === service.namespace && selector.matches(w.labels));
}

/** The container port a Service port sends to on one backend; undefined when a name does not resolve. */
export function resolveTargetPort(port: ServicePort, backend: Workload): number | undefined {
  if (typeof port.targetPort === "number") return port.targetPort;
  return backend.ports.find((p) => p.name === port.targetPort && p.protocol === port.protocol)?.port;
}

function srcIPOf(source: FlowSource): string | null {
  if (source.kind === "workload") return source.ip ?? firstIP(source.workload);
  if (source.kind === "external" || source.kind === "node") return source.ip;
  return null;
}

function sameIP(a: string, b: string): boolean {
  const x = parseIP(a);
  const y = parseIP(b);
  return !!x && !!y && x.family === y.family && x.value === y.value;
}

/** Whether every pod of `w` is known to run on the node with address `ip`. */
function runsOnlyOn(w: Workload, ip: string): boolean {
  return w.hostIPs.length > 0 && w.hostIPs.every((h) => sameIP(h, ip));
}

/**
 * Traffic from a node's address to `w`: local node traffic when every pod of `w`
 * runs on that node (status.hostIP), so NetworkPolicy always admits it (§1.6 r27).
 * When only some do, the answer is for the others and an assumption says so.
 */
function nodePeer(ip: string, w: Workload, assumptions: string[]): Peer {
  const local = runsOnlyOn(w, ip);
  if (!local && w.hostIPs.some((h) => sameIP(h, ip))) {
    assumptions.push(
      `some pods of ${w.id} run on node ${ip} and always accept its traffic (local node); the answer is for its pods on other nodes (${w.hostIPs.filter((h) => !sameIP(h, ip)).join(", ")})`,
    );
  }
  return { kind: "node", local, ip };
}

function tracePodFlow(
  scenario: Scenario,
  source: FlowSource,
  target: Exclude<FlowTarget, { kind: "service" }>,
  conn: WireConn,
  prefix: Hop[],
): WirePath {
  const hops = [...prefix];
  const assumptions: string[] = [];
  const dstIP = target.kind === "workload" ? (target.ip ?? firstIP(target.workload)) : (target.ip ?? null);
  let srcIP = srcIPOf(source);
  if (source.kind === "kubelet" && target.kind === "workload") srcIP = target.workload.hostIPs[0] ?? null;
  const host = target.kind === "external" && target.host && !target.ip ? target.host : undefined;
  const wire: Wire = { srcIP, dstIP, ...(host ? { dstHost: host } : {}), port: conn.port, protocol: conn.protocol };

  if (source.kind === "workload" && target.kind === "workload" && isSelfTraffic(source.workload, target.workload, source.ip, target.ip)) {
    return { verdict: "allowed", hops, blocked: null, observed: null, assumptions: ["a pod reaching its own IP never leaves it: no policy applies"] };
  }
  if (source.kind === "workload") {
    if (host) {
      const dns = dnsEgressHops(scenario.layers, source.workload, host, conn, wire);
      hops.push(...dns.hops);
      assumptions.push(...dns.assumptions);
    } else {
      const peer: Peer =
        target.kind === "workload"
          ? { kind: "workload", workload: target.workload, ...(target.ip ? { ip: target.ip } : {}) }
          : target.kind === "node"
            ? { kind: "node", local: runsOnlyOn(source.workload, target.ip), ip: target.ip }
            : { kind: "external", ip: target.ip! };
      hops.push(...cniHops(scenario.layers, source.workload, "egress", peer, conn, wire));
    }
  }
  if (target.kind === "workload") {
    const peer: Peer =
      source.kind === "workload"
        ? { kind: "workload", workload: source.workload, ...(source.ip ? { ip: source.ip } : {}) }
        : source.kind === "kubelet"
          ? { kind: "node", local: true, ...(srcIP ? { ip: srcIP } : {}) }
          : source.kind === "node"
            ? nodePeer(source.ip, target.workload, assumptions)
            : { kind: "external", ip: source.ip };
    hops.push(...cniHops(scenario.layers, target.workload, "ingress", peer, conn, wire));
  }
  const blocked = hops.find((h) => h.verdict === "deny") ?? null;
  return {
    verdict: blocked ? "denied" : "allowed",
    hops,
    blocked,
    observed: blocked ? observedFor(blocked) : null,
    assumptions,
  };
}

/** Addresses for examples in explanations, when nothing in the policies covers them. */
const DOCUMENTATION_IPS = ["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"];

/** The lowest address of a non-empty set. */
function firstAddress(ips: IPSet): string {
  return ips.toRanges()[0]!.split("-")[0]!;
}

/** An address outside `ips`, a documentation address when one is; undefined when `ips` is everything. */
function addressOutside(ips: IPSet): string | undefined {
  const doc = DOCUMENTATION_IPS.find((ip) => !ips.contains(ip));
  if (doc) return doc;
  const rest = IPSet.all().subtract(ips);
  return rest.isEmpty() ? undefined : firstAddress(rest);
}

/**
 * `0.0.0.0/0 except 10.0.0.0/8,192.168.0.0/16` rather than the CIDRs of the
 * difference: the shape people write ipBlocks in.
 */
export function describeAddresses(ips: IPSet): string {
  const parts: string[] = [];
  for (const family of [4, 6] as const) {
    const part = ips.intersect(IPSet.allOf(family));
    if (part.isEmpty()) continue;
    const cidrs = part.toCidrs();
    if (cidrs.length <= 2) {
      parts.push(cidrs.join(","));
      continue;
    }
    // The smallest CIDR holding the whole part, minus what it does not cover.
    const ranges = part.toRanges();
    const lo = parseIP(ranges[0]!.split("-")[0]!)!.value;
    const hi = parseIP(ranges[ranges.length - 1]!.split("-")[1]!)!.value;
    const bits = family === 4 ? 32 : 128;
    let prefix = bits;
    while (prefix > 0 && lo >> BigInt(bits - prefix) !== hi >> BigInt(bits - prefix)) prefix--;
    const base = (lo >> BigInt(bits - prefix)) << BigInt(bits - prefix);
    const hull = IPSet.range(family, base, base + (1n << BigInt(bits - prefix)) - 1n);
    const except = hull.subtract(part).toCidrs();
    const [hullCidr] = hull.toCidrs();
    parts.push(except.length < cidrs.length ? `${hullCidr} except ${except.join(",")}` : part.toString());
  }
  return parts.length > 0 ? parts.join(" and ") : "no addresses";
}

function policyNames(refs: readonly PolicyRef[]): string {
  const seen = new Set<string>();
  for (const r of refs) seen.add(`${r.namespace ? `${r.namespace}/` : ""}${r.name}${r.rule === null ? "" : `[${r.rule}]`}`);
  return [...seen].join(", ");
}

function dedupeRefs(refs: readonly PolicyRef[]): PolicyRef[] {
  const seen = new Map<string, PolicyRef>();
  for (const r of refs) seen.set(`${r.kind}|${r.namespace}|${r.name}|${r.rule}|${r.file}|${r.line}`, r);
  return [...seen.values()];
}

/**
 * Egress from `endpoint` to a DNS name. Its addresses are unknown offline, so
 * a layer that isolates the endpoint allows the flow only when it admits the
 * port to every address (every IPv4 address suffices, with an assumption that
 * the name resolves to IPv4). When only some ipBlocks admit the port, the flow
 * cannot be shown to be allowed: it is denied, and the assumptions say which
 * ipBlocks would allow it and how to decide (give an address).
 */
function dnsEgressHops(layers: readonly CniLayer[], endpoint: Workload, host: string, conn: WireConn, wire: Wire): { hops: Hop[]; assumptions: string[] } {
  const hops: Hop[] = [];
  const assumptions = [`${host} is a DNS name: its addresses are unknown offline, so it can only match a rule that allows every address (pod and namespace selectors never match it)`];
  const what = `${conn.protocol}/${conn.port}`;
  for (const layer of layers) {
    if (!layer.isolates(endpoint, "egress")) {
      // Nothing restricts this endpoint's egress: the address does not matter.
      const d = layer.evaluate(endpoint, "egress", { kind: "external", ip: DOCUMENTATION_IPS[0]! }, conn);
      hops.push(toHop(layer.id, endpoint, "egress", { ...d, reason: d.reason.replaceAll(DOCUMENTATION_IPS[0]!, host) }, wire));
      continue;
    }
    const all = layer.externalAllowances(endpoint, "egress");
    const onPort = all.filter((a) => !a.ips.isEmpty() && a.conns.contains(conn.protocol, conn.port));
    const covered = onPort.reduce((u, a) => u.union(a.ips), IPSet.none());
    // The rules behind each allowance: ask the layer about one address inside it.
    const contributions = onPort.map((a) => {
      const d = layer.evaluate(endpoint, "egress", { kind: "external", ip: firstAddress(a.ips) }, conn);
      return { ips: a.ips, policies: d.verdict === "allow" ? d.policies : [] };
    });
    const v4 = IPSet.allOf(4).isSubsetOf(covered);
    const v6 = IPSet.allOf(6).isSubsetOf(covered);
    if (v4) {
      const policies = dedupeRefs(contributions.flatMap((c) => c.policies));
      hops.push(
        toHop(
          layer.id,
          endpoint,
          "egress",
          {
            verdict: "allow",
            isolated: true,
            policies,
            reason: `allowed by ${policyNames(policies) || "the egress rules"}: ${what} is allowed to every ${v6 ? "" : "IPv4 "}address, whatever ${host} resolves to`,
            misses: [],
          },
          wire,
        ),
      );
      if (!v6) assumptions.push(`${host} is assumed to resolve to IPv4 addresses: ${endpoint.id} may open ${what} to every IPv4 address, not to every IPv6 one`);
      continue;
    }
    const isolating = layer.isolatingPolicies(endpoint, "egress");
    if (covered.isEmpty()) {
      // No rule admits the port towards any address outside the cluster: denied whatever the name resolves to.
      const sample = addressOutside(all.reduce((u, a) => u.union(a.ips), IPSet.none())) ?? DOCUMENTATION_IPS[0]!;
      const d = layer.evaluate(endpoint, "egress", { kind: "external", ip: sample }, conn);
      hops.push(
        toHop(
          layer.id,
          endpoint,
          "egress",
          {
            verdict: "deny",
            isolated: true,
            policies: isolating,
            reason: `${endpoint.id} is isolated for egress by ${policyNames(isolating)} and no rule allows ${what} to any address outside the cluster, so not to ${host} either`,
            misses: d.verdict === "deny" ? d.misses.map((m) => m.replaceAll(sample, host)) : [],
          },
          wire,
        ),
      );
      continue;
    }
    // Some ipBlocks admit the port: the verdict depends on the addresses, which the manifests do not give.
    const would = contributions.map((c) => `${describeAddresses(c.ips)}${c.policies.length ? ` (${policyNames(c.policies)})` : ""}`);
    hops.push(
      toHop(
        layer.id,
        endpoint,
        "egress",
        {
          verdict: "deny",
          isolated: true,
          policies: isolating,
          reason: `${endpoint.id} is isolated for egress by ${policyNames(isolating)}; their rules allow ${what} only to some addresses, and ${host}'s addresses are unknown offline, so the flow cannot be shown to be allowed`,
          misses: [
            ...would.map((w) => `would be allowed if ${host} resolves into ${w}`),
            `no rule allows ${what} to every address`,
          ],
        },
        wire,
      ),
    );
    assumptions.push(
      `undecidable offline: ${host} counts as denied because its addresses are unknown; ${endpoint.id} may open ${what} only to ${would.join("; ")}. ` +
        `To decide, give the address: palisade reach ${endpoint.id} ADDRESS:${conn.port}${conn.protocol === "TCP" ? "" : ` --protocol ${conn.protocol}`}`,
    );
  }
  return { hops, assumptions };
}

function cniHops(layers: readonly CniLayer[], endpoint: Workload, direction: Direction, peer: Peer, conn: WireConn, wire: Wire): Hop[] {
  return layers.map((layer) => toHop(layer.id, endpoint, direction, layer.evaluate(endpoint, direction, peer, conn), wire));
}

function toHop(layer: LayerId, endpoint: Workload, direction: Direction, d: Decision, wire: Wire): Hop {
  return {
    step: direction,
    enforcer: layer,
    direction,
    at: endpoint.id,
    verdict: d.verdict,
    wire,
    policies: d.policies,
    reason: d.reason,
    misses: d.misses,
  };
}

function observedFor(hop: Hop): Observed {
  // A CNI drop is silent: the client waits until it gives up.
  if (hop.enforcer === "service") return "reset";
  return "timeout";
}

/**
 * A bare Pod talking to itself: traffic to its own IP stays in the pod (§1.6 r28).
 * Two replicas of one controller are different pods and are subject to policy,
 * unless both ends are the same pod IP.
 */
export function isSelfTraffic(src: Workload, dst: Workload, srcIP?: string, dstIP?: string): boolean {
  if (src !== dst) return false;
  return src.kind === "Pod" || (srcIP !== undefined && dstIP !== undefined && sameIP(srcIP, dstIP));
}

/**
 * Everything `src` may open to `dst` (application view: the ports the client
 * dials on the destination pod). The composition a matrix uses.
 */
export function pairConns(layers: readonly CniLayer[], src: Workload, dst: Workload): ConnSet {
  let out = ConnSet.all();
  for (const layer of layers) {
    out = out.intersect(layer.allowedConns(src, "egress", { kind: "workload", workload: dst }));
    if (out.isEmpty()) return out;
    out = out.intersect(layer.allowedConns(dst, "ingress", { kind: "workload", workload: src }));
    if (out.isEmpty()) return out;
  }
  return out;
}
