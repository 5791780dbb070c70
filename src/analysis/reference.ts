import type { Service, Workload, WorkloadKind } from "../model/types.js";
import { parseIP } from "../sets/index.js";
import type { FlowSource, FlowTarget } from "../path/index.js";
import type { Scenario } from "./scenario.js";

/** A reference the user wrote that cannot be resolved; printed as a usage error (exit 2). */
export class ReferenceError extends Error {}

const KIND_PREFIXES: Record<string, WorkloadKind | "Service"> = {
  pod: "Pod",
  po: "Pod",
  deploy: "Deployment",
  deployment: "Deployment",
  sts: "StatefulSet",
  statefulset: "StatefulSet",
  ds: "DaemonSet",
  daemonset: "DaemonSet",
  rs: "ReplicaSet",
  replicaset: "ReplicaSet",
  rc: "ReplicationController",
  replicationcontroller: "ReplicationController",
  job: "Job",
  cj: "CronJob",
  cronjob: "CronJob",
  svc: "Service",
  service: "Service",
};

export type Resolved =
  | { kind: "workload"; workload: Workload }
  | { kind: "service"; service: Service }
  | { kind: "external"; ip?: string; host?: string }
  | { kind: "kubelet" };

/** Splits `TO[:PORT]`; an IPv6 address keeps its colons (`[::1]:80` or `::1` with --port). */
export function splitPort(ref: string): { ref: string; port: string | undefined } {
  const bracket = /^\[([^\]]+)\](?::(.+))?$/.exec(ref);
  if (bracket) return { ref: bracket[1]!, port: bracket[2] };
  if (parseIP(ref)?.family === 6) return { ref, port: undefined };
  const i = ref.lastIndexOf(":");
  // `svc:ns/name` has its colon before the slash; a port colon comes after it.
  if (i < 0 || i < ref.indexOf("/") || (ref.indexOf("/") < 0 && KIND_PREFIXES[ref.slice(0, i)] !== undefined)) {
    return { ref, port: undefined };
  }
  return { ref: ref.slice(0, i), port: ref.slice(i + 1) };
}

/**
 * Resolves `NS/NAME`, `KIND:NS/NAME`, `kubelet`, an IP address, a Service DNS
 * name (`NAME.NS.svc[.cluster.local]`) or another DNS name (external).
 */
export function resolveReference(scenario: Scenario, text: string): Resolved {
  if (text === "kubelet") return { kind: "kubelet" };
  if (parseIP(text)) return { kind: "external", ip: text };
  const svcDns = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?\.?$/.exec(text);
  if (svcDns) return { kind: "service", service: findService(scenario, svcDns[2]!, svcDns[1]!, text) };

  const colon = text.indexOf(":");
  let kind: WorkloadKind | "Service" | undefined;
  let rest = text;
  if (colon >= 0) {
    kind = KIND_PREFIXES[text.slice(0, colon).toLowerCase()];
    if (!kind) throw new ReferenceError(`unknown kind prefix "${text.slice(0, colon)}" in "${text}" (use pod:, deploy:, sts:, ds:, job:, cronjob:, svc:)`);
    rest = text.slice(colon + 1);
  }
  const slash = rest.indexOf("/");
  if (slash < 0) {
    if (!kind && rest.includes(".")) return { kind: "external", host: rest };
    throw new ReferenceError(`"${text}" is not a reference: expected NAMESPACE/NAME, KIND:NAMESPACE/NAME, kubelet, an IP or a DNS name`);
  }
  const namespace = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  if (kind === "Service") return { kind: "service", service: findService(scenario, namespace, name, text) };

  const matches = scenario.cluster.workloads.filter((w) => w.namespace === namespace && w.name === name && (!kind || w.kind === kind));
  if (matches.length === 1) return { kind: "workload", workload: matches[0]! };
  if (matches.length > 1) {
    throw new ReferenceError(
      `"${text}" is ambiguous: ${matches.map((w) => `${w.kind} ${w.id}`).join(", ")}; add a kind prefix such as ${prefixFor(matches[0]!.kind)}:${namespace}/${name}`,
    );
  }
  // A bare NS/NAME may also be a Service.
  if (!kind) {
    const svc = scenario.cluster.services.find((s) => s.namespace === namespace && s.name === name);
    if (svc) return { kind: "service", service: svc };
  }
  const inNs = scenario.cluster.workloads.filter((w) => w.namespace === namespace).map((w) => w.name);
  const hint = inNs.length ? `; workloads in ${namespace}: ${inNs.slice(0, 8).join(", ")}${inNs.length > 8 ? ", …" : ""}` : scenario.cluster.namespaces.has(namespace) ? "" : `; there is no namespace ${namespace}`;
  throw new ReferenceError(`no ${kind ?? "workload"} ${namespace}/${name} in the input${hint}`);
}

function prefixFor(kind: WorkloadKind): string {
  return Object.entries(KIND_PREFIXES).find(([, k]) => k === kind)![0];
}

function findService(scenario: Scenario, namespace: string, name: string, text: string): Service {
  const svc = scenario.cluster.services.find((s) => s.namespace === namespace && s.name === name);
  if (!svc) throw new ReferenceError(`no Service ${namespace}/${name} in the input (from "${text}")`);
  return svc;
}

export function asSource(r: Resolved, text: string): FlowSource {
  switch (r.kind) {
    case "workload":
      return r;
    case "kubelet":
      return r;
    case "external":
      if (!r.ip) throw new ReferenceError(`source "${text}" must be an IP address, a workload or kubelet`);
      return { kind: "external", ip: r.ip };
    case "service":
      throw new ReferenceError(`source "${text}" is a Service; a flow starts at a workload, kubelet or an IP`);
  }
}

export function asTarget(r: Resolved, text: string): Exclude<FlowTarget, { kind: "service" }> | { kind: "service"; service: Service } {
  if (r.kind === "kubelet") throw new ReferenceError(`"${text}": kubelet can only be a source`);
  return r;
}
