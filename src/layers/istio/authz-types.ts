/**
 * Types shared by the Istio policy evaluators: AuthorizationPolicy and
 * PeerAuthentication as scanned from manifests, the request an enforcement
 * point sees, and the decisions the evaluators return (semantics.md §4, §5).
 */
import type { Manifest } from "../../load/types.js";
import type { Labels } from "../../model/selector.js";
import type { Protocol } from "../../sets/index.js";
import type { Decision } from "../types.js";

// ---------------------------------------------------------------------------
// AuthorizationPolicy (security.istio.io/v1, v1beta1)

export type AuthzAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

/** `Source` fields (§4.5 r17), in the order the API documents them. */
export const SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "trustDomains",
  "notTrustDomains",
] as const;
export type SourceField = (typeof SOURCE_FIELDS)[number];

/** `Operation` fields (§4.4). */
export const OPERATION_FIELDS = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"] as const;
export type OperationField = (typeof OPERATION_FIELDS)[number];

/** A `source`: every field present, an empty list meaning "not set" (as in Istio, where the two cannot be told apart). */
export type AuthzSource = Readonly<Record<SourceField, readonly string[]>>;
export type AuthzOperation = Readonly<Record<OperationField, readonly string[]>>;

export interface AuthzFrom {
  source: AuthzSource;
  line: number;
}

export interface AuthzTo {
  operation: AuthzOperation;
  line: number;
}

/** A `when` condition. At least one of `values` / `notValues` is non-empty (validated). */
export interface AuthzCondition {
  key: string;
  values: readonly string[];
  notValues: readonly string[];
  line: number;
}

export interface AuthzRule {
  /** Index in `spec.rules`. */
  index: number;
  line: number;
  /** Undefined: any source (§4.3 r9). Never an empty list (rejected by validation). */
  from: readonly AuthzFrom[] | undefined;
  /** Undefined: any operation. */
  to: readonly AuthzTo[] | undefined;
  when: readonly AuthzCondition[];
}

/** `targetRef(s)` entry (§4.1 r3). `group` is as written ("" and "core" both mean the core group). */
export interface PolicyTargetRef {
  group: string;
  kind: string;
  name: string;
}

export interface AuthorizationPolicy {
  namespace: string;
  name: string;
  action: AuthzAction;
  /** `provider.name`, CUSTOM only. */
  provider: string | undefined;
  /** `selector.matchLabels`; undefined when there is no selector (the whole namespace, or mesh in the root namespace). */
  selector: Labels | undefined;
  /** `targetRefs`, or the legacy single `targetRef`; empty when none. */
  targetRefs: readonly PolicyTargetRef[];
  /**
   * The rules. Empty when `rules` is absent or `[]` (protobuf cannot tell them
   * apart): such a policy never matches, so an ALLOW one allows nothing (§4.3 r10).
   */
  rules: readonly AuthzRule[];
  /** `istio.io/dry-run: "true"`: evaluated for logs only, never enforced. */
  dryRun: boolean;
  file: string;
  line: number;
  /** The object as read, for the line of any field. */
  manifest: Manifest;
}

// ---------------------------------------------------------------------------
// The request an enforcement point sees

/** JWT facts for `requestPrincipals` and `request.auth.*` (set by a RequestAuthentication). */
export interface RequestJwt {
  iss: string;
  sub: string;
  aud?: readonly string[];
  azp?: string;
  /** Claims by name; nested claims as nested objects, list claims as arrays. */
  claims?: Readonly<Record<string, unknown>>;
}

export interface HttpAttributes {
  method: string;
  /** As sent, possibly with a query string and fragment (they are never matched, §4.4 r15). */
  path: string;
  /** The `:authority` / Host header as sent, including any `:port` (§4.4 r13). */
  host: string;
  /** Request headers; names are case-insensitive. */
  headers?: Readonly<Record<string, string>>;
  /** A validated JWT, when the request carries one. */
  jwt?: RequestJwt;
}

