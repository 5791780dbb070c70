/**
 * Facts the mesh lint rules share: where istiod is and who must reach it, which
 * workloads an AuthorizationPolicy binds to and where it is enforced, and which
 * waypoint (if any) serves a workload.
 */
import type { Scenario } from "../../analysis/scenario.js";
import { serviceBackends, type FlowTarget } from "../../path/index.js";
import type { Workload } from "../../model/types.js";

// ---------------------------------------------------------------------------
// The control plane

/** istiod's xDS and CA port over TLS: what every proxy dials (15010 is plaintext xDS, 15014 monitoring; neither is needed). */
export const ISTIOD_XDS_PORT = 15012;

const isIstiodPod = (w: Workload, ns: string): boolean => w.namespace === ns && (w.labels["app"] === "istiod" || w.labels["istio"] === "pilot");

export interface ControlPlane {
  target: FlowTarget;
  /** For messages: `Service istio-system/istiod` or the pods' workload. */
  what: string;
  /** istiod's own pods (they need no path to themselves). */
  pods: Workload[];
  egressFix: string;
  /** The ingress rule istiod's policy needs for proxies of these namespaces. */
  ingressFix(namespaces: readonly string[]): string;
}

/**
 * istiod as a proxy reaches it: the Service `istiod` of the Istio namespace on 15012
 * (the default `discoveryAddress`), else its pods (`app: istiod`) on 15012. Undefined
 * when the input has neither: the control plane may run elsewhere (a managed or
 * remote istiod), so nothing can be decided.
 */
export function controlPlaneTarget(scenario: Scenario): ControlPlane | undefined {
  const ns = scenario.mesh?.settings.rootNamespace ?? "istio-system";
  const labelled = scenario.cluster.workloads.filter((w) => isIstiodPod(w, ns));
  const svc = scenario.cluster.services.find((s) => s.name === "istiod" && s.namespace === ns && s.ports.some((p) => p.protocol === "TCP" && p.port === ISTIOD_XDS_PORT));
  const egressFix =
    `egress:\n- to:\n  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: ${ns}\n    podSelector:\n      matchLabels:\n        app: istiod\n` +
    `  ports:\n  - protocol: TCP\n    port: ${ISTIOD_XDS_PORT}\n`;
  const ingressFix = (namespaces: readonly string[]) =>
    `ingress:\n- from:\n${namespaces.map((n) => `  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: ${n}\n`).join("")}` +
    `  ports:\n  - protocol: TCP\n    port: ${ISTIOD_XDS_PORT}\n`;
  if (svc) {
    const port = svc.ports.find((p) => p.protocol === "TCP" && p.port === ISTIOD_XDS_PORT)!;
    const pods = [...new Set([...labelled, ...serviceBackends(scenario, svc)])];
    return { target: { kind: "service", service: svc, port }, what: `Service ${svc.id}`, pods, egressFix, ingressFix };
  }
  const pod = labelled[0];
  if (!pod) return undefined;
  return { target: { kind: "workload", workload: pod }, what: pod.id, pods: labelled, egressFix, ingressFix };
}

/**
 * The Istio proxy a workload runs that talks to istiod itself, for messages; null
 * for ambient application pods (ztunnel, on their node, fetches configuration and
 * certificates for them) and for pods outside the mesh.
 */
export function proxyRunBy(scenario: Scenario, w: Workload): string | null {
  const mesh = scenario.mesh;
  if (!mesh) return null;
  const m = mesh.membership(w);
  if (m.mode === "sidecar") return "an istio-proxy sidecar";
  if (m.mode === "gateway") return m.gateway?.kind === "waypoint" ? "a waypoint proxy" : "an Istio gateway proxy";
  if (m.mode === "none" && w.namespace === mesh.settings.rootNamespace && w.labels["app"] === "ztunnel") return "ztunnel";
  return null;
}
