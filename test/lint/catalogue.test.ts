import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogue } from "../../src/lint/catalogue.js";
import { rules } from "../../src/lint/index.js";

const page = join(import.meta.dirname, "..", "..", "docs", "lint.md");

describe("docs/lint.md", () => {
  it("has the rule table the rules' metadata gives (npx tsx scripts/lint-catalogue.ts rewrites it)", () => {
    const text = readFileSync(page, "utf8");
    expect(text).toBe(catalogue(text));
  });

  it("links every rule's page", () => {
    const text = readFileSync(page, "utf8");
    for (const r of rules) expect(text).toContain(`[${r.meta.id}](rules/${r.meta.id}.md)`);
  });
});
