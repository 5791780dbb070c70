import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/ambient-hbone-not-admitted.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";

const base = `apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: app
  labels: {app: client}
spec:
  containers:
  - name: c
    image: c
---
apiVersion: v1
kind: Pod
metadata:
  name: server
  namespace: app
  labels: {app: server}
spec:
  containers:
  - name: s
    image: s
    ports:
    - containerPort: 8080
---
`;

const policy = (ports: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: server-in
  namespace: app
spec:
  podSelector:
    matchLabels: {app: server}
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: client}
    ports:
${ports}`;

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
    const text = (base + policy("    - port: 8080\n")).replace("    istio.io/dataplane-mode: ambient\n", "    team: a\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});
