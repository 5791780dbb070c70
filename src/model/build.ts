import { InputDiagnostic, type Manifest } from "../load/types.js";
import { isProtocol, type Protocol } from "../sets/index.js";
import { FieldReader, describe } from "./fields.js";
import type { Labels } from "./selector.js";
import { TEMPLATE_PATH } from "./pod-template.js";
import {
  NAMESPACE_NAME_LABEL,
  WORKLOAD_KINDS,
  type Cluster,
  type ContainerPort,
  type Namespace,
  type Service,
  type ServicePort,
  type Workload,
  type WorkloadKind,
} from "./types.js";

export const CLUSTER_KINDS = new Set<string>(["Namespace", "Service", ...WORKLOAD_KINDS]);

export interface BuiltCluster {
  cluster: Cluster;
  diagnostics: InputDiagnostic[];
  /** Facts the output should state, such as namespaces that were assumed. */
  notes: string[];
}

/**
 * Builds the cluster model from Namespaces, Services and workloads. Objects of
 * other kinds are ignored here (the layers read their own). `referencedNamespaces`
 * are namespaces other objects live in (policies, for instance); an undeclared
 * one is created with the label the API server would give it.
 */
export function buildCluster(manifests: readonly Manifest[], referencedNamespaces: Iterable<string> = []): BuiltCluster {
  const diagnostics: InputDiagnostic[] = [];
  const notes: string[] = [];
  const namespaces = new Map<string, Namespace>();
  const workloads = new Map<string, Workload>();
  const services: Service[] = [];
  const pods: Manifest[] = [];
  const controllers: Manifest[] = [];

  for (const m of manifests) {
    if (m.kind === "Namespace") readNamespace(m, namespaces, diagnostics);
    else if (m.kind === "Service") {
      const r = new FieldReader(m);
      const svc = readService(r);
      diagnostics.push(...r.diagnostics);
      if (svc) services.push(svc);
    } else if (m.kind === "Pod") pods.push(m);
    else if ((WORKLOAD_KINDS as readonly string[]).includes(m.kind)) controllers.push(m);
  }

  // Controllers first, so that pods (and ReplicaSets) owned by them collapse into them.
  const byOwner = new Map<string, Workload>();
  for (const m of controllers) {
    const owner = controllerOwner(m);
    // A ReplicaSet or Job created by a Deployment or CronJob collapses into its owner when present.
    if (owner && controllers.some((c) => c.kind === owner.kind && c.name === owner.name && ns(c) === ns(m))) continue;
    const r = new FieldReader(m);
    const w = readWorkload(r, m.kind as WorkloadKind, TEMPLATE_PATH[m.kind as Exclude<WorkloadKind, "Pod">]);
    diagnostics.push(...r.diagnostics);
    if (!w) continue;
    addWorkload(workloads, w, diagnostics);
    byOwner.set(`${m.kind}/${w.namespace}/${w.name}`, w);
  }
  for (const m of controllers) {
    const owner = controllerOwner(m);
    const target = owner && byOwner.get(`${owner.kind}/${ns(m)}/${owner.name}`);
    if (target) byOwner.set(`${m.kind}/${ns(m)}/${m.name}`, target);
  }

  for (const m of pods) {
    const r = new FieldReader(m);
    const w = readWorkload(r, "Pod", []);
    diagnostics.push(...r.diagnostics);
    if (!w) continue;
    const owner = controllerOwner(m);
    if (owner) {
      const existing = byOwner.get(`${owner.kind}/${w.namespace}/${owner.name}`);
      if (existing) {
        mergePod(existing, w);
        continue;
      }
      // The controller itself is not in the input: name the workload after it, as
      // `kubectl get pods -o yaml` output would be read by a person.
      const { kind, name } = ownerWorkloadName(owner, w.labels);
      const key = `${kind}/${w.namespace}/${name}`;
      const collapsed = byOwner.get(key);
      if (collapsed) {
        mergePod(collapsed, w);
        continue;
      }
      const renamed: Workload = { ...w, kind, name, id: `${w.namespace}/${name}` };
      addWorkload(workloads, renamed, diagnostics);
      byOwner.set(key, renamed);
      continue;
    }
    addWorkload(workloads, w, diagnostics);
  }

  const wanted = new Set<string>(referencedNamespaces);
  for (const w of workloads.values()) wanted.add(w.namespace);
  for (const s of services) wanted.add(s.namespace);
  const implicit = [...wanted].filter((n) => !namespaces.has(n)).sort();
  for (const name of implicit) {
    namespaces.set(name, { name, labels: { [NAMESPACE_NAME_LABEL]: name }, declared: false });
  }
  if (implicit.length > 0) {
    notes.push(
      `namespace${implicit.length > 1 ? "s" : ""} ${implicit.join(", ")} not declared: assumed to exist with only the label ${NAMESPACE_NAME_LABEL}`,
    );
  }

  return {
    cluster: {
      namespaces,
      workloads: [...workloads.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.kind < b.kind ? -1 : 1)),
      services,
    },
    diagnostics,
    notes,
  };
}

