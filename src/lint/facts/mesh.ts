/**
 * Facts the mesh lint rules share: where istiod is and who must reach it, which
 * workloads an AuthorizationPolicy binds to and where it is enforced, and which
 * waypoint (if any) serves a workload.
 */
import type { Scenario } from "../../analysis/scenario.js";
import { evaluateAuthorization, ztunnelKnowsCondition, type AuthorizationPolicy, type AuthzDecision, type AuthzRequest, type AuthzRule, type EnforcementPoint } from "../../layers/istio/authorization.js";
import { HBONE_PORT, type MeshMode } from "../../layers/istio/index.js";
import { LABEL_WAYPOINT_FOR, serviceTarget, WAYPOINT_CLASS, workloadTarget, type WaypointBinding } from "../../layers/istio/waypoint.js";
import { resolveTargetPort, serviceBackends, type FlowTarget } from "../../path/index.js";
import { speaksHttpByName } from "../../path/mesh.js";
import type { Service, Workload } from "../../model/types.js";

// ---------------------------------------------------------------------------
// The control plane

/** istiod's xDS and CA port over TLS: what every proxy dials (15010 is plaintext xDS, 15014 monitoring; neither is needed). */
export const ISTIOD_XDS_PORT = 15012;

const isIstiodPod = (w: Workload, ns: string): boolean => w.namespace === ns && (w.labels["app"] === "istiod" || w.labels["istio"] === "pilot");

export interface ControlPlane {
  target: FlowTarget;
  /** For messages: `Service istio-system/istiod` or the pods' workload. */
  what: string;
  /** istiod's own pods (they need no path to themselves). */
  pods: Workload[];
  egressFix: string;
  /** The ingress rule istiod's policy needs for proxies of these namespaces. */
  ingressFix(namespaces: readonly string[]): string;
}

/**
 * istiod as a proxy reaches it: the Service `istiod` of the Istio namespace on 15012
 * (the default `discoveryAddress`), else its pods (`app: istiod`) on 15012. Undefined
 * when the input has neither: the control plane may run elsewhere (a managed or
 * remote istiod), so nothing can be decided.
 */
export function controlPlaneTarget(scenario: Scenario): ControlPlane | undefined {
  const ns = scenario.mesh?.settings.rootNamespace ?? "istio-system";
  const labelled = scenario.cluster.workloads.filter((w) => isIstiodPod(w, ns));
  const svc = scenario.cluster.services.find((s) => s.name === "istiod" && s.namespace === ns && s.ports.some((p) => p.protocol === "TCP" && p.port === ISTIOD_XDS_PORT));
  const egressFix =
    `egress:\n- to:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: ${ns}\n    podSelector:\n      matchLabels:\n        app: istiod\n` +
    `  ports:\n  - protocol: TCP\n    port: ${ISTIOD_XDS_PORT}\n`;
  const ingressFix = (namespaces: readonly string[]) =>
    `ingress:\n- from:\n${namespaces.map((n) => `  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: ${n}\n`).join("")}` +
    `  ports:\n  - protocol: TCP\n    port: ${ISTIOD_XDS_PORT}\n`;
  if (svc) {
    const port = svc.ports.find((p) => p.protocol === "TCP" && p.port === ISTIOD_XDS_PORT)!;
    const pods = [...new Set([...labelled, ...serviceBackends(scenario, svc)])];
    return { target: { kind: "service", service: svc, port }, what: `Service ${svc.id}`, pods, egressFix, ingressFix };
  }
  const pod = labelled[0];
  if (!pod) return undefined;
  return { target: { kind: "workload", workload: pod }, what: pod.id, pods: labelled, egressFix, ingressFix };
}

/**
 * The Istio proxy a workload runs that talks to istiod itself, for messages; null
 * for ambient application pods (ztunnel, on their node, fetches configuration and
 * certificates for them) and for pods outside the mesh.
 */
export function proxyRunBy(scenario: Scenario, w: Workload): string | null {
  const mesh = scenario.mesh;
  if (!mesh) return null;
  const m = mesh.membership(w);
  if (m.mode === "sidecar") return "an istio-proxy sidecar";
  if (m.mode === "gateway") return m.gateway?.kind === "waypoint" ? "a waypoint proxy" : "an Istio gateway proxy";
  if (m.mode === "none" && w.namespace === mesh.settings.rootNamespace && w.labels["app"] === "ztunnel") return "ztunnel";
  return null;
}

// ---------------------------------------------------------------------------
// AuthorizationPolicy: where it binds and how it is evaluated there

/** The manifest an AuthorizationPolicy was read from (for rule lines and for fixes written from the policy as it was given). */
export interface BoundWorkload {
  workload: Workload;
  mode: MeshMode;
  point: EnforcementPoint;
}

/** The enforcement point of a workload's own proxy (sidecar, gateway, or its node's ztunnel); null outside the mesh. */
export function enforcementPointOf(mode: MeshMode): EnforcementPoint | null {
  if (mode === "sidecar") return { kind: "sidecar" };
  if (mode === "gateway") return { kind: "sidecar", gateway: true };
  if (mode === "ambient") return { kind: "ztunnel" };
  return null;
}

/**
 * The mesh workloads a `selector` (or namespace-wide, or root-namespace) policy binds
 * to, with the proxy that enforces it (semantics.md §4.1 r1, §5.4 r9). Policies with
 * targetRefs bind to none of them: only waypoints and Gateway API gateways read those.
 */
