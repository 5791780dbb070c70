import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/ambient-hbone-widens-ports.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { authorizationPolicy, exampleFile, networkPolicy } from "../helpers/fixtures.js";

// seed-ambient-networkpolicy: my-app serves 8080 (http) and 9090 (metrics); frontend is an ambient client.
const read = (f: string): string => exampleFile("seed-ambient-networkpolicy", f);
const setup = `${read("namespaces.yaml")}\n---\n${read("workloads.yaml")}\n---\n`;

const policy = (ports: string) => networkPolicy("apps", "my-app-ingress", { "app.kubernetes.io/name": "my-app" }, `  ingress:
  - ports:
${ports}`);

const portsOnly = "---\n" + authorizationPolicy("apps", "my-app-ports", { "app.kubernetes.io/name": "my-app" }, "ALLOW", `  - to:
    - operation:
        ports: ["8080"]
`);

describe("ambient-hbone-widens-ports", () => {
  it("reports the seed's corrected policy: 8080 and 15008 listed, 9090 reached through the tunnel", async () => {
    const text = setup + read("network-policy.yaml");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f).toMatchObject({
      rule: "ambient-hbone-widens-ports",
      severity: "warning",
      resource: { kind: "NetworkPolicy", namespace: "apps", name: "my-app-ingress" },
      workloads: ["apps/my-app", "apps/frontend"],
      file: "test.yaml",
    });
    expect(f.line).toBe(lineOf(text, "  - ports:"));
    expect(f.message).toContain("lists TCP 8080 for apps/my-app");
    expect(f.message).toContain("admits TCP 15008 (HBONE) from apps/frontend");
    expect(f.message).toContain("reaches apps/my-app on TCP 9090");
    expect(f.fix).toContain("kind: AuthorizationPolicy");
    expect(f.fix).toContain('ports: ["8080"]');
    expect(f.fix).toContain('app.kubernetes.io/name: "my-app"');
  });

  it("does not report once an AuthorizationPolicy restricts the ports", async () => {
    expect(lint(await scenarioFromYaml(setup + read("network-policy.yaml") + portsOnly), [rule])).toEqual([]);
  });

  it("does not report when every port of the pod is listed", async () => {
    const text = setup + policy("    - port: 8080\n    - port: 9090\n    - port: 15008\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a policy that opens only the tunnel (no ports to widen)", async () => {
    expect(lint(await scenarioFromYaml(setup + policy("    - port: 15008\n")), [rule])).toEqual([]);
  });

  it("does not report without HBONE: the listed port is all a client gets", async () => {
    expect(lint(await scenarioFromYaml(setup + policy("    - port: 8080\n")), [rule])).toEqual([]);
  });

  it("does not report outside the mesh", async () => {
    const text = (setup + read("network-policy.yaml")).replace("istio.io/dataplane-mode: ambient", "team: a");
    expect(text).toContain("team: a");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});
