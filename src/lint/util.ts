/** Facts several rules need, read from the built scenario. */
import type { Scenario } from "../analysis/scenario.js";
import { NetworkPolicyLayer, type NetworkPolicy } from "../layers/networkpolicy/index.js";
import type { MeshMode } from "../layers/istio/index.js";
import type { PolicyRef } from "../layers/types.js";
import type { Workload } from "../model/types.js";

export function networkPolicies(scenario: Scenario): NetworkPolicy[] {
  return scenario.layers.flatMap((l) => (l instanceof NetworkPolicyLayer ? [...l.policies] : []));
}

export function meshMode(scenario: Scenario, w: Workload): MeshMode {
  return scenario.mesh ? scenario.mesh.membership(w).mode : "none";
}

/** The policies of every layer that isolate `w` in `direction`. */
export function isolatingPolicies(scenario: Scenario, w: Workload, direction: "ingress" | "egress"): PolicyRef[] {
  return scenario.layers.flatMap((l) => (l.isolates(w, direction) ? l.isolatingPolicies(w, direction) : []));
}

export function policyResource(p: PolicyRef): { kind: string; namespace: string | null; name: string } {
  return { kind: p.kind, namespace: p.namespace, name: p.name };
}

/** `Kind NS/NAME`, or `Kind NAME` for a cluster-scoped policy: how messages name a policy. */
export function describePolicy(p: { kind: string; namespace: string | null; name: string }): string {
  return `${p.kind} ${p.namespace ? `${p.namespace}/` : ""}${p.name}`;
}
