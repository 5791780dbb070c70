/**
 * Which Istio data plane a workload's pods run with: a sidecar, ambient (ztunnel),
 * a standalone proxy (ingress/egress gateway or waypoint), or none.
 *
 * Sidecar injection follows the default-revision and revision webhooks of
 * `istio-discovery/templates/mutatingwebhook.yaml` and then `injectRequired` in
 * `pkg/kube/inject/inject.go` (semantics.md §4.10); ambient enrollment follows the
 * istio-cni enablement selectors (`cni/pkg/util/enablement_selector.go`, chart
 * defaults) with `excludeNamespaces` (§5.1).
 */
import type { Labels } from "../../model/selector.js";
import type { Namespace, Workload } from "../../model/types.js";
import { podSpecOf } from "../../model/pod-template.js";

export type MeshMode = "sidecar" | "ambient" | "gateway" | "none";

export const LABEL_INJECTION_NS = "istio-injection";
export const LABEL_REV = "istio.io/rev";
export const LABEL_INJECT = "sidecar.istio.io/inject";
export const ANNOTATION_INJECT = "sidecar.istio.io/inject";
export const ANNOTATION_STATUS = "sidecar.istio.io/status";
export const LABEL_DATAPLANE_MODE = "istio.io/dataplane-mode";
export const ANNOTATION_AMBIENT_REDIRECTION = "ambient.istio.io/redirection";
export const ANNOTATION_TEMPLATES = "inject.istio.io/templates";
export const LABEL_GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name";
export const LABEL_GATEWAY_MANAGED = "gateway.istio.io/managed";

/** The object whose label or annotation decided, for explanations and fixes. */
export interface MembershipDecider {
  kind: "Namespace" | "Pod";
  /** Namespace name, or the workload id. */
  name: string;
  key: string;
  value: string;
  what: "label" | "annotation" | "field";
}

export interface Membership {
  mode: MeshMode;
  /** One sentence naming the label (or fact) that decided. */
  reason: string;
  decidedBy: MembershipDecider | null;
  /** Injection revision (`default` or the `istio.io/rev` value) when mode is sidecar by prediction. */
  revision?: string;
  /** For mode gateway: a waypoint or another Istio gateway proxy. */
  gateway?: { kind: "waypoint" | "gateway"; name?: string };
  /** True when the mode was read from an already-injected or enrolled pod, not predicted from labels. */
  observed: boolean;
  /** Things worth telling the user (conflicting labels, values Istio ignores, …). */
  caveats: string[];
}

export interface MembershipOptions {
  /** istiod's namespace (ztunnel runs there; default istio-system). */
  istioNamespace?: string;
  /** Helm `sidecarInjectorWebhook.enableNamespacesByDefault` (default false). */
  enableNamespacesByDefault?: boolean;
  /** istio-cni `excludeNamespaces` (default `["kube-system"]`). */
  ambientExcludeNamespaces?: readonly string[];
  /** Injector `policy` from the istio-sidecar-injector ConfigMap (default enabled). */
  injectionPolicy?: "enabled" | "disabled";
}

