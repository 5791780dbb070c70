import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-registry-only-missing-import.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";

const api = (env: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: Namespace
metadata:
  name: orders
  labels: {istio-injection: enabled, team: orders}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: api
${env}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  namespace: orders
spec:
  selector:
    matchLabels: {app: orders}
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers:
      - name: orders
        image: orders
        ports:
        - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: orders
  namespace: orders
spec:
  selector: {app: orders}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: grpc, port: 9090, targetPort: 8080}
---
`;

const withUrl = api(`        env:\n        - name: ORDERS_URL\n          value: http://orders.orders.svc.cluster.local:9090/v1`);

const sidecar = (mode: string, hosts: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: egress
  namespace: shop
spec:
  outboundTrafficPolicy:
    mode: ${mode}
  egress:
  - hosts: [${hosts}]
---
`;

const egressPolicy = (to: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-egress
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: api}
  policyTypes: [Egress]
  egress:
  - to:
${to}
---
`;

const ciliumEgress = (rules: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: api-egress
  namespace: shop
spec:
  endpointSelector:
    matchLabels: {app: api}
  egress:
${rules}
---
`;

describe("istio-registry-only-missing-import", () => {
  it("reports a Service the workload's env names and its Sidecar does not import", async () => {
    const text = withUrl + sidecar("REGISTRY_ONLY", `"./*", "istio-system/*"`);
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
    const text = withUrl + sidecar("REGISTRY_ONLY", `"./*"`).replace("  - hosts:", "  - port: {number: 9090, protocol: GRPC, name: grpc}\n    hosts: [\"./*\"]\n  - hosts:");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.line).toBe(lineOf(text, "  - port: {number: 9090"));
    expect(findings[0]!.fix).toBe('spec:\n  egress:\n  - port:\n      number: 9090\n      protocol: GRPC\n      name: grpc\n    hosts:\n    - "./*"\n    - "orders/orders.orders.svc.cluster.local"\n');
  });

  it("reports a Service that a NetworkPolicy egress rule admits by its namespace", async () => {
    const text = api("") + sidecar("REGISTRY_ONLY", `"./*"`) + egressPolicy("    - namespaceSelector:\n        matchLabels: {team: orders}");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("NetworkPolicy shop/api-egress egress[0] admits its pods");
  });

  it("reports a Service that a CiliumNetworkPolicy egress rule admits by its namespace", async () => {
    const text = api("") + sidecar("REGISTRY_ONLY", `"./*"`) + ciliumEgress("  - toEndpoints:\n    - matchLabels:\n        io.kubernetes.pod.namespace: orders");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("CiliumNetworkPolicy shop/api-egress egress[0] admits its pods");
  });

  it("does not read a Cilium rule to the whole cluster as evidence", async () => {
    const text = api("") + sidecar("REGISTRY_ONLY", `"./*"`) + ciliumEgress("  - toEntities: [cluster]");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
    // A clusterwide policy's empty endpoint selector admits every pod of every namespace.
    const clusterwide = ciliumEgress("  - toEndpoints:\n    - {}").replace("kind: CiliumNetworkPolicy", "kind: CiliumClusterwideNetworkPolicy").replace("  namespace: shop\n", "").replace("matchLabels: {app: api}", "matchLabels: {app: api, k8s:io.kubernetes.pod.namespace: shop}");
    expect(lint(await scenarioFromYaml(api("") + sidecar("REGISTRY_ONLY", `"./*"`) + clusterwide), [rule])).toEqual([]);
  });

  it("does not read an allow-all egress rule as evidence", async () => {
    const text = api("") + sidecar("REGISTRY_ONLY", `"./*"`) + egressPolicy("    - namespaceSelector: {}");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report under ALLOW_ANY", async () => {
    expect(lint(await scenarioFromYaml(withUrl + sidecar("ALLOW_ANY", `"./*"`)), [rule])).toEqual([]);
  });

  it("does not report when the namespace is imported", async () => {
    expect(lint(await scenarioFromYaml(withUrl + sidecar("REGISTRY_ONLY", `"./*", "orders/*"`)), [rule])).toEqual([]);
  });

  it("does not report a Service hidden by exportTo (istio-host-not-exported's case)", async () => {
    const text = withUrl.replace("  name: orders\n  namespace: orders\nspec:\n  selector", `  name: orders\n  namespace: orders\n  annotations:\n    networking.istio.io/exportTo: "."\nspec:\n  selector`) + sidecar("REGISTRY_ONLY", `"./*", "orders/*"`);
    expect(text).not.toBe(withUrl + sidecar("REGISTRY_ONLY", `"./*", "orders/*"`));
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

describe("istio-registry-only-missing-import on seed-nats", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples", "seed-nats");
  const files = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith(".yaml") && e.name !== "expected.yaml" ? [join(d, e.name)] : []));
  const example = files(dir).sort().map((f) => readFileSync(f, "utf8")).join("\n---\n");

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
