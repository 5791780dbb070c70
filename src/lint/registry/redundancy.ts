/** Rules that compare policies with each other through the set algebra: what a rule adds beyond the others. */
import redundantPolicy from "../rules/redundant-policy.js";
import redundantRule from "../rules/redundant-rule.js";
import type { Rule } from "../rule.js";

export const redundancyRules: readonly Rule[] = [redundantPolicy, redundantRule];
