/**
 * Helpers for the input-pipeline tests: run the CLI in-process, make temporary
 * files, and find objects in a LoadResult.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll } from "vitest";
import type { LoadResult, Manifest } from "../../src/load/index.js";

export { palisade, type CliRun as CliResult } from "../helpers/cli.js";

/** What a stack trace looks like in output (`    at fn (file:1:2)`). */
export const STACK_TRACE = /^\s+at .+[:(]\d+/m;

/** A temporary directory removed after the test file; `write` creates files (and folders) in it. */
export function tempDir(prefix = "palisade-load-"): { dir: string; write(path: string, content: string | Buffer): string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    write(path, content) {
      const full = join(dir, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
      return full;
    },
  };
}

/** Formatted diagnostics (`file:line: severity: field: message`). */
export function messages(r: { diagnostics: readonly { format(): string }[] }): string[] {
  return r.diagnostics.map((d) => d.format());
}

/** `Kind ns/name @line` for every manifest, in order. */
export function summary(r: LoadResult): string[] {
  return r.manifests.map((m) => `${m.kind} ${m.namespace ?? "-"}/${m.name} @${m.source.line}`);
}

export function find(r: LoadResult, kind: string, name: string): Manifest {
  const m = r.manifests.find((x) => x.kind === kind && x.name === name);
  if (!m) throw new Error(`no ${kind} ${name}; have ${summary(r).join(", ")}`);
  return m;
}

/** 1-based line of the first line of `text` containing `needle` (tests state lines through content, not counts). */
export function lineOfText(text: string, needle: string, from = 1): number {
  const lines = text.split("\n");
  for (let i = from - 1; i < lines.length; i++) if (lines[i]!.includes(needle)) return i + 1;
  throw new Error(`"${needle}" not found after line ${from}`);
}
