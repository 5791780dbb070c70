/** `palisade lint`: known pitfalls of a policy set, decided with the evaluator. */
import type { Scenario } from "../analysis/scenario.js";
import { rules } from "./registry/index.js";
import { SEVERITY_RANK, type Finding, type Rule } from "./rule.js";

export { rules } from "./registry/index.js";
export { createRule, SEVERITY_RANK, type Finding, type Rule, type Severity } from "./rule.js";

/** Runs every rule (or the given ones); findings ordered by file, line, rule. */
export function lint(scenario: Scenario, only: readonly Rule[] = rules): Finding[] {
  const findings = only.flatMap((r) => r.run(scenario));
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule) || SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
}
