/**
 * Ambient waypoints: Gateway API Gateways of class `istio-waypoint`, and which one
 * (if any) a flow to a Service or to a workload traverses (semantics.md §5.1 r3–r4,
 * §5.5 r17–r18). Binding follows istio `pilot/pkg/serviceregistry/ambient/waypoints.go`:
 *
 * - `istio.io/use-waypoint` on the object itself (Pod, Service, ServiceEntry) is used
 *   first; only when the object has none does the Namespace's label apply. The value
 *   `none` opts out. `istio.io/use-waypoint-namespace` (on the same object) names the
 *   waypoint's namespace; by default it is the object's namespace.
 * - An object label naming a waypoint that does not exist gives no waypoint; it does
 *   not fall back to the namespace label.
 * - `istio.io/waypoint-for` on the Gateway (else its GatewayClass; default `service`)
 *   says what it serves: a Service needs `service`/`all`, a workload `workload`/`all`.
 *   A namespace-inherited service-only waypoint is silently not used for workloads.
 * - The waypoint's HBONE listener `allowedRoutes.namespaces` (default Same) decides
 *   from which namespaces objects may bind to it.
 */
import { InputDiagnostic, type Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import { LabelSelector, type Labels } from "../../model/selector.js";
import type { Namespace, Service, Workload } from "../../model/types.js";
import type { MeshMode } from "./membership.js";

export const LABEL_USE_WAYPOINT = "istio.io/use-waypoint";
export const LABEL_USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace";
export const LABEL_WAYPOINT_FOR = "istio.io/waypoint-for";
export const LABEL_INGRESS_USE_WAYPOINT = "istio.io/ingress-use-waypoint";
export const WAYPOINT_CLASS = "istio-waypoint";

export type WaypointTraffic = "service" | "workload" | "all" | "none";

export interface Waypoint {
  namespace: string;
  name: string;
  gatewayClassName: string;
  /** What the waypoint serves, and where that came from. */
  trafficType: WaypointTraffic;
  trafficTypeSource: "Gateway label" | "GatewayClass label" | "default";
  /** From which namespaces objects may bind to it (HBONE listener `allowedRoutes.namespaces`). */
  allowedRoutes: { from: "Same" | "All" | "Selector"; selector?: LabelSelector };
  file: string;
  line: number;
  manifest: Manifest;
}

export interface WaypointScan {
  waypoints: Waypoint[];
  diagnostics: InputDiagnostic[];
}

function isGatewayApi(m: Manifest, kind: string): boolean {
  return m.kind === kind && m.apiVersion.startsWith("gateway.networking.k8s.io/");
}

function metaLabels(m: Manifest): Labels {
  const labels = (m.raw.metadata as { labels?: unknown } | undefined)?.labels;
  if (!labels || typeof labels !== "object") return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  return out;
}

const TRAFFIC_TYPES: readonly string[] = ["service", "workload", "all", "none"];

/** Reads the Gateways of class `istio-waypoint` (and GatewayClass labels for `waypoint-for`). */
export function scanWaypoints(manifests: readonly Manifest[]): WaypointScan {
  const diagnostics: InputDiagnostic[] = [];
  const waypoints: Waypoint[] = [];
  const classFor = new Map<string, { value: string; m: Manifest }>();
  for (const m of manifests) {
    if (!isGatewayApi(m, "GatewayClass")) continue;
    const v = metaLabels(m)[LABEL_WAYPOINT_FOR];
    if (v !== undefined) classFor.set(m.name, { value: v, m });
  }
  for (const m of manifests) {
    if (!isGatewayApi(m, "Gateway")) continue;
    const r = new FieldReader(m);
    const className = r.string(["spec", "gatewayClassName"]);
    if (className !== WAYPOINT_CLASS) {
      diagnostics.push(...r.diagnostics);
      continue;
    }
    if (!m.name) {
      r.error(["metadata", "name"], "a Gateway needs a name");
      diagnostics.push(...r.diagnostics);
      continue;
    }
    const labels = metaLabels(m);
    let trafficType: string = "service";
    let trafficTypeSource: Waypoint["trafficTypeSource"] = "default";
    const cls = classFor.get(className);
    if (cls) {
      trafficType = cls.value;
      trafficTypeSource = "GatewayClass label";
    }
    if (labels[LABEL_WAYPOINT_FOR] !== undefined) {
      trafficType = labels[LABEL_WAYPOINT_FOR]!;
      trafficTypeSource = "Gateway label";
    }
    if (!TRAFFIC_TYPES.includes(trafficType)) {
      r.warn(["metadata", "labels", LABEL_WAYPOINT_FOR], `${LABEL_WAYPOINT_FOR}=${trafficType} is not service, workload, all or none: nothing can use this waypoint`);
      trafficType = "none";
    }

    // The HBONE listener (port 15008) carries allowedRoutes; without one Istio uses Same.
    let allowedRoutes: Waypoint["allowedRoutes"] = { from: "Same" };
    const listeners = r.array(["spec", "listeners"]) ?? [];
    const hboneIndex = listeners.findIndex((l) => !!l && typeof l === "object" && (l as { protocol?: unknown }).protocol === "HBONE" && (l as { port?: unknown }).port === 15008);
    if (hboneIndex < 0) {
      r.warn(["spec", "listeners"], "a waypoint needs a listener {port: 15008, protocol: HBONE}; without it only objects of its own namespace can bind to it");
    } else {
      const p = ["spec", "listeners", hboneIndex, "allowedRoutes", "namespaces"];
      const from = r.string([...p, "from"]) ?? "Same";
      if (from === "All" || from === "Same") allowedRoutes = { from };
      else if (from === "Selector") {
        const selector = LabelSelector.read(r, [...p, "selector"]) ?? LabelSelector.everything;
        allowedRoutes = { from: "Selector", selector };
      } else {
        r.error([...p, "from"], `expected All, Same or Selector, got ${describe(from)}`);
      }
    }
    diagnostics.push(...r.diagnostics);
    waypoints.push({
      namespace: m.namespace ?? "default",
      name: m.name,
      gatewayClassName: className,
      trafficType: trafficType as WaypointTraffic,
      trafficTypeSource,
      allowedRoutes,
      file: m.source.file,
      line: m.source.line,
      manifest: m,
    });
  }
  return { waypoints, diagnostics };
}

/** The label that bound (or unbound) an object to a waypoint. */
export interface WaypointLabelRef {
  kind: "Pod" | "Service" | "ServiceEntry" | "Namespace";
  /** `NS/NAME`, or the namespace name. */
  name: string;
  label: string;
  value: string;
}

export interface WaypointBinding {
  waypoint: Waypoint | null;
  /** One sentence: which label decided, or why there is none. */
  reason: string;
  decidedBy: WaypointLabelRef | null;
  /** Set when a label asks for a waypoint that cannot be used (missing, wrong type, not allowed). */
  problem?: string;
}

/** Something that may carry `istio.io/use-waypoint`: a Service, ServiceEntry or a pod template. */
export interface WaypointTarget {
  kind: "Pod" | "Service" | "ServiceEntry";
  namespace: string;
  name: string;
  labels: Labels;
}

export function serviceTarget(s: Service): WaypointTarget {
  return { kind: "Service", namespace: s.namespace, name: s.name, labels: metaLabels(s.manifest) };
}

/** A ServiceEntry's labels bind it like a Service's (ztunnel/waypoints ignore wildcard hosts, §5.7 M14). */
export function serviceEntryTarget(e: { namespace: string; name: string; labels: Labels }): WaypointTarget {
  return { kind: "ServiceEntry", namespace: e.namespace, name: e.name, labels: e.labels };
}

export function workloadTarget(w: Workload): WaypointTarget {
  return { kind: "Pod", namespace: w.namespace, name: w.name, labels: w.labels };
}

export class WaypointIndex {
  private readonly byKey = new Map<string, Waypoint>();

  constructor(
    readonly waypoints: readonly Waypoint[],
    private readonly namespaces: ReadonlyMap<string, Namespace>,
  ) {
    for (const w of waypoints) this.byKey.set(`${w.namespace}/${w.name}`, w);
  }

  get(namespace: string, name: string): Waypoint | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }

  /** The waypoint serving traffic addressed to a Service (or ServiceEntry). */
  forService(target: WaypointTarget): WaypointBinding {
    // Waypoints' own Services and east-west gateways never get a waypoint.
    const managed = target.labels["gateway.istio.io/managed"];
    if (managed === "istio.io-mesh-controller" || managed === "istio.io-eastwest-controller") {
      return { waypoint: null, reason: `${target.namespace}/${target.name} belongs to an Istio gateway and never uses a waypoint`, decidedBy: null };
    }
    return this.bind(target, "service");
  }

  /** The waypoint serving traffic addressed directly to a workload's pods. */
  forWorkload(target: WaypointTarget): WaypointBinding {
    return this.bind({ ...target, kind: "Pod" }, "workload");
  }

  private bind(target: WaypointTarget, use: "service" | "workload"): WaypointBinding {
    const id = `${target.namespace}/${target.name}`;
    const own = target.labels[LABEL_USE_WAYPOINT];
    const ns = this.namespaces.get(target.namespace);
    let ref: WaypointLabelRef;
    let wpNs: string;
    let inherited = false;
    if (own !== undefined) {
      ref = { kind: target.kind, name: id, label: LABEL_USE_WAYPOINT, value: own };
      if (own === "none") return { waypoint: null, reason: `${target.kind} ${id} opts out of waypoints (${LABEL_USE_WAYPOINT}=none)`, decidedBy: ref };
      wpNs = target.labels[LABEL_USE_WAYPOINT_NAMESPACE] ?? target.namespace;
    } else {
      const nsValue = ns?.labels[LABEL_USE_WAYPOINT];
      if (nsValue === undefined) {
        return { waypoint: null, reason: `no ${LABEL_USE_WAYPOINT} label on ${target.kind} ${id} or on namespace ${target.namespace}`, decidedBy: null };
      }
      ref = { kind: "Namespace", name: target.namespace, label: LABEL_USE_WAYPOINT, value: nsValue };
      // `none` on the namespace is simply no waypoint (GetUseWaypoint's isNone is dropped there).
      if (nsValue === "none") return { waypoint: null, reason: `namespace ${target.namespace} has ${LABEL_USE_WAYPOINT}=none`, decidedBy: ref };
      wpNs = ns?.labels[LABEL_USE_WAYPOINT_NAMESPACE] ?? target.namespace;
      inherited = true;
    }
    const name = ref.value;
    const where = ref.kind === "Namespace" ? `namespace ${ref.name}` : `${ref.kind} ${ref.name}`;
    const wp = this.get(wpNs, name);
    if (!wp) {
      const problem = `${where} has ${LABEL_USE_WAYPOINT}=${name}, but there is no waypoint Gateway ${wpNs}/${name} (gatewayClassName ${WAYPOINT_CLASS})`;
      return { waypoint: null, reason: `${problem}: traffic goes without a waypoint`, decidedBy: ref, problem };
    }
    if (!this.allowsFrom(wp, target.namespace)) {
      const problem = `waypoint ${wpNs}/${name} does not allow binding from namespace ${target.namespace} (its HBONE listener's allowedRoutes.namespaces.from is ${wp.allowedRoutes.from})`;
      return { waypoint: null, reason: `${problem}: traffic goes without a waypoint`, decidedBy: ref, problem };
    }
    const serves = wp.trafficType === "all" || wp.trafficType === use;
    if (!serves) {
      if (use === "workload" && inherited) {
        return { waypoint: null, reason: `namespace ${target.namespace}'s waypoint ${wpNs}/${name} serves ${wp.trafficType} traffic only, not traffic addressed to workloads`, decidedBy: ref };
      }
      const problem = `waypoint ${wpNs}/${name} serves ${wp.trafficType} traffic (${LABEL_WAYPOINT_FOR}), not ${use} traffic`;
      return { waypoint: null, reason: `${problem}: ${where} gets no waypoint`, decidedBy: ref, problem };
    }
    return { waypoint: wp, reason: `${where} has ${LABEL_USE_WAYPOINT}=${name}: traffic goes through waypoint ${wpNs}/${name}`, decidedBy: ref };
  }

  private allowsFrom(wp: Waypoint, namespace: string): boolean {
    switch (wp.allowedRoutes.from) {
      case "All":
        return true;
      case "Same":
        return wp.namespace === namespace;
      case "Selector": {
        const labels = this.namespaces.get(namespace)?.labels ?? { "kubernetes.io/metadata.name": namespace };
        return wp.allowedRoutes.selector?.matches(labels) ?? false;
      }
    }
  }
}

