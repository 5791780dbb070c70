/**
 * YAML builders for the objects that tests set up again and again: namespaces (plain,
 * sidecar-injected, ambient), Pods and Deployments with their container ports (optionally
 * with an injected sidecar), Services, Nodes, waypoints, Istio Sidecars and
 * PeerAuthentications, the Istio installation, NetworkPolicies, CiliumNetworkPolicies and
 * AuthorizationPolicies, and the text of the examples under examples/.
 *
 * The policy builders write the header (kind, name, namespace, selector) and take the
 * rules as the test writes them out. Every builder returns one YAML document followed by
 * `---\n`, so fixtures concatenate with `+` and with documents a test writes out in full.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Labels, annotations or a selector's matchLabels. */
export type Labels = Readonly<Record<string, string>>;

/** Namespace labels: pods get an injected Istio sidecar. */
export const sidecarInjection: Labels = { "istio-injection": "enabled" };
/** Namespace labels: pods are in the ambient mesh. */
export const ambientMode: Labels = { "istio.io/dataplane-mode": "ambient" };
/** Labels (of a namespace, Service or pod) that send its traffic through the waypoint `name`. */
export const useWaypoint = (name = "waypoint"): Labels => ({ "istio.io/use-waypoint": name });

/** A container port: its number, or the number with a name and protocol. */
export type ContainerPort = number | { readonly containerPort: number; readonly name?: string; readonly protocol?: string };

/** A Service port; `targetPort` may be a number or a container port's name. */
export interface ServicePort {
  readonly port: number;
  readonly name?: string;
  readonly targetPort?: number | string;
  readonly protocol?: string;
}

/** What a Pod or a Deployment's pod template holds besides its name. */
export interface WorkloadOptions {
  /** The pod's labels; `{app: NAME}` by default, none when empty. */
  readonly labels?: Labels;
  /** The pod's annotations. */
  readonly annotations?: Labels;
  /** The ports of the (first) container. */
  readonly ports?: readonly ContainerPort[];
  /** The environment variables of the (first) container. */
  readonly env?: Labels;
  /** The (first) container's name; `c` for a Pod, NAME for a Deployment by default. */
  readonly container?: string;
  /** The (first) container's image; its name by default. */
  readonly image?: string;
  /** The (first) container's args. */
  readonly args?: readonly string[];
  /** An injected Istio sidecar: the sidecar.istio.io/status annotation and an istio-proxy container. */
  readonly sidecar?: boolean;
  /** The pod runs in the host network. */
  readonly hostNetwork?: boolean;
}

/** A Pod's status addresses. */
export interface PodStatus {
  readonly podIP?: string;
  /** Every address of the pod (status.podIPs). */
  readonly podIPs?: readonly string[];
  readonly hostIP?: string;
}

/** A scalar as plain YAML when it reads back as the same string, else double-quoted. */
function scalar(value: string | number): string {
  if (typeof value === "number") return String(value);
  const plain = /^[A-Za-z0-9][A-Za-z0-9._/:-]*$/.test(value) && !/^(true|false|yes|no|on|off|null|~|[-+]?[0-9][0-9._:]*(e[-+]?[0-9]+)?)$/i.test(value);
  return plain ? value : JSON.stringify(value);
}

/** A flow mapping: `{a: b, c: d}`. */
function flow(entries: Readonly<Record<string, string | number>>): string {
  return `{${Object.entries(entries).map(([k, v]) => `${scalar(k)}: ${scalar(v)}`).join(", ")}}`;
}

/** A block mapping of string values at `indent`, one `key: "value"` a line. */
function block(entries: Labels, indent: string): string {
  return Object.entries(entries).map(([k, v]) => `${indent}${scalar(k)}: ${JSON.stringify(v)}\n`).join("");
}

function containerPort(p: ContainerPort): string {
  if (typeof p === "number") return flow({ containerPort: p });
  return flow({ ...(p.name === undefined ? {} : { name: p.name }), containerPort: p.containerPort, ...(p.protocol === undefined ? {} : { protocol: p.protocol }) });
}

/** The containers list of a pod spec at `indent` (the indent of `- name:`). */
function containers(name: string, o: WorkloadOptions, indent: string): string {
  const i = `${indent}  `;
  let text = `${indent}- name: ${o.container ?? name}\n${i}image: ${o.image ?? o.container ?? name}\n`;
  if (o.args) text += `${i}args: [${o.args.map(scalar).join(", ")}]\n`;
  if (o.env) text += `${i}env:\n${Object.entries(o.env).map(([k, v]) => `${i}- name: ${k}\n${i}  value: ${JSON.stringify(v)}\n`).join("")}`;
  if (o.ports?.length) text += `${i}ports:\n${o.ports.map((p) => `${i}- ${containerPort(p)}\n`).join("")}`;
  if (o.sidecar) text += `${indent}- name: istio-proxy\n${i}image: proxyv2\n`;
  return text;
}

