/**
 * Mesh membership: sidecar injection as the webhooks and `injectRequired` decide it
 * (semantics.md §4.10), ambient enrollment as istio-cni decides it (§5.1 r1–r2,
 * §5.7 M11), gateway/waypoint proxies, and the seed 000 setup (an ambient namespace
 * next to a sidecar namespace).
 */
import { describe, expect, it } from "vitest";
import { meshMembership, meshMemberships, type MembershipOptions } from "../../../src/layers/istio/membership.js";
import { buildCluster } from "../../../src/model/build.js";
import type { Workload } from "../../../src/model/types.js";
import { loadYaml } from "../../helpers/cluster.js";

interface PodSpec {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  extra?: string;
}

function ns(name: string, labels: Record<string, string> = {}): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels: ${JSON.stringify(labels)}\n`;
}

function deploy(namespace: string, name: string, p: PodSpec = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: ${JSON.stringify({ app: name, ...(p.labels ?? {}) })}
      annotations: ${JSON.stringify(p.annotations ?? {})}
    spec:
      hostNetwork: ${p.hostNetwork ?? false}
      containers:
      - {name: app, image: app}${p.extra ?? ""}
`;
}

async function membershipOf(docs: string[], id: string, options: MembershipOptions = {}) {
  const load = await loadYaml(docs.join("---\n"));
  expect(load.diagnostics).toEqual([]);
  const built = buildCluster(load.manifests);
  const w = built.cluster.workloads.find((x) => x.id === id) as Workload;
  expect(w, id).toBeDefined();
  return meshMembership(w, built.cluster.namespaces.get(w.namespace), options);
}

