import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-no-port-restriction.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, pod } from "../helpers/fixtures.js";

/** shop/api (8080), shop/web (3000), monitoring/prometheus (9090) and kube-system/coredns (53); appended after a policy. */
const cluster =
  "---\n" +
  pod("shop", "api", { ports: [8080] }) +
  pod("shop", "web", { ports: [3000] }) +
  pod("monitoring", "prometheus", { ports: [9090] }) +
  pod("kube-system", "coredns", { labels: { "k8s-app": "kube-dns" }, ports: [53] });

const api = (rules: string) => ciliumNetworkPolicy("shop", "api", { app: "api" }, rules);

const findings = async (text: string) => lint(await scenarioFromYaml(text + cluster), [rule]);

describe("cilium-no-port-restriction", () => {
  it("reports a cross-namespace ingress rule without toPorts, with the endpoint's ports as the fix", async () => {
    const text = api(`  ingress:
  - fromEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: monitoring
        app: prometheus
`);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "cilium-no-port-restriction",
      severity: "warning",
      resource: { kind: "CiliumNetworkPolicy", namespace: "shop", name: "api" },
      workloads: ["shop/api"],
      line: lineOf(text, "  - fromEndpoints:"),
    });
    expect(found[0]!.message).toContain("ingress[0] allows monitoring/prometheus on every port of shop/api (ingress)");
    expect(found[0]!.fix).toContain('port: "8080"');
  });

  it("does not report the same rule with toPorts", async () => {
    const text = api(`  ingress:
  - fromEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: monitoring
        app: prometheus
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
`);
    expect(await findings(text)).toEqual([]);
  });

  it("reports toEntities world and a CIDR without toPorts", async () => {
    const text = api(`  egress:
  - toEntities:
    - world
  - toCIDR:
    - 198.51.100.0/24
`);
    const found = await findings(text);
    expect(found.map((f) => f.line)).toEqual([lineOf(text, "  - toEntities:"), lineOf(text, "  - toCIDR:")]);
    expect(found[0]!.message).toContain("entity world");
    expect(found[1]!.message).toContain("CIDR 198.51.100.0/24");
    expect(found[0]!.fix).toBeUndefined();
  });

  it("reports a toPorts entry with port 0, which opens every port", async () => {
    const text = api(`  egress:
  - toEntities:
    - world
    toPorts:
    - ports:
      - port: "0"
`);
    expect(await findings(text)).toHaveLength(1);
  });

  it("does not report same-namespace peers, node and health entities, DNS servers, the API server or link-local CIDRs", async () => {
    const text = api(`  ingress:
  - fromEndpoints:
    - matchLabels:
        app: web
  - fromEntities:
    - host
    - remote-node
    - health
  - fromCIDRSet:
    - cidr: 169.254.0.0/16
  egress:
  - toEndpoints:
    - {}
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s:k8s-app: kube-dns
  - toEntities:
    - kube-apiserver
`);
    expect(await findings(text)).toEqual([]);
  });

  it("does not report an explicit allow-all (entity all), nor deny rules", async () => {
    const text = api(`  ingress:
  - fromEntities:
    - all
  egressDeny:
  - toEntities:
    - world
`);
    expect(await findings(text)).toEqual([]);
  });

  it("reports an egress rule to pods of another namespace with their ports as the fix", async () => {
    const text = api(`  egress:
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: monitoring
`);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.fix).toContain('port: "9090"');
  });

  it("reports the world rule of seed 003's schema example once its misspelt fromPorts is dropped", async () => {
    // Seed 003, "Schema of the CiliumNetworkPolicy", with `fromPorts` (not a CRD field) removed.
    const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: example-policy
  namespace: default
spec:
  endpointSelector:
    matchLabels:
      io.cilium.k8s.policy.serviceaccount: example-application-serviceaccount
  egress:
    - toEntities:
        - remote-node
        - kube-apiserver
      toPorts:
        - ports:
            - port: "6443"
              protocol: TCP
    - toEndpoints:
        - { }
    - toEndpoints:
        - matchLabels:
            role: backend
      toPorts:
        - ports:
            - port: "8000"
              protocol: TCP
  ingress:
    - fromEntities:
        - world
    - fromEndpoints:
        - { }
---
apiVersion: v1
kind: Pod
metadata:
  name: example
  namespace: default
spec:
  serviceAccountName: example-application-serviceaccount
  containers:
  - name: c
    image: c
    ports:
    - containerPort: 80
`;
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ workloads: ["default/example"], line: lineOf(text, "    - fromEntities:") });
    expect(found[0]!.message).toContain("ingress[0] allows entity world on every port of default/example");
    expect(found[0]!.fix).toContain('port: "80"');
  });

  it("does not report rules of a policy that selects nothing", async () => {
    const text = api("  egress:\n  - toEntities:\n    - world\n").replace("app: api", "app: nobody");
    expect(await findings(text)).toEqual([]);
  });
});
