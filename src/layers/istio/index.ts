/**
 * The Istio mesh as one object: which data plane each workload has, the mesh
 * settings, and every policy the proxies enforce. Built once per scenario;
 * `path/` asks it questions while it follows a flow.
 */
import type { InputDiagnostic, Manifest } from "../../load/types.js";
import type { Cluster, Workload } from "../../model/types.js";
import { isAuthorizationPolicy, scanAuthorizationPolicies, type AuthorizationPolicy } from "./authorization.js";
import { detectIstio, readMeshConfig, type IstioDetection, type MeshSettings } from "./meshconfig.js";
import { LABEL_GATEWAY_MANAGED, LABEL_GATEWAY_NAME, meshMemberships, type Membership } from "./membership.js";
import { isPeerAuthentication, scanPeerAuthentications, type PeerAuthentication } from "./peerauthentication.js";
import { isServiceEntry, ServiceEntryRegistry, scanServiceEntries } from "./serviceentry.js";
import { scanSidecars, SidecarEgress, type SidecarResource } from "./sidecar-egress.js";
import { scanWaypoints, waypointWorkloads, WaypointIndex, WAYPOINT_CLASS, type Waypoint } from "./waypoint.js";

export type { Membership, MeshMode } from "./membership.js";
export type { Waypoint } from "./waypoint.js";

/** The HBONE port: ztunnel's and waypoints' inbound tunnel (semantics.md §5.2). */
export const HBONE_PORT = 15008;
/** The address ztunnel gives kubelet probes to ambient pods (semantics.md §5.3). */
export const AMBIENT_PROBE_SOURCE = "169.254.7.127";

/** Kinds the Istio layers read (everything else of Istio's API groups is not evaluated). */
export function isIstioPolicyManifest(m: Manifest): boolean {
  return (
    isAuthorizationPolicy(m) ||
    isPeerAuthentication(m) ||
    isServiceEntry(m) ||
    (m.kind === "Sidecar" && m.apiVersion.startsWith("networking.istio.io/")) ||
    (m.kind === "Gateway" && m.apiVersion.startsWith("gateway.networking.k8s.io/")) ||
    (m.kind === "GatewayClass" && m.apiVersion.startsWith("gateway.networking.k8s.io/"))
  );
}

export interface IstioMesh {
  detection: IstioDetection;
  settings: MeshSettings;
  membership(w: Workload): Membership;
  authorizationPolicies: readonly AuthorizationPolicy[];
  peerAuthentications: readonly PeerAuthentication[];
  waypoints: WaypointIndex;
  /** The workloads running each waypoint (from the input, or assumed from the Gateway). */
  waypointPods(wp: Waypoint): Workload[];
  registry: ServiceEntryRegistry;
  sidecars: readonly SidecarResource[];
  /** Sidecar outbound control: Sidecar scope, outboundTrafficPolicy and the registry. */
  egress: SidecarEgress;
}

export interface IstioBuild {
  mesh: IstioMesh;
  /** Waypoint deployments istiod would create for Gateways the input has no workload for. */
  addedWorkloads: Workload[];
  diagnostics: InputDiagnostic[];
  notes: string[];
}

/**
 * Reads every Istio object. `manifests` is the whole input (the istio ConfigMap
 * and the labels of namespaces and pods count too).
 */
export function buildIstioMesh(manifests: readonly Manifest[], cluster: Cluster): IstioBuild {
  const diagnostics: InputDiagnostic[] = [];
  const notes: string[] = [];
  const detection = detectIstio(manifests);
  const { mesh: settings, diagnostics: meshDiags } = readMeshConfig(manifests);
  diagnostics.push(...meshDiags);
  const scanOptions = { rootNamespace: settings.rootNamespace };
  const authorizationPolicies = scanAuthorizationPolicies(manifests, diagnostics, scanOptions);
  const peerAuthentications = scanPeerAuthentications(manifests, diagnostics, scanOptions);
  const entries = scanServiceEntries(manifests, { defaultExportTo: settings.defaultServiceExportTo });
  diagnostics.push(...entries.diagnostics);
  const wpScan = scanWaypoints(manifests);
  diagnostics.push(...wpScan.diagnostics);
  const waypoints = new WaypointIndex(wpScan.waypoints, cluster.namespaces);
  const sidecarScan = scanSidecars(manifests);
  diagnostics.push(...sidecarScan.diagnostics);
  const registry = ServiceEntryRegistry.fromScan(entries);

  const addedWorkloads: Workload[] = [];
  for (const wp of wpScan.waypoints) {
    if (waypointWorkloads(wp, cluster.workloads).length > 0) continue;
    addedWorkloads.push(waypointDeployment(wp));
    notes.push(
      `waypoint ${wp.namespace}/${wp.name}: no Deployment in the input; assumed the one istiod creates (pods labelled ${LABEL_GATEWAY_NAME}=${wp.name}, service account ${wp.name})`,
    );
  }
  const all = [...cluster.workloads, ...addedWorkloads];
  const memberships = meshMemberships(all, cluster.namespaces, { istioNamespace: settings.rootNamespace });
  const mesh: IstioMesh = {
    detection,
    settings,
    membership: (w) => {
      const m = memberships.get(w);
      if (!m) throw new Error(`workload ${w.id} is not part of the mesh model`);
      return m;
    },
    authorizationPolicies,
    peerAuthentications,
    waypoints,
    waypointPods: (wp) => waypointWorkloads(wp, all),
    registry,
    sidecars: sidecarScan.sidecars,
    egress: new SidecarEgress({ mesh: settings, sidecars: sidecarScan.sidecars, registry, services: cluster.services }),
  };
  return { mesh, addedWorkloads, diagnostics, notes };
}

/**
 * The Deployment istiod generates for a waypoint Gateway: named after it, its pods
 * labelled with the gateway name, running as a service account of the same name,
 * listening for HBONE on 15008.
 */
function waypointDeployment(wp: Waypoint): Workload {
  return {
    id: `${wp.namespace}/${wp.name}`,
    kind: "Deployment",
    namespace: wp.namespace,
    name: wp.name,
    labels: { [LABEL_GATEWAY_NAME]: wp.name, [LABEL_GATEWAY_MANAGED]: "istio.io-mesh-controller" },
    annotations: {},
    ports: [
      { name: "mesh", port: 15008, protocol: "TCP" },
      { name: "status-port", port: 15021, protocol: "TCP" },
      { name: "metrics", port: 15020, protocol: "TCP" },
    ],
    serviceAccount: wp.name,
    hostNetwork: false,
    ips: [],
    hostIPs: [],
    source: { file: wp.file, line: wp.line },
    manifest: wp.manifest,
  };
}

export { WAYPOINT_CLASS };
