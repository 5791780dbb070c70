/**
 * Shared test helpers: YAML text → LoadResult → Scenario, workload lookup, and
 * line arithmetic for asserting located diagnostics.
 */
import { stringify } from "yaml";
import { buildScenario, type Scenario } from "../../src/analysis/scenario.js";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { manifestsFromYaml } from "./manifests.js";
import type { LoadResult } from "../../src/load/types.js";
import type { CniName } from "../../src/model/profile.js";
import type { Workload } from "../../src/model/types.js";

type LoadText = (text: string, file: string) => LoadResult | Promise<LoadResult>;

const LOADER_SOURCE = fileURLToPath(new URL("../../src/load/index.ts", import.meta.url));
let loader: Promise<LoadText | undefined> | undefined;

/**
 * The loader's `loadText`, or undefined while `src/load/index.ts` does not exist
 * (then `manifestsFromYaml` stands in). A loader that exists but fails to import,
 * or lacks `loadText`, is an error, never a silent fallback.
 */
function realLoadText(): Promise<LoadText | undefined> {
  loader ??= import("../../src/load/index.js").then(
    (m: { loadText?: unknown }) => {
      if (typeof m.loadText !== "function") throw new Error("src/load/index.ts does not export loadText");
      return m.loadText as LoadText;
    },
    (e: unknown) => {
      if (!existsSync(LOADER_SOURCE)) return undefined;
      throw e;
    },
  );
  return loader;
}

/** Loads YAML (or JSON) text through the real loader (`loadText`), so tests cover it too. */
export async function loadYaml(text: string, file = "test.yaml"): Promise<LoadResult> {
  const loadText = await realLoadText();
  return loadText ? await loadText(text, file) : manifestsFromYaml(text, file);
}

/** Whether `loadYaml` goes through `src/load` (false only while the loader is not written yet). */
export async function usesRealLoader(): Promise<boolean> {
  return (await realLoadText()) !== undefined;
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
 * 1-based line of the only line of `text` that contains `needle` (the nth one when
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
