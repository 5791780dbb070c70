import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/selector-selects-nothing.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";

const pods = `apiVersion: v1
kind: Namespace
metadata:
  name: db
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: app
  labels: {app: web}
spec:
  containers:
  - name: w
    image: w
---
`;

const policy = (selector: string, nsLabels: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-in
  namespace: app
spec:
  podSelector:
    matchLabels: {${selector}}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {${nsLabels}}
`;

describe("selector-selects-nothing", () => {
  it("reports a namespaceSelector written with name: instead of kubernetes.io/metadata.name", async () => {
    const text = pods + policy("app: web", "name: db");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: "selector-selects-nothing", severity: "warning", resource: { kind: "NetworkPolicy", namespace: "app", name: "web-in" } });
    expect(findings[0]!.line).toBe(lineOf(text, "  - from:"));
  });

  it("reports a podSelector that selects no pod", async () => {
    const text = pods + policy("app: wbe", "kubernetes.io/metadata.name: db");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("podSelector");
  });

  it("does not report selectors that match", async () => {
    expect(lint(await scenarioFromYaml(pods + policy("app: web", "kubernetes.io/metadata.name: db")), [rule])).toEqual([]);
  });
});
