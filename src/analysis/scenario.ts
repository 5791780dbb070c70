import { InputDiagnostic, type LoadResult, type Manifest } from "../load/types.js";
import { buildCluster, CLUSTER_KINDS } from "../model/build.js";
import { defaultProfile, type ClusterProfile, type CniName } from "../model/profile.js";
import type { Cluster } from "../model/types.js";
import { cniPlugins, IGNORED_KINDS, PENDING_KINDS } from "../layers/registry.js";
import type { CniLayer } from "../layers/types.js";

/** Everything one analysis needs: the cluster, the profile and the built layers. */
export interface Scenario {
  cluster: Cluster;
  profile: ClusterProfile;
  layers: readonly CniLayer[];
  diagnostics: readonly InputDiagnostic[];
  /** Facts the output states: assumed namespaces, detected CNI, kinds not evaluated. */
  notes: readonly string[];
}

export interface ScenarioOptions {
  cni?: CniName;
}

const CILIUM_KINDS = new Set(["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);

export function buildScenario(load: LoadResult, options: ScenarioOptions = {}): Scenario {
  const diagnostics: InputDiagnostic[] = [...load.diagnostics];
  const notes: string[] = [];
  const { manifests } = load;

  const detectedCilium = manifests.some((m) => CILIUM_KINDS.has(m.kind));
  const profile = options.cni
    ? defaultProfile(options.cni, "flag")
    : detectedCilium
      ? defaultProfile("cilium", "detected")
      : defaultProfile("generic", "default");
  if (profile.cniSource === "detected") notes.push("CNI: cilium (detected from CiliumNetworkPolicy objects in the input)");

  const perPlugin = cniPlugins.map((plugin) => ({ plugin, manifests: [] as Manifest[] }));
  const pending = new Map<string, number>();
  const clusterManifests: Manifest[] = [];
  for (const m of manifests) {
    const owner = perPlugin.find((p) => p.plugin.consumes(m));
    if (owner) owner.manifests.push(m);
    else if (CLUSTER_KINDS.has(m.kind)) clusterManifests.push(m);
    else if (PENDING_KINDS.has(m.kind)) pending.set(m.kind, (pending.get(m.kind) ?? 0) + 1);
    else if (!IGNORED_KINDS.has(m.kind) && !m.kind.endsWith("List")) {
      diagnostics.push(
        new InputDiagnostic("warning", `unknown kind ${m.kind} (apiVersion ${m.apiVersion}): ignored`, { file: m.source.file, line: m.lineOf(["kind"]), field: "kind" }),
      );
    }
  }
  for (const [kind, n] of pending) notes.push(`${n} ${kind} object${n > 1 ? "s" : ""} not evaluated (this layer is not supported yet)`);

  // Namespaces that policies live in exist even when nothing else mentions them.
  const policyNamespaces = perPlugin.flatMap((p) => p.manifests.map((m) => m.namespace ?? "default"));
  const built = buildCluster(clusterManifests, policyNamespaces);
  diagnostics.push(...built.diagnostics);
  notes.push(...built.notes);

  const layers = perPlugin.map(({ plugin, manifests: own }) => {
    const { layer, diagnostics: d } = plugin.build(own, built.cluster, profile);
    diagnostics.push(...d);
    return layer;
  });
  return { cluster: built.cluster, profile, layers, diagnostics, notes };
}

export function hasErrors(s: Scenario): boolean {
  return s.diagnostics.some((d) => d.severity === "error");
}
