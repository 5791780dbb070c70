import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/cli.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process and captures what it prints. */
export async function palisade(args: string[], stdin = ""): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    readStdin: async () => stdin,
  });
  return { code, stdout, stderr };
}

/** Writes `text` to a fresh temporary `cluster.yaml` and returns its path. */
export function fixture(text: string, name = "cluster.yaml"): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-cli-"));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

export interface ReachJson {
  verdict: "allowed" | "denied";
  from: string;
  to: string;
  port: number;
  protocol: string;
  blockedBy: {
    layer: string;
    direction: string | null;
    workload: string;
    port: number;
    protocol: string;
    policies: { kind: string; namespace: string | null; name: string; rule: number | null; file: string; line: number }[];
    observed: string;
  } | null;
  hops: {
    step: string;
    enforcer: string;
    at: string;
    verdict: string;
    wire: { srcIP: string | null; dstIP: string | null; dstHost?: string; port: number; protocol: string };
    policies: { name: string; rule: number | null }[];
    reason: string;
    misses: string[];
  }[];
  assumptions: string[];
}

/** `palisade reach ARGS -f FILE -o json`, parsed; throws with the output when it is not JSON. */
export async function reachJson(file: string, ...args: string[]): Promise<{ code: number; json: ReachJson; stderr: string }> {
  const r = await palisade(["reach", ...args, "-f", file, "-o", "json"]);
  try {
    return { code: r.code, json: JSON.parse(r.stdout) as ReachJson, stderr: r.stderr };
  } catch {
    throw new Error(`reach ${args.join(" ")} did not print JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}
