/** Facts several rules need, read from the built scenario. */
import type { Scenario } from "../analysis/scenario.js";
import { CiliumEngine, CiliumLayer } from "../layers/cilium/index.js";
import { NetworkPolicyLayer, scanNetworkPolicies, type NetworkPolicy } from "../layers/networkpolicy/index.js";
import type { MeshMode } from "../layers/istio/index.js";
import type { PolicyRef } from "../layers/types.js";
import type { Workload } from "../model/types.js";
import { describeObject } from "../layers/policy-ref.js";

/**
 * Every Kubernetes NetworkPolicy of the input. Under the generic CNI they are the
 * NetworkPolicy layer's; under Cilium its engine reads them in its own rule form,
 * so they are read again from their manifests (same validation).
 */
export function networkPolicies(scenario: Scenario): readonly NetworkPolicy[] {
  const known = networkPoliciesOf.get(scenario);
  if (known) return known;
  const out: NetworkPolicy[] = [];
  for (const layer of scenario.layers) if (layer instanceof NetworkPolicyLayer) out.push(...layer.policies);
  const engine = ciliumEngine(scenario);
  const manifests = engine ? engine.policies.filter((p) => p.kind === "NetworkPolicy").map((p) => p.manifest) : [];
  if (manifests.length > 0) out.push(...scanNetworkPolicies(manifests).policies);
  networkPoliciesOf.set(scenario, out);
  return out;
}

const networkPoliciesOf = new WeakMap<Scenario, readonly NetworkPolicy[]>();

/** The engine behind the scenario's Cilium layers (one engine is shown as two layers), when the scenario uses Cilium. */
export function ciliumEngine(scenario: Scenario): CiliumEngine | undefined {
  for (const layer of scenario.layers) if (layer instanceof CiliumLayer) return layer.engine;
  return undefined;
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
  return describeObject(p);
}

/** Names for a message: `a`, `a and b`, `a, b and c`; past `max`, the first `max` and how many more. */
export function listed(items: readonly string[], max = 4): string {
  if (items.length > max) return `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
