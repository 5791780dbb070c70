/**
 * Writes the rule table of docs/lint.md from the rules' own metadata (id, severity,
 * description), so the page cannot drift from the code. test/lint/meta.test.ts
 * fails when the page is out of date.
 *
 *   npx tsx scripts/lint-catalogue.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { catalogue } from "../src/lint/catalogue.js";

const page = fileURLToPath(new URL("../docs/lint.md", import.meta.url));
writeFileSync(page, catalogue(readFileSync(page, "utf8")));
