/** Rules about Istio resources: AuthorizationPolicy, ServiceEntry, Sidecar. */
import istioIpblocksBehindClusterSnat from "../rules/istio-ipblocks-behind-cluster-snat.js";
import type { Rule } from "../rule.js";

export const istioRules: readonly Rule[] = [istioIpblocksBehindClusterSnat];
