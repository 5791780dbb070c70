import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/ambient-hbone-not-admitted.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ambientMode, namespace, networkPolicy, pod, type Labels } from "../helpers/fixtures.js";

/** Pods app/client and app/server (8080), the server with an injected sidecar when `sidecarServer`. */
const setup = (nsLabels: Labels, { sidecarServer = false } = {}) =>
  namespace("app", nsLabels) + pod("app", "client") + pod("app", "server", { ports: [8080], sidecar: sidecarServer });
const base = setup(ambientMode);

const policy = (ports: string) => networkPolicy("app", "server-in", { app: "server" }, `  ingress:
  - from:
    - podSelector:
        matchLabels: {app: client}
    ports:
${ports}`);

describe("ambient-hbone-not-admitted", () => {
  it("reports an ambient destination admitting 8080 but not 15008", async () => {
    const text = base + policy("    - port: 8080\n");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "ambient-hbone-not-admitted",
      severity: "error",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "server-in" },
      file: "test.yaml",
    });
    expect(findings[0]!.line).toBe(lineOf(text, "kind: NetworkPolicy") - 1);
    expect(findings[0]!.workloads).toContain("app/server");
    expect(findings[0]!.message).toContain("15008");
    expect(findings[0]!.fix).toContain("15008");
  });

  it("does not report when 15008 is admitted too", async () => {
    const findings = lint(await scenarioFromYaml(base + policy("    - port: 8080\n    - port: 15008\n")), [rule]);
    expect(findings).toEqual([]);
  });

  it("does not report outside the mesh", async () => {
    const text = setup({ team: "a" }) + policy("    - port: 8080\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

const egressPolicy = (ports: string) => networkPolicy("app", "client-out", { app: "client" }, `  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app: server}
    ports:
${ports}`);

describe("ambient-hbone-not-admitted at the client's egress", () => {
  it("reports an ambient client allowed 8080 but not 15008 to a mesh server", async () => {
    const text = base + egressPolicy("    - port: 8080\n");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => [f.resource.name, f.workloads])).toEqual([["client-out", ["app/client", "app/server"]]]);
    expect(findings[0]!.message).toBe(
      "app/client sends its connections to app/server as HBONE on TCP 15008 (ambient mesh), which NetworkPolicy app/client-out does not admit for egress, so TCP 8080 (admitted by the policies) is dropped",
    );
    expect(findings[0]!.fix).toBe("egress:\n- ports:\n  - protocol: TCP\n    port: 15008\n");
  });

  it("does not report when the egress admits 15008 too", async () => {
    expect(lint(await scenarioFromYaml(base + egressPolicy("    - port: 8080\n    - port: 15008\n")), [rule])).toEqual([]);
  });

  it("reports a sidecar server whose ingress admits 8080 but not 15008 from an ambient client", async () => {
    const sidecarServer = setup(ambientMode, { sidecarServer: true });
    const scenarioText = sidecarServer + policy("    - port: 8080\n");
    const findings = lint(await scenarioFromYaml(scenarioText), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("app/server receives app/client's connections as HBONE on TCP 15008");
  });
});
