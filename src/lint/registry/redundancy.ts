/** Rules that compare policies with each other through the set algebra: what a rule adds beyond the others. */
import type { Rule } from "../rule.js";

export const redundancyRules: readonly Rule[] = [];
