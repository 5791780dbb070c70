import type { Scenario } from "../analysis/scenario.js";
import { LabelSelector } from "../model/selector.js";
import type { Service, ServicePort, Workload } from "../model/types.js";
import type { Hop, Wire, WirePath } from "./types.js";

/** The hop that sends a flow to one backend pod and its targetPort. */
export function serviceHop(service: Service, port: ServicePort, backend: Workload, targetPort: number, wire: Wire): Hop {
  return {
    step: "service",
    enforcer: "service",
    direction: null,
    at: service.id,
    verdict: "allow",
    wire,
    policies: [],
    reason: `${service.id}:${port.port} → ${backend.id}:${targetPort} (DNAT to the backend pod; policies see the pod and its targetPort)`,
    misses: [],
  };
}

/** Why a Service has no backend to send to. */
export function noBackendReason(service: Service): string {
  return service.selector
    ? `no workload in namespace ${service.namespace} matches the selector {${LabelSelector.fromLabels(service.selector)}} of Service ${service.id}`
    : `Service ${service.id} has no selector: its endpoints are managed outside the manifests`;
}

/** Whether clients outside the cluster can reach the Service through a node port or load balancer. */
export function isExternallyReachable(service: Service): boolean {
  return service.type === "LoadBalancer" || service.type === "NodePort";
}

/** A flow the Service itself cannot deliver: the client's connection is refused. */
export function serviceDenied(service: Service, wire: Wire, reason: string): WirePath {
  const hop: Hop = {
    step: "service",
    enforcer: "service",
    direction: null,
    at: service.id,
    verdict: "deny",
    wire,
    policies: [{ kind: "Service", namespace: service.namespace, name: service.name, rule: null, file: service.source.file, line: service.source.line }],
    reason,
    misses: [],
    observed: "reset",
  };
  return { verdict: "denied", hops: [hop], blocked: hop, observed: "reset", assumptions: [] };
}

export function serviceBackends(scenario: Scenario, service: Service): Workload[] {
  const sel = service.selector;
  if (!sel || Object.keys(sel).length === 0) return [];
  const selector = LabelSelector.fromLabels(sel);
  return scenario.cluster.workloads.filter((w) => w.namespace === service.namespace && selector.matches(w.labels));
}

/** The container port a Service port sends to on one backend; undefined when a name does not resolve. */
export function resolveTargetPort(port: ServicePort, backend: Workload): number | undefined {
  if (typeof port.targetPort === "number") return port.targetPort;
  return backend.ports.find((p) => p.name === port.targetPort && p.protocol === port.protocol)?.port;
}

