/** Every lint rule, by id. */
import ambientHboneNotAdmitted from "./rules/ambient-hbone-not-admitted.js";
import ambientProbesBlocked from "./rules/ambient-probes-blocked.js";
import egressWithoutDns from "./rules/egress-without-dns.js";
import selectorSelectsNothing from "./rules/selector-selects-nothing.js";
import type { Rule } from "./rule.js";

export const rules: readonly Rule[] = [ambientHboneNotAdmitted, ambientProbesBlocked, egressWithoutDns, selectorSelectsNothing];
