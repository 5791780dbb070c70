/**
 * Waypoints (semantics.md §5.1 r3–r4, §5.5 r17–r18, §5.7 M8/M12): Gateways of class
 * istio-waypoint, `istio.io/waypoint-for`, binding by `istio.io/use-waypoint` on
 * pod / Service / namespace with the precedence of istio's `waypoints.go`, the
 * `use-waypoint-namespace` override with allowedRoutes, and which flows traverse it.
 */
import { describe, expect, it } from "vitest";
import { scanServiceEntries } from "../../../src/layers/istio/serviceentry.js";
import { scanWaypoints, serviceEntryTarget, serviceTarget, waypointForFlow, WaypointIndex, waypointWorkloads, workloadTarget } from "../../../src/layers/istio/waypoint.js";
import { buildCluster } from "../../../src/model/build.js";
import { lineOf, loadYaml } from "../../helpers/cluster.js";

const WAYPOINT = (ns: string, name: string, labels: Record<string, string> = {}, allowed = "") => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: ${ns}
  labels: ${JSON.stringify(labels)}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE${allowed}
`;

const NS = (name: string, labels: Record<string, string> = {}) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: ${JSON.stringify(labels)}}\n`;
const SVC = (ns: string, name: string, labels: Record<string, string> = {}) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}, labels: ${JSON.stringify(labels)}}\nspec: {selector: {app: ${name}}, ports: [{port: 80, targetPort: 8080}]}\n`;
const POD = (ns: string, name: string, labels: Record<string, string> = {}) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${ns}, labels: ${JSON.stringify({ app: name, ...labels })}}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}\n`;

async function setup(docs: string[]) {
  const text = docs.join("---\n");
  const load = await loadYaml(text, "wp.yaml");
  expect(load.diagnostics).toEqual([]);
  const built = buildCluster(load.manifests);
  const scan = scanWaypoints(load.manifests);
  const index = new WaypointIndex(scan.waypoints, built.cluster.namespaces);
  const svc = (id: string) => serviceTarget(built.cluster.services.find((s) => s.id === id)!);
  const pod = (id: string) => workloadTarget(built.cluster.workloads.find((w) => w.id === id)!);
  return { text, scan, index, svc, pod, cluster: built.cluster };
}

describe("scanning waypoints (§5.1 r4)", () => {
  it("only Gateways of class istio-waypoint; waypoint-for from the Gateway, else its GatewayClass, else service", async () => {
    const { scan } = await setup([
      WAYPOINT("app", "default-wp"),
      WAYPOINT("app", "wl-wp", { "istio.io/waypoint-for": "workload" }),
      `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ingress, namespace: app}\nspec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}\n`,
    ]);
    expect(scan.diagnostics).toEqual([]);
    expect(scan.waypoints.map((w) => [w.name, w.trafficType, w.trafficTypeSource, w.allowedRoutes.from])).toEqual([
      ["default-wp", "service", "default", "Same"],
      ["wl-wp", "workload", "Gateway label", "Same"],
    ]);
    const withClass = await setup([`apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint, labels: {istio.io/waypoint-for: all}}\nspec: {controllerName: istio.io/mesh-controller}\n`, WAYPOINT("app", "wp")]);
    expect(withClass.scan.waypoints[0]).toMatchObject({ trafficType: "all", trafficTypeSource: "GatewayClass label" });
  });

  it("a bad waypoint-for value and a missing HBONE listener are warnings at their lines; a bad allowedRoutes.from is an error", async () => {
    const bad = WAYPOINT("app", "wp", { "istio.io/waypoint-for": "everything" });
    const noHbone = `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: wp2, namespace: app}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n`;
    const from = WAYPOINT("app", "wp3", {}, "\n    allowedRoutes:\n      namespaces:\n        from: Everywhere");
    const { scan, text } = await setup([bad, noHbone, from]);
    expect(scan.diagnostics.map((d) => [d.severity, d.location.line])).toEqual([
      ["warning", lineOf(text, "labels: {\"istio.io/waypoint-for\"")],
      ["warning", lineOf(text, "listeners:", 2)],
      ["error", lineOf(text, "from: Everywhere")],
    ]);
    expect(scan.waypoints.find((w) => w.name === "wp")!.trafficType).toBe("none");
  });
});

