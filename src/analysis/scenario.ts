import { InputDiagnostic, type LoadResult, type Manifest } from "../load/types.js";
import { buildCluster, CLUSTER_KINDS } from "../model/build.js";
import { defaultProfile, type CiliumSwitches, type ClusterProfile, type CniName } from "../model/profile.js";
import type { Cluster } from "../model/types.js";
import { cniPluginsFor, IGNORED_KINDS, PENDING_KINDS } from "../layers/registry.js";
import type { CniLayer } from "../layers/types.js";
import { buildIstioMesh, isIstioPolicyManifest, type IstioMesh } from "../layers/istio/index.js";

/** Everything one analysis needs: the cluster, the profile and the built layers. */
export interface Scenario {
  cluster: Cluster;
  profile: ClusterProfile;
  layers: readonly CniLayer[];
  /** Node addresses the input gives (Node objects, pods' status.hostIP), for traffic SNATed to a node. */
  nodeAddresses: readonly string[];
  /** The Istio mesh, when the input shows one. */
  mesh?: IstioMesh;
  diagnostics: readonly InputDiagnostic[];
  /** Every object read from the input, as written (lint reads annotations here; fix patches these documents). */
  manifests: readonly Manifest[];
  /** Facts the output states: assumed namespaces, detected CNI, kinds not evaluated. */
  notes: readonly string[];
}

export interface ScenarioOptions {
  cni?: CniName;
  /** Cilium agent options and version readings that differ from the v1.19.4 defaults (profile.ts). */
  cilium?: Partial<CiliumSwitches>;
}

const CILIUM_KINDS = new Set(["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);

export function buildScenario(load: LoadResult, options: ScenarioOptions = {}): Scenario {
  const diagnostics: InputDiagnostic[] = [...load.diagnostics];
  const notes: string[] = [];
  const { manifests } = load;

  const detectedCilium = manifests.some((m) => CILIUM_KINDS.has(m.kind));
  const switches = options.cilium ?? {};
  const profile = options.cni
    ? defaultProfile(options.cni, "flag", switches)
    : detectedCilium
      ? defaultProfile("cilium", "detected", switches)
      : defaultProfile("generic", "default", switches);
  if (profile.cniSource === "detected") notes.push("CNI: cilium (detected from CiliumNetworkPolicy objects in the input)");

  const perPlugin = cniPluginsFor(profile).map((plugin) => ({ plugin, manifests: [] as Manifest[] }));
  const pending = new Map<string, number>();
  /** Cilium policies under a profile whose CNI is not Cilium. */
  const unread = new Map<string, number>();
  const clusterManifests: Manifest[] = [];
  for (const m of manifests) {
    const owner = perPlugin.find((p) => p.plugin.consumes(m));
    if (owner) owner.manifests.push(m);
    else if (CLUSTER_KINDS.has(m.kind)) clusterManifests.push(m);
    else if (isIstioPolicyManifest(m)) continue;
    else if (CILIUM_KINDS.has(m.kind)) unread.set(m.kind, (unread.get(m.kind) ?? 0) + 1);
    else if (PENDING_KINDS.has(m.kind)) pending.set(m.kind, (pending.get(m.kind) ?? 0) + 1);
    else if (!IGNORED_KINDS.has(m.kind) && !m.kind.endsWith("List")) {
      diagnostics.push(
        new InputDiagnostic("warning", `unknown kind ${m.kind} (apiVersion ${m.apiVersion}): ignored`, { file: m.source.file, line: m.lineOf(["kind"]), field: "kind" }),
      );
    }
  }
  for (const [kind, n] of unread) notes.push(`${n} ${kind} object${n > 1 ? "s" : ""} not evaluated: the CNI is ${profile.cni} (pass --cni cilium)`);
  for (const [kind, n] of pending) notes.push(`${n} ${kind} object${n > 1 ? "s" : ""} not evaluated (this layer is not supported yet)`);

  // Namespaces that policies live in exist even when nothing else mentions them.
  const policyNamespaces = perPlugin.flatMap((p) =>
    p.manifests.filter((m) => m.kind !== "CiliumClusterwideNetworkPolicy").map((m) => m.namespace ?? "default"),
  );
  const built = buildCluster(clusterManifests, policyNamespaces);
  diagnostics.push(...built.diagnostics);
  notes.push(...built.notes);

  // Istio: the mesh model, and the waypoint deployments istiod would create.
  let cluster = built.cluster;
  let mesh: IstioMesh | undefined;
  const istio = buildIstioMesh(manifests, cluster);
  if (istio.mesh.detection.present) {
    mesh = istio.mesh;
    diagnostics.push(...istio.diagnostics);
    notes.push(...istio.notes);
    if (istio.addedWorkloads.length > 0) cluster = { ...cluster, workloads: [...cluster.workloads, ...istio.addedWorkloads] };
  }

  const layers = perPlugin.flatMap(({ plugin, manifests: own }) => {
    const { layer, layers: shown, diagnostics: d } = plugin.build(own, cluster, profile);
    diagnostics.push(...d);
    return shown ?? [layer];
  });
  return { cluster, profile, layers, diagnostics, manifests, notes, nodeAddresses: nodeAddresses(manifests, cluster), ...(mesh ? { mesh } : {}) };
}

/** InternalIP (then ExternalIP) of Node objects, then the hostIPs of pods, without repeats. */
function nodeAddresses(manifests: readonly Manifest[], cluster: Cluster): string[] {
  const out = new Set<string>();
  for (const m of manifests) {
    if (m.kind !== "Node") continue;
    const addresses = (m.raw.status as { addresses?: unknown } | undefined)?.addresses;
    if (!Array.isArray(addresses)) continue;
    for (const type of ["InternalIP", "ExternalIP"]) {
      for (const a of addresses) {
        if (a && typeof a === "object" && (a as { type?: unknown }).type === type && typeof (a as { address?: unknown }).address === "string") {
          out.add((a as { address: string }).address);
        }
      }
    }
  }
  for (const w of cluster.workloads) for (const ip of w.hostIPs) out.add(ip);
  return [...out];
}

export function hasErrors(s: Scenario): boolean {
  return s.diagnostics.some((d) => d.severity === "error");
}
