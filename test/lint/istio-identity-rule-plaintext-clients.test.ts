import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-identity-rule-plaintext-clients.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ambientMode, authorizationPolicy, deployment, exampleText, namespace, networkPolicy, peerAuthentication, service, sidecarInjection, type Labels } from "../helpers/fixtures.js";

/** Deployment `ns/name` serving http on 8080, its pods labelled `{app: name}` and `podLabels`. */
const app = (ns: string, name: string, podLabels: Labels = {}) => deployment(ns, name, { labels: { app: name, ...podLabels }, ports: [{ name: "http", containerPort: 8080 }] });
const apiService = service("shop", "api", [{ name: "http", port: 80, targetPort: 8080 }]);

const policy = (action: string, source: string) => authorizationPolicy("shop", "api-callers", { app: "api" }, action, `  - from:
    - source:
        ${source}
`);

const shop = namespace("shop", sidecarInjection) + app("shop", "api") + apiService;
const cronWithoutSidecar = app("shop", "cron", { "sidecar.istio.io/inject": "false" });

describe("istio-identity-rule-plaintext-clients", () => {
  it("reports an ALLOW by namespace that a client of that namespace without a sidecar cannot match", async () => {
    const text = shop + cronWithoutSidecar + policy("ALLOW", `namespaces: ["shop"]`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-identity-rule-plaintext-clients",
      severity: "error",
      resource: { kind: "AuthorizationPolicy", namespace: "shop", name: "api-callers" },
      workloads: ["shop/api", "shop/cron"],
      line: lineOf(text, "  - from:"),
    });
    expect(findings[0]!.message).toContain("shop/cron reaches shop/api on container port 8080 in plaintext");
    expect(findings[0]!.message).toContain("needs namespaces");
    expect(findings[0]!.fix).toContain("sidecar.istio.io/inject");
  });

  it("reports a DENY of every peer outside a namespace (notNamespaces)", async () => {
    const text = shop + cronWithoutSidecar + policy("DENY", `notNamespaces: ["shop"]`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("denies every peer outside the identities its notNamespaces lists");
    expect(findings[0]!.line).toBe(lineOf(text, "  - from:"));
  });

  it("reports an ambient destination, whose ztunnel sees no identity either", async () => {
    const text = namespace("shop", ambientMode) + app("shop", "api") + apiService + app("shop", "cron", { "istio.io/dataplane-mode": "none" }) + policy("ALLOW", `namespaces: ["shop"]`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => f.workloads)).toEqual([["shop/api", "shop/cron"]]);
  });

  it("does not report when the client is in the mesh", async () => {
    const text = shop + app("shop", "cron") + policy("ALLOW", `namespaces: ["shop"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a client the rule would refuse with its identity too", async () => {
    const text = shop + namespace("legacy", { team: "legacy" }) + app("legacy", "cron") + policy("ALLOW", `namespaces: ["shop"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report when STRICT mTLS refuses plaintext first", async () => {
    const strict = peerAuthentication("shop", "strict", "STRICT");
    expect(lint(await scenarioFromYaml(shop + cronWithoutSidecar + strict + policy("ALLOW", `namespaces: ["shop"]`)), [rule])).toEqual([]);
  });

  it("does not report when PeerAuthentication DISABLE strips every identity anyway", async () => {
    const disable = peerAuthentication("shop", "plaintext", "DISABLE");
    expect(lint(await scenarioFromYaml(shop + cronWithoutSidecar + disable + policy("ALLOW", `namespaces: ["shop"]`)), [rule])).toEqual([]);
  });

  it("does not report when a NetworkPolicy already keeps the client out", async () => {
    const deny = networkPolicy("shop", "api-from-mesh", { app: "api" }, "  policyTypes: [Ingress]\n");
    expect(lint(await scenarioFromYaml(shop + cronWithoutSidecar + deny + policy("ALLOW", `namespaces: ["shop"]`)), [rule])).toEqual([]);
  });

  it("does not report a rule that plaintext can match (addresses)", async () => {
    const text = shop + cronWithoutSidecar + policy("ALLOW", `ipBlocks: ["0.0.0.0/0"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

describe("istio-identity-rule-plaintext-clients on seed-kyma-ingress", () => {
  const example = exampleText("seed-kyma-ingress");

  it("finds nothing: legacy/batch is not among §3.3's namespaces, with or without a sidecar", async () => {
    expect(lint(await scenarioFromYaml(example), [rule])).toEqual([]);
  });

  it("finds §3.3 refusing a garden job that opts out of injection", async () => {
    const text = example
      .replace("  name: batch\n  namespace: legacy", "  name: batch\n  namespace: garden")
      .replace("            app.kubernetes.io/name: batch\n", '            app.kubernetes.io/name: batch\n            sidecar.istio.io/inject: "false"\n');
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "garden-namespace-policy" }, line: lineOf(text, "    - from:") });
    expect(findings[0]!.workloads).toEqual(expect.arrayContaining(["garden/jaeger-query", "garden/batch"]));
    expect(findings[0]!.message).toContain("needs principals and namespaces");
  });
});
