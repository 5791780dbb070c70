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
import { ciliumEngine, ciliumResource, endpointsOf, isCiliumKind, listOf, podsMatchedBy, ruleName, yamlSnippet } from "../facts/cilium.js";

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

/** What of a peer part lies outside the namespace of some endpoint, for people; undefined when nothing does. */
function outsidePeers(scenario: Scenario, spec: CiliumSpec, rule: CiliumRule, part: PeerPart, endpoints: readonly Workload[]): string | undefined {
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
    case "service": {
      const pods = podsMatchedBy(scenario, spec, rule, part).filter((p) => !isDnsServer(p) && endpoints.some((e) => e.namespace !== p.namespace));
      return pods.length > 0 ? listOf(pods.map((p) => p.id)) : undefined;
    }
    case "node":
    case "unresolved":
      return undefined;
  }
}

/** The ports the destination side declares: the endpoints' own for ingress, the peers' for egress. */
function declaredPorts(workloads: readonly Workload[]): { port: string; protocol: string }[] {
  const seen = new Map<string, { port: string; protocol: string }>();
  for (const w of workloads) for (const p of w.ports) seen.set(`${p.protocol}/${p.port}`, { port: String(p.port), protocol: p.protocol });
  return [...seen.values()];
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
    for (const spec of engine.specs) {
      if (!isCiliumKind(spec.policy)) continue;
      for (const rule of spec.rules) {
        if (!everyPort(engine, rule)) continue;
        const endpoints = endpointsOf(scenario, engine, spec, rule.direction);
        if (endpoints.length === 0) continue;
        const outside = rule.peers.map((part) => outsidePeers(scenario, spec, rule, part, endpoints)).filter((x): x is string => x !== undefined);
        if (outside.length === 0) continue;
        const podPeers = rule.peers.flatMap((part) => (part.type === "selector" || part.type === "service" ? podsMatchedBy(scenario, spec, rule, part) : []));
        const onlyPods = rule.peers.every((part) => part.type === "selector" || part.type === "service");
        // Ports are knowable where the serving side is in the input: the endpoints on ingress, pod peers on egress.
        const ports = rule.direction === "ingress" ? declaredPorts(endpoints) : onlyPods ? declaredPorts(podPeers) : [];
        report({
          messageId: "everyPort",
          data: { rule: ruleName(spec, rule), peers: outside.join(", "), endpoints: listOf(endpoints.map((w) => w.id)), direction: rule.direction },
          resource: ciliumResource(spec.policy),
          workloads: endpoints.map((w) => w.id),
          file: spec.policy.file,
          line: rule.line,
          ...(ports.length > 0 && !rule.ports ? { fix: yamlSnippet({ toPorts: [{ ports }] }) } : {}),
        });
      }
    }
  },
});
