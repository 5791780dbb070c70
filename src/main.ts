import { loadInputs } from "./load/index.js";
import type { LoadOptions } from "./load/types.js";
import { buildScenario, type Scenario, type ScenarioOptions } from "./analysis/scenario.js";

export interface InputOptions extends ScenarioOptions, LoadOptions {
  /** Files, directories or `-` for standard input. */
  filenames: string[];
}

/** Reads the inputs and builds every layer: the entry point of every command. */
export async function loadScenario(options: InputOptions): Promise<Scenario> {
  const load = await loadInputs(options.filenames, options);
  return buildScenario(load, options);
}