/** The pod metadata fields after name and namespace, at `indent`. */
function podMetadata(name: string, o: WorkloadOptions, indent: string): string {
  const labels = o.labels ?? { app: name };
  const annotations = { ...(o.sidecar ? { "sidecar.istio.io/status": "{}" } : {}), ...o.annotations };
  let text = Object.keys(labels).length ? `${indent}labels: ${flow(labels)}\n` : "";
  if (Object.keys(annotations).length) text += `${indent}annotations:\n${block(annotations, `${indent}  `)}`;
  return text;
}

/** The pod spec fields before the containers, at `indent`. */
function podSpec(o: WorkloadOptions, indent: string): string {
  return o.hostNetwork ? `${indent}hostNetwork: true\n` : "";
}

/** A document's first lines: apiVersion, kind, and its name (and namespace, for namespaced kinds) under metadata. */
function head(apiVersion: string, kind: string, name: string, ns?: string): string {
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${ns === undefined ? "" : `  namespace: ${ns}\n`}`;
}

/** A Namespace with `labels` (e.g. `sidecarInjection`, `ambientMode`). */
export function namespace(name: string, labels: Labels = {}): string {
  return `${head("v1", "Namespace", name)}${Object.keys(labels).length ? `  labels: ${flow(labels)}\n` : ""}---
`;
}

/** A bare Pod `ns/name` with one container (labels `{app: name}` unless given), and its addresses when given. */
export function pod(ns: string, name: string, options: WorkloadOptions & { readonly status?: PodStatus } = {}): string {
  const o = { container: "c", ...options };
  const st = o.status;
  const status = st
    ? `status:\n${st.podIP ? `  podIP: ${st.podIP}\n` : ""}${st.podIPs ? `  podIPs:\n${st.podIPs.map((ip) => `  - {ip: ${ip}}\n`).join("")}` : ""}${st.hostIP ? `  hostIP: ${st.hostIP}\n` : ""}`
    : "";
  return `${head("v1", "Pod", name, ns)}${podMetadata(name, o, "  ")}spec:
${podSpec(o, "  ")}  containers:
${containers(name, o, "  ")}${status}---
`;
}

/** A Deployment `ns/name` selecting `{app: name}`, whose pods carry `labels` (`{app: name}` unless given). */
export function deployment(ns: string, name: string, options: WorkloadOptions = {}): string {
  return `${head("apps/v1", "Deployment", name, ns)}spec:
  selector:
    matchLabels: ${flow({ app: name })}
  template:
    metadata:
${podMetadata(name, options, "      ")}    spec:
${podSpec(options, "      ")}      containers:
${containers(name, options, "      ")}---
`;
}

/** What a Service holds besides its name and ports. */
export interface ServiceOptions {
  /** The pods it selects; `{app: name}` by default. */
  readonly selector?: Labels;
  /** ClusterIP (the default when unset), NodePort or LoadBalancer. */
  readonly type?: string;
  readonly externalTrafficPolicy?: string;
  readonly clusterIP?: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
}

/** A Service `ns/name` with `ports`, selecting `{app: name}` unless told otherwise. */
export function service(ns: string, name: string, ports: readonly ServicePort[], o: ServiceOptions = {}): string {
  const port = (p: ServicePort) =>
    flow({ ...(p.name === undefined ? {} : { name: p.name }), port: p.port, ...(p.targetPort === undefined ? {} : { targetPort: p.targetPort }), ...(p.protocol === undefined ? {} : { protocol: p.protocol }) });
  return `${head("v1", "Service", name, ns)}${o.labels ? `  labels: ${flow(o.labels)}\n` : ""}${o.annotations ? `  annotations:\n${block(o.annotations, "    ")}` : ""}spec:
${o.type ? `  type: ${o.type}\n` : ""}${o.externalTrafficPolicy ? `  externalTrafficPolicy: ${o.externalTrafficPolicy}\n` : ""}${o.clusterIP ? `  clusterIP: ${o.clusterIP}\n` : ""}  selector: ${flow(o.selector ?? { app: name })}
  ports:
${ports.map((p) => `  - ${port(p)}\n`).join("")}---
`;
}

/** A Node with an InternalIP. */
export function node(name: string, internalIP: string): string {
  return `${head("v1", "Node", name)}status:
  addresses:
  - type: InternalIP
    address: ${internalIP}
---
`;
}

/** A selector's lines at `indent`: `{}` for every pod, else its matchLabels. */
function selector(key: string, labels: Labels, indent: string): string {
  return Object.keys(labels).length ? `${indent}${key}:\n${indent}  matchLabels: ${flow(labels)}\n` : `${indent}${key}: {}\n`;
}

/** `text`, ending in a newline unless empty. */
const lines = (text: string): string => (text === "" || text.endsWith("\n") ? text : `${text}\n`);

/**
 * A NetworkPolicy `ns/name` for the pods `podSelector` matches (every pod when empty);
 * `spec` is the rest of its spec (policyTypes, ingress, egress), written out.
 */
export function networkPolicy(ns: string, name: string, podSelector: Labels, spec: string): string {
  return `${head("networking.k8s.io/v1", "NetworkPolicy", name, ns)}spec:
${selector("podSelector", podSelector, "  ")}${lines(spec)}---
`;
}

/**
 * A CiliumNetworkPolicy `ns/name` for the endpoints `endpointSelector` matches (every one
 * when empty); `spec` is the rest of its spec (ingress, egress, their deny forms), written out.
 */
export function ciliumNetworkPolicy(ns: string, name: string, endpointSelector: Labels, spec: string): string {
  return `${head("cilium.io/v2", "CiliumNetworkPolicy", name, ns)}spec:
${selector("endpointSelector", endpointSelector, "  ")}${lines(spec)}---
`;
}

/** CiliumNetworkPolicy egress rule lines admitting kube-dns (kube-system) on `ports`, the lines under `- ports:`. */
export function ciliumEgressToKubeDns(ports: string): string {
  return `  - toEndpoints:
    - matchLabels:
        io.kubernetes.pod.namespace: kube-system
        k8s-app: kube-dns
    toPorts:
    - ports:
${lines(ports)}`;
}

/**
 * An Istio AuthorizationPolicy `ns/name` with `action` (ALLOW, DENY, …) for the pods
 * `podSelector` matches (the whole namespace when empty); `rules` are the lines under `rules:`.
 */
export function authorizationPolicy(ns: string, name: string, podSelector: Labels, action: string, rules: string): string {
  return `${head("security.istio.io/v1", "AuthorizationPolicy", name, ns)}spec:
${Object.keys(podSelector).length ? selector("selector", podSelector, "  ") : ""}  action: ${action}
  rules:
${lines(rules)}---
`;
}

/** An Istio PeerAuthentication `ns/name` setting the namespace's mTLS `mode` (STRICT, PERMISSIVE, DISABLE). */
export function peerAuthentication(ns: string, name: string, mode: string): string {
  return `${head("security.istio.io/v1", "PeerAuthentication", name, ns)}spec:
  mtls:
    mode: ${mode}
---
`;
}

/** An Istio waypoint (a Gateway of class istio-waypoint) in `ns` for `trafficFor` (service, workload, all). */
export function waypoint(ns: string, { name = "waypoint", trafficFor = "service" }: { name?: string; trafficFor?: string } = {}): string {
  return `${head("gateway.networking.k8s.io/v1", "Gateway", name, ns)}  labels:
    istio.io/waypoint-for: ${trafficFor}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
---
`;
}

/**
 * An Istio Sidecar resource `ns/name` (default `egress`) with outboundTrafficPolicy `mode`
 * (REGISTRY_ONLY or ALLOW_ANY) and, when `hosts` are given, one egress listener importing them.
 */
export function istioSidecar(ns: string, mode: string, { hosts, name = "egress" }: { hosts?: readonly string[]; name?: string } = {}): string {
  return `${head("networking.istio.io/v1", "Sidecar", name, ns)}spec:
  outboundTrafficPolicy:
    mode: ${mode}
${hosts ? `  egress:\n  - hosts:\n${hosts.map((h) => `    - ${JSON.stringify(h)}\n`).join("")}` : ""}---
`;
}

/** The mesh-wide configuration: ConfigMap istio-system/istio with `mesh` (MeshConfig YAML) as its `mesh` key. */
export function istioMeshConfig(mesh: string): string {
  return `${head("v1", "ConfigMap", "istio", "istio-system")}data:
  mesh: |
${mesh.replace(/\n$/, "").split("\n").map((l) => `    ${l}`).join("\n")}
---
`;
}

/**
 * The Istio control plane: namespace istio-system, Deployment istiod (xDS 15010, 15012,
 * webhook 15017) and its Service (15010, 15012); with the mesh ConfigMap when `mesh` is given.
 */
export function istioInstallation({ mesh }: { mesh?: string } = {}): string {
  return (
    namespace("istio-system") +
    deployment("istio-system", "istiod", { labels: { app: "istiod", istio: "pilot" }, container: "discovery", image: "pilot", ports: [15010, 15012, 15017] }) +
    service("istio-system", "istiod", [
      { name: "grpc-xds", port: 15010 },
      { name: "https-dns", port: 15012 },
    ]) +
    (mesh === undefined ? "" : istioMeshConfig(mesh))
  );
}

const examples = join(import.meta.dirname, "..", "..", "examples");

/** One file of examples/`example`, e.g. `exampleFile("seed-nats", "cluster/namespaces.yaml")`. */
export function exampleFile(example: string, file: string): string {
  return readFileSync(join(examples, example, file), "utf8");
}

/** Every YAML file of examples/`example` but expected.yaml, in path order, as one stream. */
export function exampleText(example: string): string {
  const files = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith(".yaml") && e.name !== "expected.yaml" ? [join(d, e.name)] : []));
  return files(join(examples, example)).sort().map((f) => readFileSync(f, "utf8")).join("\n---\n");
}
