import type { InputDiagnostic, Manifest } from "../load/types.js";
import type { ClusterProfile } from "../model/profile.js";
import type { Cluster } from "../model/types.js";
import { ciliumPlugin } from "./cilium/index.js";
import { networkPolicyPlugin } from "./networkpolicy/index.js";
import type { CniLayer, LayerId } from "./types.js";

/**
 * A policy API Palisade understands: which manifests it reads and how it turns
 * them into an evaluator. Adding a layer means adding one plugin here.
 */
export interface LayerPlugin {
  id: LayerId;
  title: string;
  consumes(m: Manifest): boolean;
  build(
    manifests: readonly Manifest[],
    cluster: Cluster,
    profile: ClusterProfile,
  ): {
    layer: CniLayer;
    /**
     * When given, the layers the scenario holds instead of `layer`: one policy
     * engine shown under several layer ids (Cilium enforces NetworkPolicies and
     * its own policies together, but `blockedBy.layer` names the API in use).
     */
    layers?: readonly CniLayer[];
    diagnostics: InputDiagnostic[];
    namespaces: string[];
  };
}

/** Every CNI-level plugin Palisade has. */
export const cniPlugins: readonly LayerPlugin[] = [networkPolicyPlugin, ciliumPlugin];

/**
 * The plugins that enforce policy under a profile: with Cilium, its engine
 * reads NetworkPolicies too (in Cilium's reading, semantics.md §1.4 r20, §3),
 * so the generic NetworkPolicy plugin is not used.
 */
export function cniPluginsFor(profile: ClusterProfile): readonly LayerPlugin[] {
  return profile.cni === "cilium" ? [ciliumPlugin] : [networkPolicyPlugin];
}

/**
 * Kinds that are understood but do not affect reachability yet, or at all.
 * They are skipped silently; any other kind is reported as unknown.
 */
export const IGNORED_KINDS = new Set([
  "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
  "Ingress", "IngressClass", "PersistentVolume", "PersistentVolumeClaim", "StorageClass", "CustomResourceDefinition",
  "Endpoints", "EndpointSlice", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Node", "Event", "LimitRange",
  "ResourceQuota", "PriorityClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
  "Lease", "ControllerRevision", "CSIDriver", "CSINode", "VolumeAttachment", "PodTemplate", "ComponentStatus",
  "CertificateSigningRequest", "RuntimeClass", "PodSecurityPolicy", "VerticalPodAutoscaler",
  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "FlowSchema", "PriorityLevelConfiguration",
  "Kustomization", "Route",
]);

/** Policy kinds that later layers evaluate; until then they are reported as not evaluated. */
export const PENDING_KINDS = new Set([
  "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy",
  "VirtualService", "Gateway", "GatewayClass",
  "DestinationRule", "WorkloadEntry", "Telemetry", "EnvoyFilter", "RequestAuthentication", "HTTPRoute",
]);
