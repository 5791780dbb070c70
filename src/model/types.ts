import type { Manifest, SourceLocation } from "../load/types.js";
import type { Protocol } from "../sets/index.js";
import type { Labels } from "./selector.js";

/** The label the API server puts on every namespace (immutable, = its name). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export interface Namespace {
  name: string;
  labels: Labels;
  /** False when only referenced by other objects: then its labels are assumed. */
  declared: boolean;
  source?: SourceLocation;
}

export interface ContainerPort {
  name?: string;
  port: number;
  protocol: Protocol;
}

export const WORKLOAD_KINDS = [
  "Pod",
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "ReplicationController",
  "Job",
  "CronJob",
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/**
 * A set of pods that share one pod template: a bare Pod, or a controller with
 * all its pods collapsed into it. The unit every verdict is given for.
 */
export interface Workload {
  /** `NS/NAME`. */
  id: string;
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** Pod (template) labels. */
  labels: Labels;
  /** Pod (template) annotations. */
  annotations: Labels;
  ports: readonly ContainerPort[];
  serviceAccount: string;
  hostNetwork: boolean;
  /** Pod IPs when the input says (status.podIP of Pods in `kubectl get -o yaml` output). */
  ips: readonly string[];
  /** Node IPs of its pods, when known (status.hostIP). */
  hostIPs: readonly string[];
  source: SourceLocation;
  manifest: Manifest;
}

export interface ServicePort {
  name?: string;
  port: number;
  /** A number, or a container port name resolved per backend pod. */
  targetPort: number | string;
  protocol: Protocol;
  /** `appProtocol` (`http`, `kubernetes.io/h2c`, …): how Istio reads the port when set. */
  appProtocol?: string;
  nodePort?: number;
}

export interface Service {
  id: string;
  namespace: string;
  name: string;
  /** Undefined for a Service without selector (manually managed endpoints). */
  selector: Labels | undefined;
  type: string;
  ports: readonly ServicePort[];
  clusterIPs: readonly string[];
  externalTrafficPolicy: "Cluster" | "Local";
  source: SourceLocation;
  manifest: Manifest;
}

/** The cluster as the manifests describe it, independent of any policy API. */
export interface Cluster {
  namespaces: ReadonlyMap<string, Namespace>;
  workloads: readonly Workload[];
  services: readonly Service[];
}
