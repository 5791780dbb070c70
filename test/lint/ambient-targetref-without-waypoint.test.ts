import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/ambient-targetref-without-waypoint.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ambientMode, deployment, namespace, service, sidecarInjection, useWaypoint, waypoint, type Labels } from "../helpers/fixtures.js";

/** app/api (8080) behind Service app/api labelled `svcLabels`; `nsLabels` label namespace app. */
const base = (nsLabels: Labels, svcLabels?: Labels) =>
  namespace("app", nsLabels) + deployment("app", "api", { ports: [8080] }) + service("app", "api", [{ port: 80, targetPort: 8080 }], svcLabels ? { labels: svcLabels } : {});

const ambientWithWaypoint = { ...ambientMode, ...useWaypoint() };
const waypointFor = (trafficFor: string) => waypoint("app", { trafficFor });

const policy = (refs: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api-in
  namespace: app
spec:
  targetRefs:
${refs}  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: ["front"]
`;

const serviceRef = `  - kind: Service
    group: ""
    name: api
`;

describe("ambient-targetref-without-waypoint", () => {
  it("reports a Service target that no waypoint serves", async () => {
    const text = base(ambientMode) + policy(serviceRef);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f).toMatchObject({
      rule: "ambient-targetref-without-waypoint",
      severity: "error",
      resource: { kind: "AuthorizationPolicy", namespace: "app", name: "api-in" },
      workloads: ["app/api"],
      file: "test.yaml",
    });
    expect(f.line).toBe(lineOf(text, "  - kind: Service"));
    expect(f.message).toContain("targets Service app/api");
    expect(f.message).toContain("no istio.io/use-waypoint label");
    expect(f.message).toContain("nothing enforces this ALLOW policy");
    expect(f.fix).toContain("gatewayClassName: istio-waypoint");
    expect(f.fix).toContain("istio.io/use-waypoint: waypoint");
  });

  it("does not report once the Service is bound to an existing waypoint", async () => {
    expect(lint(await scenarioFromYaml(base(ambientMode, useWaypoint()) + waypointFor("service") + policy(serviceRef)), [rule])).toEqual([]);
  });

  it("does not report when the namespace label binds the Service", async () => {
    expect(lint(await scenarioFromYaml(base(ambientWithWaypoint) + waypointFor("service") + policy(serviceRef)), [rule])).toEqual([]);
  });

  it("reports a label naming a waypoint that is missing", async () => {
    const findings = lint(await scenarioFromYaml(base(ambientMode, useWaypoint()) + policy(serviceRef)), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("app/waypoint");
  });

  it("reports a waypoint that serves workloads only", async () => {
    const findings = lint(await scenarioFromYaml(base(ambientMode, useWaypoint()) + waypointFor("workload") + policy(serviceRef)), [rule]);
    expect(findings.map((f) => f.workloads)).toEqual([["app/api"]]);
  });

  it("reports sidecar backends too: sidecars ignore targetRefs policies", async () => {
    const findings = lint(await scenarioFromYaml(base(sidecarInjection) + policy(serviceRef)), [rule]);
    expect(findings.map((f) => f.workloads)).toEqual([["app/api"]]);
  });

  it("reports each unserved target of a policy on its own line", async () => {
    const entry = `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: partner
  namespace: app
spec:
  hosts: ["api.partner.example"]
  ports:
  - number: 443
    name: tls
    protocol: TLS
  resolution: DNS
`;
    const text = base(ambientMode) + policy(`${serviceRef}  - kind: ServiceEntry\n    group: networking.istio.io\n    name: partner\n`) + entry;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => [f.line, f.workloads])).toEqual([
      [lineOf(text, "  - kind: Service"), ["app/api"]],
      [lineOf(text, "  - kind: ServiceEntry"), []],
    ]);
    expect(findings[1]!.message).toContain("targets ServiceEntry app/partner");
  });

  it("does not report a Gateway target or a Service the input does not have", async () => {
    const refs = `  - kind: Gateway\n    group: gateway.networking.k8s.io\n    name: waypoint\n  - kind: Service\n    group: ""\n    name: elsewhere\n`;
    expect(lint(await scenarioFromYaml(base(ambientMode) + policy(refs)), [rule])).toEqual([]);
  });

  describe("a Gateway target", () => {
    const gatewayRef = `  - kind: Gateway\n    group: gateway.networking.k8s.io\n    name: waypoint\n`;

    it("reports a waypoint that nothing in its namespace uses", async () => {
      const text = base(ambientMode) + waypointFor("service") + policy(gatewayRef);
      const findings = lint(await scenarioFromYaml(text), [rule]);
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ resource: { name: "api-in" }, workloads: [], line: lineOf(text, "  - kind: Gateway") });
      expect(findings[0]!.message).toContain("targets waypoint app/waypoint, but no Service, ServiceEntry, pod or namespace of the input uses it");
      expect(findings[0]!.fix).toContain("istio.io/use-waypoint: waypoint");
    });

    it("does not report once the namespace uses the waypoint", async () => {
      const text = base(ambientWithWaypoint) + waypointFor("service") + policy(gatewayRef);
      expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
    });

    it("does not report once the Service uses the waypoint", async () => {
      expect(lint(await scenarioFromYaml(base(ambientMode, useWaypoint()) + waypointFor("service") + policy(gatewayRef)), [rule])).toEqual([]);
    });

    it("does not report a waypoint that admits other namespaces (their objects may not be in the input)", async () => {
      const text = base(ambientMode) + waypointFor("service").replace("    protocol: HBONE\n", "    protocol: HBONE\n    allowedRoutes:\n      namespaces:\n        from: All\n") + policy(gatewayRef);
      expect(text).toContain("from: All");
      expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
    });
  });

  it("does not report selector policies", async () => {
    const text = (base(ambientMode) + policy(serviceRef)).replace(`  targetRefs:\n${serviceRef}`, "  selector:\n    matchLabels: {app: api}\n");
    expect(text).not.toContain("targetRefs");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

});
