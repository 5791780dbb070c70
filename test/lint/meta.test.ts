import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rules } from "../../src/lint/index.js";

const root = join(import.meta.dirname, "..", "..");

describe("lint rules are consistent", () => {
  it("ids are unique", () => {
    const ids = rules.map((r) => r.meta.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("every rule file is registered", () => {
    const files = readdirSync(join(root, "src/lint/rules")).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, ""));
    expect(files.sort()).toEqual(rules.map((r) => r.meta.id).sort());
  });

  for (const r of rules) {
    describe(r.meta.id, () => {
      it("has a kebab-case id, a description and messages", () => {
        expect(r.meta.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
        expect(r.meta.description.length).toBeGreaterThan(0);
        expect(Object.keys(r.meta.messages).length).toBeGreaterThan(0);
      });
      it("has a file named by its id", () => expect(existsSync(join(root, "src/lint/rules", `${r.meta.id}.ts`))).toBe(true));
      it("has a test file", () => expect(existsSync(join(root, "test/lint", `${r.meta.id}.test.ts`))).toBe(true));
      it("has a docs page whose title is its id", () => {
        const page = join(root, r.meta.docs);
        expect(r.meta.docs).toBe(`docs/rules/${r.meta.id}.md`);
        expect(existsSync(page)).toBe(true);
        expect(readFileSync(page, "utf8").split("\n")[0]).toBe(`# ${r.meta.id}`);
      });
    });
  }
});
