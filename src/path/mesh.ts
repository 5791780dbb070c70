/**
 * The Istio part of a wire path: how the data planes at both ends change what
 * the network carries (HBONE to 15008, waypoints, the ambient probe address)
 * and what the proxies enforce (outbound control at a sidecar, mTLS and
 * authorization at the destination). semantics.md §4, §5 and §8.
 */
import type { Scenario } from "../analysis/scenario.js";
import { evaluateAuthorization, type AuthzDecision, type AuthzRequest, type EnforcementPoint, type HttpAttributes, type PeerAuthnDecision } from "../layers/istio/authorization.js";
import { HBONE_PORT, type IstioMesh, type MeshMode, type Waypoint } from "../layers/istio/index.js";
import { evaluatePeerAuthentication } from "../layers/istio/peerauthentication.js";
import type { EgressDestination } from "../layers/istio/sidecar-egress.js";
import { serviceTarget, waypointForFlow, workloadTarget } from "../layers/istio/waypoint.js";
import type { Service, ServicePort, Workload } from "../model/types.js";
import type { Protocol } from "../sets/index.js";
import type { Hop, HttpRequest, MeshProxy, Wire } from "./types.js";

export function meshModeOf(scenario: Scenario, w: Workload): MeshMode {
  return scenario.mesh ? scenario.mesh.membership(w).mode : "none";
}

/** The proxy that handles a workload's traffic. */
export function proxyOf(mode: MeshMode): MeshProxy | null {
  return mode === "sidecar" ? "sidecar" : mode === "ambient" ? "ztunnel" : mode === "gateway" ? "gateway" : null;
}

/**
 * Whether a connection between two data planes travels as HBONE (mTLS tunnel to
 * 15008). Only TCP is captured (§5.2 r5). ambient → ambient or sidecar, and
 * sidecar or gateway → ambient tunnel; sidecar → sidecar keeps the application
 * port (§4.11 r33); anything to or from a pod outside the mesh is plaintext.
 */
export function usesHbone(from: MeshMode, to: MeshMode, protocol: Protocol): boolean {
  if (protocol !== "TCP") return false;
  if (from === "ambient") return to === "ambient" || to === "sidecar" || to === "gateway";
  if (from === "sidecar" || from === "gateway") return to === "ambient";
  return false;
}

/** Whether a connection arrives with a peer identity (mTLS or HBONE) rather than plaintext. */
export function carriesIdentity(from: MeshMode, to: MeshMode, protocol: Protocol): boolean {
  if (protocol !== "TCP") return false;
  if (from === "none" || to === "none") return false;
  return true;
}

/** The waypoint a flow goes through, and the pod that runs it. */
export function waypointFor(
  scenario: Scenario,
  srcMode: MeshMode,
  via: { service?: Service; workload: Workload },
  assumptions: string[],
): { waypoint: Waypoint; pod: Workload; reason: string } | null {
  const mesh = scenario.mesh;
  if (!mesh) return null;
  const binding = waypointForFlow(
    mesh.waypoints,
    srcMode,
    via.service ? { kind: "service", service: serviceTarget(via.service) } : { kind: "workload", workload: workloadTarget(via.workload) },
  );
  if (binding.problem) assumptions.push(binding.problem);
  if (!binding.waypoint) return null;
  const pod = mesh.waypointPods(binding.waypoint)[0];
  if (!pod) return null;
  return { waypoint: binding.waypoint, pod, reason: binding.reason };
}

/** The informational hop that shows a tunnel being opened. */
export function tunnelHop(from: string, proxy: MeshProxy, to: Workload, toWhat: "waypoint" | "pod", wire: Wire, appPort: number): Hop {
  const opener = proxy === "waypoint" ? `waypoint ${from}` : `the ${proxy} of ${from}`;
  return {
    step: "tunnel",
    enforcer: proxy,
    direction: null,
    at: from,
    verdict: "allow",
    wire,
    policies: [],
    reason: `HBONE: ${opener} carries the connection in an mTLS tunnel to ${toWhat} ${to.id} on TCP/${HBONE_PORT}; the network (and NetworkPolicy) sees TCP/${HBONE_PORT}, not TCP/${appPort}`,
    misses: [],
    proxy,
  };
}

/**
 * Whether the request is HTTP at the proxies, and its attributes: what `reach`
 * was given, else GET / when the port is declared HTTP (Istio protocol selection
 * by port name or appProtocol), else none (a TCP filter chain).
 */
