/**
 * The wire path of one flow: what packets cross the network after Service
 * DNAT, mesh redirection and SNAT, and every enforcement point on the way
 * (design.md, "The model"; semantics.md §8). Layers never see each other;
 * this module composes them.
 */
import type { Scenario } from "../analysis/scenario.js";
import { AMBIENT_PROBE_SOURCE, HBONE_PORT, type MeshMode } from "../layers/istio/index.js";
import type { EgressDestination } from "../layers/istio/sidecar-egress.js";
import type { CniLayer, Peer, WireConn } from "../layers/types.js";
import type { Service, ServicePort, Workload } from "../model/types.js";
import { ConnSet } from "../sets/index.js";
import { cniHops, dnsEgressHops, nodePeer, runsOnlyOn, sameIP } from "./cni.js";
import {
  carriesIdentity,
  destinationMeshHops,
  httpAttributes,
  meshEgressHop,
  meshModeOf,
  proxyOf,
  tunnelHop,
  usesHbone,
  waypointAuthorizationHop,
  waypointFor,
  type MeshPeer,
} from "./mesh.js";
import { isExternallyReachable, noBackendReason, resolveTargetPort, serviceBackends, serviceDenied, serviceHop } from "./service.js";
import type { FlowSource, FlowTarget, Hop, HttpRequest, MeshProxy, Observed, Wire, WirePath } from "./types.js";

export type { FlowSource, FlowTarget, Hop, HopStep, HttpRequest, MeshProxy, Observed, Wire, WirePath } from "./types.js";
export { describeAddresses } from "./cni.js";
export { resolveTargetPort, serviceBackends } from "./service.js";

const firstIP = (w: Workload): string | null => w.ips[0] ?? null;

/**
 * Follows one flow through every enforcement point on its wire path. Service
 * DNAT happens first, so policies see the backend pod and its targetPort
 * (semantics.md §1.7); a Service gives one path per backend workload.
 */
export function traceFlow(scenario: Scenario, source: FlowSource, target: FlowTarget, conn: WireConn, http?: HttpRequest): WirePath[] {
  if (target.kind !== "service") return [tracePodFlow(scenario, source, target, conn, [], { ...(http ? { http } : {}) })];
  const { service, port } = target;
  const backends = serviceBackends(scenario, service);
  const serviceWire: Wire = { srcIP: srcIPOf(source), dstIP: service.clusterIPs[0] ?? null, port: port.port, protocol: port.protocol };
  if (backends.length === 0) return [serviceDenied(service, serviceWire, noBackendReason(service))];
  const from = externalThroughService(source, service, scenario.nodeAddresses);
  const paths: WirePath[] = [];
  for (const backend of backends) {
    const targetPort = resolveTargetPort(port, backend);
    if (targetPort === undefined) {
      paths.push(serviceDenied(service, serviceWire, `targetPort "${port.targetPort}" of Service ${service.id} names no ${port.protocol} container port of ${backend.id}`));
      continue;
    }
    const svc = serviceHop(service, port, backend, targetPort, serviceWire);
    const path = tracePodFlow(scenario, from.source, { kind: "workload", workload: backend }, { protocol: port.protocol, port: targetPort }, [svc], {
      service,
      servicePort: port,
      ...(http ? { http } : {}),
    });
    path.assumptions.unshift(...from.assumptions);
    paths.push(path);
  }
  return paths;
}

/**
 * An outside client through a NodePort or LoadBalancer Service: with
 * externalTrafficPolicy Cluster the pod sees a node address (SNAT), with Local
 * the client's own (semantics.md §6 r3).
 */
