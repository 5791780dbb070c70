/**
 * An AuthorizationPolicy that tells clients apart by address, on a workload
 * published through a NodePort/LoadBalancer Service with externalTrafficPolicy
 * Cluster: kube-proxy replaces the client's address with a node address before
 * the proxy sees it, so every outside client gets the node's answer.
 *
 * Decided on the wire path: the Service is traced from addresses the list names
 * (and one it does not) as if it kept the client's address (Local); when those
 * answers differ because of this policy, the list means something, and the
 * Cluster trace shows which single answer every client gets instead.
 */
import type { Scenario } from "../../analysis/scenario.js";
import type { AuthorizationPolicy } from "../../layers/istio/authorization.js";
import type { Service, ServicePort, Workload } from "../../model/types.js";
import { resolveTargetPort, traceFlow, type WirePath } from "../../path/index.js";
import {
  addressConditions,
  attachedWorkloads,
  authzResource,
  clusterPolicyServicesOf,
  enforcedSelectorPolicies,
  isProxyPort,
  policyLine,
  probeAddresses,
} from "../facts/istio.js";
import { createRule } from "../rule.js";

function pathTo(paths: readonly WirePath[], w: Workload): WirePath | undefined {
  return paths.find((p) => p.hops.some((h) => h.at === w.id));
}

function deniedBy(path: WirePath, p: AuthorizationPolicy): boolean {
  return path.blocked?.step === "authorization" && path.blocked.policies.some((r) => r.kind === "AuthorizationPolicy" && r.namespace === p.namespace && r.name === p.name);
}

/** The port's answers for each probe address, as if the Service kept the client's address. */
function answersWithClientAddress(scenario: Scenario, service: Service, port: ServicePort, w: Workload, probes: readonly string[]): { ip: string; path: WirePath }[] {
  const keepsClient: Service = { ...service, externalTrafficPolicy: "Local" };
  const out: { ip: string; path: WirePath }[] = [];
  for (const ip of probes) {
    const path = pathTo(traceFlow(scenario, { kind: "external", ip }, { kind: "service", service: keepsClient, port }, { protocol: port.protocol, port: port.port }), w);
    if (path) out.push({ ip, path });
  }
  return out;
}

export default createRule({
  id: "istio-ipblocks-behind-cluster-snat",
  description: "An AuthorizationPolicy matches client addresses behind a Service whose externalTrafficPolicy Cluster replaces them with a node address",
  severity: "error",
  messages: {
    admitsEveryone:
      "{{policy}} matches clients by {{field}}, but Service {{service}} has externalTrafficPolicy Cluster: {{workload}} sees node address {{node}}, not the client's, so every outside client is admitted (e.g. {{example}}, which the list refuses){{remote}}",
    refusesEveryone:
      "{{policy}} matches clients by {{field}}, but Service {{service}} has externalTrafficPolicy Cluster: {{workload}} sees node address {{node}}, not the client's, so every outside client is refused (e.g. {{example}}, which the list admits){{remote}}",
    sameForEveryone:
      "{{policy}} matches clients by {{field}}, but Service {{service}} has externalTrafficPolicy Cluster: {{workload}} sees a node address, not the client's, so every outside client gets the answer for that node address (the input gives none){{remote}}",
  },
  check({ scenario, report }) {
    if (!scenario.mesh) return;
    const node = scenario.nodeAddresses[0];
    for (const policy of enforcedSelectorPolicies(scenario.mesh)) {
      const workloads = attachedWorkloads(scenario, policy);
      if (workloads.length === 0) continue;
      for (const rule of policy.rules) {
        const conditions = addressConditions(rule);
        if (conditions.length === 0) continue;
        const probes = probeAddresses(conditions.flatMap((c) => c.values));
        const services = [...new Set(workloads.flatMap((w) => clusterPolicyServicesOf(scenario, w)))];
        for (const service of services) {
          const backends = workloads.filter((w) => clusterPolicyServicesOf(scenario, w).includes(service));
          const found = findMismatch(scenario, policy, service, applicationPortsFirst(service, backends[0]!), backends, probes, node);
          if (!found) continue;
          const first = conditions[0]!;
          const remote = conditions.some((c) => c.field.toLowerCase().includes("remote"))
            ? "; remoteIpBlocks and remote.ip see the client only through X-Forwarded-For with numTrustedProxies, which is not modelled (without a trusted proxy they see the connection's address)"
            : "";
          report({
            messageId: found.messageId,
            data: {
              policy: `AuthorizationPolicy ${policy.namespace}/${policy.name}`,
              field: first.field,
              service: service.id,
              workload: found.workload.id,
              node: node ?? "",
              example: found.example,
              remote,
            },
            resource: authzResource(policy),
            workloads: backends.map((w) => w.id),
            file: policy.file,
            line: policyLine(scenario, policy, first.path),
            fix: `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${service.name}\n  namespace: ${service.namespace}\nspec:\n  externalTrafficPolicy: Local\n`,
          });
        }
      }
    }
  },
});

/** The Service's TCP ports, those the proxy serves itself (status, stats) last. */
function applicationPortsFirst(service: Service, backend: Workload): ServicePort[] {
  const own = (p: ServicePort): number => Number(isProxyPort(resolveTargetPort(p, backend) ?? p.port));
  return service.ports.filter((p) => p.protocol === "TCP").sort((a, b) => own(a) - own(b));
}

type Mismatch = { messageId: "admitsEveryone" | "refusesEveryone" | "sameForEveryone"; workload: Workload; example: string };

function findMismatch(
  scenario: Scenario,
  policy: AuthorizationPolicy,
  service: Service,
  ports: readonly ServicePort[],
  backends: readonly Workload[],
  probes: readonly string[],
  node: string | undefined,
): Mismatch | undefined {
  for (const port of ports) {
    for (const w of backends) {
      const answers = answersWithClientAddress(scenario, service, port, w, probes);
      const admitted = answers.find((a) => a.path.verdict === "allowed");
      const refused = answers.find((a) => deniedBy(a.path, policy));
      // The list tells these clients apart only if one passes and this policy refuses another.
      if (!admitted || !refused) continue;
      if (!node) return { messageId: "sameForEveryone", workload: w, example: "" };
      const asNode = pathTo(traceFlow(scenario, { kind: "external", ip: refused.ip }, { kind: "service", service, port }, { protocol: port.protocol, port: port.port }), w);
      if (!asNode) continue;
      if (asNode.verdict === "allowed") return { messageId: "admitsEveryone", workload: w, example: refused.ip };
      // Refused for another reason (a NetworkPolicy on node traffic): not this policy's doing.
      const viaNode = pathTo(traceFlow(scenario, { kind: "external", ip: admitted.ip }, { kind: "service", service, port }, { protocol: port.protocol, port: port.port }), w);
      if (viaNode && deniedBy(viaNode, policy)) return { messageId: "refusesEveryone", workload: w, example: admitted.ip };
    }
  }
  return undefined;
}