export interface AuthzRequest {
  source: {
    /** Namespace of the client's identity (its service account's namespace). */
    namespace?: string;
    /** Service account; `default` when a namespace is given without one. */
    serviceAccount?: string;
    /** Full peer identity `<td>/ns/<ns>/sa/<sa>`; overrides namespace/serviceAccount. */
    principal?: string;
    /** The L3 peer address the enforcer sees (`source.ip`, `ipBlocks`). */
    ip?: string;
    /** `remote.ip` / `remoteIpBlocks`; defaults to `ip` (no trusted proxy in front, §4.5 r17a). */
    remoteIp?: string;
    /** Whether the connection carries a peer certificate (sidecar mTLS or HBONE). Plaintext has no identity (§4.5 r18). */
    mtls: boolean;
  };
  destination: {
    namespace: string;
    /** Pod labels of the destination workload (selector policies). */
    labels: Labels;
    /** The port the enforcer sees: the container port at a sidecar or ztunnel (§4.4 r16). */
    port: number;
    ip?: string;
  };
  protocol: Protocol;
  /**
   * Present when the enforcer runs an HTTP filter chain for this port (Istio
   * protocol selection decides; the caller knows). Absent: a TCP chain, where
   * HTTP-only attributes are handled as §4.6 says. ztunnel never looks at it.
   */
  http?: HttpAttributes;
  /** TLS SNI, for `connection.sni`. */
  sni?: string;
}

/**
 * Who enforces, which decides attachment (§4.1, §5.4, §5.5):
 * - `sidecar`: any Envoy that is not a Gateway API workload — sidecars and classic
 *   gateway deployments such as `istio-ingressgateway`. Selector/namespace/root policies;
 *   `targetRefs` policies are ignored.
 * - `ztunnel`: the destination ztunnel of an ambient pod. Same attachment, L4 subset,
 *   ALLOW and DENY only.
 * - `waypoint`: only `targetRefs` policies — the Gateway (the waypoint itself), the
 *   Service or ServiceEntry the request is addressed to, or GatewayClass `istio-waypoint`
 *   in the root namespace.
 */
export type EnforcementPoint =
  /** `gateway`: the proxy is a gateway deployment (same attachment as a sidecar; named so in explanations). */
  | { kind: "sidecar"; gateway?: boolean }
  | { kind: "ztunnel" }
  | {
      kind: "waypoint";
      waypoint: { namespace: string; name: string };
      service?: { namespace: string; name: string; kind?: "Service" | "ServiceEntry" };
    };

export type PathNormalization = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";

export interface AuthzOptions {
  /** MeshConfig `rootNamespace` (default `istio-system`). */
  rootNamespace?: string;
  /** Trust domain of identities built from namespace/service account (default `cluster.local`). */
  trustDomain?: string;
  /** What CUSTOM extension providers answer for requests sent to them (default `allow`, reported as an assumption). */
  customDecision?: "allow" | "deny";
  /**
   * MeshConfig `extensionProviders` by name: `http` (envoyExtAuthzHttp: ignored on TCP
   * chains) or `grpc` (both). When given, a CUSTOM policy naming a provider that is
   * not listed denies the requests it matches, as istiod generates deny rules for it.
   * When absent, every provider is assumed to exist and to handle TCP.
   */
  extensionProviders?: Readonly<Record<string, "http" | "grpc">>;
  /** MeshConfig `pathNormalization` (default `BASE`, §4.4 r15). */
  pathNormalization?: PathNormalization;
}

/** What the client observes when the enforcer refuses: HTTP 403 from Envoy RBAC, or a closed connection (§4.2 r7). */
export type AuthzObserved = "http-403" | "reset";

export interface AuthzDecision extends Decision {
  /** Null when allowed. */
  observed: AuthzObserved | null;
  /** How policies were read at this enforcement point (rules skipped, attributes dropped, policies not attached). */
  notes: string[];
  /** Facts the evaluator could not know and assumed (extension decisions, unknown addresses). */
  assumptions: string[];
}

// ---------------------------------------------------------------------------
// PeerAuthentication

export type MtlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface PortMtls {
  mode: MtlsMode;
  line: number;
}

export interface PeerAuthentication {
  namespace: string;
  name: string;
  /** Non-empty `selector.matchLabels`; undefined for a namespace-wide (or, in the root namespace, mesh-wide) policy. */
  selector: Labels | undefined;
  /** `mtls.mode`; UNSET when absent. */
  mode: MtlsMode;
  /** Line of `mtls.mode` (or of the policy when absent). */
  modeLine: number;
  /** `portLevelMtls`, keyed by workload (container) port. */
  portLevelMtls: ReadonlyMap<number, PortMtls>;
  /** `metadata.creationTimestamp` in ms since the epoch, when the manifest has one. */
  createdAt: number | undefined;
  file: string;
  line: number;
}

export interface PeerAuthnDecision extends Decision {
  /** The effective mode for this port after inheritance (never UNSET: nothing to inherit means PERMISSIVE). */
  mode: Exclude<MtlsMode, "UNSET">;
  /** Whether the accepted connection is mutual TLS (false when DISABLE makes the client send plaintext). */
  connectionMtls: boolean;
  /** Null when allowed; a STRICT refusal closes the connection. */
  observed: "reset" | null;
  notes: string[];
  assumptions: string[];
}
