import type { LayerPlugin } from "../registry.js";
import { isNetworkPolicy } from "../networkpolicy/scan.js";
import { CiliumEngine, CiliumLayer } from "./evaluate.js";
import { isCiliumPolicy, scanCiliumPolicies } from "./scan.js";

export { CiliumEngine, CiliumLayer, namespacesOf, type CiliumApi, type CiliumDecision, type L7Request } from "./evaluate.js";
export * from "./scan.js";
export { SafeRegex, RegexSyntaxError, RegexUnsupportedError } from "./re2.js";

/**
 * Cilium (cilium.io/v2 CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy) and
 * the Kubernetes NetworkPolicies Cilium enforces with them: one engine, shown
 * as the `networkpolicy` layer for endpoint directions only NetworkPolicies
 * select, and as the `cilium` layer where a Cilium policy takes part (or the
 * enforcement mode is `always`).
 */
export const ciliumPlugin: LayerPlugin = {
  id: "cilium",
  title: "Cilium network policy (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, Kubernetes NetworkPolicy)",
  consumes: (m) => isCiliumPolicy(m) || isNetworkPolicy(m),
  build(manifests, cluster, profile) {
    const { policies, diagnostics } = scanCiliumPolicies(manifests, profile.cilium);
    const engine = new CiliumEngine(policies, cluster, profile);
    const npView = new CiliumLayer(engine, "networkpolicy");
    const layers = engine.hasCiliumPolicies || profile.cilium.policyEnforcementMode === "always" ? [npView, new CiliumLayer(engine, "cilium")] : [npView];
    return { layer: npView, layers, diagnostics, namespaces: policies.map((p) => p.namespace).filter((n): n is string => n !== null) };
  },
};
