/** `palisade lint` output: text, JSON (the command-line contract) and SARIF 2.1.0. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Finding, Rule } from "../lint/index.js";
import { VERSION } from "../version.js";

export type LintFormat = "text" | "json" | "sarif";

export function formatLintText(findings: readonly Finding[]): string {
  if (findings.length === 0) return "no findings";
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.file}:${f.line}: ${f.severity}: ${f.message} [${f.rule}]`);
    if (f.fix) lines.push(`  fix:\n${f.fix.replace(/\n$/, "").split("\n").map((l) => `    ${l}`).join("\n")}`);
  }
  const count = (s: string): number => findings.filter((f) => f.severity === s).length;
  lines.push(`${findings.length} finding${findings.length === 1 ? "" : "s"} (${count("error")} error, ${count("warning")} warning, ${count("info")} info)`);
  return lines.join("\n");
}

export function formatLintJson(findings: readonly Finding[]): string {
  return JSON.stringify(
    {
      findings: findings.map((f) => ({
        rule: f.rule,
        severity: f.severity,
        message: f.message,
        resource: f.resource,
        workloads: f.workloads,
        file: f.file,
        line: f.line,
        ...(f.fix !== undefined ? { fix: f.fix } : {}),
      })),
    },
    null,
    2,
  );
}

const SARIF_LEVEL = { error: "error", warning: "warning", info: "note" } as const;

/** The package root (this file is src/report/lint.ts, or dist/report/lint.js once built). */
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The rule's docs page, shown by code-scanning UIs as the rule's help. SARIF wants
 * an absolute URI for helpUri, which an installed package does not have, so the
 * page travels in the log itself.
 */
function ruleHelp(rule: Rule): { text: string; markdown?: string } {
  const text = `${rule.meta.description}. See ${rule.meta.docs}.`;
  try {
    return { text, markdown: readFileSync(`${PACKAGE_ROOT}${rule.meta.docs}`, "utf8") };
  } catch {
    return { text };
  }
}

export function formatLintSarif(findings: readonly Finding[], rules: readonly Rule[]): string {
  const ruleIndex = new Map(rules.map((r, i) => [r.meta.id, i]));
  return JSON.stringify(
    {
      $schema: "https://json.schemastore.org/sarif-2.1.0.json",
      version: "2.1.0",
      runs: [
        {
          tool: {
            driver: {
              name: "palisade",
              semanticVersion: VERSION,
              rules: rules.map((r) => ({
                id: r.meta.id,
                name: r.meta.id,
                shortDescription: { text: r.meta.description },
                help: ruleHelp(r),
                defaultConfiguration: { level: SARIF_LEVEL[r.meta.severity] },
              })),
            },
          },
          results: findings.map((f) => ({
            ruleId: f.rule,
            ...(ruleIndex.has(f.rule) ? { ruleIndex: ruleIndex.get(f.rule) } : {}),
            level: SARIF_LEVEL[f.severity],
            message: { text: f.message },
            locations: [
              {
                physicalLocation: { artifactLocation: { uri: f.file }, region: { startLine: Math.max(1, f.line) } },
                logicalLocations: [{ name: f.resource.name, kind: f.resource.kind, ...(f.resource.namespace ? { fullyQualifiedName: `${f.resource.namespace}/${f.resource.name}` } : {}) }],
              },
            ],
            ...(f.fix !== undefined ? { properties: { fix: f.fix, workloads: f.workloads } } : { properties: { workloads: f.workloads } }),
          })),
        },
      ],
    },
    null,
    2,
  );
}

export function formatLint(findings: readonly Finding[], rules: readonly Rule[], format: LintFormat): string {
  return format === "json" ? formatLintJson(findings) : format === "sarif" ? formatLintSarif(findings, rules) : formatLintText(findings);
}
