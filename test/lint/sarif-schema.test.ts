/** `palisade lint -o sarif` against the SARIF 2.1.0 JSON schema, formats included. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import AjvDraft04 from "ajv-draft-04";
import ajvFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { VERSION } from "../../src/version.js";
import { palisade } from "../helpers/cli.js";

// Both packages are CommonJS with the class (function) on `default`.
const Ajv = AjvDraft04.default;
const addFormats = ajvFormats.default;
const require = createRequire(import.meta.url);
const schemaPath = join(dirname(require.resolve("@microsoft/jest-sarif")), "schemas", "sarif-2.1.0-rtm.5.json");
const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as Record<string, unknown>;
// The schema's `language` pattern is not valid with the u flag; it is with plain RegExp, as the schema's authors wrote it.
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);

const root = join(import.meta.dirname, "..", "..");
const examples = ["kustomize", "seed-ambient-sidecar", "seed-cilium-partner-api", "seed-kyma-ingress", "shop"];

describe("SARIF output", () => {
  for (const example of examples) {
    it(`validates against the SARIF 2.1.0 schema on examples/${example}`, async () => {
      const r = await palisade(["lint", "-f", join(root, "examples", example), "-o", "sarif", "--no-config"]);
      const log = JSON.parse(r.stdout) as { runs: { results: unknown[]; tool: { driver: { rules: { help: { markdown?: string } }[] } } }[] };
      const ok = validate(log);
      expect(ok ? [] : validate.errors).toEqual([]);
      // Every rule carries its docs page as help.
      for (const rule of log.runs[0]!.tool.driver.rules) expect(rule.help.markdown).toMatch(/^# [a-z0-9-]+\n/);
    });
  }

  it("a log with findings validates, and a broken one does not", async () => {
    const r = await palisade(["lint", "-f", join(root, "examples", "kustomize"), "-o", "sarif", "--no-config"]);
    const log = JSON.parse(r.stdout) as { runs: { results: { level: string }[] }[] };
    expect(log.runs[0]!.results.length).toBeGreaterThan(0);
    expect(validate(log)).toBe(true);
    log.runs[0]!.results[0]!.level = "fatal";
    expect(validate(log)).toBe(false);
  });

  it("reports the package's version", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
