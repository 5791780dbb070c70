/** Rules about Istio resources: AuthorizationPolicy, ServiceEntry, Sidecar. */
import istioAllowFromAnywhere from "../rules/istio-allow-from-anywhere.js";
import istioHostNotExported from "../rules/istio-host-not-exported.js";
import istioIdentityRulePlaintextClients from "../rules/istio-identity-rule-plaintext-clients.js";
import istioIpblocksBehindClusterSnat from "../rules/istio-ipblocks-behind-cluster-snat.js";
import istioRegistryOnlyMissingImport from "../rules/istio-registry-only-missing-import.js";
import istioServiceentryNoneWithoutAddresses from "../rules/istio-serviceentry-none-without-addresses.js";
import istioServiceentryStaticWithoutEndpoints from "../rules/istio-serviceentry-static-without-endpoints.js";
import type { Rule } from "../rule.js";

export const istioRules: readonly Rule[] = [
  istioIpblocksBehindClusterSnat,
  istioAllowFromAnywhere,
  istioIdentityRulePlaintextClients,
  istioServiceentryNoneWithoutAddresses,
  istioServiceentryStaticWithoutEndpoints,
  istioHostNotExported,
  istioRegistryOnlyMissingImport,
];
