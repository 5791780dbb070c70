/** `palisade lint`: known pitfalls of a policy set, decided with the evaluator. */
import type { Scenario } from "../analysis/scenario.js";
import type { InputDiagnostic } from "../load/types.js";
import { applyAnnotations, EMPTY_CONFIG, type LintConfig } from "./config.js";
import { rules } from "./registry/index.js";
import { SEVERITY_RANK, type Finding, type Rule } from "./rule.js";

export { rules } from "./registry/index.js";
export { createRule, SEVERITY_RANK, type Finding, type Rule, type Severity } from "./rule.js";
export { DEFAULT_CONFIG_FILE, DISABLE_ANNOTATION, LintConfigError, parseLintConfig, SEVERITY_ANNOTATION, type LintConfig } from "./config.js";

export interface LintOptions {
  /** The rules to run (default: all). */
  rules?: readonly Rule[];
  config?: LintConfig;
}

export interface LintResult {
  findings: Finding[];
  /** Lint annotations that name no rule or severity. */
  diagnostics: InputDiagnostic[];
}

/**
 * Runs the rules the config leaves on, with its options and severities, then
 * applies the resources' own annotations. Findings are ordered by file, line, rule.
 */
export function runLint(scenario: Scenario, options: LintOptions = {}): LintResult {
  const selected = options.rules ?? rules;
  const config = options.config ?? EMPTY_CONFIG;
  const raw: Finding[] = [];
  for (const rule of selected) {
    const setting = config.rules.get(rule.meta.id);
    if (setting?.severity === "off") continue;
    const found = rule.run(scenario, setting?.options);
    const severity = setting?.severity;
    raw.push(...(severity ? found.map((f) => ({ ...f, severity })) : found));
  }
  const { findings, diagnostics } = applyAnnotations(raw, scenario, [...new Set([...rules, ...selected])]);
  findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule) || SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
  return { findings, diagnostics };
}

/** The findings of every rule (or the given ones), with the resources' annotations applied. */
export function lint(scenario: Scenario, only: readonly Rule[] = rules): Finding[] {
  return runLint(scenario, { rules: only }).findings;
}