function ns(m: Manifest): string {
  return m.namespace ?? "default";
}

function readNamespace(m: Manifest, namespaces: Map<string, Namespace>, diagnostics: InputDiagnostic[]): void {
  const r = new FieldReader(m);
  const labels = r.stringMap(["metadata", "labels"]);
  diagnostics.push(...r.diagnostics);
  if (!m.name) {
    r.error(["metadata", "name"], "a Namespace needs a name");
    diagnostics.push(...r.diagnostics);
    return;
  }
  // The API server sets this label on every namespace and it cannot be changed.
  namespaces.set(m.name, { name: m.name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: m.name }, declared: true, source: m.source });
}

interface OwnerRef {
  kind: string;
  name: string;
}

/** Kinds that create pods (or ReplicaSets/Jobs): the only owners a workload collapses into. */
const CONTROLLER_KINDS: ReadonlySet<string> = new Set(WORKLOAD_KINDS.filter((k) => k !== "Pod"));

/**
 * The owner a pod (or a ReplicaSet/Job) collapses into. Owners that are not workload
 * controllers are ignored: a static (mirror) pod is owned by its Node, an operator's
 * objects by a custom resource; such pods stay bare Pods with their own names.
 */
function controllerOwner(m: Manifest): OwnerRef | undefined {
  const refs = (m.raw.metadata as { ownerReferences?: unknown } | undefined)?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const refsTyped = refs.filter((x): x is { kind: string; name: string; controller?: boolean } => {
    return !!x && typeof x === "object" && typeof x.kind === "string" && typeof x.name === "string" && CONTROLLER_KINDS.has(x.kind);
  });
  const ref = refsTyped.find((x) => x.controller === true) ?? refsTyped[0];
  return ref && { kind: ref.kind, name: ref.name };
}