function externalThroughService(source: FlowSource, service: Service, nodeAddresses: readonly string[]): { source: FlowSource; assumptions: string[] } {
  if (source.kind !== "external" || !isExternallyReachable(service)) return { source, assumptions: [] };
  if (service.externalTrafficPolicy === "Local") {
    return {
      source,
      assumptions: [`Service ${service.id} has externalTrafficPolicy Local: the pods see the client's address ${source.ip}`],
    };
  }
  const nodeIP = nodeAddresses[0] ?? null;
  return {
    source: { ...source, snat: { nodeIP } },
    assumptions: [
      `Service ${service.id} has externalTrafficPolicy Cluster: the client's address ${source.ip} is replaced by a node address (SNAT)${
        nodeIP ? `, evaluated as node ${nodeIP}${nodeAddresses.length > 1 ? ` (of ${nodeAddresses.length} node addresses in the input)` : ""}` : " that the input does not give"
      }, so policies on the client's address do not see it; set externalTrafficPolicy: Local to keep it`,
    ],
  };
}

function srcIPOf(source: FlowSource): string | null {
  if (source.kind === "workload") return source.ip ?? firstIP(source.workload);
  if (source.kind === "external") return source.snat ? source.snat.nodeIP : source.ip;
  if (source.kind === "node") return source.ip;
  return null;
}

/** One network leg: from an endpoint to a pod, carrying `conn` on the wire. */
interface Leg {
  from: FlowSource;
  to: Workload;
  toIP: string | null;
  conn: WireConn;
}

interface PodFlowContext {
  service?: Service;
  servicePort?: ServicePort;
  http?: HttpRequest;
}

