import type { LayerPlugin } from "../registry.js";
import { NetworkPolicyLayer } from "./evaluate.js";
import { isNetworkPolicy, scanNetworkPolicies } from "./scan.js";

export { NetworkPolicyLayer, rulePorts } from "./evaluate.js";
export * from "./scan.js";

/** Kubernetes NetworkPolicy (networking.k8s.io/v1). */
export const networkPolicyPlugin: LayerPlugin = {
  id: "networkpolicy",
  title: "Kubernetes NetworkPolicy",
  consumes: isNetworkPolicy,
  build(manifests, cluster, profile) {
    const { policies, diagnostics } = scanNetworkPolicies(manifests);
    return { layer: new NetworkPolicyLayer(policies, cluster, profile), diagnostics, namespaces: policies.map((p) => p.namespace) };
  },
};
