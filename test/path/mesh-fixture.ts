/**
 * A small mesh for the wire-path behaviour tests: one client and one server pod
 * in each data-plane mode, an Istio ingress gateway behind a LoadBalancer, and
 * two nodes. Every pod has its address and its node's, so hops can be asserted
 * down to the wire tuple. Tests add policies as extra YAML documents.
 *
 *   namespace   mode                          client            server
 *   amb         ambient (namespace label)     10.1.0.11 (sa client)  10.1.0.12 (sa server)
 *   side        sidecar (istio-injection)     10.2.0.11              10.2.0.12
 *   plain       none                          10.3.0.11              10.3.0.12
 *   istio-system  ingress gateway pod 10.4.0.11 (sa istio-ingressgateway; 8080 http2,
 *                 8443 https, 8081 tcp-db), egress gateway pod 10.4.0.12 (8081 tcp-db),
 *                 istiod 10.4.0.2
 *
 * Servers listen on 8080 (`tcp-app`, plain TCP), 9080 (`http-web`, HTTP) and
 * 5353/UDP. Each namespace has a Service `server`: 80 (`http`) → 9080 and
 * 8080 (`tcp`) → 8080. Nodes: 10.0.0.1 (clients), 10.0.0.2 (servers).
 */
import { reach, type ReachRequest, type ReachResult } from "../../src/analysis/reach.js";
import type { Scenario } from "../../src/analysis/scenario.js";
import { scenarioFromYaml } from "../helpers/cluster.js";

export const NODE_A = "10.0.0.1";
export const NODE_B = "10.0.0.2";

export const IP = {
  "amb/client": "10.1.0.11",
  "amb/server": "10.1.0.12",
  "amb/other": "10.1.0.14",
  "side/client": "10.2.0.11",
  "side/server": "10.2.0.12",
  "plain/client": "10.3.0.11",
  "plain/server": "10.3.0.12",
  "istio-system/istio-ingressgateway": "10.4.0.11",
  "istio-system/istio-egressgateway": "10.4.0.12",
  "istio-system/istiod": "10.4.0.2",
} as const;

function ns(name: string, labels: Record<string, string> = {}): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${name}${l ? `, labels: {${l}}` : ""}}
`;
}

function node(name: string, ip: string): string {
  return `apiVersion: v1
kind: Node
metadata: {name: ${name}}
status:
  addresses: [{type: InternalIP, address: ${ip}}]
`;
}

function client(namespace: string, name = "client", ip: string = IP[`${namespace}/client` as keyof typeof IP]): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {app: ${name}}}
spec:
  serviceAccountName: ${name}
  containers: [{name: main, image: curl}]
status: {podIP: ${ip}, hostIP: ${NODE_A}}
`;
}

function server(namespace: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: server, namespace: ${namespace}, labels: {app: server}}
spec:
  serviceAccountName: server
  containers:
  - name: main
    image: app
    ports:
    - {name: tcp-app, containerPort: 8080}
    - {name: http-web, containerPort: 9080}
    - {name: dns-udp, containerPort: 5353, protocol: UDP}
status: {podIP: ${IP[`${namespace}/server` as keyof typeof IP]}, hostIP: ${NODE_B}}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: ${namespace}}
spec:
  clusterIP: ${namespace === "amb" ? "10.96.1.1" : namespace === "side" ? "10.96.2.1" : "10.96.3.1"}
  selector: {app: server}
  ports:
  - {name: http, port: 80, targetPort: 9080}
  - {name: tcp, port: 8080, targetPort: 8080}
`;
}

const GATEWAY = `apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway
  namespace: istio-system
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  serviceAccountName: istio-ingressgateway
  containers:
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.26.0
    args: [proxy, router]
    ports:
    - {name: http2, containerPort: 8080}
    - {name: https, containerPort: 8443}
    - {name: tcp-db, containerPort: 8081}
status: {podIP: ${IP["istio-system/istio-ingressgateway"]}, hostIP: ${NODE_B}}
---
apiVersion: v1
kind: Pod
metadata:
  name: istio-egressgateway
  namespace: istio-system
  labels: {app: istio-egressgateway, istio: egressgateway}
spec:
  serviceAccountName: istio-egressgateway
  containers:
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.26.0
    args: [proxy, router]
    ports: [{name: tcp-db, containerPort: 8081}]
status: {podIP: ${IP["istio-system/istio-egressgateway"]}, hostIP: ${NODE_A}}
---
apiVersion: v1
kind: Pod
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  containers:
  - name: discovery
    image: pilot
    ports: [{containerPort: 15012}, {containerPort: 15017}]