function tracePodFlow(
  scenario: Scenario,
  source: FlowSource,
  target: Exclude<FlowTarget, { kind: "service" }>,
  conn: WireConn,
  prefix: Hop[],
  ctx: PodFlowContext,
): WirePath {
  const hops = [...prefix];
  const assumptions: string[] = [];
  const layers = scenario.layers;
  const srcW = source.kind === "workload" ? source.workload : undefined;
  const dstIP = target.kind === "workload" ? (target.ip ?? firstIP(target.workload)) : (target.ip ?? null);
  let srcIP = srcIPOf(source);
  if (source.kind === "kubelet" && target.kind === "workload") srcIP = target.workload.hostIPs[0] ?? null;
  const host = target.kind === "external" && target.host && !target.ip ? target.host : undefined;
  const wire: Wire = { srcIP, dstIP, ...(host ? { dstHost: host } : {}), port: conn.port, protocol: conn.protocol };

  if (srcW && target.kind === "workload" && isSelfTraffic(srcW, target.workload, source.kind === "workload" ? source.ip : undefined, target.ip)) {
    return finish(hops, ["a pod reaching its own IP never leaves it: no policy applies"]);
  }

  const srcMode: MeshMode = srcW ? meshModeOf(scenario, srcW) : "none";
  const dstW = target.kind === "workload" ? target.workload : undefined;
  const dstMode: MeshMode = dstW ? meshModeOf(scenario, dstW) : "none";
  // Probes bypass the proxies (see below): no request is evaluated for them.
  const http = dstW && source.kind !== "kubelet" ? httpAttributes(ctx.http, ctx.servicePort, ctx.service, dstW, dstMode, conn.port, assumptions) : undefined;

  // 1. The client's sidecar decides whether it forwards the request at all, and how.
  let passthrough = false;
  if (srcW && srcMode === "sidecar" && scenario.mesh) {
    // A workload named without its address is reached the way mesh clients reach it: through its Service.
    const viaService = !ctx.service && dstW && !(target.kind === "workload" && target.ip) ? serviceInFrontOf(scenario, dstW, conn) : undefined;
    if (viaService) {
      assumptions.push(
        `${srcW.id}'s sidecar is assumed to reach ${dstW!.id} through Service ${viaService.service.id}:${viaService.port.port}, as mesh clients do; give the pod's IP address to check a direct connection to the pod`,
      );
    }
    const destination: EgressDestination = ctx.service
      ? { kind: "service", service: ctx.service, port: ctx.servicePort!.port }
      : viaService
        ? { kind: "service", service: viaService.service, port: viaService.port.port }
        : dstW
        ? { kind: "workload", workload: dstW, ...(dstIP ? { ip: dstIP } : {}), port: conn.port }
        : { kind: "external", ...(egressHost(ctx.http, host) ? { host: egressHost(ctx.http, host)! } : {}), ...(dstIP ? { ip: dstIP } : {}), port: conn.port };
    // The sidecar sees what the client dials: the Service port, not the targetPort.
    const dialed: Wire = ctx.servicePort ? { ...wire, dstIP: ctx.service!.clusterIPs[0] ?? null, port: ctx.servicePort.port } : wire;
    const controlPlane = dstW && isControlPlaneConnection(dstW, conn);
    if (controlPlane) assumptions.push(`${dstW.id}:${conn.port} is the Istio control plane: the proxy's own connection to it is not captured, so the Sidecar's egress scope does not apply`);
    // Towards an outside host, HTTP is what --method/--path/--host say, or what port 80 conventionally carries.
    const externalHttp = !dstW && (hasHttpFlags(ctx.http) || (conn.protocol === "TCP" && conn.port === 80));
    if (externalHttp && !hasHttpFlags(ctx.http)) assumptions.push(`port 80 of an outside host: the client is assumed to speak plain HTTP`);
    const speaksHttp = http !== undefined || externalHttp;
    const egress = controlPlane ? null : meshEgressHop(scenario.mesh, srcW, destination, conn.protocol, dialed, speaksHttp, assumptions);
    if (egress) {
      hops.push(egress.hop);
      passthrough = egress.passthrough;
    }
  }

  // 2. Destinations that are not pods: only the client's egress applies.
  if (!dstW) {
    if (srcW) {
      if (host) {
        const dns = dnsEgressHops(layers, srcW, host, conn, wire);
        hops.push(...dns.hops);
        assumptions.push(...dns.assumptions);
      } else {
        const peer: Peer =
          target.kind === "node" ? { kind: "node", local: runsOnlyOn(srcW, target.ip), ip: target.ip } : { kind: "external", ip: target.ip! };
        hops.push(...cniHops(layers, srcW, "egress", peer, conn, wire));
      }
    }
    return finish(hops, assumptions);
  }

  // 3. A pod destination: one leg, or two through a waypoint.
  const waypoint = srcW && conn.protocol === "TCP" ? waypointFor(scenario, srcMode, { ...(ctx.service ? { service: ctx.service } : {}), workload: dstW }, assumptions) : null;
  // A passthrough connection leaves the sidecar in plaintext: no identity, no tunnel.
  const sentMode: MeshMode = passthrough ? "none" : srcMode;
  if (passthrough && dstMode !== "none") {
    assumptions.push(`${srcW!.id}'s sidecar forwards this connection as passthrough (plaintext): ${dstW.id} sees no client identity`);
  }
  const client: MeshPeer = { workload: srcW ?? null, ip: srcIP ?? undefined, mtls: carriesIdentity(sentMode, dstMode, conn.protocol) };
  if (waypoint) {
    const toWaypoint: Leg = { from: source, to: waypoint.pod, toIP: firstIP(waypoint.pod), conn: { protocol: "TCP", port: HBONE_PORT } };
    hops.push(...legHops(scenario, toWaypoint, proxyOf(srcMode), "waypoint", conn.port, assumptions));
    hops.push(
      waypointAuthorizationHop(scenario, waypoint.waypoint, waypoint.pod, ctx.service, { ...client, mtls: true }, dstW, conn.port, http, legWire(toWaypoint, srcIP), assumptions),
    );
    const onward: Leg = {
      from: { kind: "workload", workload: waypoint.pod },
      to: dstW,
      toIP: dstIP,
      conn: dstMode === "none" ? conn : { protocol: "TCP", port: HBONE_PORT },
    };
    hops.push(...legHops(scenario, onward, "waypoint", "pod", conn.port, assumptions));
    // The destination sees the waypoint as its client (§5.4 r15).
    const viaWaypoint: MeshPeer = { workload: waypoint.pod, ip: firstIP(waypoint.pod) ?? undefined, mtls: dstMode !== "none" };
    hops.push(...destinationMeshHops(scenario, dstW, dstMode, viaWaypoint, conn.port, conn.protocol, http, legWire(onward, firstIP(waypoint.pod)), assumptions));
    return finish(hops, assumptions);
  }

  const hbone = usesHbone(sentMode, dstMode, conn.protocol);
  const leg: Leg = { from: source, to: dstW, toIP: dstIP, conn: hbone ? { protocol: "TCP", port: HBONE_PORT } : conn };
  hops.push(...legHops(scenario, leg, proxyOf(srcMode), "pod", conn.port, assumptions, hasHttpFlags(ctx.http) ? ctx.http : undefined));
  if (source.kind === "kubelet") {
    if (dstMode !== "none") assumptions.push(`kubelet probes bypass the ${dstMode === "sidecar" ? "sidecar (rewritten to the pilot-agent port 15020)" : "ztunnel"}: no PeerAuthentication or AuthorizationPolicy applies to them`);
    return finish(hops, assumptions);
  }
  // Node-local traffic SNATed to the probe address is let in by the pod's rules without redirection (§5.2 r6).
  if (probeSnat(source, dstW, dstMode, leg.conn)) {
    assumptions.push(`traffic from ${AMBIENT_PROBE_SOURCE} is accepted by ${dstW.id} without redirection to the ztunnel: no PeerAuthentication or AuthorizationPolicy applies to it`);
    return finish(hops, assumptions);
  }
  hops.push(...destinationMeshHops(scenario, dstW, dstMode, client, conn.port, conn.protocol, http, wire, assumptions));
  return finish(hops, assumptions);
}

