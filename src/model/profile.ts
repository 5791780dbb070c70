/**
 * Facts about the cluster that manifests cannot tell: which CNI enforces policy and
 * how it reads the points the Kubernetes API leaves to implementations. Every
 * field has a documented default; the output states the ones that decided a verdict.
 */
export type CniName = "generic" | "cilium";

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
   * (semantics.md §1.4 r20, §3.5).
   */
  ipBlockMatchesNodes: boolean;
}

export function defaultProfile(cni: CniName = "generic", cniSource: ClusterProfile["cniSource"] = "default"): ClusterProfile {
  return { cni, cniSource, ipBlockMatchesPods: cni === "generic", ipBlockMatchesNodes: cni === "generic" };
}
