import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-host-not-exported.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { deployment, exampleText, istioSidecar, namespace, service, sidecarInjection, type Labels } from "../helpers/fixtures.js";

/** Namespace `ns` with sidecars and its Deployment `name` (8080). */
const app = (ns: string, name: string) => namespace(ns, sidecarInjection) + deployment(ns, name, { ports: [8080] });

const ordersService = (annotations?: Labels) => service("orders", "orders", [{ name: "http", port: 80, targetPort: 8080 }], annotations ? { annotations } : {});

/** The Sidecar of shop: REGISTRY_ONLY, importing its own namespace and `host`. */
const sidecar = (host: string) => istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*", host] });

const base = app("shop", "api") + app("orders", "orders");
const onlyOwnNamespace = { "networking.istio.io/exportTo": "." };

describe("istio-host-not-exported", () => {
  it("reports a Service a Sidecar imports by name but does not see", async () => {
    const text = base + ordersService(onlyOwnNamespace) + sidecar("orders/orders.orders.svc.cluster.local");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-host-not-exported",
      severity: "error",
      resource: { kind: "Service", namespace: "orders", name: "orders" },
      workloads: ["shop/api"],
      line: lineOf(text, "networking.istio.io/exportTo"),
    });
    expect(findings[0]!.message).toContain("exported only to ., not to shop");
    expect(findings[0]!.message).toContain(`test.yaml:${lineOf(text, `"orders/orders.orders.svc.cluster.local"`)}`);
    expect(findings[0]!.message).toContain("refused (connection reset)");
    expect(findings[0]!.fix).toContain('networking.istio.io/exportTo: ".,shop"');
  });

  it("reports a ServiceEntry a Sidecar imports by name but does not see", async () => {
    const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: partner
  namespace: istio-system
spec:
  hosts: [api.partner.example]
  ports:
  - {number: 443, name: tls, protocol: TLS}
  resolution: DNS
  exportTo: ["."]
---
`;
    const text = base + entry + sidecar("istio-system/api.partner.example");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "ServiceEntry", name: "partner" }, workloads: ["shop/api"], line: lineOf(text, "exportTo:") });
    expect(findings[0]!.message).toContain("refused (connection reset)");
    expect(findings[0]!.fix).toContain('  - "."\n  - "shop"');
  });

  it("reports a host imported from any namespace (*/host)", async () => {
    const text = base + ordersService(onlyOwnNamespace) + sidecar("*/orders.orders.svc.cluster.local");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => [f.resource.name, f.workloads])).toEqual([["orders", ["shop/api"]]]);
  });

  it("does not report a Service exported to the importing namespace", async () => {
    const text = base + ordersService({ "networking.istio.io/exportTo": ".,shop" }) + sidecar("orders/orders.orders.svc.cluster.local");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a namespace-wide import, which may leave private Services out", async () => {
    expect(lint(await scenarioFromYaml(base + ordersService(onlyOwnNamespace) + sidecar("orders/*")), [rule])).toEqual([]);
  });

  it("reports a mesh VirtualService routing to a host its namespace does not see", async () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: orders-route
  namespace: shop
spec:
  hosts: [orders.shop.example]
  http:
  - route:
    - destination:
        host: orders.orders.svc.cluster.local
---
`;
    const text = base + ordersService(onlyOwnNamespace) + vs;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "Service", name: "orders" }, workloads: ["shop/api"], line: lineOf(text, "networking.istio.io/exportTo") });
    expect(findings[0]!.message).toContain(`VirtualService shop/orders-route sends traffic to orders.orders.svc.cluster.local (test.yaml:${lineOf(text, "host: orders.orders.svc.cluster.local")})`);
    expect(lint(await scenarioFromYaml(base + ordersService() + vs), [rule])).toEqual([]);
  });

  it("reports a DestinationRule in a namespace that does not see its host", async () => {
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: orders
  namespace: shop
spec:
  host: orders.orders.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
---
`;
    const text = base + ordersService(onlyOwnNamespace) + dr;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("DestinationRule shop/orders there configures orders.orders.svc.cluster.local");
    expect(lint(await scenarioFromYaml(base + ordersService() + dr), [rule])).toEqual([]);
  });
});

describe("istio-host-not-exported on seed-kyma-ingress", () => {
  const example = exampleText("seed-kyma-ingress");

  it("finds nothing as shipped", async () => {
    expect(lint(await scenarioFromYaml(example), [rule])).toEqual([]);
  });

  it("finds the gateway's route to beautiful-garden once the Service is kept to garden", async () => {
    const text = example.replace("kind: Service\nmetadata:\n  name: beautiful-garden\n  namespace: garden\n", `kind: Service\nmetadata:\n  name: beautiful-garden\n  namespace: garden\n  annotations:\n    networking.istio.io/exportTo: "."\n`);
    expect(text).not.toBe(example);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "Service", namespace: "garden", name: "beautiful-garden" }, workloads: ["istio-system/istio-ingressgateway"], line: lineOf(text, "networking.istio.io/exportTo") });
    expect(findings[0]!.message).toContain("VirtualService garden/beautiful-garden sends traffic to beautiful-garden.garden.svc.cluster.local");
    expect(findings[0]!.message).toContain("HTTP 503");
  });
});
