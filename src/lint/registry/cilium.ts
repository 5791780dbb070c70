/** Rules about CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy. */
import type { Rule } from "../rule.js";

export const ciliumRules: readonly Rule[] = [];
