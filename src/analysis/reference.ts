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
  /**
   * `ip`: the reference was one pod's address (status.podIP), which the wire then
   * carries. `note`: how the reference was read, when that is not obvious (a pod
   * IP, a collapsed pod's name); reach prints it with its assumptions.
   */
  | { kind: "workload"; workload: Workload; ip?: string; note?: string }
  | { kind: "service"; service: Service }
  /** A node's address (status.hostIP of a pod in the input): node traffic. */
  | { kind: "node"; ip: string; note: string }
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
  if (parseIP(text)) return resolveIP(scenario, text);
  const svcDns = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?\.?$/.exec(text);
  if (svcDns) return { kind: "service", service: findService(scenario, svcDns[2]!, svcDns[1]!, text) };
  // HOSTNAME.SUBDOMAIN.NS.svc.cluster.local: a pod behind a headless Service (a StatefulSet's pod).
  const podDns = /^([a-z0-9-]+)\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?\.?$/.exec(text);
  if (podDns) return resolveReference(scenario, `${podDns[3]}/${podDns[1]}`);
  if (/\.(svc|cluster\.local)\.?$/.test(text)) {
    throw new ReferenceError(`"${text}" is a cluster DNS name that names no Service or pod here: use NAME.NAMESPACE.svc.cluster.local, NAMESPACE/NAME or svc:NAMESPACE/NAME`);
  }

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
  // A pod that the model collapsed into its controller is answered for as that controller.
  if (!kind || kind === "Pod") {
    const owners = collapsedPodOwners(scenario, namespace, name);
    if (owners.length === 1) {
      const w = owners[0]!;
      return {
        kind: "workload",
        workload: w,
        note: `pod ${namespace}/${name} is read as a pod of ${w.kind} ${w.id} (its name is that of a ${w.kind}'s pod; pods are collapsed into their controller, so the answer holds for every pod of ${w.id})`,
      };
    }
    if (owners.length > 1) {
      throw new ReferenceError(
        `"${text}" names no workload, and as a pod name it could belong to ${owners.map((w) => `${w.kind} ${w.id}`).join(" or ")}: give the controller, e.g. ${prefixFor(owners[0]!.kind)}:${owners[0]!.id}`,
      );
    }
  }
  const inNs = scenario.cluster.workloads.filter((w) => w.namespace === namespace).map((w) => w.name);
  const hint = inNs.length ? `; workloads in ${namespace}: ${inNs.slice(0, 8).join(", ")}${inNs.length > 8 ? ", …" : ""}` : scenario.cluster.namespaces.has(namespace) ? "" : `; there is no namespace ${namespace}`;
  throw new ReferenceError(`no ${kind ?? "workload"} ${namespace}/${name} in the input${hint}`);
}

/** Whether two strings are the same IP address (`::1` and `0:0::1` are). */
function sameIP(a: string, b: string): boolean {
  const x = parseIP(a);
  const y = parseIP(b);
  return !!x && !!y && x.family === y.family && x.value === y.value;
}

/**
 * An address: a pod's IP resolves to its workload, a Service's ClusterIP to the
 * Service, a node's IP (status.hostIP, or the shared IP of hostNetwork pods) to
 * node traffic; anything else is external.
 */
function resolveIP(scenario: Scenario, ip: string): Resolved {
  const { workloads } = scenario.cluster;
  const pods = workloads.filter((w) => !w.hostNetwork && w.ips.some((x) => sameIP(x, ip)));
  if (pods.length > 1) {
    throw new ReferenceError(`${ip} is the pod IP of ${pods.map((w) => `${w.kind} ${w.id}`).join(" and ")} in the input: give the workload as NAMESPACE/NAME`);
  }
  if (pods.length === 1) {
    const w = pods[0]!;
    return { kind: "workload", workload: w, ip, note: `${ip} is a pod IP of ${w.kind} ${w.id} (status.podIP in the input): read as that workload` };
  }
  const services = scenario.cluster.services.filter((svc) => svc.clusterIPs.some((x) => sameIP(x, ip)));
  if (services.length === 1) return { kind: "service", service: services[0]! };
  const onNode = workloads.filter((w) => w.hostIPs.some((x) => sameIP(x, ip)) || (w.hostNetwork && w.ips.some((x) => sameIP(x, ip))));
  if (onNode.length > 0) {
    const ids = onNode.map((w) => w.id);
    const shown = `${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ` and ${ids.length - 3} more` : ""}`;
    return { kind: "node", ip, note: `${ip} is a node address (status.hostIP of pods of ${shown}): read as node traffic, not as an address outside the cluster` };
  }
  return { kind: "external", ip };
}

/**
 * The controller workloads whose pods may be named `name`, by the names
 * Kubernetes gives them: `DEPLOY-HASH-XXXXX`, `RS-XXXXX`, `DS-XXXXX`,
 * `JOB-XXXXX`, `CRONJOB-TIME-XXXXX`, `STS-ORDINAL`. A generated name keeps at
 * most 58 characters of its base (maxGeneratedNameLength) before the 5 random ones.
 */
function collapsedPodOwners(scenario: Scenario, namespace: string, name: string): Workload[] {
  const generated = (base: string): boolean => {
    const prefix = base.slice(0, 58);
    return name.length === prefix.length + 5 && name.startsWith(prefix) && /^[a-z0-9]{5}$/.test(name.slice(prefix.length));
  };
  const byName = (w: Workload): boolean => {
    const base = `${w.name}-`;
    switch (w.kind) {
      case "Pod":
        return false;
      case "StatefulSet":
        return name.startsWith(base) && /^(0|[1-9]\d*)$/.test(name.slice(base.length));
      case "Deployment":
      case "CronJob": {
        // Pods are generated from a ReplicaSet DEPLOY-HASH, or from a Job CRONJOB-<scheduled minute>.
        const middle = w.kind === "Deployment" ? /^[a-z0-9]{1,10}-[a-z0-9]{5}$/ : /^\d{8,}-[a-z0-9]{5}$/;
        if (name.startsWith(base) && middle.test(name.slice(base.length))) return true;
        // That intermediate name, cut to 58 characters, then 5 random ones.
        return name.length === 63 && name.startsWith(base.slice(0, 58)) && /^[a-z0-9-]+$/.test(name.slice(Math.min(base.length, 58)));
      }
      default:
        return generated(base);
    }
  };
  return scenario.cluster.workloads.filter(
    (w) =>
      w.namespace === namespace &&
      // A workload named after its pods' owner (the controller is not in the input) keeps its first pod's manifest.
      ((w.manifest.kind === "Pod" && w.manifest.name === name) || byName(w)),
  );
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
      return { kind: "workload", workload: r.workload, ...(r.ip ? { ip: r.ip } : {}) };
    case "node":
      return { kind: "node", ip: r.ip };
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
  switch (r.kind) {
    case "kubelet":
      throw new ReferenceError(`"${text}": kubelet can only be a source`);
    case "workload":
      return { kind: "workload", workload: r.workload, ...(r.ip ? { ip: r.ip } : {}) };
    case "node":
      return { kind: "node", ip: r.ip };
    default:
      return r;
  }
}

/** How a reference was read, when the output should say so. */
export function resolutionNote(r: Resolved): string | undefined {
  return r.kind === "workload" || r.kind === "node" ? r.note : undefined;
}
