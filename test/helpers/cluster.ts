/**
 * Shared test helpers: YAML text → LoadResult (through the real loader) →
 * Scenario, workload lookup, and line arithmetic for asserting located diagnostics.
 */
import { stringify } from "yaml";
import { buildScenario, type Scenario } from "../../src/analysis/scenario.js";
import { loadText } from "../../src/load/index.js";
import type { LoadResult } from "../../src/load/types.js";
import type { CniName } from "../../src/model/profile.js";
import type { Workload } from "../../src/model/types.js";

/** Loads YAML (or JSON) text through `loadText`, so tests cover the loader too. */
export async function loadYaml(text: string, file = "test.yaml"): Promise<LoadResult> {
  return await loadText(text, file);
}

export interface ScenarioOptions {
  file?: string;
  cni?: CniName;
}

/** YAML text → Scenario, exactly as the CLI builds it. */
export async function scenarioFromYaml(text: string, options: ScenarioOptions = {}): Promise<Scenario> {
  const load = await loadYaml(text, options.file ?? "test.yaml");
  return buildScenario(load, options.cni ? { cni: options.cni } : {});
}

/** Renders objects as one multi-document YAML stream. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join("---\n");
}

/** The workload with id `NS/NAME`; throws with the known ids when missing. */
export function workload(scenario: Scenario, id: string): Workload {
  const w = scenario.cluster.workloads.find((x) => x.id === id);
  if (!w) throw new Error(`no workload ${id}; have ${scenario.cluster.workloads.map((x) => x.id).join(", ")}`);
  return w;
}

/** Error diagnostics only, formatted (`file:line: error: field: message`), for readable failures. */
export function errors(scenario: Scenario): string[] {
  return scenario.diagnostics.filter((d) => d.severity === "error").map((d) => d.format());
}

/**
 * 1-based line of the first line of `text` that contains `needle` (the nth one when
 * `occurrence` is given); throws if absent, so a test cannot silently assert on line 0.
 */
export function lineOf(text: string, needle: string, occurrence = 1): number {
  const lines = text.split("\n");
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.includes(needle) && ++seen === occurrence) return i + 1;
  }
  throw new Error(`"${needle}" (occurrence ${occurrence}) not found in the text`);
}
