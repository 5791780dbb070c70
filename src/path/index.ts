import type { Scenario } from "../analysis/scenario.js";
import { LabelSelector } from "../model/selector.js";
import type { Service, ServicePort, Workload } from "../model/types.js";
import type { CniLayer, Decision, Direction, LayerId, Peer, PolicyRef, WireConn } from "../layers/types.js";
import { ConnSet, type Protocol } from "../sets/index.js";

/** Where a flow starts. */
export type FlowSource =
  | { kind: "workload"; workload: Workload }
  /** The kubelet on the destination's node (health probes). */
  | { kind: "kubelet" }
  | { kind: "external"; ip: string };

/** Where a flow goes. */
export type FlowTarget =
  | { kind: "workload"; workload: Workload }
  | { kind: "service"; service: Service; port: ServicePort }
  | { kind: "external"; ip?: string; host?: string };

export interface Wire {
  srcIP: string | null;
  dstIP: string | null;
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
  if (source.kind === "workload") return firstIP(source.workload);
  if (source.kind === "external") return source.ip;
  return null;
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
  const dstIP = target.kind === "workload" ? firstIP(target.workload) : (target.ip ?? null);
  let srcIP = srcIPOf(source);
  if (source.kind === "kubelet" && target.kind === "workload") srcIP = target.workload.hostIPs[0] ?? null;
  const wire: Wire = { srcIP, dstIP, port: conn.port, protocol: conn.protocol };

  if (target.kind === "external" && target.host && !target.ip) {
    assumptions.push(`${target.host} is outside the cluster and its address is unknown: ipBlock rules cannot match it`);
  }

  if (source.kind === "workload" && target.kind === "workload" && isSelfTraffic(source.workload, target.workload)) {
    return { verdict: "allowed", hops, blocked: null, observed: null, assumptions: ["a pod reaching its own IP never leaves it: no policy applies"] };
  }
  if (source.kind === "workload") {
    const peer: Peer =
      target.kind === "workload"
        ? { kind: "workload", workload: target.workload }
        : target.ip
          ? { kind: "external", ip: target.ip }
          : { kind: "external", ip: "" };
    hops.push(...cniHops(scenario.layers, source.workload, "egress", peer, conn, wire));
  }
  if (target.kind === "workload") {
    const peer: Peer =
      source.kind === "workload"
        ? { kind: "workload", workload: source.workload }
        : source.kind === "kubelet"
          ? { kind: "node", local: true, ...(srcIP ? { ip: srcIP } : {}) }
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
 * Two replicas of one controller are different pods and are subject to policy.
 */
export function isSelfTraffic(src: Workload, dst: Workload): boolean {
  return src === dst && src.kind === "Pod";
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
