/**
 * Palisade as a library: read manifests, build the scenario, then ask it questions
 * (one flow, every pair, the report, the pitfalls, the fix). The CLI is a thin layer
 * over these functions.
 */
export { VERSION as version } from "./version.js";
export { loadScenario, type InputOptions } from "./main.js";
export { loadInputs, loadText } from "./load/index.js";
export { InputDiagnostic, type LoadResult, type Manifest } from "./load/types.js";
export { buildScenario, hasErrors, type Scenario, type ScenarioOptions } from "./analysis/scenario.js";
export { reach, type ReachRequest, type ReachResult } from "./analysis/reach.js";
export { ConnectivityMatrix, type MatrixOptions } from "./analysis/matrix.js";
export { analyze, type AnalyzeReport } from "./analysis/analyze.js";
export { lint, runLint, rules, parseLintConfig, type Finding, type LintConfig, type Rule, type Severity } from "./lint/index.js";
export { fixFlow, fixedFiles, type FixResult } from "./fix/index.js";
