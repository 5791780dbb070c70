/**
 * An allow rule without toPorts towards peers outside the endpoint's namespace
 * (other namespaces' pods, the world, the cluster, CIDRs, FQDNs): every port is
 * open to them. Same-namespace peers, node and health traffic, DNS servers, the
 * kube-apiserver and an explicit `all` are left alone (see the docs page).
 * Pod peers are found with a probe engine holding the peer alone.
 */
import type { Scenario } from "../../analysis/scenario.js";
import type { CiliumEngine, CiliumRule, CiliumSpec, PeerPart } from "../../layers/cilium/index.js";
import type { Entity } from "../../layers/cilium/labels.js";
import type { Workload } from "../../model/types.js";
import { ConnSet, IPSet } from "../../sets/index.js";
import { createRule } from "../rule.js";
import { ciliumPolicyRules, ciliumResource, endpointsOf, podsMatchedBy, ruleName, yamlSnippet } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

/** Entities whose traffic reaches the endpoint from outside its namespace on application ports. */
const OPEN_ENTITIES: ReadonlySet<Entity> = new Set<Entity>(["world", "world-ipv4", "world-ipv6", "cluster", "ingress"]);

/** Link-local and loopback addresses do not leave the node (probes SNATed by istio-cni, metadata endpoints). */
const NODE_LOCAL = IPSet.fromCidr("169.254.0.0/16").union(IPSet.fromCidr("127.0.0.0/8")).union(IPSet.fromCidr("fe80::/10")).union(IPSet.fromCidr("::1/128"));

const isDnsServer = (w: Workload): boolean => w.labels["k8s-app"] === "kube-dns";

/** Whether the rule leaves every TCP port open (no toPorts, or an entry without ports or with port 0). */
function everyPort(engine: CiliumEngine, rule: CiliumRule): boolean {
  if (rule.deny || rule.icmpOnly) return false;
  return ConnSet.protocol("TCP").isSubsetOf(engine.ruleConns(rule, undefined));
}

/** What of a peer part other than pods lies outside the endpoint's namespace, for people; undefined when nothing does. */
function outsideNonPod(part: PeerPart): string | undefined {
  switch (part.type) {
    case "all":
      return "every peer";
    case "entity":
      return OPEN_ENTITIES.has(part.entity) ? `entity ${part.entity}` : undefined;
    case "cidr":
      return part.ips.isSubsetOf(NODE_LOCAL) ? undefined : `CIDR ${part.text}`;
    case "fqdn":
      return part.text;
    case "selector":
    case "service":
    case "node":
    case "unresolved":
      return undefined;
  }
}

const isPodPart = (part: PeerPart): boolean => part.type === "selector" || part.type === "service";

/** The pods the rule's selectors and Services admit outside the namespace of some endpoint, DNS servers aside. */
function outsidePods(scenario: Scenario, spec: CiliumSpec, rule: CiliumRule, endpoints: readonly Workload[]): Workload[] {
  const parts = rule.peers.filter(isPodPart);
  if (parts.length === 0) return [];
  const homes = new Set(endpoints.map((e) => e.namespace));
  // With one home namespace only pods elsewhere can count.
  const among = homes.size === 1 ? scenario.cluster.workloads.filter((w) => !homes.has(w.namespace)) : scenario.cluster.workloads;
  return podsMatchedBy(scenario, spec, rule, parts, endpoints[0]!, among).filter((p) => !isDnsServer(p) && endpoints.some((e) => e.namespace !== p.namespace));
}

/** The ports the destination side declares: the endpoints' own for ingress, the peers' for egress. */
function declaredPorts(workloads: readonly Workload[]): { port: string; protocol: string }[] {
  const seen = new Map<string, { port: string; protocol: string }>();
  for (const w of workloads) for (const p of w.ports) seen.set(`${p.protocol}/${p.port}`, { port: String(p.port), protocol: p.protocol });
  return [...seen.values()];
}

/**
 * The ports a fix can list, where the serving side is in the input: the endpoints'
 * on ingress, the pod peers' on egress. None for a rule that has toPorts already
 * (its port 0 is the thing to change) or that reaches outside addresses.
 */
function portsToList(scenario: Scenario, spec: CiliumSpec, rule: CiliumRule, endpoints: readonly Workload[]): { port: string; protocol: string }[] {
  if (rule.ports) return [];
  if (rule.direction === "ingress") return declaredPorts(endpoints);
  return rule.peers.every(isPodPart) ? declaredPorts(podsMatchedBy(scenario, spec, rule, rule.peers, endpoints[0]!)) : [];
}

export default createRule({
  id: "cilium-no-port-restriction",
  description: "A Cilium allow rule without toPorts towards peers outside the endpoint's namespace opens every port",
  severity: "warning",
  messages: {
    everyPort: "{{rule}} allows {{peers}} on every port of {{endpoints}} ({{direction}}): the rule has no toPorts",
  },
  check({ scenario, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    for (const { spec, rule } of ciliumPolicyRules(engine)) {
      if (!everyPort(engine, rule)) continue;
      const endpoints = endpointsOf(scenario, engine, spec, rule.direction);
      if (endpoints.length === 0) continue;
      const pods = outsidePods(scenario, spec, rule, endpoints);
      const outside = [...rule.peers.map(outsideNonPod).filter((x): x is string => x !== undefined), ...(pods.length > 0 ? [listed(pods.map((p) => p.id))] : [])];
      if (outside.length === 0) continue;
      const ports = portsToList(scenario, spec, rule, endpoints);
      report({
        messageId: "everyPort",
        data: { rule: ruleName(spec, rule), peers: outside.join(", "), endpoints: listed(endpoints.map((w) => w.id)), direction: rule.direction },
        resource: ciliumResource(spec.policy),
        workloads: endpoints.map((w) => w.id),
        file: spec.policy.file,
        line: rule.line,
        ...(ports.length > 0 ? { fix: yamlSnippet({ toPorts: [{ ports }] }) } : {}),
      });
    }
  },
});