export function boundWorkloads(scenario: Scenario, p: AuthorizationPolicy): BoundWorkload[] {
  const mesh = scenario.mesh;
  if (!mesh || p.targetRefs.length > 0) return [];
  const root = mesh.settings.rootNamespace;
  const out: BoundWorkload[] = [];
  for (const w of scenario.cluster.workloads) {
    if (p.namespace !== root && w.namespace !== p.namespace) continue;
    if (p.selector && !Object.entries(p.selector).every(([k, v]) => w.labels[k] === v)) continue;
    const mode = mesh.membership(w).mode;
    const point = enforcementPointOf(mode);
    if (point) out.push({ workload: w, mode, point });
  }
  return out;
}

/** `policies` alone at one enforcement point, with the mesh's root namespace and trust domain. */
export function evaluatePolicies(scenario: Scenario, policies: readonly AuthorizationPolicy[], request: AuthzRequest, point: EnforcementPoint): AuthzDecision {
  const settings = scenario.mesh?.settings;
  return evaluateAuthorization(policies, request, point, {
    ...(settings ? { rootNamespace: settings.rootNamespace, trustDomain: settings.trustDomain } : {}),
  });
}

/**
 * Whether the enforcing proxy runs an HTTP filter chain for a container port of the
 * destination (Istio protocol selection by the container port's or a selecting Service
 * port's name or appProtocol). ztunnel never does.
 */
export function portSpeaksHttp(scenario: Scenario, w: Workload, port: number, point: EnforcementPoint): boolean {
  if (point.kind === "ztunnel") return false;
  const mode: MeshMode = point.kind === "sidecar" && point.gateway ? "gateway" : "sidecar";
  if (speaksHttpByName(w.ports.find((p) => p.port === port && p.protocol === "TCP")?.name, mode)) return true;
  return servicesOf(scenario, w).some((s) =>
    s.ports.some((sp) => sp.protocol === "TCP" && resolveTargetPort(sp, w) === port && (speaksHttpByName(sp.appProtocol, mode) || speaksHttpByName(sp.name, mode))),
  );
}

/**
 * For a policy attached with targetRefs to Services, the pods behind each Service a
 * waypoint serves, enforced at that waypoint (semantics.md §5.5 r16). Services no
 * waypoint serves give none (ambient-targetref-without-waypoint reports them).
 */
export function waypointBoundWorkloads(scenario: Scenario, p: AuthorizationPolicy): BoundWorkload[] {
  const mesh = scenario.mesh;
  if (!mesh) return [];
  const out: BoundWorkload[] = [];
  for (const ref of p.targetRefs) {
    if (ref.kind !== "Service" || (ref.group !== "" && ref.group !== "core")) continue;
    const svc = scenario.cluster.services.find((s) => s.namespace === p.namespace && s.name === ref.name);
    const wp = svc ? mesh.waypoints.forService(serviceTarget(svc)).waypoint : null;
    if (!svc || !wp) continue;
    const point: EnforcementPoint = { kind: "waypoint", waypoint: { namespace: wp.namespace, name: wp.name }, service: { namespace: svc.namespace, name: svc.name, kind: "Service" } };
    for (const w of serviceBackends(scenario, svc)) out.push({ workload: w, mode: mesh.membership(w).mode, point });
  }
  return out;
}

/** A value an Istio string match (`exact`, `prefix*`, `*suffix`, `*`, path templates) accepts, for building a sample request. */
export function sampleMatching(pattern: string): string {
  const filled = pattern.replace(/\{\*\*?\}/g, "x");
  if (filled === "*") return "x";
  if (filled.endsWith("*")) return `${filled.slice(0, -1)}x`;
  if (filled.startsWith("*")) return `x${filled.slice(1)}`;
  return filled;
}

/** The Services that send traffic to a workload. */
export function servicesOf(scenario: Scenario, w: Workload): Service[] {
  return scenario.cluster.services.filter((s) => s.namespace === w.namespace && serviceBackends(scenario, s).includes(w));
}

/** The waypoint serving a workload, directly or through one of its Services; null when none does. */
export function waypointServing(scenario: Scenario, w: Workload): { binding: WaypointBinding; via: string } | null {
  const mesh = scenario.mesh;
  if (!mesh) return null;
  const own = mesh.waypoints.forWorkload(workloadTarget(w));
  if (own.waypoint) return { binding: own, via: w.id };
  for (const s of servicesOf(scenario, w)) {
    const b = mesh.waypoints.forService(serviceTarget(s));
    if (b.waypoint) return { binding: b, via: `Service ${s.id}` };
  }
  return null;
}

// ---------------------------------------------------------------------------
// What ztunnel cannot enforce

const L4_SOURCE_FIELDS = ["ipBlocks", "notIpBlocks", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "principals", "notPrincipals"] as const;

/**
 * Whether ztunnel still has something to match in every part of a rule once its L7
 * attributes are removed: a `to` list with an item that has ports, a `from` list
 * with an item that has an L4 source field, and only L4 `when` keys. A part left
 * empty never matches, so a DENY rule without one is a no-op (§5.4 r13).
 */
export function hasL4Remainder(rule: AuthzRule): boolean {
  if (rule.to && !rule.to.some((t) => t.operation.ports.length + t.operation.notPorts.length > 0)) return false;
  if (rule.from && !rule.from.some((f) => L4_SOURCE_FIELDS.some((k) => f.source[k].length > 0))) return false;
  return rule.when.every((c) => ztunnelKnowsCondition(c.key));
}

/** The smallest waypoint Gateway, for fixes: named `waypoint`, serving `trafficType`, with the HBONE listener. */
export function waypointGatewayYaml(namespace: string, trafficType: "service" | "workload"): string {
  return (
    `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: waypoint\n  namespace: ${namespace}\n` +
    `  labels:\n    ${LABEL_WAYPOINT_FOR}: ${trafficType}\nspec:\n  gatewayClassName: ${WAYPOINT_CLASS}\n  listeners:\n  - name: mesh\n    port: ${HBONE_PORT}\n    protocol: HBONE\n`
  );
}
