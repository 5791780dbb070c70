import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/named-port-undefined.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, exampleFile, networkPolicy, pod } from "../helpers/fixtures.js";

const pods =
  pod("app", "web", {
    ports: [
      { name: "web", containerPort: 8080 },
      { name: "dns", containerPort: 5353, protocol: "UDP" },
    ],
  }) + pod("app", "client");

const ingress = (port: string) => networkPolicy("app", "web-in", { app: "web" }, `  ingress:
  - ports:
    - port: ${port}
`);

const egress = (port: string) => networkPolicy("app", "client-out", { app: "client" }, `  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app: web}
    ports:
    - port: ${port}
`);

const run = async (text: string, cni?: "cilium") => lint(await scenarioFromYaml(text, cni ? { cni } : {}), [rule]);

describe("named-port-undefined (NetworkPolicy)", () => {
  it("reports an ingress port name the selected pods do not define, with the number as fix", async () => {
    const text = pods + ingress("http");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "named-port-undefined",
      severity: "error",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "web-in" },
      workloads: ["app/web"],
      line: lineOf(text, "    - port: http"),
      fix: "- protocol: TCP\n  port: 8080\n",
    });
    expect(findings[0]!.message).toBe(
      'NetworkPolicy app/web-in ingress[0]: no container of the pods it applies to (app/web) defines a TCP port named "http", so this port entry matches nothing (their TCP ports: TCP/8080 "web")',
    );
  });

  it("does not report a name the pods define", async () => {
    expect(await run(pods + ingress("web"))).toEqual([]);
  });

  it("reports a name defined for another protocol", async () => {
    const findings = await run(pods + ingress("dns"));
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain('TCP port named "dns"');
    expect(findings[0]!.message).toContain("app/web defines it for UDP");
  });

  it("does not report the same name with its protocol", async () => {
    expect(await run(pods + ingress("dns\n      protocol: UDP"))).toEqual([]);
  });

  it("resolves an egress port name on the peer pods", async () => {
    const text = pods + egress("http");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "client-out" }, workloads: ["app/client"], line: lineOf(text, "    - port: http") });
    expect(findings[0]!.message).toContain("no container of the 1 workload(s) it sends to defines a TCP port named \"http\"");
    expect(await run(pods + egress("web"))).toEqual([]);
  });

  it("is decided the same way by Cilium's reading of NetworkPolicies", async () => {
    const text = pods + ingress("http");
    const findings = await run(text, "cilium");
    expect(findings.map((f) => [f.resource.name, f.line])).toEqual([["web-in", lineOf(text, "    - port: http")]]);
  });
});

const cnp = (port: string) => ciliumNetworkPolicy("app", "web", { app: "web" }, `  ingress:
  - fromEndpoints:
    - matchLabels: {app: client}
    toPorts:
    - ports:
      - port: "9090"
        protocol: TCP
      - port: ${port}
        protocol: TCP
`);

describe("named-port-undefined (Cilium)", () => {
  it("reports a toPorts name with the line of its entry", async () => {
    const text = pods + cnp("http");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      resource: { kind: "CiliumNetworkPolicy", name: "web" },
      line: lineOf(text, "      - port: http"),
      fix: '- port: "8080"\n  protocol: TCP\n',
    });
    expect(findings[0]!.message).toContain("CiliumNetworkPolicy app/web ingress[0]");
  });

  it("does not report a toPorts name the pods define", async () => {
    expect(await run(pods + cnp("web"))).toEqual([]);
  });
});

describe("named-port-undefined on seed-cilium-baselines", () => {
  const read = (f: string) => exampleFile("seed-cilium-baselines", f);
  const setup = `${read("cluster/namespaces.yaml")}\n---\n${read("workloads/apps.yaml")}\n---\n`;
  const scrape = read("network-policy/baselines/prometheus-scrape.yaml");

  it("finds nothing: the scrape baseline's port name \"metrics\" is defined by the apps", async () => {
    expect(await run(setup + scrape)).toEqual([]);
  });

  it("reports the baseline when it names a port the pods call otherwise", async () => {
    const text = setup + scrape.replace("- port: metrics", "- port: prometheus");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "CiliumClusterwideNetworkPolicy", namespace: null, name: "baseline-prometheus-scrape" }, line: lineOf(text, "- port: prometheus") });
    expect(findings[0]!.message).toContain('port named "prometheus"');
  });
});
