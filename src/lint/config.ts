/**
 * Turning rules off and changing their severity: a config file for the whole
 * policy set, and annotations on one resource.
 *
 * Config file (`.palisade.yaml` in the working directory, or `--config FILE`):
 *
 *   lint:
 *     rules:
 *       cilium-no-port-restriction: off          # error | warning | info | off
 *       egress-without-dns: warning
 *       cilium-enforcement-disabled:             # a mapping: severity and options
 *         severity: error
 *         label: policy.example.com/enforcement
 *
 * Annotations on the resource a finding names:
 *
 *   palisade.dev/lint-disable: "egress-without-dns, selector-selects-nothing"   # or "all"
 *   palisade.dev/lint-severity: "egress-without-dns=info"
 */
import { isMap, isScalar, parseDocument, type Node, type Pair } from "yaml";
import { InputDiagnostic, type Manifest } from "../load/types.js";
import type { Scenario } from "../analysis/scenario.js";
import type { Finding, Rule, RuleOptions, Severity } from "./rule.js";

export const DISABLE_ANNOTATION = "palisade.dev/lint-disable";
export const SEVERITY_ANNOTATION = "palisade.dev/lint-severity";
export const DEFAULT_CONFIG_FILE = ".palisade.yaml";

const SEVERITIES: ReadonlySet<string> = new Set(["error", "warning", "info"]);

/** What the config says about one rule. */
export interface RuleSetting {
  /** `off` turns the rule off; absent keeps the rule's own severity. */
  severity?: Severity | "off";
  options: Partial<RuleOptions>;
}

export interface LintConfig {
  rules: ReadonlyMap<string, RuleSetting>;
}

export const EMPTY_CONFIG: LintConfig = { rules: new Map() };

/** A config file that cannot be used; every problem is located. */
export class LintConfigError extends Error {
  constructor(readonly diagnostics: readonly InputDiagnostic[]) {
    super(diagnostics.map((d) => d.format()).join("\n"));
  }
}

/**
 * Reads a config file's text. Unknown rule ids, unknown options, options of the
 * wrong type and unknown severities are errors with file, line and field.
 */
export function parseLintConfig(text: string, file: string, known: readonly Rule[]): LintConfig {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const errors: InputDiagnostic[] = [];
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineAt(text, node.range[0]) : 1);
  const fail = (node: Node | null | undefined, field: string, message: string): void => {
    errors.push(new InputDiagnostic("error", message, { file, line: lineOf(node), field }));
  };
  for (const e of doc.errors) errors.push(new InputDiagnostic("error", `malformed YAML: ${e.message.split("\n")[0]}`, { file, line: lineAt(text, e.pos[0]) }));
  if (errors.length > 0) throw new LintConfigError(errors);

  const rules = new Map<string, RuleSetting>();
  const byId = new Map(known.map((r) => [r.meta.id, r]));
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { rules };
  if (!isMap(root)) throw new LintConfigError([new InputDiagnostic("error", "expected a mapping with a `lint` key", { file, line: lineOf(root) })]);
  for (const pair of root.items as Pair<Node, Node>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key !== "lint") fail(pair.key, key, `unknown key "${key}" (expected: lint)`);
  }
  const lint = root.get("lint", true) as Node | undefined;
  if (lint !== undefined && !(isScalar(lint) && lint.value === null)) {
    if (!isMap(lint)) fail(lint, "lint", "expected a mapping with a `rules` key");
    else {
      for (const pair of lint.items as Pair<Node, Node>[]) {
        const key = isScalar(pair.key) ? String(pair.key.value) : "";
        if (key !== "rules") fail(pair.key, `lint.${key}`, `unknown key "${key}" (expected: rules)`);
      }
      const ruleMap = lint.get("rules", true) as Node | undefined;
      if (ruleMap !== undefined && !(isScalar(ruleMap) && ruleMap.value === null)) {
        if (!isMap(ruleMap)) fail(ruleMap, "lint.rules", "expected a mapping of rule id to severity (error, warning, info, off) or to a mapping");
        else {
          for (const pair of ruleMap.items as Pair<Node, Node>[]) {
            const id = isScalar(pair.key) ? String(pair.key.value) : "";
            const field = `lint.rules.${id}`;
            const rule = byId.get(id);
            if (!rule) {
              fail(pair.key, field, `unknown rule "${id}"${suggest(id, [...byId.keys()])}`);
              continue;
            }
            const setting = readSetting(pair.value, field, rule, fail);
            if (setting) rules.set(id, setting);
          }
        }
      }
    }
  }
  if (errors.length > 0) throw new LintConfigError(errors);
  return { rules };
}

