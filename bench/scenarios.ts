/** The benchmark scenarios and their generated inputs (cached under bench-out/). */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { generateCluster, type GenerateOptions } from "./generate.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, "..");
export const OUT_DIR = join(ROOT, "bench-out");

export interface ScenarioDef {
  name: string;
  description: string;
  generate: GenerateOptions;
  /** Part of the default run. */
  default: boolean;
}

export const SCENARIOS: readonly ScenarioDef[] = [
  {
    name: "S",
    description: "1,000 workloads / 200 policies: 100 namespaces x 10 workloads, 2 policies each",
    generate: { namespaces: 100, workloadsPerNs: 10, podsPerWorkload: 2, policiesPerNs: 2, labelVariety: 10, seed: 1 },
    default: true,
  },
  {
    name: "L",
    description: "10,000 workloads / 2,000 policies: 1,000 namespaces x 10 workloads, 2 policies each",
    generate: { namespaces: 1000, workloadsPerNs: 10, podsPerWorkload: 2, policiesPerNs: 2, labelVariety: 10, seed: 1 },
    default: true,
  },
  {
    name: "L-istio",
    description: "L in an Istio mesh: sidecar and ambient namespaces, STRICT mTLS, AuthorizationPolicies",
    generate: { namespaces: 1000, workloadsPerNs: 10, podsPerWorkload: 2, policiesPerNs: 2, labelVariety: 10, seed: 1, istio: true },
    default: true,
  },
  {
    name: "L-cilium",
    description: "L with every NetworkPolicy written as a CiliumNetworkPolicy (evaluated with --cni cilium semantics)",
    generate: { namespaces: 1000, workloadsPerNs: 10, podsPerWorkload: 2, policiesPerNs: 2, labelVariety: 10, seed: 1, cilium: true },
    default: true,
  },
  {
    name: "S-pods",
    description: "S as `kubectl get -o yaml` shows it: plus a ReplicaSet per Deployment and 2,000 Pods with IPs",
    generate: { namespaces: 100, workloadsPerNs: 10, podsPerWorkload: 2, policiesPerNs: 2, labelVariety: 10, seed: 1, emitPods: true },
    default: false,
  },
];

export function findScenario(name: string): ScenarioDef {
  const s = SCENARIOS.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!s) throw new Error(`unknown scenario ${name} (have ${SCENARIOS.map((x) => x.name).join(", ")})`);
  return s;
}

export const kb = (bytes: number): string => (bytes / 1024).toFixed(0);

/** Generates (once) the input of a scenario; the file name carries a hash of the generator and its options. */
export function inputFile(def: ScenarioDef): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const generatorHash = createHash("sha256")
    .update(readFileSync(join(HERE, "generate.ts")))
    .update(JSON.stringify(def.generate))
    .digest("hex")
    .slice(0, 10);
  const file = join(OUT_DIR, `${def.name}-${generatorHash}.yaml`);
  if (!existsSync(file)) {
    const t = performance.now();
    const { yaml, stats } = generateCluster(def.generate);
    writeFileSync(file, yaml);
    process.stderr.write(
      `generated ${relative(ROOT, file)}: ${stats.workloads} workloads, ${stats.replicaSets} replicasets, ${stats.pods} pods, ` +
        `${stats.services} services, ${stats.policies} policies, ${kb(stats.bytes)} KB in ${(performance.now() - t).toFixed(0)} ms\n`,
    );
  }
  return file;
}