describe("sidecar injection (§4.10)", () => {
  it("namespace istio-injection=enabled injects, and names the label that decided", async () => {
    const m = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web")], "shop/web");
    expect(m.mode).toBe("sidecar");
    expect(m.revision).toBe("default");
    expect(m.observed).toBe(false);
    expect(m.decidedBy).toEqual({ kind: "Namespace", name: "shop", key: "istio-injection", value: "enabled", what: "label" });
    expect(m.reason).toMatch(/namespace shop has istio-injection=enabled/);
  });

  it("a pod label sidecar.istio.io/inject=false opts out of an enabled namespace", async () => {
    const m = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "false" } })], "shop/web");
    expect(m.mode).toBe("none");
    expect(m.decidedBy).toMatchObject({ kind: "Pod", key: "sidecar.istio.io/inject", value: "false", what: "label" });
  });

  it("the legacy annotation sidecar.istio.io/inject=false still opts out (the injector reads it)", async () => {
    const m = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web", { annotations: { "sidecar.istio.io/inject": "false" } })], "shop/web");
    expect(m.mode).toBe("none");
    expect(m.reason).toMatch(/annotation/);
  });

  it("namespace istio-injection=disabled wins over a pod asking for injection", async () => {
    const m = await membershipOf([ns("shop", { "istio-injection": "disabled" }), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "true" } })], "shop/web");
    expect(m.mode).toBe("none");
    expect(m.decidedBy).toMatchObject({ kind: "Namespace", key: "istio-injection", value: "disabled" });
    expect(m.reason).toMatch(/disabled.*even though the pod asks for injection/);
  });

  it("an unlabelled namespace: the pod label sidecar.istio.io/inject=true injects", async () => {
    const m = await membershipOf([ns("shop"), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "true" } })], "shop/web");
    expect(m.mode).toBe("sidecar");
    expect(m.decidedBy).toMatchObject({ kind: "Pod", key: "sidecar.istio.io/inject", value: "true" });
  });

  it("an unlabelled namespace: the annotation alone does not inject (no webhook is called)", async () => {
    const m = await membershipOf([ns("shop"), deploy("shop", "web", { annotations: { "sidecar.istio.io/inject": "true" } })], "shop/web");
    expect(m.mode).toBe("none");
    expect(m.reason).toMatch(/annotation .* alone does not inject/);
  });

  it("label true and annotation false: the label wins", async () => {
    const m = await membershipOf(
      [ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "true" }, annotations: { "sidecar.istio.io/inject": "false" } })],
      "shop/web",
    );
    expect(m.mode).toBe("sidecar");
    expect(m.caveats.join(" ")).toMatch(/the label wins/);
  });

  it("namespace istio.io/rev injects with that revision; istio-injection takes precedence over it", async () => {
    const rev = await membershipOf([ns("shop", { "istio.io/rev": "canary" }), deploy("shop", "web")], "shop/web");
    expect(rev).toMatchObject({ mode: "sidecar", revision: "canary" });
    expect(rev.decidedBy).toMatchObject({ key: "istio.io/rev", value: "canary" });
    const both = await membershipOf([ns("shop", { "istio.io/rev": "canary", "istio-injection": "enabled" }), deploy("shop", "web")], "shop/web");
    expect(both).toMatchObject({ mode: "sidecar", revision: "default" });
    expect(both.caveats.join(" ")).toMatch(/istio-injection takes precedence/);
    const off = await membershipOf([ns("shop", { "istio.io/rev": "canary", "istio-injection": "disabled" }), deploy("shop", "web")], "shop/web");
    expect(off.mode).toBe("none");
  });

  it("a pod label istio.io/rev in an unlabelled namespace injects with that revision", async () => {
    const m = await membershipOf([ns("shop"), deploy("shop", "web", { labels: { "istio.io/rev": "stable" } })], "shop/web");
    expect(m).toMatchObject({ mode: "sidecar", revision: "stable" });
  });

  it("hostNetwork pods are never injected", async () => {
    const m = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "agent", { hostNetwork: true })], "shop/agent");
    expect(m.mode).toBe("none");
    expect(m.reason).toMatch(/hostNetwork/);
  });

  it("kube-system and the other ignored namespaces are never injected", async () => {
    const m = await membershipOf([ns("kube-system", { "istio-injection": "enabled" }), deploy("kube-system", "dns")], "kube-system/dns");
    expect(m.mode).toBe("none");
    expect(m.reason).toMatch(/system namespace/);
  });

  it("a value other than true/false falls back to the injector's default policy (enabled)", async () => {
    const inNs = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "yes" } })], "shop/web");
    expect(inNs.mode).toBe("sidecar");
    expect(inNs.caveats.join(" ")).toMatch(/neither "true" nor "false"/);
    const plain = await membershipOf([ns("shop"), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "yes" } })], "shop/web");
    expect(plain.mode).toBe("none");
  });

  it("options: enableNamespacesByDefault injects unlabelled namespaces; policy disabled needs an explicit opt-in", async () => {
    const auto = await membershipOf([ns("shop"), deploy("shop", "web")], "shop/web", { enableNamespacesByDefault: true });
    expect(auto.mode).toBe("sidecar");
    const kube = await membershipOf([ns("kube-public"), deploy("kube-public", "x")], "kube-public/x", { enableNamespacesByDefault: true });
    expect(kube.mode).toBe("none");
    const off = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web")], "shop/web", { injectionPolicy: "disabled" });
    expect(off.mode).toBe("none");
    const optIn = await membershipOf([ns("shop", { "istio-injection": "enabled" }), deploy("shop", "web", { labels: { "sidecar.istio.io/inject": "true" } })], "shop/web", { injectionPolicy: "disabled" });
    expect(optIn.mode).toBe("sidecar");
  });

  it("an already injected pod is a sidecar whatever its labels say now (observed)", async () => {
    const extra = "\n      - {name: istio-proxy, image: docker.io/istio/proxyv2}";
    const m = await membershipOf([ns("shop"), deploy("shop", "web", { extra })], "shop/web");
    expect(m).toMatchObject({ mode: "sidecar", observed: true });
    const status = await membershipOf([ns("shop"), deploy("shop", "web", { annotations: { "sidecar.istio.io/status": "{}" } })], "shop/web");
    expect(status).toMatchObject({ mode: "sidecar", observed: true });
  });

  it("a running pod (kubectl get output) created before the namespace was labelled has no sidecar", async () => {
    const pod = `apiVersion: v1
kind: Pod
metadata: {name: old, namespace: shop, uid: 1b2c, labels: {app: old}}
spec: {containers: [{name: app, image: app}]}
status: {phase: Running, podIP: 10.0.0.7}
`;
    const m = await membershipOf([ns("shop", { "istio-injection": "enabled" }), pod], "shop/old");
    expect(m).toMatchObject({ mode: "none", observed: true });
    expect(m.reason).toMatch(/only when a pod is created/);
  });
});

