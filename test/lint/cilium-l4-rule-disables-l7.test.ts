import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-l4-rule-disables-l7.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, networkPolicy, pod } from "../helpers/fixtures.js";

/** shop/api, shop/web and shop/batch, each serving 8080; appended after a policy. */
const cluster = "---\n" + ["api", "web", "batch"].map((name) => pod("shop", name, { ports: [8080] })).join("");

const l7Rule = `  - fromEndpoints:
    - matchLabels:
        app: web
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
      rules:
        http:
        - method: GET
          path: "/public/.*"
`;

const api = (rules: string) => ciliumNetworkPolicy("shop", "api-in", { app: "api" }, `  ingress:
${rules}`);

const l4For = (app: string, port = "8080") => `  - fromEndpoints:
    - matchLabels:
        app: ${app}
    toPorts:
    - ports:
      - port: "${port}"
        protocol: TCP
`;

const findings = async (text: string) => lint(await scenarioFromYaml(text + cluster), [rule]);

describe("cilium-l4-rule-disables-l7", () => {
  it("reports an L4-only rule for the same peer and port as an HTTP rule", async () => {
    const text = api(l7Rule + l4For("web"));
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "cilium-l4-rule-disables-l7",
      severity: "warning",
      resource: { kind: "CiliumNetworkPolicy", namespace: "shop", name: "api-in" },
      workloads: ["shop/api"],
      line: lineOf(text, "  - fromEndpoints:", 2),
    });
    expect(found[0]!.message).toContain("ingress[1] allows shop/web on TCP/8080 of shop/api");
    expect(found[0]!.message).toContain("HTTP rules of CiliumNetworkPolicy shop/api-in ingress[0] have no effect");
    expect(found[0]!.message).toContain("GET /palisade-probe is allowed");
    expect(found[0]!.fix).toContain("path: /public/.*");
  });

  it("does not report once the L4-only rule carries the HTTP rules too (the fix)", async () => {
    const fixed = l4For("web").replace('        protocol: TCP\n', '        protocol: TCP\n      rules:\n        http:\n        - method: GET\n          path: "/public/.*"\n');
    expect(fixed).not.toBe(l4For("web"));
    expect(await findings(api(l7Rule + fixed))).toEqual([]);
  });

  it("does not report the HTTP rule alone", async () => {
    expect(await findings(api(l7Rule))).toEqual([]);
  });

  it("does not report an L4-only rule for other peers on the same port", async () => {
    expect(await findings(api(l7Rule + l4For("batch")))).toEqual([]);
  });

  it("does not report an L4-only rule for the same peer on another port", async () => {
    expect(await findings(api(l7Rule + l4For("web", "9090")))).toEqual([]);
  });

  it("does not report HTTP rules that allow every request", async () => {
    const allowAll = l7Rule.replace('        - method: GET\n          path: "/public/.*"\n', "        - {}\n");
    expect(allowAll).not.toBe(l7Rule);
    expect(await findings(api(allowAll + l4For("web")))).toEqual([]);
  });

  it("reports a namespace-wide L3 rule of another policy", async () => {
    const defaults = ciliumNetworkPolicy("shop", "namespace-defaults", {}, `  ingress:
  - fromEndpoints:
    - {}
`);
    const text = api(l7Rule) + defaults;
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ resource: { name: "namespace-defaults" }, workloads: ["shop/api"], line: lineOf(text, "- {}") - 1 });
    expect(found[0]!.message).toContain("namespace-defaults ingress[0] allows shop/web");
  });

  it("reports a Kubernetes NetworkPolicy port rule, which Cilium merges with its own policies", async () => {
    const np = networkPolicy("shop", "api-from-web", { app: "api" }, `  ingress:
  - from:
    - podSelector:
        matchLabels: {app: web}
    ports:
    - port: 8080
`);
    const text = api(l7Rule) + np;
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ resource: { kind: "NetworkPolicy", namespace: "shop", name: "api-from-web" }, line: lineOf(text, "  - from:") });
  });

  it("reports an L4-only rule for the world next to HTTP rules for the world", async () => {
    const world = (rules: string) => `  - fromEntities:
    - world
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
${rules}`;
    const text = api(world('      rules:\n        http:\n        - method: GET\n') + world(""));
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("allows the world on TCP/8080");
    expect(found[0]!.message).toContain("DELETE / is allowed");
  });

  it("reports the same trap on egress", async () => {
    const text = ciliumNetworkPolicy("shop", "web-out", { app: "web" }, `  egress:
${l7Rule.replace("fromEndpoints", "toEndpoints").replace("app: web", "app: api")}  - toEndpoints:
    - matchLabels:
        app: api
`);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ workloads: ["shop/web"], line: lineOf(text, "  - toEndpoints:", 2) });
    expect(found[0]!.message).toContain("allows shop/api on TCP/8080 of shop/web (egress)");
  });
});
