import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import { traceFlow } from "../../src/path/index.js";
import type { Scenario } from "../../src/analysis/scenario.js";
import rule from "../../src/lint/rules/ambient-l7-without-waypoint.js";
import { lineOf, scenarioFromYaml, workload } from "../helpers/cluster.js";
import { ambientMode, authorizationPolicy, deployment, namespace, service, sidecarInjection, useWaypoint, waypoint, type Labels } from "../helpers/fixtures.js";

/** What the wire path says of a GET from app/client to api:8080: the rule's message must agree with it. */
function clientToApi(s: Scenario): string {
  const [path] = traceFlow(s, { kind: "workload", workload: workload(s, "app/client") }, { kind: "workload", workload: workload(s, "app/api") }, { protocol: "TCP", port: 8080 }, { method: "GET", path: "/" });
  return path!.blocked ? `denied at ${path!.blocked.step} by ${path!.blocked.proxy}` : "allowed";
}

/** app/api (http 8080) behind Service app/api, and app/client; `nsLabels` label namespace app. */
const base = (nsLabels: Labels) =>
  namespace("app", nsLabels) +
  deployment("app", "api", { ports: [{ name: "http", containerPort: 8080 }] }) +
  deployment("app", "client") +
  service("app", "api", [{ name: "http", port: 80, targetPort: "http" }]);

const withWaypoint = { ...ambientMode, ...useWaypoint() };

const policy = (action: string, rules: string) => authorizationPolicy("app", "api-get-only", { app: "api" }, action, rules);

const getOnly = `  - to:
    - operation:
        methods: ["GET"]
`;

describe("ambient-l7-without-waypoint", () => {
  it("reports an ALLOW rule with methods on an ambient workload without a waypoint", async () => {
    const text = base(ambientMode) + policy("ALLOW", getOnly);
    const scenario = await scenarioFromYaml(text);
    const findings = lint(scenario, [rule]);
    // Even the GET the policy means to allow is refused by the ztunnel.
    expect(clientToApi(scenario)).toBe("denied at authorization by ztunnel");
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f).toMatchObject({
      rule: "ambient-l7-without-waypoint",
      severity: "error",
      resource: { kind: "AuthorizationPolicy", namespace: "app", name: "api-get-only" },
      workloads: ["app/api"],
      file: "test.yaml",
    });
    expect(f.line).toBe(lineOf(text, "methods:"));
    expect(f.message).toContain("rules[0] uses to[0].methods");
    expect(f.message).toContain("drops this ALLOW rule");
    expect(f.message).toContain("ztunnel denies every connection");
    expect(f.fix).toContain("gatewayClassName: istio-waypoint");
    expect(f.fix).toContain("istio.io/use-waypoint: waypoint");
    expect(f.fix).toContain("name: api");
  });

  it("says the other rules still apply when only one rule is L7", async () => {
    const rules = `${getOnly}  - from:\n    - source:\n        namespaces: ["ops"]\n`;
    const findings = lint(await scenarioFromYaml(base(ambientMode) + policy("ALLOW", rules)), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("the connections only this rule was meant to admit are denied");
  });

  it("reports a DENY rule with methods and ports as a wider deny", async () => {
    const rules = `  - to:\n    - operation:\n        methods: ["POST"]\n        ports: ["8080"]\n`;
    const scenario = await scenarioFromYaml(base(ambientMode) + policy("DENY", rules));
    const findings = lint(scenario, [rule]);
    expect(clientToApi(scenario)).toBe("denied at authorization by ztunnel");
    expect(findings.map((f) => f.message)).toEqual([expect.stringContaining("denies every connection that matches the rest of the rule")]);
  });

  it("reports a DENY rule with methods only as denying nothing", async () => {
    const text = base(ambientMode) + policy("DENY", `  - to:\n    - operation:\n        methods: ["POST"]\n`);
    const scenario = await scenarioFromYaml(text);
    const findings = lint(scenario, [rule]);
    expect(clientToApi(scenario)).toBe("allowed");
    expect(findings.map((f) => f.message)).toEqual([expect.stringContaining("so it denies nothing")]);
  });

  it("reports request principals and header conditions too", async () => {
    const rules = `  - from:\n    - source:\n        requestPrincipals: ["https://issuer/*"]\n    when:\n    - key: request.headers[x-tenant]\n      values: ["a"]\n`;
    const text = base(ambientMode) + policy("ALLOW", rules);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("from[0].requestPrincipals, when[0] request.headers[x-tenant]");
    expect(findings[0]!.line).toBe(lineOf(text, "requestPrincipals:"));
  });

  it("does not report a rule with L4 attributes only", async () => {
    const rules = `  - from:\n    - source:\n        namespaces: ["ops"]\n    to:\n    - operation:\n        ports: ["8080"]\n`;
    expect(lint(await scenarioFromYaml(base(ambientMode) + policy("ALLOW", rules)), [rule])).toEqual([]);
  });

  it("does not report sidecar workloads: their proxy checks L7", async () => {
    expect(lint(await scenarioFromYaml(base(sidecarInjection) + policy("ALLOW", getOnly)), [rule])).toEqual([]);
  });

  it("does not report when a waypoint serves the workload's Service", async () => {
    expect(lint(await scenarioFromYaml(base(withWaypoint) + waypoint("app") + policy("ALLOW", getOnly)), [rule])).toEqual([]);
  });

  it("still reports when the namespace names a waypoint that does not exist", async () => {
    const findings = lint(await scenarioFromYaml(base(withWaypoint) + policy("ALLOW", getOnly)), [rule]);
    expect(findings.map((f) => f.workloads)).toEqual([["app/api"]]);
  });

  it("does not report a policy that targets the Service with targetRefs", async () => {
    const text = base(withWaypoint) + waypoint("app") + policy("ALLOW", getOnly).replace("  selector:\n    matchLabels: {app: api}\n", '  targetRefs:\n  - kind: Service\n    group: ""\n    name: api\n');
    expect(text).toContain("targetRefs");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});
