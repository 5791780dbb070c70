import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { palisade } from "../helpers/cli.js";

export { palisade, type CliRun } from "../helpers/cli.js";

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
