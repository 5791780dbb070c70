/**
 * Fix tests run on YAML text: the scenario is built from it through the real
 * loader, and the fix reads the same text back as the file it edits.
 */
import { fixFlow, type FixOptions, type FixResult } from "../../src/fix/index.js";
import type { ReachRequest } from "../../src/analysis/reach.js";
import type { CniName } from "../../src/model/profile.js";
import { scenarioFromYaml } from "../helpers/cluster.js";

export const FILE = "policies.yaml";

export async function fixYaml(text: string, request: ReachRequest, options: { cni?: CniName } & FixOptions = {}): Promise<FixResult> {
  const scenario = await scenarioFromYaml(text, { file: FILE, ...(options.cni ? { cni: options.cni } : {}) });
  return fixFlow(scenario, request, { readText: (f) => (f === FILE ? text : undefined), ...options });
}

/** The lines a unified diff removes or adds (without the file headers). */
export function changedLines(diff: string): { added: string[]; removed: string[] } {
  const body = diff.split("\n").filter((l) => !l.startsWith("---") && !l.startsWith("+++"));
  return { added: body.filter((l) => l.startsWith("+")).map((l) => l.slice(1)), removed: body.filter((l) => l.startsWith("-")).map((l) => l.slice(1)) };
}

/** A Deployment with its pod labels (and the generated pod-template-hash a live cluster shows). */
export function deployment(ns: string, name: string, opts: { port?: number; labels?: Record<string, string>; sa?: string } = {}): string {
  const labels = opts.labels ?? { app: name };
  const flow = (o: Record<string, string>) => `{${Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(", ")}}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector:
    matchLabels: ${flow(labels)}
  template:
    metadata:
      labels: ${flow({ ...labels, "pod-template-hash": "5d8f7c9b6" })}
    spec:
${opts.sa ? `      serviceAccountName: ${opts.sa}\n` : ""}      containers:
      - name: c
        image: c
${opts.port ? `        ports:\n        - containerPort: ${opts.port}\n` : ""}---
`;
}

export function namespace(name: string, labels: Record<string, string> = {}): string {
  const entries = Object.entries(labels);
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
${entries.length ? `  labels:\n${entries.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join("")}` : ""}---
`;
}
