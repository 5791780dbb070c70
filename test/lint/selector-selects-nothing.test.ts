import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/selector-selects-nothing.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { exampleFile, namespace, networkPolicy, pod, type Labels } from "../helpers/fixtures.js";

/** Namespace db (no pods yet) and pod app/web. */
const pods = namespace("db") + pod("app", "web");

/** NetworkPolicy app/web-in for the pods `podSelector`, admitting the namespaces `{nsLabels}`. */
const policy = (podSelector: Labels, nsLabels: string) =>
  networkPolicy("app", "web-in", podSelector, `  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {${nsLabels}}\n`);

describe("selector-selects-nothing", () => {
  it("reports a namespaceSelector written with name: instead of kubernetes.io/metadata.name", async () => {
    const text = pods + policy({ app: "web" }, "name: db");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: "selector-selects-nothing", severity: "warning", resource: { kind: "NetworkPolicy", namespace: "app", name: "web-in" } });
    expect(findings[0]!.line).toBe(lineOf(text, "  - from:"));
  });

  it("reports a podSelector that selects no pod", async () => {
    const text = pods + policy({ app: "wbe" }, "kubernetes.io/metadata.name: db");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("podSelector");
  });

  it("does not report selectors that match", async () => {
    expect(lint(await scenarioFromYaml(pods + policy({ app: "web" }, "kubernetes.io/metadata.name: db")), [rule])).toEqual([]);
  });
});

const db = pod("db", "postgres");

const peers = (items: string) => networkPolicy("app", "web-in", { app: "web" }, `  ingress:
  - from:
${items}`);

describe("selector-selects-nothing on peer podSelectors", () => {
  it("reports a peer podSelector with no pod in the policy's namespace, at its line", async () => {
    const text = pods + db + peers("    - podSelector:\n        matchLabels: {app: wbe}\n");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: "selector-selects-nothing", resource: { name: "web-in" }, workloads: [], line: lineOf(text, "    - podSelector:") });
    expect(findings[0]!.message).toBe(
      "NetworkPolicy app/web-in: the podSelector {app=wbe} of ingress rule 0 matches no pod in namespace app (without a namespaceSelector a peer is in the policy's namespace), so this peer admits nothing",
    );
  });

  it("reports a peer podSelector with no pod in the namespaces its namespaceSelector matches", async () => {
    const text = pods + db + peers("    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: db}\n      podSelector:\n        matchLabels: {app: pg}\n");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.line).toBe(lineOf(text, "      podSelector:"));
    expect(findings[0]!.message).toContain("matches no pod in the namespace its namespaceSelector {kubernetes.io/metadata.name=db} matches (db)");
  });

  it("does not report peer podSelectors that match", async () => {
    const text = pods + db + peers("    - podSelector:\n        matchLabels: {app: web}\n    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: db}\n      podSelector:\n        matchLabels: {app: postgres}\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a namespace the input shows no workload of", async () => {
    const text = pods + pod("other", "postgres") + peers("    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: db}\n      podSelector:\n        matchLabels: {app: pg}\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("leaves a pod item meant to be ANDed with its sibling namespace item to peers-split-across-items", async () => {
    const text = pods + db + peers("    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: db}\n    - podSelector:\n        matchLabels: {app: postgres}\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("says when the only matching pods run in the host network", async () => {
    const text = namespace("db") + pod("app", "web", { hostNetwork: true }) + db + peers("    - podSelector:\n        matchLabels: {app: web}\n");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => f.message)).toEqual([
      "NetworkPolicy app/web-in: spec.podSelector selects no workload in namespace app, so the policy has no effect (app/web matches but runs in the host network, which NetworkPolicy selectors never select)",
      expect.stringContaining("(app/web matches but runs in the host network"),
    ]);
  });

  it("reads the NetworkPolicies under Cilium too", async () => {
    const text = pods + policy({ app: "web" }, "name: db");
    expect(lint(await scenarioFromYaml(text, { cni: "cilium" }), [rule]).map((f) => f.line)).toEqual([lineOf(text, "  - from:")]);
  });
});

describe("selector-selects-nothing on the kustomize example (includeSelectors labels every peer podSelector)", () => {
  const rendered = exampleFile("kustomize", "rendered-production.yaml");
  const platform = exampleFile("kustomize", "platform/platform.yaml");

  it("reports the DNS and Prometheus peers kustomize narrowed to env=production", async () => {
    const text = `${rendered}\n---\n${platform}`;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => [f.resource.name, f.line])).toEqual([
      ["allow-dns", lineOf(text, "      podSelector:", 1)],
      ["backend-metrics", lineOf(text, "      podSelector:", 2)],
    ]);
    expect(findings[0]!.message).toContain("the podSelector {env=production,k8s-app=kube-dns} of egress rule 0 matches no pod in the namespace");
    expect(findings[1]!.message).toContain("{app.kubernetes.io/name=prometheus,env=production} of ingress rule 0");
  });

  it("finds nothing once the peer selectors are left as the base writes them", async () => {
    const fixed = rendered.replace("          env: production\n          k8s-app: kube-dns", "          k8s-app: kube-dns").replace("          app.kubernetes.io/name: prometheus\n          env: production", "          app.kubernetes.io/name: prometheus");
    expect(lint(await scenarioFromYaml(`${fixed}\n---\n${platform}`), [rule])).toEqual([]);
  });
});
