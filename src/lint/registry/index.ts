/**
 * Every lint rule. Rules are listed by family, one file per family, so that the
 * catalogue of one layer can be read (and grown) in one place.
 */
import type { Rule } from "../rule.js";
import { ciliumRules } from "./cilium.js";
import { istioRules } from "./istio.js";
import { meshRules } from "./mesh.js";
import { networkPolicyRules } from "./networkpolicy.js";
import { redundancyRules } from "./redundancy.js";

export const rules: readonly Rule[] = [...networkPolicyRules, ...meshRules, ...ciliumRules, ...istioRules, ...redundancyRules];
