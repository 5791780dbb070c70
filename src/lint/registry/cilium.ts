/** Rules about CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy. */
import ciliumFqdnWithoutDns from "../rules/cilium-fqdn-without-dns.js";
import ciliumImplicitNamespaceScope from "../rules/cilium-implicit-namespace-scope.js";
import type { Rule } from "../rule.js";

export const ciliumRules: readonly Rule[] = [ciliumImplicitNamespaceScope, ciliumFqdnWithoutDns];