status: {podIP: ${IP["istio-system/istiod"]}, hostIP: ${NODE_A}}
`;

/** The ingress gateway's LoadBalancer Service with the given externalTrafficPolicy. */
export function gatewayService(externalTrafficPolicy: "Local" | "Cluster"): string {
  return `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  type: LoadBalancer
  clusterIP: 10.96.4.1
  externalTrafficPolicy: ${externalTrafficPolicy}
  selector: {app: istio-ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
  - {name: tcp-db, port: 5432, targetPort: 8081}
`;
}

export const BASE: readonly string[] = [
  ns("amb", { "istio.io/dataplane-mode": "ambient" }),
  ns("side", { "istio-injection": "enabled" }),
  ns("plain"),
  ns("istio-system"),
  node("node-a", NODE_A),
  node("node-b", NODE_B),
  client("amb"),
  server("amb"),
  client("side"),
  server("side"),
  client("plain"),
  server("plain"),
  GATEWAY,
];

/** A second ambient client, for "another identity" cases. */
export const AMB_OTHER = client("amb", "other", IP["amb/other"]);

/**
 * The waypoint of namespace `amb`: a Gateway of class istio-waypoint and the pod
 * istiod runs for it (10.1.0.13, service account waypoint), and a Service
 * `reviews` (80 → 9080, 8080 → 8080) bound to it with istio.io/use-waypoint.
 */
export const WAYPOINT_IP = "10.1.0.13";
export const WAYPOINT = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: amb, labels: {istio.io/waypoint-for: service}}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
---
apiVersion: v1
kind: Pod
metadata:
  name: waypoint
  namespace: amb
  labels: {gateway.networking.k8s.io/gateway-name: waypoint, gateway.istio.io/managed: istio.io-mesh-controller}
spec:
  serviceAccountName: waypoint
  containers:
  - name: istio-proxy
    image: docker.io/istio/proxyv2:1.26.0
    args: [proxy, waypoint]
    ports: [{name: mesh, containerPort: 15008}]
status: {podIP: ${WAYPOINT_IP}, hostIP: ${NODE_A}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: amb, labels: {istio.io/use-waypoint: waypoint}}
spec:
  clusterIP: 10.96.1.2
  selector: {app: server}
  ports:
  - {name: http, port: 80, targetPort: 9080}
  - {name: tcp, port: 8080, targetPort: 8080}
`;

/** A NetworkPolicy, written out. `spec` is YAML indented by two spaces. */
export function netpol(namespace: string, name: string, spec: string): string {
  return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}
`;
}

/** Deny all ingress to every pod of a namespace. */
export const denyIngress = (namespace: string): string => netpol(namespace, "deny-ingress", "  podSelector: {}\n  policyTypes: [Ingress]");

/** PeerAuthentication for a namespace. */
export function peerAuthn(namespace: string, mode: "STRICT" | "PERMISSIVE" | "DISABLE", name = "default"): string {
  return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  mtls: {mode: ${mode}}
`;
}

/** An AuthorizationPolicy; `spec` is YAML indented by two spaces. */
export function authz(namespace: string, name: string, spec: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}
`;
}

export async function mesh(...extra: string[]): Promise<Scenario> {
  return scenarioFromYaml([...BASE, ...extra].join("---\n"), { file: "mesh.yaml" });
}

/** `reach` on the fixture plus `extra` documents. */
export async function reachIn(extra: readonly string[], req: ReachRequest): Promise<ReachResult> {
  return reach(await mesh(...extra), req);
}

/** The full fixture text with `extra` documents, for CLI tests. */
export function meshText(...extra: string[]): string {
  return [...BASE, ...extra].join("---\n");
}

/** The hops as `step:enforcer@at:wirePort`, for asserting a path's shape in one line. */
export function seq(r: ReachResult): string[] {
  return r.hops.map((h) => `${h.step}:${h.enforcer}@${h.at}:${h.wire.port}`);
}

/** The one hop of `step` at `at` (and `enforcer`, when given); throws with the sequence when absent or repeated. */
export function hop(r: ReachResult, step: string, at: string, enforcer?: string): ReachResult["hops"][number] {
  const found = r.hops.filter((h) => h.step === step && h.at === at && (enforcer === undefined || h.enforcer === enforcer));
  if (found.length !== 1) throw new Error(`expected one ${step} hop at ${at}, found ${found.length}: ${seq(r).join(" → ")}`);
  return found[0]!;
}
