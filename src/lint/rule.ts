/**
 * The shape of a lint rule. Every rule is made with `createRule`, which carries
 * its metadata (id, description, severity, docs page) and its messages by id.
 */
import type { Scenario } from "../analysis/scenario.js";

export type Severity = "error" | "warning" | "info";

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

export interface ResourceRef {
  kind: string;
  namespace: string | null;
  name: string;
}

/** One finding, as `palisade lint -o json` prints it (design.md, command-line contract). */
export interface Finding {
  rule: string;
  severity: Severity;
  message: string;
  resource: ResourceRef;
  workloads: string[];
  file: string;
  line: number;
  fix?: string;
}

/** Settings a rule reads besides the scenario (a label name, a threshold); set in the config file. */
export type RuleOptions = Record<string, string | number | boolean | readonly string[]>;

export interface RuleMeta<M extends string = string> {
  id: string;
  description: string;
  severity: Severity;
  /** The rule's page, relative to the repository root. */
  docs: string;
  messages: Record<M, string>;
  /** The options the rule understands, with their defaults. */
  defaultOptions: RuleOptions;
}

export interface Report<M extends string> {
  messageId: M;
  /** This finding's severity when it differs from the rule's (e.g. it depends on the CNI). */
  severity?: Severity;
  /** Values for `{{name}}` placeholders of the message. */
  data?: Record<string, string | number>;
  resource: ResourceRef;
  workloads: string[];
  file: string;
  line: number;
  fix?: string;
}

export interface RuleContext<M extends string, O extends RuleOptions = RuleOptions> {
  scenario: Scenario;
  /** The rule's defaults, overridden by the config file. */
  options: O;
  report(r: Report<M>): void;
}

export interface Rule {
  meta: RuleMeta;
  /** Findings at the rule's default severity; `options` override the defaults key by key. */
  run(scenario: Scenario, options?: Partial<RuleOptions>): Finding[];
}

export interface RuleDefinition<M extends string, O extends RuleOptions> {
  id: string;
  description: string;
  severity: Severity;
  messages: Record<M, string>;
  defaultOptions?: O;
  check(context: RuleContext<M, O>): void;
}

export function docsPath(id: string): string {
  return `docs/rules/${id}.md`;
}

function format(template: string, data: Record<string, string | number> = {}): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => (key in data ? String(data[key]) : whole));
}

export function createRule<M extends string, O extends RuleOptions = Record<string, never>>(def: RuleDefinition<M, O>): Rule {
  const defaults = (def.defaultOptions ?? {}) as O;
  const meta: RuleMeta<M> = { id: def.id, description: def.description, severity: def.severity, docs: docsPath(def.id), messages: def.messages, defaultOptions: defaults };
  return {
    meta,
    run(scenario, options = {}) {
      const findings: Finding[] = [];
      def.check({
        scenario,
        options: { ...defaults, ...options } as O,
        report(r) {
          findings.push({
            rule: def.id,
            severity: r.severity ?? def.severity,
            message: format(def.messages[r.messageId], r.data),
            resource: r.resource,
            workloads: r.workloads,
            file: r.file,
            line: r.line,
            ...(r.fix !== undefined ? { fix: r.fix } : {}),
          });
        },
      });
      return findings;
    },
  };
}