function readSetting(value: Node | null, field: string, rule: Rule, fail: (node: Node | null | undefined, field: string, message: string) => void): RuleSetting | undefined {
  if (isScalar(value)) {
    const s = String(value.value);
    if (s === "off" || SEVERITIES.has(s)) return { severity: s as Severity | "off", options: {} };
    fail(value, field, `expected error, warning, info or off, got "${s}"`);
    return undefined;
  }
  if (!isMap(value)) {
    fail(value, field, "expected a severity (error, warning, info, off) or a mapping of severity and options");
    return undefined;
  }
  const setting: RuleSetting = { options: {} };
  for (const pair of value.items as Pair<Node, Node>[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const v = pair.value;
    if (key === "severity") {
      const s = isScalar(v) ? String(v.value) : "";
      if (s === "off" || SEVERITIES.has(s)) setting.severity = s as Severity | "off";
      else fail(v, `${field}.severity`, `expected error, warning, info or off, got "${s}"`);
      continue;
    }
    const defaults = rule.meta.defaultOptions;
    if (!(key in defaults)) {
      const names = Object.keys(defaults);
      fail(pair.key, `${field}.${key}`, `rule ${rule.meta.id} has no option "${key}" (${names.length > 0 ? `options: severity, ${names.join(", ")}` : "its only setting is severity"})`);
      continue;
    }
    const expected = defaults[key]!;
    const plain: unknown = v === null ? null : (v as Node & { toJSON(): unknown }).toJSON();
    const ok = Array.isArray(expected) ? Array.isArray(plain) && plain.every((x) => typeof x === "string") : typeof plain === typeof expected;
    if (!ok) fail(v, `${field}.${key}`, `expected ${Array.isArray(expected) ? "a list of strings" : `a ${typeof expected}`}`);
    else setting.options[key] = plain as RuleOptions[string];
  }
  return setting;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** ` (did you mean "x"?)` for a near miss of a known id. */
function suggest(id: string, ids: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of ids) {
    const d = editDistance(id, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(id.length / 4)) ? ` (did you mean "${best}"?)` : "";
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** What one resource's annotations say: rules it turns off, severities it changes. */
interface ResourceSettings {
  disabled: ReadonlySet<string>;
  severities: ReadonlyMap<string, Severity>;
}

function annotationsOf(m: Manifest): Record<string, unknown> {
  const a = (m.raw.metadata as { annotations?: unknown } | undefined)?.annotations;
  return a && typeof a === "object" && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
}

function resourceKey(kind: string, namespace: string | null | undefined, name: string): string {
  return `${kind}/${namespace ?? ""}/${name}`;
}

/**
 * The lint annotations of every resource in the input, with a warning for each
 * entry that names no rule or no severity (the finding is then left as it is).
 */
export function readAnnotations(manifests: readonly Manifest[], known: readonly Rule[]): { byResource: Map<string, ResourceSettings>; diagnostics: InputDiagnostic[] } {
  const ids = new Set(known.map((r) => r.meta.id));
  const byResource = new Map<string, ResourceSettings>();
  const diagnostics: InputDiagnostic[] = [];
  for (const m of manifests) {
    const a = annotationsOf(m);
    if (!(DISABLE_ANNOTATION in a) && !(SEVERITY_ANNOTATION in a)) continue;
    const warn = (key: string, message: string): void => {
      diagnostics.push(new InputDiagnostic("warning", message, { file: m.source.file, line: m.lineOf(["metadata", "annotations", key]), field: `metadata.annotations.${key}` }));
    };
    const disabled = new Set<string>();
    const severities = new Map<string, Severity>();
    const disable = a[DISABLE_ANNOTATION];
    if (disable !== undefined) {
      for (const id of String(disable).split(",").map((s) => s.trim()).filter(Boolean)) {
        if (id === "all" || ids.has(id)) disabled.add(id);
        else warn(DISABLE_ANNOTATION, `unknown rule "${id}"${suggest(id, [...ids])}: ignored`);
      }
    }
    const severity = a[SEVERITY_ANNOTATION];
    if (severity !== undefined) {
      for (const entry of String(severity).split(",").map((s) => s.trim()).filter(Boolean)) {
        const [id = "", level = ""] = entry.split("=").map((s) => s.trim());
        if (!ids.has(id)) warn(SEVERITY_ANNOTATION, `unknown rule "${id}"${suggest(id, [...ids])}: ignored`);
        else if (level === "off") disabled.add(id);
        else if (SEVERITIES.has(level)) severities.set(id, level as Severity);
        else warn(SEVERITY_ANNOTATION, `"${entry}": expected RULE=error|warning|info|off: ignored`);
      }
    }
    // A document without a namespace matches a finding in any namespace (it lands in the one applied to).
    byResource.set(resourceKey(m.kind, m.namespace ?? null, m.name), { disabled, severities });
  }
  return { byResource, diagnostics };
}

/** Findings after the resource annotations: dropped where turned off, re-graded where changed. */
export function applyAnnotations(findings: readonly Finding[], scenario: Scenario, known: readonly Rule[]): { findings: Finding[]; diagnostics: InputDiagnostic[] } {
  const { byResource, diagnostics } = readAnnotations(scenario.manifests, known);
  if (byResource.size === 0) return { findings: [...findings], diagnostics };
  const out: Finding[] = [];
  for (const f of findings) {
    const settings = byResource.get(resourceKey(f.resource.kind, f.resource.namespace, f.resource.name)) ?? byResource.get(resourceKey(f.resource.kind, null, f.resource.name));
    if (settings && (settings.disabled.has("all") || settings.disabled.has(f.rule))) continue;
    const severity = settings?.severities.get(f.rule);
    out.push(severity ? { ...f, severity } : f);
  }
  return { findings: out, diagnostics };
}
