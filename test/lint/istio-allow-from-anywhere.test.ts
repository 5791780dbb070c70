import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/istio-allow-from-anywhere.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ambientMode, authorizationPolicy, deployment, exampleText, namespace, sidecarInjection, type Labels } from "../helpers/fixtures.js";

const app = (mode: Labels) => namespace("shop", mode) + deployment("shop", "api");
const sidecar = app(sidecarInjection);

const policy = (rule: string, action = "ALLOW") => authorizationPolicy("shop", "api-sources", { app: "api" }, action, `${rule}
`);

describe("istio-allow-from-anywhere", () => {
  it("reports ipBlocks 0.0.0.0/0 alone", async () => {
    const text = sidecar + policy(`  - from:\n    - source:\n        ipBlocks: ["203.0.113.0/24", "0.0.0.0/0"]`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "istio-allow-from-anywhere",
      severity: "warning",
      resource: { kind: "AuthorizationPolicy", namespace: "shop", name: "api-sources" },
      workloads: ["shop/api"],
      line: lineOf(text, "ipBlocks:"),
    });
    expect(findings[0]!.message).toContain("ipBlocks 0.0.0.0/0");
    expect(findings[0]!.message).toContain("every IPv4 client");
    expect(findings[0]!.fix).toContain("ipBlocks:");
  });

  it("reports remoteIpBlocks ::/0 on its own line in a block list", async () => {
    const text = sidecar + policy(`  - from:\n    - source:\n        namespaces: ["shop"]\n    - source:\n        remoteIpBlocks:\n        - "10.0.0.0/8"\n        - "::/0"`);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.line).toBe(lineOf(text, `"::/0"`));
    expect(findings[0]!.message).toContain("every IPv6 client");
  });

  it("does not report a rule narrowed by an operation", async () => {
    const text = sidecar + policy(`  - from:\n    - source:\n        ipBlocks: ["0.0.0.0/0"]\n    to:\n    - operation:\n        paths: ["/public/*"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a source narrowed by an identity or an exception", async () => {
    const text = sidecar + policy(`  - from:\n    - source:\n        ipBlocks: ["0.0.0.0/0"]\n        notIpBlocks: ["198.51.100.0/24"]\n  - from:\n    - source:\n        ipBlocks: ["0.0.0.0/0"]\n        namespaces: ["shop"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a narrow block or a DENY rule", async () => {
    expect(lint(await scenarioFromYaml(sidecar + policy(`  - from:\n    - source:\n        ipBlocks: ["0.0.0.0/1"]`)), [rule])).toEqual([]);
    expect(lint(await scenarioFromYaml(sidecar + policy(`  - from:\n    - source:\n        ipBlocks: ["0.0.0.0/0"]`, "DENY")), [rule])).toEqual([]);
  });

  it("does not report remoteIpBlocks at ztunnel, which never matches it in an ALLOW rule", async () => {
    const text = app(ambientMode) + policy(`  - from:\n    - source:\n        remoteIpBlocks: ["0.0.0.0/0"]`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

describe("istio-allow-from-anywhere on seed-kyma-ingress", () => {
  const example = exampleText("seed-kyma-ingress");

  it("finds nothing in §3.2's list", async () => {
    expect(lint(await scenarioFromYaml(example), [rule])).toEqual([]);
  });

  it("finds §8 scenario 2's development list admitting every address", async () => {
    const [before, gatewayPolicy] = example.split("name: gateway-allow-specific-ips");
    const text = `${before}name: gateway-allow-specific-ips${gatewayPolicy!.replace(/remoteIpBlocks:\n(\s+(#.*|- "[\d./]+")\n)+/, 'remoteIpBlocks:\n              - "0.0.0.0/0"     # All IPs (for dev only!)\n')}`;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "gateway-allow-specific-ips" }, workloads: ["istio-system/istio-ingressgateway"], line: lineOf(text, `"0.0.0.0/0"`) });
  });
});
