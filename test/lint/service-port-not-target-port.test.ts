import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/service-port-not-target-port.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, networkPolicy, pod, service, type ContainerPort } from "../helpers/fixtures.js";

/** Pod app/web with `ports` behind Service app/web (80 to the port named http), and pod app/client. */
const setup = (ports: readonly ContainerPort[] = [{ name: "http", containerPort: 8080 }]) =>
  pod("app", "web", { ports }) + pod("app", "client") + service("app", "web", [{ name: "http", port: 80, targetPort: "http" }]);

const ingress = (ports: string) => networkPolicy("app", "web-in", { app: "web" }, `  ingress:
  - from:
    - podSelector:
        matchLabels: {app: client}
    ports:
${ports}`);

const egress = (port: number) => networkPolicy("app", "client-out", { app: "client" }, `  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app: web}
    ports:
    - protocol: TCP
      port: ${port}
`);

const run = async (text: string) => lint(await scenarioFromYaml(text), [rule]);

describe("service-port-not-target-port", () => {
  it("reports an ingress port that is the Service port, with the targetPort as fix", async () => {
    const text = setup() + ingress("    - protocol: TCP\n      port: 80\n");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "service-port-not-target-port",
      severity: "error",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "web-in" },
      workloads: ["app/web"],
      line: lineOf(text, "      port: 80"),
      fix: "- protocol: TCP\n  port: 8080\n",
    });
    expect(findings[0]!.message).toBe(
      "NetworkPolicy app/web-in ingress[0] allows TCP/80, the port of Service app/web, but the Service sends it to targetPort 8080 on app/web, which declare no container port 80: policies see the pod's port after the Service's DNAT, so traffic through the Service does not match this entry",
    );
  });

  it("does not report the targetPort", async () => {
    expect(await run(setup() + ingress("    - protocol: TCP\n      port: 8080\n"))).toEqual([]);
  });

  it("does not report when the rule lists the targetPort too", async () => {
    expect(await run(setup() + ingress("    - protocol: TCP\n      port: 80\n    - protocol: TCP\n      port: 8080\n"))).toEqual([]);
  });

  it("does not report when the pod also declares the Service port", async () => {
    const ports = [
      { name: "http", containerPort: 8080 },
      { name: "legacy", containerPort: 80 },
    ];
    expect(await run(setup(ports) + ingress("    - protocol: TCP\n      port: 80\n"))).toEqual([]);
  });

  it("does not report another protocol", async () => {
    expect(await run(setup() + ingress("    - protocol: UDP\n      port: 80\n"))).toEqual([]);
  });

  it("reports an egress port that is the Service port of the peer pods", async () => {
    const text = setup() + egress(80);
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "client-out" }, workloads: ["app/client", "app/web"], line: lineOf(text, "      port: 80") });
    expect(await run(setup() + egress(8080))).toEqual([]);
  });

  it("reports a Cilium toPorts entry the same way", async () => {
    const cnp = ciliumNetworkPolicy("app", "web-in", { app: "web" }, `  ingress:
  - fromEndpoints:
    - matchLabels: {app: client}
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`);
    const text = setup() + cnp;
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "CiliumNetworkPolicy" }, line: lineOf(text, '      - port: "80"'), fix: '- port: "8080"\n  protocol: TCP\n' });
  });
});
