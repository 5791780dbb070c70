/**
 * Facts the Cilium lint rules share: the scenario's Cilium engine, where a rule
 * sits in its manifest, and "probe" engines built from edited copies of the
 * policies, so that a rule can ask the evaluator what a policy would do if it
 * were written differently (a selector without its implicit namespace, a port
 * without the rules that shadow it).
 */
import { stringify } from "yaml";
import type { Scenario } from "../../analysis/scenario.js";
import { CiliumEngine, namespacesOf, type CiliumPolicy, type CiliumRule, type CiliumSpec, type PeerPart } from "../../layers/cilium/index.js";
import type { Direction, Peer, WireConn } from "../../layers/types.js";
import type { Workload } from "../../model/types.js";
import { PROTOCOLS, type ConnSet } from "../../sets/index.js";
import type { ResourceRef } from "../rule.js";
import { describeObject } from "../../layers/policy-ref.js";

/** An address outside the cluster (TEST-NET-3), standing for the `world` peers. */
export const OUTSIDE: Peer = { kind: "external", ip: "203.0.113.10" };

/** CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (not the NetworkPolicies the engine also reads). */
export function isCiliumKind(policy: CiliumPolicy): boolean {
  return policy.kind !== "NetworkPolicy";
}

/** Every rule of every CNP and CCNP spec the engine holds, with its spec (NetworkPolicies left out). */
export function* ciliumPolicyRules(engine: CiliumEngine): Generator<{ spec: CiliumSpec; rule: CiliumRule }> {
  for (const spec of engine.specs) {
    if (!isCiliumKind(spec.policy)) continue;
    for (const rule of spec.rules) yield { spec, rule };
  }
}

/** The field path of a spec inside its manifest: `spec`, or `specs[i]`. */
export function specPath(spec: CiliumSpec): (string | number)[] {
  return spec.specIndex === null ? ["spec"] : ["specs", spec.specIndex];
}

/** The field path of a rule (and below it) inside its manifest. */
export function rulePath(spec: CiliumSpec, rule: CiliumRule, ...below: (string | number)[]): (string | number)[] {
  return [...specPath(spec), rule.section, rule.index, ...below];
}

/** The raw value at a path of the policy's manifest, as written. */
export function rawAt(policy: CiliumPolicy, path: readonly (string | number)[]): unknown {
  let node: unknown = policy.manifest.raw;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

/** `CiliumNetworkPolicy ns/name`, `CiliumClusterwideNetworkPolicy name`: for a policy or a reference to one. */
export function policyName(policy: { kind: string; namespace: string | null; name: string }): string {
  return describeObject(policy);
}

/** A rule as people read it: `CiliumNetworkPolicy ns/name egress[0]`. */
export function ruleName(spec: CiliumSpec, rule: CiliumRule): string {
  return `${policyName(spec.policy)} ${rule.label}`;
}

export function ciliumResource(policy: CiliumPolicy): ResourceRef {
  return { kind: policy.kind, namespace: policy.namespace, name: policy.name };
}

/** The workloads a spec selects and puts under its rules in `direction`. */
export function endpointsOf(scenario: Scenario, engine: CiliumEngine, spec: CiliumSpec, direction: Direction): Workload[] {
  const si = engine.specs.indexOf(spec);
  return scenario.cluster.workloads.filter((w) => engine.applies(w) && engine.factsOf(w).selectedBy[direction].includes(si));
}

/** An engine over other policies, for the same cluster and profile. */
export function probeEngine(scenario: Scenario, policies: readonly CiliumPolicy[]): CiliumEngine {
  return new CiliumEngine(policies, scenario.cluster, scenario.profile);
}

/**
 * A copy of `spec`'s policy that holds only `rule`, as an allow rule with the
 * given peers on every port. Alone in an engine, it admits a peer exactly when
 * one of `peers` matches it.
 */
export function singleRulePolicy(spec: CiliumSpec, rule: CiliumRule, peers: readonly PeerPart[]): CiliumPolicy {
  const d = rule.direction;
  const copy: CiliumRule = { ...rule, section: d, deny: false, index: 0, peers, ports: undefined, icmpOnly: false };
  const policy: CiliumPolicy = { ...spec.policy, specs: [] };
  const only: CiliumSpec = {
    ...spec,
    policy,
    rules: [copy],
    defaultDeny: { ingress: d === "ingress", egress: d === "egress" },
    hasRules: { ingress: d === "ingress", egress: d === "egress" },
  };
  policy.specs.push(only);
  return policy;
}

/** The namespaces a part's pods can be in, when its selector names them (Cilium's namespace scoping, §3.3 r19–r21). */
function namespacesNamed(part: PeerPart): readonly string[] | undefined {
  return part.type === "selector" ? namespacesOf(part.selector) : undefined;
}

/**
 * The pods some of `parts` (peer parts of `rule`) match, asked of an engine that
 * holds them alone (L3 only) on behalf of `endpoint`, an endpoint `spec`
 * selects. Only pods of `among` are looked at, and of those only the ones in the
 * namespaces the selectors confine themselves to.
 */
export function podsMatchedBy(
  scenario: Scenario,
  spec: CiliumSpec,
  rule: CiliumRule,
  parts: readonly PeerPart[],
  endpoint: Workload,
  among: readonly Workload[] = scenario.cluster.workloads,
): Workload[] {
  const named = parts.map(namespacesNamed);
  const namespaces = named.every((n) => n !== undefined) ? new Set(named.flat()) : undefined;
  const candidates = among.filter((w) => !w.hostNetwork && w !== endpoint && (!namespaces || namespaces.has(w.namespace)));
  const workloads = among.includes(endpoint) ? [endpoint, ...candidates] : candidates;
  const engine = new CiliumEngine([singleRulePolicy(spec, rule, parts)], { ...scenario.cluster, workloads: [endpoint, ...candidates] }, scenario.profile);
  if (!engine.isolates(endpoint, rule.direction)) return [];
  return workloads.filter((w) => !engine.allowedConns(endpoint, rule.direction, { kind: "workload", workload: w }).isEmpty());
}

/** One connection out of a set (TCP first), to ask the evaluator about a rule's ports. */
export function sampleConn(conns: ConnSet): WireConn | undefined {
  for (const protocol of PROTOCOLS) {
    const first = conns.portsOf(protocol).intervals()[0];
    if (first) return { protocol, port: first[0] };
  }
  return undefined;
}

/** Policy YAML for a fix, as it would be written in the manifest. */
export function yamlSnippet(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