export function httpAttributes(
  http: HttpRequest | undefined,
  servicePort: ServicePort | undefined,
  service: Service | undefined,
  dst: Workload,
  dstMode: MeshMode,
  port: number,
  assumptions: string[],
): HttpAttributes | undefined {
  const given = http && (http.method !== undefined || http.path !== undefined || http.host !== undefined);
  const host = http?.host ?? (service ? `${service.name}.${service.namespace}.svc.cluster.local` : `${dst.name}.${dst.namespace}`);
  if (given) return { method: (http.method ?? "GET").toUpperCase(), path: http.path ?? "/", host };
  const containerPort = dst.ports.find((p) => p.port === port);
  const declared = isHttpName(servicePort?.appProtocol) || isHttpName(servicePort?.name) || isHttpName(containerPort?.name);
  // A gateway terminates TLS on its HTTPS servers and routes the HTTP inside.
  const terminated = dstMode === "gateway" && (isHttpsName(servicePort?.name) || isHttpsName(containerPort?.name));
  if (!declared && !terminated) return undefined;
  assumptions.push(
    terminated
      ? `port ${port} of gateway ${dst.id} is HTTPS: assumed to terminate TLS, so its policies see HTTP; evaluated as GET / with Host ${host} (give --method, --path, --host for another request)`
      : `port ${port} is HTTP (by its name or appProtocol); evaluated as GET / with Host ${host} (give --method, --path, --host for another request)`,
  );
  return { method: "GET", path: "/", host };
}

/** Whether a port of that name is read as HTTP by the destination's proxy (a gateway terminates HTTPS). */
export function speaksHttpByName(name: string | undefined, mode: MeshMode): boolean {
  return isHttpName(name) || (mode === "gateway" && isHttpsName(name));
}

function isHttpsName(name: string | undefined): boolean {
  return !!name && (name.toLowerCase() === "https" || name.toLowerCase().startsWith("https-"));
}

function isHttpName(name: string | undefined): boolean {
  if (!name) return false;
  const n = name.toLowerCase();
  return n === "http" || n === "http2" || n === "grpc" || n === "grpc-web" || n.startsWith("http-") || n.startsWith("http2-") || n.startsWith("grpc-") || n === "kubernetes.io/h2c";
}

/** A sidecar client's outbound control: Sidecar scope, registry, outboundTrafficPolicy (§4.8, §4.9). */
export function meshEgressHop(
  mesh: IstioMesh,
  source: Workload,
  destination: EgressDestination,
  protocol: Protocol,
  wire: Wire,
  http: boolean,
  assumptions: string[],
): { hop: Hop; passthrough: boolean } | null {
  const d = mesh.egress.evaluate({ source, sourceMode: "sidecar", destination, protocol, ...(http ? { app: "http" as const } : {}) });
  if (!d.applies) return null;
  assumptions.push(...d.notes);
  const hop: Hop = {
    step: "mesh-egress",
    enforcer: "istio-egress",
    direction: "egress",
    at: source.id,
    verdict: d.verdict,
    wire,
    policies: d.policies,
    reason: d.reason,
    // A suggestion to register the host only matters when the flow is refused.
    misses: d.missing && d.verdict === "deny" ? [d.missing.suggestion] : [],
    proxy: "sidecar",
    ...(d.verdict === "deny" ? { observed: d.observed ?? "reset" } : {}),
  };
  // Passthrough leaves the sidecar as it came: plaintext, no mTLS origination.
  return { hop, passthrough: d.route === "passthrough" };
}

/** Who the destination's proxy sees as the client. */
export interface MeshPeer {
  workload: Workload | null;
  ip: string | undefined;
  mtls: boolean;
}

/**
 * The destination proxy's checks, in the order they run: PeerAuthentication
 * (STRICT refuses plaintext), then AuthorizationPolicy (CUSTOM → DENY → ALLOW),
 * at a sidecar, a gateway or the destination ztunnel. `port` is the container port.
 */
export function destinationMeshHops(
  scenario: Scenario,
  dst: Workload,
  dstMode: MeshMode,
  peer: MeshPeer,
  port: number,
  protocol: Protocol,
  http: HttpAttributes | undefined,
  wire: Wire,
  assumptions: string[],
): Hop[] {
  const mesh = scenario.mesh;
  const proxy = proxyOf(dstMode);
  if (!mesh || !proxy || protocol !== "TCP") return [];
  const hops: Hop[] = [];
  let mtls = peer.mtls;
  const pa = peerAuthenticationAt(mesh, dst, dstMode, port, peer.mtls);
  if (pa) {
    mtls = pa.connectionMtls;
    assumptions.push(...pa.assumptions);
    if (pa.isolated || pa.verdict === "deny") {
      hops.push({
        step: "peer-authentication",
        enforcer: "istio-peerauthentication",
        direction: "ingress",
        at: dst.id,
        verdict: pa.verdict,
        wire,
        policies: pa.policies,
        reason: pa.reason,
        misses: [...pa.misses, ...pa.notes],
        proxy,
        ...(pa.verdict === "deny" ? { observed: pa.observed ?? "reset" } : {}),
      });
    }
  }
  const d = authorizationAt(mesh, dst, dstMode, { ...peer, mtls }, port, http, wire.dstIP);
  assumptions.push(...d.assumptions);
  hops.push(authorizationHopOf(d, dst.id, proxy, { ...wire, port }));
  return hops;
}

