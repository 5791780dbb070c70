import type { Workload } from "../model/types.js";
import type { ConnSet, IPSet, Protocol } from "../sets/index.js";

/** The enforcement layers, as named in `blockedBy.layer` of the command-line contract. */
export type LayerId =
  | "networkpolicy"
  | "adminnetworkpolicy"
  | "cilium"
  | "istio-egress"
  | "istio-peerauthentication"
  | "istio-authorization"
  | "service";

export type Direction = "ingress" | "egress";

/** The other end of a connection, as an enforcement point sees it on the wire. */
export type Peer =
  | { kind: "workload"; workload: Workload; ip?: string }
  /** A node; `local` when it is the node the endpoint runs on (kubelet probes). */
  | { kind: "node"; local: boolean; ip?: string }
  | { kind: "external"; ip: string };

/** The transport tuple an enforcement point sees (after DNAT/SNAT/mesh redirection). */
export interface WireConn {
  protocol: Protocol;
  port: number;
}

/** A policy (and rule) that decided or contributed to a verdict. */
export interface PolicyRef {
  kind: string;
  namespace: string | null;
  name: string;
  /** Index of the rule in its direction's list; null when the policy as a whole decides (isolation). */
  rule: number | null;
  file: string;
  line: number;
}

/** HTTP attributes of a request, for layers with L7 rules (Cilium `toPorts.rules.http`). */
export interface L7Request {
  method?: string;
  path?: string;
  host?: string;
  headers?: Readonly<Record<string, string>>;
}

export interface Decision {
  verdict: "allow" | "deny";
  /** For a denial: what the client sees, when the layer knows better than a silent drop (an L7 rule's HTTP 403). */
  observed?: "timeout" | "reset" | "http-403" | "http-502" | null;
  /** False when no policy of this layer selects the endpoint in this direction. */
  isolated: boolean;
  /** Allow: the rules that admit the connection. Deny: the policies that isolate the endpoint. */
  policies: PolicyRef[];
  /** One sentence for people. */
  reason: string;
  /** For a denial: why each rule of each isolating policy did not match. */
  misses: string[];
  /** A deny rule decided (Cilium): no allow rule can override it, `policies` name the deny rules. */
  byDenyRule?: boolean;
}

/** A piece of what an endpoint admits from (or sends to) addresses outside the cluster model. */
export interface ExternalAllowance {
  ips: IPSet;
  conns: ConnSet;
}

/**
 * The shape every CNI-level layer (NetworkPolicy, AdminNetworkPolicy, Cilium)
 * implements. `path/` asks it about one endpoint and one direction at a time.
 */
export interface CniLayer {
  readonly id: LayerId;
  /** How many policies of this layer are in force. */
  readonly policyCount: number;
  /** Whether any policy of this layer selects the endpoint in this direction. */
  isolates(endpoint: Workload, direction: Direction): boolean;
  /** The policies that select the endpoint in this direction. */
  isolatingPolicies(endpoint: Workload, direction: Direction): PolicyRef[];
  /** One connection, with the explanation a trace shows. */
  evaluate(endpoint: Workload, direction: Direction, peer: Peer, conn: WireConn, http?: L7Request): Decision;
  /**
   * Egress to a DNS name, for a layer that can match names (Cilium `toFQDNs`);
   * without it, `path/` decides from the layer's outside-address allowances.
   */
  evaluateName?(endpoint: Workload, host: string, conn: WireConn): Decision;
  /** Everything the endpoint admits with `peer` in `direction` (for matrices). */
  allowedConns(endpoint: Workload, direction: Direction, peer: Peer): ConnSet;
  /** What the endpoint admits with addresses outside the cluster, by address range. */
  externalAllowances(endpoint: Workload, direction: Direction): ExternalAllowance[];
  /**
   * What distinguishes a workload in each of its four roles. Two workloads with
   * equal `egressEndpoint` keys get the same answers from `allowedConns(·, "egress", peer)`
   * for every peer; equal `egressPeer` keys make two destinations indistinguishable
   * to every egress endpoint; likewise for ingress. Matrices evaluate one
   * representative per key and combine the two directions per pair.
   */
  roleKeys(workload: Workload): RoleKeys;
}

export interface RoleKeys {
  egressEndpoint: string;
  ingressEndpoint: string;
  /** As the destination of someone's egress. */
  egressPeer: string;
  /** As the source of someone's ingress. */
  ingressPeer: string;
}
