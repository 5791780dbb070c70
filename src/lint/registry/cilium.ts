/** Rules about CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy. */
import ciliumCidrCoversCluster from "../rules/cilium-cidr-covers-cluster.js";
import ciliumEnforcementDisabled from "../rules/cilium-enforcement-disabled.js";
import ciliumFqdnWithoutDns from "../rules/cilium-fqdn-without-dns.js";
import ciliumImplicitNamespaceScope from "../rules/cilium-implicit-namespace-scope.js";
import ciliumL4RuleDisablesL7 from "../rules/cilium-l4-rule-disables-l7.js";
import ciliumNoPortRestriction from "../rules/cilium-no-port-restriction.js";
import ciliumRedundantDefaultDeny from "../rules/cilium-redundant-default-deny.js";
import type { Rule } from "../rule.js";

export const ciliumRules: readonly Rule[] = [
  ciliumImplicitNamespaceScope,
  ciliumFqdnWithoutDns,
  ciliumL4RuleDisablesL7,
  ciliumRedundantDefaultDeny,
  ciliumNoPortRestriction,
  ciliumCidrCoversCluster,
  ciliumEnforcementDisabled,
];
