import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-serviceentry-none-without-addresses.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { deployment, istioMeshConfig, istioSidecar, namespace, sidecarInjection } from "../helpers/fixtures.js";

const shop = (mode: string) => namespace("shop", sidecarInjection) + deployment("shop", "api") + istioSidecar("shop", mode);

const entry = (spec: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: database
  namespace: shop
spec:
  hosts: [db.internal]
  location: MESH_EXTERNAL
${spec}
`;

const tcpPort = `  ports:
  - number: 5432
    name: postgres
    protocol: TCP`;

describe("istio-serviceentry-none-without-addresses", () => {
  it("reports a TCP port without addresses under REGISTRY_ONLY", async () => {
    const text = shop("REGISTRY_ONLY") + entry(`  resolution: NONE\n${tcpPort}`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-serviceentry-none-without-addresses",
      severity: "warning",
      resource: { kind: "ServiceEntry", namespace: "shop", name: "database" },
      workloads: ["shop/api"],
      line: lineOf(text, "- number: 5432"),
    });
    expect(findings[0]!.message).toContain("port 5432 (TCP) matches connections to every IP");
    expect(findings[0]!.message).toContain("REGISTRY_ONLY sidecars of shop/api");
    expect(findings[0]!.fix).toContain("addresses:");
  });

  it("reports resolution NONE by default and a port without a protocol", async () => {
    const text = shop("ALLOW_ANY") + entry(tcpPort.replace("    protocol: TCP", ""));
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("(protocol unset)");
    expect(findings[0]!.message).toContain("a sidecar's REGISTRY_ONLY is opened for the whole port");
  });

  it("does not report an entry with addresses", async () => {
    const text = shop("REGISTRY_ONLY") + entry(`  resolution: NONE\n  addresses: [203.0.113.0/24]\n${tcpPort}`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report HTTP and TLS ports, matched by Host and SNI", async () => {
    const text = shop("REGISTRY_ONLY") + entry(`  resolution: NONE\n  ports:\n  - number: 80\n    name: http\n    protocol: HTTP\n  - number: 443\n    name: tls\n    protocol: TLS`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report when the sidecars capture DNS (the entry gets an automatic address)", async () => {
    const meshConfig = istioMeshConfig('defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: "true"\n');
    expect(lint(await scenarioFromYaml(meshConfig + shop("REGISTRY_ONLY") + entry(`  resolution: NONE\n${tcpPort}`)), [rule])).toEqual([]);
  });

  it("does not report other resolutions", async () => {
    const text = shop("REGISTRY_ONLY") + entry(`  resolution: DNS\n${tcpPort}`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});
