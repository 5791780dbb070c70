import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-registry-only-missing-import.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, deployment, exampleText, istioSidecar, namespace, networkPolicy, service, sidecarInjection, type Labels } from "../helpers/fixtures.js";

/** shop/api, which may name orders in its env, and orders/orders serving http (80) and grpc (9090) on 8080; both namespaces with sidecars. */
const api = (env?: Labels) =>
  namespace("shop", sidecarInjection) +
  namespace("orders", { ...sidecarInjection, team: "orders" }) +
  deployment("shop", "api", env ? { env } : {}) +
  deployment("orders", "orders", { ports: [{ name: "http", containerPort: 8080 }] }) +
  service("orders", "orders", [
    { name: "http", port: 80, targetPort: 8080 },
    { name: "grpc", port: 9090, targetPort: 8080 },
  ]);

const withUrl = api({ ORDERS_URL: "http://orders.orders.svc.cluster.local:9090/v1" });

const egressPolicy = (to: string) => networkPolicy("shop", "api-egress", { app: "api" }, `  policyTypes: [Egress]
  egress:
  - to:
${to}
`);

const ciliumEgress = (rules: string) => ciliumNetworkPolicy("shop", "api-egress", { app: "api" }, `  egress:
${rules}
`);

describe("istio-registry-only-missing-import", () => {
  it("reports a Service the workload's env names and its Sidecar does not import", async () => {
    const text = withUrl + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*", "istio-system/*"] });
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-registry-only-missing-import",
      severity: "error",
      resource: { kind: "Sidecar", namespace: "shop", name: "egress" },
      workloads: ["shop/api"],
      line: lineOf(text, "  - hosts:"),
    });
    expect(findings[0]!.message).toContain("shop/api calls Service orders/orders (its containers name orders.orders.svc.cluster.local:9090)");
    expect(findings[0]!.message).toContain("does not import orders/orders.orders.svc.cluster.local");
    expect(findings[0]!.message).toContain("port 9090 (connection reset)");
    expect(findings[0]!.fix).toContain('    - "./*"\n    - "istio-system/*"\n    - "orders/orders.orders.svc.cluster.local"');
  });

  it("names the egress listener of the port in the fix", async () => {
    const text = withUrl + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*"] }).replace("  - hosts:", "  - port: {number: 9090, protocol: GRPC, name: grpc}\n    hosts: [\"./*\"]\n  - hosts:");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.line).toBe(lineOf(text, "  - port: {number: 9090"));
    expect(findings[0]!.fix).toBe('spec:\n  egress:\n  - port:\n      number: 9090\n      protocol: GRPC\n      name: grpc\n    hosts:\n    - "./*"\n    - "orders/orders.orders.svc.cluster.local"\n');
  });

  it("reports a Service that a NetworkPolicy egress rule admits by its namespace", async () => {
    const text = api() + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*"] }) + egressPolicy("    - namespaceSelector:\n        matchLabels: {team: orders}");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("NetworkPolicy shop/api-egress egress[0] admits its pods");
  });

  it("reports a Service that a CiliumNetworkPolicy egress rule admits by its namespace", async () => {
    const text = api() + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*"] }) + ciliumEgress("  - toEndpoints:\n    - matchLabels:\n        io.kubernetes.pod.namespace: orders");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("CiliumNetworkPolicy shop/api-egress egress[0] admits its pods");
  });

  it("does not read a Cilium rule to the whole cluster as evidence", async () => {
    const text = api() + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*"] }) + ciliumEgress("  - toEntities: [cluster]");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
    // A clusterwide policy's empty endpoint selector admits every pod of every namespace.
    const clusterwide = ciliumEgress("  - toEndpoints:\n    - {}").replace("kind: CiliumNetworkPolicy", "kind: CiliumClusterwideNetworkPolicy").replace("  namespace: shop\n", "").replace("matchLabels: {app: api}", "matchLabels: {app: api, k8s:io.kubernetes.pod.namespace: shop}");
    expect(lint(await scenarioFromYaml(api() + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*"] }) + clusterwide), [rule])).toEqual([]);
  });

  it("does not read an allow-all egress rule as evidence", async () => {
    const text = api() + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*"] }) + egressPolicy("    - namespaceSelector: {}");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report under ALLOW_ANY", async () => {
    expect(lint(await scenarioFromYaml(withUrl + istioSidecar("shop", "ALLOW_ANY", { hosts: ["./*"] })), [rule])).toEqual([]);
  });

  it("does not report when the namespace is imported", async () => {
    expect(lint(await scenarioFromYaml(withUrl + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*", "orders/*"] })), [rule])).toEqual([]);
  });

  it("does not report a Service hidden by exportTo (istio-host-not-exported's case)", async () => {
    const text = withUrl.replace("  name: orders\n  namespace: orders\nspec:\n  selector", `  name: orders\n  namespace: orders\n  annotations:\n    networking.istio.io/exportTo: "."\nspec:\n  selector`) + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*", "orders/*"] });
    expect(text).not.toBe(withUrl + istioSidecar("shop", "REGISTRY_ONLY", { hosts: ["./*", "orders/*"] }));
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

describe("istio-registry-only-missing-import on seed-nats", () => {
  const example = exampleText("seed-nats");

  it("finds nothing with §6.3's Sidecar (kyma-system/* imported)", async () => {
    expect(lint(await scenarioFromYaml(example), [rule])).toEqual([]);
  });

  it("finds the publisher proxy refused with §4.5's Sidecar, which lacks kyma-system/*", async () => {
    const text = example.replace(/\n\s+- "kyma-system\/\*".*/, "");
    expect(text).not.toBe(example);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "Sidecar", name: "allow-nats-egress" }, workloads: ["garden/beautiful-garden"], line: lineOf(text, "    - hosts:") });
    expect(findings[0]!.message).toContain("Service kyma-system/eventing-publisher-proxy (its containers name eventing-publisher-proxy.kyma-system)");
    expect(findings[0]!.message).toContain("port 80 (HTTP 502)");
    expect(findings[0]!.fix).toContain('"kyma-system/eventing-publisher-proxy.kyma-system.svc.cluster.local"');
  });
});