/** The destination's PeerAuthentication for a connection (none at a gateway). */
export function peerAuthenticationAt(mesh: IstioMesh, dst: Workload, dstMode: MeshMode, port: number, mtls: boolean): PeerAuthnDecision | null {
  if (dstMode === "gateway" || dstMode === "none") return null;
  return evaluatePeerAuthentication(mesh.peerAuthentications, { namespace: dst.namespace, labels: dst.labels }, port, mtls, mesh.settings.rootNamespace, {
    dataplane: dstMode === "ambient" ? "ambient" : "sidecar",
  });
}

/** The destination proxy's AuthorizationPolicy decision (a sidecar or gateway, or the ztunnel of an ambient pod). */
export function authorizationAt(
  mesh: IstioMesh,
  dst: Workload,
  dstMode: MeshMode,
  peer: MeshPeer,
  port: number,
  http: HttpAttributes | undefined,
  dstIP: string | null,
): AuthzDecision {
  const point: EnforcementPoint = dstMode === "ambient" ? { kind: "ztunnel" } : { kind: "sidecar", ...(dstMode === "gateway" ? { gateway: true } : {}) };
  const request: AuthzRequest = {
    source: {
      ...(peer.workload ? { namespace: peer.workload.namespace, serviceAccount: peer.workload.serviceAccount || "default" } : {}),
      ...(peer.ip ? { ip: peer.ip } : {}),
      mtls: peer.mtls,
    },
    destination: { namespace: dst.namespace, labels: dst.labels, port, ...(dstIP ? { ip: dstIP } : {}) },
    protocol: "TCP",
    ...(http && dstMode !== "ambient" ? { http } : {}),
  };
  return evaluateAt(mesh, request, point);
}

/** One request at one enforcement point, with the mesh's root namespace and trust domain. */
function evaluateAt(mesh: IstioMesh, request: AuthzRequest, point: EnforcementPoint): AuthzDecision {
  return evaluateAuthorization(mesh.authorizationPolicies, request, point, {
    rootNamespace: mesh.settings.rootNamespace,
    trustDomain: mesh.settings.trustDomain,
  });
}

/** AuthorizationPolicy at a waypoint: only targetRefs policies, full L7 (§5.5 r16), with the client's identity. */
export function waypointAuthorizationHop(
  scenario: Scenario,
  waypoint: Waypoint,
  waypointPod: Workload,
  service: Service | undefined,
  client: MeshPeer,
  dst: Workload,
  port: number,
  http: HttpAttributes | undefined,
  wire: Wire,
  assumptions: string[],
): Hop {
  const mesh = scenario.mesh!;
  const request: AuthzRequest = {
    source: {
      ...(client.workload ? { namespace: client.workload.namespace, serviceAccount: client.workload.serviceAccount || "default" } : {}),
      ...(client.ip ? { ip: client.ip } : {}),
      mtls: client.mtls,
    },
    destination: { namespace: dst.namespace, labels: dst.labels, port },
    protocol: "TCP",
    ...(http ? { http } : {}),
  };
  const point: EnforcementPoint = {
    kind: "waypoint",
    waypoint: { namespace: waypoint.namespace, name: waypoint.name },
    ...(service ? { service: { namespace: service.namespace, name: service.name, kind: "Service" as const } } : {}),
  };
  return authorizationHop(mesh, request, point, waypointPod.id, "waypoint", wire, assumptions);
}

function authorizationHop(mesh: IstioMesh, request: AuthzRequest, point: EnforcementPoint, at: string, proxy: MeshProxy, wire: Wire, assumptions: string[]): Hop {
  const d = evaluateAt(mesh, request, point);
  assumptions.push(...d.assumptions);
  return authorizationHopOf(d, at, proxy, { ...wire, port: request.destination.port });
}

function authorizationHopOf(d: AuthzDecision, at: string, proxy: MeshProxy, wire: Wire): Hop {
  return {
    step: "authorization",
    enforcer: "istio-authorization",
    direction: "ingress",
    at,
    verdict: d.verdict,
    wire,
    policies: d.policies,
    reason: d.reason,
    misses: [...d.misses, ...d.notes],
    proxy,
    ...(d.verdict === "deny" ? { observed: d.observed ?? "reset" } : {}),
  };
}
