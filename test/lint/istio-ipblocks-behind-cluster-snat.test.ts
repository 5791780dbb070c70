import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-ipblocks-behind-cluster-snat.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { authorizationPolicy, deployment, exampleText, namespace, node, service, sidecarInjection, type ServiceOptions } from "../helpers/fixtures.js";

const gateway = (options: ServiceOptions) =>
  deployment("istio-system", "ingressgateway", { container: "istio-proxy", image: "istio/proxyv2", args: ["proxy", "router"], ports: [{ name: "https", containerPort: 8443 }] }) +
  service("istio-system", "ingressgateway", [{ name: "https", port: 443, targetPort: 8443 }], options);

const policy = (action: string, source: string) => authorizationPolicy("istio-system", "office-only", { app: "ingressgateway" }, action, `  - from:
    - source:
${source}
`);

const lb = (externalTrafficPolicy: string): ServiceOptions => ({ type: "LoadBalancer", externalTrafficPolicy });
const office = `        ipBlocks: ["163.223.48.163/32"]`;

describe("istio-ipblocks-behind-cluster-snat", () => {
  it("reports an allow-list that refuses everyone once the node address replaces the client's", async () => {
    const text = node("node-a", "10.0.1.5") + gateway(lb("Cluster")) + policy("ALLOW", office);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-ipblocks-behind-cluster-snat",
      severity: "error",
      resource: { kind: "AuthorizationPolicy", namespace: "istio-system", name: "office-only" },
      workloads: ["istio-system/ingressgateway"],
      line: lineOf(text, "ipBlocks:"),
    });
    expect(findings[0]!.message).toContain("every outside client is refused (e.g. 163.223.48.163");
    expect(findings[0]!.message).toContain("node address 10.0.1.5");
    expect(findings[0]!.message).not.toContain("X-Forwarded-For");
    expect(findings[0]!.fix).toContain("externalTrafficPolicy: Local");
  });

  it("reports an allow-list that admits everyone when it contains the node address", async () => {
    const text = node("node-a", "10.0.1.5") + gateway(lb("Cluster")) + policy("ALLOW", `        remoteIpBlocks: ["163.223.48.163/32", "10.0.0.0/8"]`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("every outside client is admitted (e.g. 198.51.100.23");
    expect(findings[0]!.message).toContain("X-Forwarded-For");
    expect(findings[0]!.line).toBe(lineOf(text, "remoteIpBlocks:"));
  });

  it("takes Cluster as the default of a LoadBalancer Service", async () => {
    const text = node("node-a", "10.0.1.5") + gateway({ type: "LoadBalancer" }) + policy("ALLOW", office);
    expect(lint(await scenarioFromYaml(text), [rule])).toHaveLength(1);
  });

  it("reports a DENY of every other address (notIpBlocks)", async () => {
    const text = node("node-a", "10.0.1.5") + gateway(lb("Cluster")) + policy("DENY", `        notIpBlocks: ["163.223.48.163/32"]`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("refused");
    expect(findings[0]!.line).toBe(lineOf(text, "notIpBlocks:"));
  });

  it("says every client gets one answer when the input gives no node address", async () => {
    const findings = lint(await scenarioFromYaml(gateway(lb("Cluster")) + policy("ALLOW", office)), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("the answer for that node address");
  });

  it("reports a sidecar workload published by a NodePort Service", async () => {
    const text =
      node("node-a", "10.0.1.5") +
      namespace("shop", sidecarInjection) +
      deployment("shop", "api", { ports: [{ name: "http", containerPort: 8080 }] }) +
      service("shop", "api", [{ name: "http", port: 80, targetPort: 8080 }], { type: "NodePort" }) +
      authorizationPolicy("shop", "partners", {}, "ALLOW", `  - when:
    - key: source.ip
      values: ["192.0.2.0/24"]
`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "partners" }, workloads: ["shop/api"], line: lineOf(text, "values: [") });
    expect(findings[0]!.message).toContain("matches clients by when source.ip");
    expect(findings[0]!.message).toContain("refused (e.g. 192.0.2.0");
  });

  it("does not report with externalTrafficPolicy Local", async () => {
    expect(lint(await scenarioFromYaml(node("node-a", "10.0.1.5") + gateway(lb("Local")) + policy("ALLOW", office)), [rule])).toEqual([]);
  });

  it("does not report a list that admits every address", async () => {
    const text = node("node-a", "10.0.1.5") + gateway(lb("Cluster")) + policy("ALLOW", `        ipBlocks: ["0.0.0.0/0"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a Service outside clients cannot reach", async () => {
    expect(lint(await scenarioFromYaml(node("node-a", "10.0.1.5") + gateway({ type: "ClusterIP" }) + policy("ALLOW", office)), [rule])).toEqual([]);
  });

  it("does not report an identity rule", async () => {
    const text = node("node-a", "10.0.1.5") + gateway(lb("Cluster")) + policy("ALLOW", `        namespaces: ["shop"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

describe("istio-ipblocks-behind-cluster-snat on seed-kyma-ingress", () => {
  /** The line of the first `needle` after `anchor`. */
  const lineAfter = (text: string, anchor: string, needle: string): number => text.slice(0, text.indexOf(needle, text.indexOf(anchor))).split("\n").length;
  const example = exampleText("seed-kyma-ingress");

  it("finds nothing with the §5.4 patch (Local)", async () => {
    expect(lint(await scenarioFromYaml(example), [rule])).toEqual([]);
  });

  it("finds §3.2's list admitting everyone without the patch (10.0.0.0/8 holds every node)", async () => {
    const text = example.replace(/^  externalTrafficPolicy: Local$/m, "  externalTrafficPolicy: Cluster");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "gateway-allow-specific-ips" }, workloads: ["istio-system/istio-ingressgateway"], line: lineAfter(text, "name: gateway-allow-specific-ips", "remoteIpBlocks:") });
    expect(findings[0]!.message).toContain("admitted");
  });

  it("finds scenario 1's office list refusing even the office without the patch", async () => {
    const text = example
      .replace(/^  externalTrafficPolicy: Local$/m, "  externalTrafficPolicy: Cluster")
      .replace(/- "223\.196\.173\.216\/32"[\s\S]*?- "10\.0\.0\.0\/8"/, "");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("refused (e.g. 163.223.48.163");
  });
});