export type WaypointFlowTarget = { kind: "service"; service: WaypointTarget } | { kind: "workload"; workload: WaypointTarget };

export interface WaypointFlowOptions {
  /** Sidecar clients send to waypoints (newer Istio); the semantics reference's default is no (§5.5 r18). */
  sidecarsUseWaypoints?: boolean;
}

/**
 * The waypoint a flow traverses: only flows from ambient clients (and, for a Service
 * labelled `istio.io/ingress-use-waypoint=true`, from Istio gateways) go through the
 * destination's waypoint; out-of-mesh clients and sidecars bypass it (§5.5 r18, §5.7 M8).
 * A flow to a Service uses the Service's waypoint; a flow addressed to a pod uses the
 * workload's waypoint.
 */
export function waypointForFlow(index: WaypointIndex, sourceMode: MeshMode, target: WaypointFlowTarget, options: WaypointFlowOptions = {}): WaypointBinding {
  const binding = target.kind === "service" ? index.forService(target.service) : index.forWorkload(target.workload);
  if (!binding.waypoint) return binding;
  const t = target.kind === "service" ? target.service : target.workload;
  const wp = `${binding.waypoint.namespace}/${binding.waypoint.name}`;
  switch (sourceMode) {
    case "ambient":
      return binding;
    case "sidecar":
      if (options.sidecarsUseWaypoints) return binding;
      return { ...binding, waypoint: null, reason: `${t.namespace}/${t.name} is bound to waypoint ${wp}, but traffic from a sidecar does not go through waypoints (§5.5 r18)` };
    case "gateway":
      if (target.kind === "service" && t.labels[LABEL_INGRESS_USE_WAYPOINT] === "true") {
        return { ...binding, reason: `${binding.reason} (${LABEL_INGRESS_USE_WAYPOINT}=true on the Service makes gateways use it)` };
      }
      return { ...binding, waypoint: null, reason: `${t.namespace}/${t.name} is bound to waypoint ${wp}, but gateways bypass it unless the Service has ${LABEL_INGRESS_USE_WAYPOINT}=true` };
    case "none":
      return { ...binding, waypoint: null, reason: `${t.namespace}/${t.name} is bound to waypoint ${wp}, but a client outside the mesh connects directly and bypasses it (§5.7 M8)` };
  }
}

/** The workloads running a waypoint (pods labelled `gateway.networking.k8s.io/gateway-name`). */
export function waypointWorkloads(wp: Waypoint, workloads: readonly Workload[]): Workload[] {
  return workloads.filter((w) => w.namespace === wp.namespace && w.labels["gateway.networking.k8s.io/gateway-name"] === wp.name);
}
