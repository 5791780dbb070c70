/**
 * Facts about the cluster that manifests cannot tell: which CNI enforces policy and
 * how it reads the points the Kubernetes API leaves to implementations. Every
 * field has a documented default; the output states the ones that decided a verdict.
 */
export type CniName = "generic" | "cilium";

/**
 * Cilium agent options and version-dependent readings (semantics.md §3, §9).
 * Each default is what Cilium v1.19.4 does out of the box; the field comments
 * say which flag or Helm value to mirror when a cluster differs.
 */
export interface CiliumSwitches {
  /**
   * `enable-policy` / Helm `policyEnforcementMode` (§3.1 r1): `default` enforces
   * an endpoint's direction once a policy selects it there, `always` enforces
   * every endpoint, `never` enforces nothing. Default `default`.
   */
  policyEnforcementMode: "default" | "always" | "never";
  /**
   * `policy-cidr-match-mode` (§1.4 r20, §3.5 r25): empty (default) means CIDR
   * rules and NetworkPolicy ipBlocks never select nodes or host-network pods;
   * `nodes` lets them select node addresses. Pods are never selected by CIDR.
   */
  policyCidrMatchMode: "" | "nodes";
  /**
   * `allow-localhost` (§1.6 r27, C17): `auto` (default) and `always` let the
   * local node (kubelet probes, host-network pods on the same node) reach its
   * endpoints whatever the policies say; `policy` subjects it to policy (the
   * `host` entity). Documented: `auto` means `always` when running in Kubernetes.
   * VERSION: the v1.19.4 helper `AlwaysAllowLocalhost()` treats the literal `auto`
   * as not-always; set `policy` to model an agent that does so.
   */
  allowLocalhost: "auto" | "always" | "policy";
  /**
   * `enable-non-default-deny-policies` (§3.1 r2): when true (default), a rule's
   * `enableDefaultDeny` decides whether it puts the endpoint in default deny;
   * when false, every selecting rule puts both directions in default deny.
   */
  enableNonDefaultDenyPolicies: boolean;
  /**
   * `policy-default-local-cluster` (§3.3 r22): from/toEndpoints and from/toNodes
   * without a cluster key are limited to the local cluster. Default true
   * (v1.19.4 `DefaultPolicyConfig`; CONFLICT: `layer3.rst` describes it as off).
   * Every workload Palisade knows runs in the local cluster, so this only matters
   * for selectors that name `io.cilium.k8s.policy.cluster` themselves.
   */
  policyDefaultLocalCluster: boolean;
  /** `cluster-name`: the value of `io.cilium.k8s.policy.cluster` on local endpoints. Default `default`. */
  clusterName: string;
  /**
   * VERSION (§3.3 r20, §9): whether a CiliumNetworkPolicy from/toEndpoints
   * selector with a `io.cilium.k8s.namespace.labels.*` key escapes the implicit
   * policy namespace (`select`, v1.19.4 code and unit test; default) or keeps it
   * (`namespace`, the 2023 documentation's "ignored in CiliumNetworkPolicy").
   */
  namespaceLabelsInCnp: "select" | "namespace";
  /**
   * VERSION (§3.2 r12, §9): whether `toServices` may be combined with `toPorts`
   * in one egress rule (true in v1.19.4; older releases reject the policy).
   */
  toServicesWithToPorts: boolean;
  /**
   * VERSION (§3.7, §9): `toServices` naming a Service with a selector selects
   * its pods (`selector`, newest documentation; default) or nothing (`endpoints`,
   * older releases that only supported Services without selector).
   */
  toServicesScope: "selector" | "endpoints";
  /**
   * CRD schema (§3.4 VERSION caveat): whether the entities `world-ipv4` and
   * `world-ipv6` are accepted. The v1.19.4 CRD enum omits them, so the API
   * server rejects the policy: default false.
   */
  worldFamilyEntities: boolean;
  /** `enable-l7-proxy` (§3.9 r39): L7 rules are rejected without it. Default true. */
  enableL7Proxy: boolean;
  /** `enable-node-selector-labels` (§3.10 r49): `fromNodes`/`toNodes` are rejected without it. Default false. */
  enableNodeSelectorLabels: boolean;
  /**
   * Helm `hostFirewall.enabled` (§3.10 r48): host policies (`nodeSelector`)
   * are enforced on the nodes and their host-network pods. Default false.
   */
  hostFirewall: boolean;
  /** Addresses of the kube-apiserver outside the pod network (the `kube-apiserver` entity, §3.4). Default none. */
  kubeApiserverIPs: readonly string[];
}

export interface ClusterProfile {
  cni: CniName;
  /** How the CNI was chosen: by `--cni`, or detected from the input. */
  cniSource: "flag" | "detected" | "default";
  /**
   * Whether a NetworkPolicy `ipBlock` matches pod IPs. The API leaves this undefined;
   * the reference semantics say yes (when the pod IP is known from the input);
   * Cilium never matches pods with CIDR rules.
   */
  ipBlockMatchesPods: boolean;
  /**
   * Whether an `ipBlock` matches traffic from or to a node address (node-originated
   * traffic, host-network pods). The reference semantics say yes; Cilium gives
   * nodes the `host`/`remote-node` identities, which CIDR rules never select
   * (semantics.md §1.4 r20, §3.5) unless `cilium.policyCidrMatchMode` is `nodes`.
   */
  ipBlockMatchesNodes: boolean;
  /** How Cilium is configured; read only when `cni` is `cilium`. */
  cilium: CiliumSwitches;
}

/** Cilium v1.19.4 defaults (semantics.md §3, §9). */
export function defaultCiliumSwitches(): CiliumSwitches {
  return {
    policyEnforcementMode: "default",
    policyCidrMatchMode: "",
    allowLocalhost: "auto",
    enableNonDefaultDenyPolicies: true,
    policyDefaultLocalCluster: true,
    clusterName: "default",
    namespaceLabelsInCnp: "select",
    toServicesWithToPorts: true,
    toServicesScope: "selector",
    worldFamilyEntities: false,
    enableL7Proxy: true,
    enableNodeSelectorLabels: false,
    hostFirewall: false,
    kubeApiserverIPs: [],
  };
}

export function defaultProfile(
  cni: CniName = "generic",
  cniSource: ClusterProfile["cniSource"] = "default",
  cilium: Partial<CiliumSwitches> = {},
): ClusterProfile {
  const switches = { ...defaultCiliumSwitches(), ...cilium };
  return {
    cni,
    cniSource,
    ipBlockMatchesPods: cni === "generic",
    ipBlockMatchesNodes: cni === "generic" || switches.policyCidrMatchMode === "nodes",
    cilium: switches,
  };
}

/** Whether Cilium lets the local node reach its endpoints without policy (§1.6 r27). */
export function ciliumAllowsLocalhost(s: CiliumSwitches): boolean {
  return s.allowLocalhost !== "policy";
}
