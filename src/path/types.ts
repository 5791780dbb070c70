import type { Direction, LayerId, PolicyRef } from "../layers/types.js";
import type { Service, ServicePort, Workload } from "../model/types.js";
import type { Protocol } from "../sets/index.js";

/** Where a flow starts. `ip`: one pod's address, when the user gave it. */
export type FlowSource =
  | { kind: "workload"; workload: Workload; ip?: string }
  /** The kubelet on the destination's node (health probes). */
  | { kind: "kubelet" }
  /** A node, by its address: node traffic (local to the pods that run on it). */
  | { kind: "node"; ip: string }
  /**
   * An address outside the cluster. `snat`: the client reaches the pod through a
   * NodePort/LoadBalancer Service with externalTrafficPolicy Cluster, so the pod
   * sees a node address instead (semantics.md §6 r3).
   */
  | { kind: "external"; ip: string; snat?: { nodeIP: string | null } };

/** Where a flow goes. An external endpoint has an address or a DNS name. */
export type FlowTarget =
  | { kind: "workload"; workload: Workload; ip?: string }
  | { kind: "service"; service: Service; port: ServicePort }
  | { kind: "node"; ip: string }
  | { kind: "external"; ip?: string; host?: string };

export interface Wire {
  srcIP: string | null;
  /** Null when unknown (a DNS name, a pod without status.podIP). */
  dstIP: string | null;
  /** The DNS name the client dials, when the destination is one (its address is unknown offline). */
  dstHost?: string;
  port: number;
  protocol: Protocol;
}

/**
 * What happens at a point of the path: the Service's DNAT, the source proxy's
 * egress control, the CNI at either end of a network leg, a mesh tunnel being
 * opened (informational), and the destination proxy's mTLS and authorization.
 */
export type HopStep = "service" | "mesh-egress" | "egress" | "ingress" | "tunnel" | "peer-authentication" | "authorization";

/** The Istio data-plane component acting at a hop. */
export type MeshProxy = "sidecar" | "ztunnel" | "waypoint" | "gateway";

export type Observed = "timeout" | "reset" | "http-403" | "http-502";

/** One enforcement point on the way, with what it decided. */
export interface Hop {
  step: HopStep;
  /** The policy layer that decides (as in `blockedBy.layer`), or the proxy opening a tunnel. */
  enforcer: LayerId | MeshProxy;
  direction: Direction | null;
  /** The enforcing endpoint: the client for egress, the server (or waypoint) for ingress, the Service. */
  at: string;
  verdict: "allow" | "deny";
  wire: Wire;
  policies: PolicyRef[];
  reason: string;
  misses: string[];
  /** For mesh hops: the proxy that enforces. */
  proxy?: MeshProxy;
  /** For a denial: what the client observes. */
  observed?: Observed;
  /** A deny rule decided this hop (Cilium): an allow rule cannot change it. */
  byDenyRule?: boolean;
}

/** HTTP request attributes given with `reach --method/--path/--host`. */
export interface HttpRequest {
  method?: string;
  path?: string;
  host?: string;
}

export interface WirePath {
  verdict: "allowed" | "denied";
  hops: Hop[];
  /** The first hop that denies. */
  blocked: Hop | null;
  observed: Observed | null;
  assumptions: string[];
}