/** A Service that selects the workload and sends one of its ports to `conn`'s port. */
export function serviceInFrontOf(scenario: Scenario, w: Workload, conn: WireConn): { service: Service; port: ServicePort } | undefined {
  for (const service of scenario.cluster.services) {
    if (service.namespace !== w.namespace || !serviceBackends(scenario, service).includes(w)) continue;
    const port = service.ports.find((p) => p.protocol === conn.protocol && resolveTargetPort(p, w) === conn.port);
    if (port) return { service, port };
  }
  return undefined;
}

function hasHttpFlags(http: HttpRequest | undefined): boolean {
  return !!http && (http.method !== undefined || http.path !== undefined || http.host !== undefined);
}

/** The name the sidecar routes an external request by: the HTTP Host (without port) when given, else the DNS name dialed. */
function egressHost(http: HttpRequest | undefined, dialed: string | undefined): string | undefined {
  const h = http?.host?.replace(/:\d+$/, "");
  return h || dialed;
}

/** istiod's xDS, CA and webhook ports: what a proxy itself connects to, from the uncaptured proxy user. */
export const CONTROL_PLANE_PORTS: ReadonlySet<number> = new Set([15010, 15012, 15014, 15017]);

export function isControlPlaneConnection(dst: Workload, conn: WireConn): boolean {
  const app = dst.labels["app"] ?? dst.labels["istio"];
  return conn.protocol === "TCP" && CONTROL_PLANE_PORTS.has(conn.port) && (app === "istiod" || app === "pilot");
}

function legWire(leg: Leg, srcIP: string | null): Wire {
  return { srcIP, dstIP: leg.toIP, port: leg.conn.port, protocol: leg.conn.protocol };
}

/**
 * The CNI at both ends of one leg, on what the leg carries. A leg to 15008 is
 * announced by a tunnel hop. kubelet probes (and any other TCP from the pod's
 * own node or a host-network pod on it) to an ambient pod arrive from
 * 169.254.7.127, not from the node (§5.3).
 */
