/** Where a workload kind keeps its pods' template, and reading it from a manifest. */
import type { Manifest } from "../load/types.js";
import type { Workload, WorkloadKind } from "./types.js";

/** Where the pod template sits in each controller kind. */
export const TEMPLATE_PATH: Record<Exclude<WorkloadKind, "Pod">, readonly string[]> = {
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  ReplicationController: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * The pod template of a workload manifest ({metadata, spec}): a Pod is its own
 * template; other kinds than the workload kinds (and malformed ones) have none.
 */
export function podTemplateOf(m: Manifest): Obj | undefined {
  if (m.kind === "Pod") return m.raw;
  const path = TEMPLATE_PATH[m.kind as Exclude<WorkloadKind, "Pod">];
  let node: unknown = m.raw;
  for (const key of path ?? ["spec", "template"]) node = isObj(node) ? node[key] : undefined;
  return isObj(node) ? node : undefined;
}

/** The pod spec of a workload (empty when the manifest gives none). */
export function podSpecOf(w: Workload): Obj {
  const spec = podTemplateOf(w.manifest)?.spec;
  return isObj(spec) ? spec : {};
}
