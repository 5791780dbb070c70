/**
 * Lint on the users' setups (examples/seed-*): each expected.yaml pins, under `lint`,
 * exactly which findings the corrected example and each broken variant give. A
 * pitfall the document describes must be found in the variant that has it, and the
 * corrected setup must give nothing beyond the pitfalls it still has (each with its why).
 */
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildVariant, readExpectations, seedExampleDirs, type ExpectedFinding, type Expectations } from "../examples/seed-expectations.js";
import { palisade } from "../helpers/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface FindingJson {
  rule: string;
  resource: { kind: string; namespace: string | null; name: string };
}

const built: string[] = [];
afterAll(() => {
  for (const dir of built) rmSync(dir, { recursive: true, force: true });
});

async function findingsOf(input: string): Promise<string[]> {
  const r = await palisade(["lint", "-f", input, "-o", "json", "--no-config"]);
  const { findings } = JSON.parse(r.stdout) as { findings: FindingJson[] };
  const keys = findings.map((f) => `${f.rule} ${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ""}${f.resource.name}`);
  return [...new Set(keys)].sort();
}

const keysOf = (expected: readonly ExpectedFinding[]): string[] => [...new Set(expected.map((f) => `${f.rule} ${f.resource}`))].sort();

for (const dir of seedExampleDirs(ROOT)) {
  const ex: Expectations = readExpectations(ROOT, dir);
  describe(`lint on ${dir}`, () => {
    it("pins its findings in expected.yaml", () => expect(ex.lint).toBeDefined());
    if (!ex.lint) return;
    const lint = ex.lint;
    it("the example gives exactly the expected findings", async () => {
      expect(await findingsOf(`${ROOT}${dir}`)).toEqual(keysOf(lint.findings));
    });
    for (const [name, expected] of Object.entries(lint.variants)) {
      it(`variant ${name} (${ex.variants[name]!.description.slice(0, 80)}) gives exactly the expected findings`, async () => {
        const input = buildVariant(ROOT, ex, name);
        built.push(input);
        expect(await findingsOf(input)).toEqual(keysOf(expected));
      });
    }
  });
}