describe("binding a Service or a workload (§5.1 r3)", () => {
  it("a namespace label binds its Services; a Service label overrides it; `none` on the Service opts out", async () => {
    const { index, svc } = await setup([
      NS("app", { "istio.io/use-waypoint": "waypoint" }),
      WAYPOINT("app", "waypoint"),
      WAYPOINT("app", "special"),
      SVC("app", "plain"),
      SVC("app", "vip", { "istio.io/use-waypoint": "special" }),
      SVC("app", "direct", { "istio.io/use-waypoint": "none" }),
    ]);
    const plain = index.forService(svc("app/plain"));
    expect(plain.waypoint?.name).toBe("waypoint");
    expect(plain.decidedBy).toEqual({ kind: "Namespace", name: "app", label: "istio.io/use-waypoint", value: "waypoint" });
    expect(index.forService(svc("app/vip")).waypoint?.name).toBe("special");
    const direct = index.forService(svc("app/direct"));
    expect(direct.waypoint).toBeNull();
    expect(direct.reason).toMatch(/opts out/);
  });

  it("a label naming a missing waypoint gives no waypoint and does not fall back to the namespace", async () => {
    const { index, svc } = await setup([NS("app", { "istio.io/use-waypoint": "waypoint" }), WAYPOINT("app", "waypoint"), SVC("app", "typo", { "istio.io/use-waypoint": "waypiont" })]);
    const b = index.forService(svc("app/typo"));
    expect(b.waypoint).toBeNull();
    expect(b.problem).toMatch(/no waypoint Gateway app\/waypiont/);
  });

  it("a service-only waypoint is not used for workloads: silently when inherited, with a problem when the pod asks", async () => {
    const { index, pod } = await setup([
      NS("app", { "istio.io/use-waypoint": "waypoint" }),
      WAYPOINT("app", "waypoint"),
      POD("app", "a"),
      POD("app", "b", { "istio.io/use-waypoint": "waypoint" }),
    ]);
    const a = index.forWorkload(pod("app/a"));
    expect(a.waypoint).toBeNull();
    expect(a.problem).toBeUndefined();
    const b = index.forWorkload(pod("app/b"));
    expect(b.waypoint).toBeNull();
    expect(b.problem).toMatch(/serves service traffic/);
  });

  it("a workload waypoint serves pods and not Services; `all` serves both", async () => {
    const { index, pod, svc } = await setup([
      NS("app", { "istio.io/use-waypoint": "wl" }),
      WAYPOINT("app", "wl", { "istio.io/waypoint-for": "workload" }),
      WAYPOINT("app", "both", { "istio.io/waypoint-for": "all" }),
      POD("app", "a"),
      SVC("app", "a"),
      SVC("app", "b", { "istio.io/use-waypoint": "both" }),
      POD("app", "c", { "istio.io/use-waypoint": "both" }),
    ]);
    expect(index.forWorkload(pod("app/a")).waypoint?.name).toBe("wl");
    expect(index.forService(svc("app/a")).waypoint).toBeNull();
    expect(index.forService(svc("app/a")).problem).toMatch(/serves workload traffic/);
    expect(index.forService(svc("app/b")).waypoint?.name).toBe("both");
    expect(index.forWorkload(pod("app/c")).waypoint?.name).toBe("both");
  });

  it("M12: a pod labelled use-waypoint=none in a waypoint namespace opts out", async () => {
    const { index, pod } = await setup([NS("app", { "istio.io/use-waypoint": "wp" }), WAYPOINT("app", "wp", { "istio.io/waypoint-for": "all" }), POD("app", "a", { "istio.io/use-waypoint": "none" })]);
    expect(index.forWorkload(pod("app/a")).waypoint).toBeNull();
  });

  it("use-waypoint-namespace: allowed only when the waypoint's HBONE listener admits the namespace (default Same)", async () => {
    const docs = (allowed: string) => [
      NS("app", { "istio.io/use-waypoint": "shared", "istio.io/use-waypoint-namespace": "infra", team: "a" }),
      NS("infra"),
      WAYPOINT("infra", "shared", {}, allowed),
      SVC("app", "api"),
    ];
    const same = await setup(docs(""));
    const b = same.index.forService(same.svc("app/api"));
    expect(b.waypoint).toBeNull();
    expect(b.problem).toMatch(/does not allow binding from namespace app/);
    const all = await setup(docs("\n    allowedRoutes: {namespaces: {from: All}}"));
    expect(all.index.forService(all.svc("app/api")).waypoint?.namespace).toBe("infra");
    const sel = await setup(docs("\n    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}}}}"));
    expect(sel.index.forService(sel.svc("app/api")).waypoint?.namespace).toBe("infra");
    const selNo = await setup(docs("\n    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: b}}}}"));
    expect(selNo.index.forService(selNo.svc("app/api")).waypoint).toBeNull();
  });

  it("a ServiceEntry binds by its own labels like a Service", async () => {
    const se = `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: app, labels: {istio.io/use-waypoint: egress}}\nspec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}\n`;
    const { index } = await setup([NS("app"), WAYPOINT("app", "egress"), se]);
    const load = await loadYaml(se);
    const entry = scanServiceEntries(load.manifests).entries[0]!;
    const b = index.forService(serviceEntryTarget(entry));
    expect(b.waypoint?.name).toBe("egress");
    expect(b.decidedBy).toMatchObject({ kind: "ServiceEntry", name: "app/ext" });
  });

  it("a waypoint's own Service never gets a waypoint", async () => {
    const { index, svc } = await setup([NS("app", { "istio.io/use-waypoint": "wp" }), WAYPOINT("app", "wp"), SVC("app", "wp", { "gateway.istio.io/managed": "istio.io-mesh-controller" })]);
    expect(index.forService(svc("app/wp")).waypoint).toBeNull();
  });
});