/** `pkg/kube/inject/initializer.go` `IgnoredNamespaces`: never injected. */
export const INJECTION_IGNORED_NAMESPACES: ReadonlySet<string> = new Set(["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]);

interface Container {
  name?: unknown;
  args?: unknown;
  image?: unknown;
  restartPolicy?: unknown;
}

/** The pod spec of the manifest the workload was read from (a controller keeps one of its Pods when only Pods are given). */
function containersOf(spec: Record<string, unknown>): Container[] {
  const list = (k: string) => (Array.isArray(spec[k]) ? (spec[k] as unknown[]) : []);
  return [...list("containers"), ...list("initContainers")].filter((c): c is Container => !!c && typeof c === "object");
}

/** A running pod as `kubectl get -o yaml` prints it (not a hand-written manifest with an IP). */
function looksLive(w: Workload): boolean {
  const raw = w.manifest.raw as Record<string, any>;
  return w.manifest.kind === "Pod" && typeof raw.metadata?.uid === "string" && typeof raw.status?.phase === "string";
}

function proxyContainer(w: Workload): Container | undefined {
  return containersOf(podSpecOf(w)).find((c) => c.name === "istio-proxy");
}

function isRouter(c: Container): boolean {
  return Array.isArray(c.args) && c.args.some((a) => a === "router");
}

/** Gateways and waypoints: Envoy proxies of their own, to which Sidecar resources never apply (§4.8 r23). */
function gatewayKind(w: Workload): Membership["gateway"] | undefined {
  const managed = w.labels[LABEL_GATEWAY_MANAGED];
  const gwName = w.labels[LABEL_GATEWAY_NAME];
  if (managed === "istio.io-mesh-controller") return { kind: "waypoint", ...(gwName ? { name: gwName } : {}) };
  if (managed) return { kind: "gateway", ...(gwName ? { name: gwName } : {}) };
  const templates = w.annotations[ANNOTATION_TEMPLATES];
  if (templates) {
    const names = templates.split(",").map((s) => s.trim());
    if (names.includes("waypoint")) return { kind: "waypoint", ...(gwName ? { name: gwName } : {}) };
    if (names.includes("gateway")) return { kind: "gateway", ...(gwName ? { name: gwName } : {}) };
  }
  const proxy = proxyContainer(w);
  if (proxy && isRouter(proxy)) return { kind: "gateway", ...(gwName ? { name: gwName } : {}) };
  return undefined;
}

interface InjectionResult {
  injected: boolean;
  reason: string;
  decidedBy: MembershipDecider | null;
  revision?: string;
  caveats: string[];
}

const label = (ns: string, key: string, value: string): MembershipDecider => ({ kind: "Namespace", name: ns, key, value, what: "label" });

/** Sidecar injection at pod creation: which webhook is called, then what the injector decides. */
export function predictInjection(w: Workload, ns: Namespace | undefined, options: MembershipOptions = {}): InjectionResult {
  const nsName = w.namespace;
  const nsLabels: Labels = ns?.labels ?? {};
  const caveats: string[] = [];
  const podLabel = w.labels[LABEL_INJECT];
  const podAnno = w.annotations[ANNOTATION_INJECT];
  const podRev = w.labels[LABEL_REV];
  const nsInj = nsLabels[LABEL_INJECTION_NS];
  const nsRev = nsLabels[LABEL_REV];
  const podDecider = (key: string, value: string, what: "label" | "annotation" = "label"): MembershipDecider => ({ kind: "Pod", name: w.id, key, value, what });

  if (w.hostNetwork) {
    return { injected: false, reason: `${w.id} uses hostNetwork, which Istio never injects`, decidedBy: { kind: "Pod", name: w.id, key: "hostNetwork", value: "true", what: "field" }, caveats };
  }
  if (INJECTION_IGNORED_NAMESPACES.has(nsName)) {
    return { injected: false, reason: `namespace ${nsName} is a system namespace the injector always skips`, decidedBy: null, caveats };
  }
  if (nsInj !== undefined && nsRev !== undefined) caveats.push(`namespace ${nsName} has both ${LABEL_INJECTION_NS} and ${LABEL_REV}: ${LABEL_INJECTION_NS} takes precedence`);

  // 1. Which webhook (if any) is called for the pod.
  let revision: string | undefined;
  let webhook: { reason: string; decidedBy: MembershipDecider } | undefined;
  const podOptsOut = podLabel === "false";
  if (nsInj !== undefined) {
    if (nsInj === "enabled") {
      if (podOptsOut) {
        return { injected: false, reason: `pod label ${LABEL_INJECT}=false opts out of injection in namespace ${nsName} (${LABEL_INJECTION_NS}=enabled)`, decidedBy: podDecider(LABEL_INJECT, "false"), caveats };
      }
      revision = "default";
      webhook = { reason: `namespace ${nsName} has ${LABEL_INJECTION_NS}=enabled`, decidedBy: label(nsName, LABEL_INJECTION_NS, nsInj) };
    } else {
      const extra = podLabel === "true" || podRev ? `, even though the pod asks for injection` : "";
      if (nsInj !== "disabled") caveats.push(`${LABEL_INJECTION_NS}=${nsInj} is not a value Istio knows (only "enabled" turns injection on)`);
      return {
        injected: false,
        reason: `namespace ${nsName} has ${LABEL_INJECTION_NS}=${nsInj}, so no injection webhook is called${extra}`,
        decidedBy: label(nsName, LABEL_INJECTION_NS, nsInj),
        caveats,
      };
    }
  } else if (nsRev !== undefined) {
    if (podOptsOut) {
      return { injected: false, reason: `pod label ${LABEL_INJECT}=false opts out of injection in namespace ${nsName} (${LABEL_REV}=${nsRev})`, decidedBy: podDecider(LABEL_INJECT, "false"), caveats };
    }
    revision = nsRev;
    webhook = { reason: `namespace ${nsName} has ${LABEL_REV}=${nsRev}`, decidedBy: label(nsName, LABEL_REV, nsRev) };
    caveats.push(`injection by revision ${nsRev} assumes that revision's control plane is installed`);
  } else if (podRev !== undefined) {
    if (podOptsOut) {
      return { injected: false, reason: `pod label ${LABEL_INJECT}=false overrides its ${LABEL_REV}=${podRev} label`, decidedBy: podDecider(LABEL_INJECT, "false"), caveats };
    }
    revision = podRev;
    webhook = { reason: `pod label ${LABEL_REV}=${podRev}`, decidedBy: podDecider(LABEL_REV, podRev) };
    if (podRev !== "default") caveats.push(`injection by revision ${podRev} assumes that revision's control plane is installed`);
  } else if (podLabel === "true") {
    revision = "default";
    webhook = { reason: `pod label ${LABEL_INJECT}=true`, decidedBy: podDecider(LABEL_INJECT, "true") };
  } else if (options.enableNamespacesByDefault && podLabel === undefined) {
    revision = "default";
    webhook = { reason: `the injector is enabled for every namespace (enableNamespacesByDefault) and nothing opts out`, decidedBy: label(nsName, LABEL_INJECTION_NS, "(absent)") };
  } else {
    if (podAnno === "true") {
      return {
        injected: false,
        reason: `pod annotation ${ANNOTATION_INJECT}="true" alone does not inject: no webhook is called without the namespace label ${LABEL_INJECTION_NS}=enabled or the pod label ${LABEL_INJECT}=true`,
        decidedBy: { kind: "Pod", name: w.id, key: ANNOTATION_INJECT, value: "true", what: "annotation" },
        caveats,
      };
    }
    const hint = podLabel !== undefined && podLabel !== "false" ? ` (pod label ${LABEL_INJECT}=${podLabel} is not "true")` : "";
    return { injected: false, reason: `no injection label on namespace ${nsName} or on the pod${hint}`, decidedBy: null, caveats };
  }

  // 2. The injector (`injectRequired`): the pod label, else the annotation, else the policy.
  const selector = podLabel ?? podAnno;
  const selectorSource = podLabel !== undefined ? "label" : "annotation";
  if (podLabel !== undefined && podAnno !== undefined && podLabel !== podAnno) {
    caveats.push(`pod label ${LABEL_INJECT}=${podLabel} and annotation ${ANNOTATION_INJECT}=${podAnno} disagree: the label wins`);
  }
  if (selector === "false") {
    return {
      injected: false,
      reason: `pod ${selectorSource} ${LABEL_INJECT}="false" opts out (${webhook.reason})`,
      decidedBy: { kind: "Pod", name: w.id, key: LABEL_INJECT, value: "false", what: selectorSource },
      caveats,
    };
  }
  if (selector === "true") {
    return { injected: true, reason: webhook.reason, decidedBy: webhook.decidedBy, revision, caveats };
  }
  if (selector !== undefined && selector !== "") {
    caveats.push(`${LABEL_INJECT}="${selector}" is neither "true" nor "false": the injector falls back to its default policy`);
  }
  if (options.injectionPolicy === "disabled") {
    return { injected: false, reason: `the injector's policy is disabled and the pod does not ask for injection (${webhook.reason})`, decidedBy: webhook.decidedBy, caveats };
  }
  return { injected: true, reason: webhook.reason, decidedBy: webhook.decidedBy, revision, caveats };
}

/**
 * The data plane of a workload (its pod template) in its namespace. An already
 * injected pod (istio-proxy container, `sidecar.istio.io/status`) is a sidecar
 * whatever its labels say now; otherwise injection is predicted as the webhook would
 * do at creation, and ambient enrollment as istio-cni would; sidecar wins over ambient.
 */
export function meshMembership(w: Workload, ns: Namespace | undefined, options: MembershipOptions = {}): Membership {
  const istioNs = options.istioNamespace ?? "istio-system";
  const excluded = options.ambientExcludeNamespaces ?? ["kube-system"];
  const nsLabels: Labels = ns?.labels ?? {};

  const gw = gatewayKind(w);
  if (gw) {
    const what = gw.kind === "waypoint" ? `waypoint${gw.name ? ` ${w.namespace}/${gw.name}` : ""}` : `Istio gateway proxy`;
    return { mode: "gateway", reason: `${w.id} is a ${what}, an Envoy proxy of its own (Sidecar resources do not apply to it)`, decidedBy: null, gateway: gw, observed: false, caveats: [] };
  }
  if (w.namespace === istioNs && (w.labels.app === "ztunnel" || w.labels.app === "istiod" || w.labels.app === "istio-cni-node")) {
    return { mode: "none", reason: `${w.id} is an Istio control-plane or node component (${w.labels.app})`, decidedBy: null, observed: false, caveats: [] };
  }

  const proxy = proxyContainer(w);
  if (proxy || ANNOTATION_STATUS in w.annotations) {
    const what = proxy ? "has an istio-proxy container" : `carries the ${ANNOTATION_STATUS} annotation`;
    return { mode: "sidecar", reason: `${w.id} is already injected: it ${what}`, decidedBy: null, observed: true, caveats: [] };
  }

  const inj = predictInjection(w, ns, options);
  const ambientNs = nsLabels[LABEL_DATAPLANE_MODE];
  const ambientPod = w.labels[LABEL_DATAPLANE_MODE];
  if (inj.injected) {
    const caveats = [...inj.caveats];
    if (ambientNs === "ambient" || ambientPod === "ambient") {
      caveats.push(`${LABEL_DATAPLANE_MODE}=ambient is ignored for an injected pod: the sidecar wins (§5.7 M11)`);
    }
    if (looksLive(w)) {
      return {
        mode: "none",
        reason: `${w.id} has no istio-proxy container although ${inj.reason}: injection happens only when a pod is created, so this running pod is outside the mesh until it is restarted`,
        decidedBy: inj.decidedBy,
        observed: true,
        caveats,
      };
    }
    return {
      mode: "sidecar",
      reason: `sidecar injected: ${inj.reason}`,
      decidedBy: inj.decidedBy,
      ...(inj.revision ? { revision: inj.revision } : {}),
      observed: false,
      caveats,
    };
  }

  // Ambient (istio-cni): host-network pods are never captured; excluded namespaces never enrolled.
  const caveats = [...inj.caveats];
  const wantsAmbient = ambientPod === "ambient" || (ambientNs === "ambient" && ambientPod !== "none");
  if (w.hostNetwork) {
    return {
      mode: "none",
      reason: `${w.id} uses hostNetwork: neither injected nor captured by ambient`,
      decidedBy: { kind: "Pod", name: w.id, key: "hostNetwork", value: "true", what: "field" },
      observed: false,
      caveats,
    };
  }
  if (wantsAmbient && excluded.includes(w.namespace)) {
    return {
      mode: "none",
      reason: `namespace ${w.namespace} is excluded from ambient capture by istio-cni (excludeNamespaces), whatever its ${LABEL_DATAPLANE_MODE} label says`,
      decidedBy: null,
      observed: false,
      caveats,
    };
  }
  if (ambientPod === "ambient") {
    return {
      mode: "ambient",
      reason: `ambient: pod label ${LABEL_DATAPLANE_MODE}=ambient${ambientNs && ambientNs !== "ambient" ? ` (overrides the namespace's ${ambientNs})` : ""}`,
      decidedBy: { kind: "Pod", name: w.id, key: LABEL_DATAPLANE_MODE, value: "ambient", what: "label" },
      observed: false,
      caveats: withInjectionNote(caveats, inj),
    };
  }
  if (ambientNs === "ambient") {
    if (ambientPod === "none") {
      return {
        mode: "none",
        reason: `pod label ${LABEL_DATAPLANE_MODE}=none opts out of the ambient namespace ${w.namespace}`,
        decidedBy: { kind: "Pod", name: w.id, key: LABEL_DATAPLANE_MODE, value: "none", what: "label" },
        observed: false,
        caveats,
      };
    }
    if (ambientPod !== undefined) caveats.push(`pod label ${LABEL_DATAPLANE_MODE}=${ambientPod} is neither ambient nor none: the namespace label applies`);
    return {
      mode: "ambient",
      reason: `ambient: namespace ${w.namespace} has ${LABEL_DATAPLANE_MODE}=ambient`,
      decidedBy: label(w.namespace, LABEL_DATAPLANE_MODE, "ambient"),
      observed: false,
      caveats: withInjectionNote(caveats, inj),
    };
  }
  if (w.annotations[ANNOTATION_AMBIENT_REDIRECTION] === "enabled") {
    return { mode: "ambient", reason: `${w.id} is enrolled in ambient (${ANNOTATION_AMBIENT_REDIRECTION}=enabled)`, decidedBy: null, observed: true, caveats };
  }
  if (ambientNs !== undefined && ambientNs !== "none") caveats.push(`namespace label ${LABEL_DATAPLANE_MODE}=${ambientNs} is neither ambient nor none`);
  return { mode: "none", reason: `not in the mesh: ${inj.reason}, and no ${LABEL_DATAPLANE_MODE}=ambient label on pod or namespace`, decidedBy: inj.decidedBy, observed: false, caveats };
}

/** When a pod opted out of injection in an injection namespace and is ambient instead, say why. */
function withInjectionNote(caveats: string[], inj: InjectionResult): string[] {
  return inj.decidedBy && inj.decidedBy.key === LABEL_INJECT && inj.decidedBy.value === "false" ? [...caveats, `not injected: ${inj.reason}`] : caveats;
}

/** Membership for every workload of a cluster (ids are not unique across kinds, so keyed by object). */
export function meshMemberships(
  workloads: readonly Workload[],
  namespaces: ReadonlyMap<string, Namespace>,
  options: MembershipOptions = {},
): Map<Workload, Membership> {
  const out = new Map<Workload, Membership>();
  for (const w of workloads) out.set(w, meshMembership(w, namespaces.get(w.namespace), options));
  return out;
}