/** A ReplicaSet named `web-5d9c7b8f6` with pod-template-hash `5d9c7b8f6` belongs to Deployment `web`. */
function ownerWorkloadName(owner: OwnerRef, labels: Labels): { kind: WorkloadKind; name: string } {
  const hash = labels["pod-template-hash"];
  if (owner.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`)) {
    return { kind: "Deployment", name: owner.name.slice(0, -hash.length - 1) };
  }
  if (owner.kind === "Job" && /-\d{8,}$/.test(owner.name)) {
    return { kind: "CronJob", name: owner.name.replace(/-\d{8,}$/, "") };
  }
  const kind = (WORKLOAD_KINDS as readonly string[]).includes(owner.kind) ? (owner.kind as WorkloadKind) : "Pod";
  return { kind, name: owner.name };
}

function mergePod(into: Workload, pod: Workload): void {
  const mutable = into as { ips: readonly string[]; hostIPs: readonly string[] };
  mutable.ips = [...new Set([...into.ips, ...pod.ips])];
  mutable.hostIPs = [...new Set([...into.hostIPs, ...pod.hostIPs])];
}

function addWorkload(workloads: Map<string, Workload>, w: Workload, diagnostics: InputDiagnostic[]): void {
  const key = `${w.kind}/${w.id}`;
  if (workloads.has(key)) {
    diagnostics.push(new InputDiagnostic("warning", `${w.kind} ${w.id} is defined more than once; the last definition wins`, w.source));
  }
  workloads.set(key, w);
}

function readWorkload(r: FieldReader, kind: WorkloadKind, template: readonly string[]): Workload | undefined {
  const m = r.manifest;
  if (!m.name) return r.error(["metadata", "name"], `a ${kind} needs a name`);
  const namespace = ns(m);
  const podMeta = kind === "Pod" ? ["metadata"] : [...template, "metadata"];
  const podSpec = kind === "Pod" ? ["spec"] : [...template, "spec"];
  if (kind !== "Pod" && r.object(template) === undefined) {
    return r.error(template, `a ${kind} needs a pod template`);
  }
  const labels = r.stringMap([...podMeta, "labels"]);
  const annotations = r.stringMap([...podMeta, "annotations"]);
  const ports: ContainerPort[] = [];
  for (const list of ["initContainers", "containers"]) {
    (r.array([...podSpec, list]) ?? []).forEach((_, ci) => {
      (r.array([...podSpec, list, ci, "ports"]) ?? []).forEach((__, pi) => {
        const p = [...podSpec, list, ci, "ports", pi];
        const port = r.integer([...p, "containerPort"]);
        const protocol = r.string([...p, "protocol"]) ?? "TCP";
        const name = r.string([...p, "name"]);
        if (port === undefined) return void r.error([...p, "containerPort"], "a container port needs containerPort");
        if (port < 1 || port > 65535) return void r.error([...p, "containerPort"], `port ${port} is out of range 1-65535`);
        if (!isProtocol(protocol)) return void r.error([...p, "protocol"], `unknown protocol ${describe(protocol)} (expected TCP, UDP or SCTP)`);
        ports.push({ port, protocol, ...(name ? { name } : {}) });
      });
    });
  }
  const status = r.object(["status"]);
  const ips = new Set<string>();
  if (kind === "Pod" && status) {
    const podIP = r.string(["status", "podIP"]);
    if (podIP) ips.add(podIP);
    for (const entry of r.array(["status", "podIPs"]) ?? []) {
      const ip = (entry as { ip?: unknown } | null)?.ip;
      if (typeof ip === "string") ips.add(ip);
    }
  }
  const hostIP = kind === "Pod" ? r.string(["status", "hostIP"]) : undefined;
  return {
    id: `${namespace}/${m.name}`,
    kind,
    namespace,
    name: m.name,
    labels,
    annotations,
    ports,
    serviceAccount: r.string([...podSpec, "serviceAccountName"]) ?? r.string([...podSpec, "serviceAccount"]) ?? "default",
    hostNetwork: r.boolean([...podSpec, "hostNetwork"]) ?? false,
    ips: [...ips],
    hostIPs: hostIP ? [hostIP] : [],
    source: m.source,
    manifest: m,
  };
}

function readService(r: FieldReader): Service | undefined {
  const m = r.manifest;
  if (!m.name) return r.error(["metadata", "name"], "a Service needs a name");
  const namespace = ns(m);
  const hasSelector = r.get(["spec", "selector"]) !== undefined && r.get(["spec", "selector"]) !== null;
  const selector = hasSelector ? r.stringMap(["spec", "selector"]) : undefined;
  const ports: ServicePort[] = [];
  (r.array(["spec", "ports"]) ?? []).forEach((_, i) => {
    const p = ["spec", "ports", i];
    const port = r.integer([...p, "port"]);
    if (port === undefined) return void r.error([...p, "port"], "a Service port needs port");
    const protocol = r.string([...p, "protocol"]) ?? "TCP";
    if (!isProtocol(protocol)) return void r.error([...p, "protocol"], `unknown protocol ${describe(protocol)} (expected TCP, UDP or SCTP)`);
    if (port < 1 || port > 65535) return void r.error([...p, "port"], `port ${port} is out of range 1-65535`);
    const name = r.string([...p, "name"]);
    const appProtocol = r.string([...p, "appProtocol"]);
    const nodePort = r.integer([...p, "nodePort"]);
    // SetDefaults_Service: an absent, 0 or "" targetPort is the port itself.
    const rawTarget = r.get([...p, "targetPort"]);
    const defaulted = rawTarget === undefined || rawTarget === null || rawTarget === 0 || rawTarget === "";
    // validateServicePort: a number in range or a valid port name ("8080" quoted is a name, and an invalid one).
    const targetPort = defaulted ? port : r.portNumberOrName([...p, "targetPort"]);
    if (targetPort === undefined) return;
    ports.push({
      port,
      protocol: protocol as Protocol,
      targetPort,
      ...(name ? { name } : {}),
      ...(appProtocol ? { appProtocol } : {}),
      ...(nodePort !== undefined ? { nodePort } : {}),
    });
  });
  const clusterIPs = new Set<string>();
  const clusterIP = r.string(["spec", "clusterIP"]);
  if (clusterIP && clusterIP !== "None") clusterIPs.add(clusterIP);
  for (const ip of r.array(["spec", "clusterIPs"]) ?? []) if (typeof ip === "string" && ip !== "None") clusterIPs.add(ip);
  const etp = r.string(["spec", "externalTrafficPolicy"]);
  const type = r.string(["spec", "type"]) ?? "ClusterIP";
  // The API server rejects the whole Service when a field is invalid: it is reported and left out.
  if (r.hasErrors) return undefined;
  return {
    id: `${namespace}/${m.name}`,
    namespace,
    name: m.name,
    selector,
    type,
    ports,
    clusterIPs: [...clusterIPs],
    externalTrafficPolicy: etp === "Local" ? "Local" : "Cluster",
    source: m.source,
    manifest: m,
  };
}