function legHops(
  scenario: Scenario,
  leg: Leg,
  proxy: MeshProxy | null,
  toWhat: "waypoint" | "pod",
  appPort: number,
  assumptions: string[],
  http?: HttpRequest,
): Hop[] {
  const hops: Hop[] = [];
  const layers = scenario.layers;
  const src = leg.from;
  const dstMode = meshModeOf(scenario, leg.to);
  let srcIP = srcIPOf(src);
  let ingressPeer: Peer;
  const egressWire: Wire = { srcIP, dstIP: leg.toIP, port: leg.conn.port, protocol: leg.conn.protocol };
  if (probeSnat(src, leg.to, dstMode, leg.conn)) {
    srcIP = AMBIENT_PROBE_SOURCE;
    ingressPeer = { kind: "external", ip: AMBIENT_PROBE_SOURCE };
    const what =
      src.kind === "node" ? `TCP from its own node ${src.ip} reaches it` : src.kind === "workload" ? `TCP from ${src.workload.id} (host network, same node) reaches it` : "kubelet probes reach it";
    assumptions.push(
      `${leg.to.id} is in the ambient mesh: ${what} from ${AMBIENT_PROBE_SOURCE} (SNAT by istio-cni), not from the node, so an ingress-isolating NetworkPolicy must allow ipBlock ${AMBIENT_PROBE_SOURCE}/32`,
    );
  } else if (src.kind === "workload") ingressPeer = { kind: "workload", workload: src.workload, ...(src.ip ? { ip: src.ip } : {}) };
  else if (src.kind === "kubelet") {
    srcIP = leg.to.hostIPs[0] ?? null;
    ingressPeer = { kind: "node", local: true, ...(srcIP ? { ip: srcIP } : {}) };
  } else if (src.kind === "node") ingressPeer = nodePeer(src.ip, leg.to, assumptions);
  else if (src.snat) ingressPeer = { kind: "node", local: false, ...(src.snat.nodeIP ? { ip: src.snat.nodeIP } : {}) };
  else ingressPeer = { kind: "external", ip: src.ip };

  const wire: Wire = { srcIP, dstIP: leg.toIP, port: leg.conn.port, protocol: leg.conn.protocol };
  if (proxy && leg.conn.port === HBONE_PORT && leg.conn.protocol === "TCP" && src.kind === "workload" && appPort !== HBONE_PORT) {
    hops.push(tunnelHop(src.workload.id, proxy, leg.to, toWhat, wire, appPort));
  }
  if (src.kind === "workload") {
    // The probe SNAT happens as the packet leaves the node: the source's egress still sees its own address.
    hops.push(...cniHops(layers, src.workload, "egress", { kind: "workload", workload: leg.to, ...(leg.toIP && leg.toIP !== firstIP(leg.to) ? { ip: leg.toIP } : {}) }, leg.conn, egressWire, http));
  }
  hops.push(...cniHops(layers, leg.to, "ingress", ingressPeer, leg.conn, wire, http));
  return hops;
}

/**
 * Whether istio-cni SNATs this connection to 169.254.7.127: TCP that
 * originates on the node of an ambient pod (kubelet probes, and anything else
 * the node or a host-network pod on it opens to a pod running there), §5.3.
 * Only TCP is rewritten.
 */
function probeSnat(src: FlowSource, to: Workload, toMode: MeshMode, conn: WireConn): boolean {
  if (toMode !== "ambient" || conn.protocol !== "TCP") return false;
  if (src.kind === "kubelet") return true;
  if (src.kind === "node") return runsOnlyOn(to, src.ip);
  // A host-network pod opens its connections from the node itself.
  if (src.kind === "workload" && src.workload.hostNetwork) {
    const node = src.workload.hostIPs[0];
    return node !== undefined && runsOnlyOn(src.workload, node) && runsOnlyOn(to, node);
  }
  return false;
}

function finish(hops: Hop[], assumptions: string[]): WirePath {
  const blocked = hops.find((h) => h.verdict === "deny") ?? null;
  return {
    verdict: blocked ? "denied" : "allowed",
    hops,
    blocked,
    observed: blocked ? observedFor(blocked) : null,
    assumptions,
  };
}

function observedFor(hop: Hop): Observed {
  if (hop.observed) return hop.observed;
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
 * dials on the destination pod), at the CNI layers only. The composition a
 * matrix uses.
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
