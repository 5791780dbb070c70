import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-serviceentry-static-without-endpoints.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { deployment, exampleText, namespace, sidecarInjection } from "../helpers/fixtures.js";

const shop = namespace("shop", sidecarInjection) + deployment("shop", "api");

const entry = (extra: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: database
  namespace: shop
spec:
  hosts: [db.internal]
  addresses: [203.0.113.50/32]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - number: 5432
    name: postgres
    protocol: TCP
${extra}`;

describe("istio-serviceentry-static-without-endpoints", () => {
  it("reports a STATIC entry without endpoints", async () => {
    const text = shop + entry("");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-serviceentry-static-without-endpoints",
      severity: "error",
      resource: { kind: "ServiceEntry", namespace: "shop", name: "database" },
      workloads: ["shop/api"],
      line: lineOf(text, "resolution: STATIC"),
    });
    expect(findings[0]!.message).toContain("no endpoints and no workloadSelector");
    expect(findings[0]!.message).toContain("the connections of shop/api routed to db.internal");
    expect(findings[0]!.fix).toContain("address: 203.0.113.50\n");
  });

  it("does not report a STATIC entry with endpoints", async () => {
    expect(lint(await scenarioFromYaml(shop + entry("  endpoints:\n  - address: 203.0.113.50\n")), [rule])).toEqual([]);
  });

  it("does not report a STATIC entry that selects workloads", async () => {
    const text = shop + entry("  workloadSelector:\n    labels: {app: db}\n").replace("MESH_EXTERNAL", "MESH_INTERNAL");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report other resolutions", async () => {
    expect(lint(await scenarioFromYaml(shop + entry("").replace("resolution: STATIC", "resolution: NONE")), [rule])).toEqual([]);
  });
});

describe("istio-serviceentry-static-without-endpoints on seed-egress", () => {
  const example = exampleText("seed-egress");

  it("finds nothing: §4.7's STATIC entries list their endpoints", async () => {
    expect(lint(await scenarioFromYaml(example), [rule])).toEqual([]);
  });

  it("finds §4.7 example 1 without its endpoints", async () => {
    const text = example.replace(/  endpoints:\n    - address: 203\.0\.113\.50.*\n/, "");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "external-database" }, line: lineOf(text, "resolution: STATIC") });
    expect(findings[0]!.workloads).toEqual(expect.arrayContaining(["garden/beautiful-garden", "garden/jaeger-query", "orders/order-service"]));
  });
});