describe("which flows traverse the waypoint (§5.5 r18, §5.7 M8)", () => {
  it("ambient clients go through it; sidecars, gateways (unless ingress-use-waypoint) and out-of-mesh clients bypass it", async () => {
    const { index, svc, cluster } = await setup([
      NS("app", { "istio.io/use-waypoint": "waypoint", "istio.io/dataplane-mode": "ambient" }),
      WAYPOINT("app", "waypoint"),
      SVC("app", "api"),
      SVC("app", "public", { "istio.io/ingress-use-waypoint": "true" }),
      POD("app", "waypoint-7d9f", { "gateway.networking.k8s.io/gateway-name": "waypoint" }),
    ]);
    const api = { kind: "service" as const, service: svc("app/api") };
    expect(waypointForFlow(index, "ambient", api).waypoint?.name).toBe("waypoint");
    const fromSidecar = waypointForFlow(index, "sidecar", api);
    expect(fromSidecar.waypoint).toBeNull();
    expect(fromSidecar.reason).toMatch(/sidecar does not go through waypoints/);
    expect(waypointForFlow(index, "sidecar", api, { sidecarsUseWaypoints: true }).waypoint?.name).toBe("waypoint");
    const outside = waypointForFlow(index, "none", api);
    expect(outside.waypoint).toBeNull();
    expect(outside.reason).toMatch(/outside the mesh .* bypasses/);
    expect(waypointForFlow(index, "gateway", api).waypoint).toBeNull();
    expect(waypointForFlow(index, "gateway", { kind: "service", service: svc("app/public") }).waypoint?.name).toBe("waypoint");
    expect(waypointWorkloads(index.get("app", "waypoint")!, cluster.workloads).map((w) => w.id)).toEqual(["app/waypoint-7d9f"]);
  });
});