describe("ambient enrollment (§5.1 r1–r2, §5.7)", () => {
  it("namespace istio.io/dataplane-mode=ambient enrolls its pods", async () => {
    const m = await membershipOf([ns("app", { "istio.io/dataplane-mode": "ambient" }), deploy("app", "api")], "app/api");
    expect(m.mode).toBe("ambient");
    expect(m.decidedBy).toEqual({ kind: "Namespace", name: "app", key: "istio.io/dataplane-mode", value: "ambient", what: "label" });
  });

  it("pod label istio.io/dataplane-mode=none opts out of an ambient namespace", async () => {
    const m = await membershipOf([ns("app", { "istio.io/dataplane-mode": "ambient" }), deploy("app", "api", { labels: { "istio.io/dataplane-mode": "none" } })], "app/api");
    expect(m.mode).toBe("none");
    expect(m.reason).toMatch(/opts out/);
  });

  it("pod label istio.io/dataplane-mode=ambient enrolls the pod in any namespace", async () => {
    const m = await membershipOf([ns("app"), deploy("app", "api", { labels: { "istio.io/dataplane-mode": "ambient" } })], "app/api");
    expect(m.mode).toBe("ambient");
    expect(m.decidedBy).toMatchObject({ kind: "Pod" });
  });

  it("M11: injection and ambient on one namespace — the sidecar wins", async () => {
    const m = await membershipOf([ns("mixed", { "istio-injection": "enabled", "istio.io/dataplane-mode": "ambient" }), deploy("mixed", "api")], "mixed/api");
    expect(m.mode).toBe("sidecar");
    expect(m.caveats.join(" ")).toMatch(/sidecar wins/);
  });

  it("a pod opting out of injection in such a namespace is ambient (istio-cni sees no sidecar)", async () => {
    const m = await membershipOf(
      [ns("mixed", { "istio-injection": "enabled", "istio.io/dataplane-mode": "ambient" }), deploy("mixed", "api", { labels: { "sidecar.istio.io/inject": "false" } })],
      "mixed/api",
    );
    expect(m.mode).toBe("ambient");
    expect(m.caveats.join(" ")).toMatch(/not injected/);
  });

  it("hostNetwork pods and kube-system (excludeNamespaces) are never captured", async () => {
    const host = await membershipOf([ns("app", { "istio.io/dataplane-mode": "ambient" }), deploy("app", "agent", { hostNetwork: true })], "app/agent");
    expect(host.mode).toBe("none");
    const sys = await membershipOf([ns("kube-system", { "istio.io/dataplane-mode": "ambient" }), deploy("kube-system", "dns")], "kube-system/dns");
    expect(sys.mode).toBe("none");
    expect(sys.reason).toMatch(/excludeNamespaces/);
    const custom = await membershipOf([ns("batch", { "istio.io/dataplane-mode": "ambient" }), deploy("batch", "job")], "batch/job", { ambientExcludeNamespaces: ["batch"] });
    expect(custom.mode).toBe("none");
  });

  it("ztunnel itself is not a mesh member", async () => {
    const m = await membershipOf([ns("istio-system", { "istio.io/dataplane-mode": "ambient" }), deploy("istio-system", "ztunnel")], "istio-system/ztunnel");
    expect(m.mode).toBe("none");
  });
});

describe("gateway proxies (Sidecar resources never apply to them, §4.8 r23)", () => {
  it("an istio ingress gateway (istio-proxy running as router) and a waypoint are gateways", async () => {
    const gw = await membershipOf(
      [ns("istio-system"), deploy("istio-system", "istio-ingressgateway", { labels: { istio: "ingressgateway", "sidecar.istio.io/inject": "false" }, extra: "\n      - {name: istio-proxy, image: proxyv2, args: [proxy, router]}" })],
      "istio-system/istio-ingressgateway",
    );
    expect(gw).toMatchObject({ mode: "gateway", gateway: { kind: "gateway" } });
    const wp = await membershipOf(
      [ns("app", { "istio.io/dataplane-mode": "ambient" }), deploy("app", "waypoint", { labels: { "gateway.networking.k8s.io/gateway-name": "waypoint", "gateway.istio.io/managed": "istio.io-mesh-controller" } })],
      "app/waypoint",
    );
    expect(wp).toMatchObject({ mode: "gateway", gateway: { kind: "waypoint", name: "waypoint" } });
    const helm = await membershipOf([ns("ingress"), deploy("ingress", "gw", { labels: { "sidecar.istio.io/inject": "true" }, annotations: { "inject.istio.io/templates": "gateway" } })], "ingress/gw");
    expect(helm.mode).toBe("gateway");
  });
});

describe("seed 000: an ambient namespace calling a sidecar namespace", () => {
  it("ambient-app is ambient, sidecar-app is injected; memberships for the whole cluster", async () => {
    const docs = [
      ns("ambient-app", { "istio.io/dataplane-mode": "ambient" }),
      ns("sidecar-app", { "istio-injection": "enabled" }),
      ns("istio-system"),
      deploy("ambient-app", "ambient-app"),
      deploy("sidecar-app", "sidecar-app"),
    ];
    const load = await loadYaml(docs.join("---\n"));
    const built = buildCluster(load.manifests);
    const all = meshMemberships(built.cluster.workloads, built.cluster.namespaces);
    const modes = Object.fromEntries([...all].map(([w, m]) => [w.id, m.mode]));
    expect(modes).toEqual({ "ambient-app/ambient-app": "ambient", "sidecar-app/sidecar-app": "sidecar" });
  });
});
