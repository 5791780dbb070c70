import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/authorization-rules-split.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ambientMode, authorizationPolicy, deployment, exampleFile, namespace, service, sidecarInjection, useWaypoint, waypoint, type Labels } from "../helpers/fixtures.js";

/** shop/api (8080, 9090) and shop/batch, front/web; `mesh` labels both namespaces, `shopLabels` shop besides. */
const setup = (mesh: Labels, shopLabels: Labels = {}) =>
  namespace("shop", { ...mesh, ...shopLabels }) +
  namespace("front", mesh) +
  deployment("shop", "api", { ports: [8080, 9090] }) +
  deployment("front", "web") +
  deployment("shop", "batch");
const base = setup(sidecarInjection);

const policy = (action: string, rules: string) => authorizationPolicy("shop", "api-in", { app: "api" }, action, rules);

const split = `  - from:
    - source:
        namespaces: ["front"]
  - to:
    - operation:
        ports: ["9090"]
`;

const mergedRule = `  - from:
    - source:
        namespaces: ["front"]
    to:
    - operation:
        ports: ["9090"]
`;

describe("authorization-rules-split", () => {
  it("reports a from-only and a to-only rule on TCP ports, with what each admits", async () => {
    const text = base + policy("ALLOW", split);
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f).toMatchObject({
      rule: "authorization-rules-split",
      severity: "warning",
      resource: { kind: "AuthorizationPolicy", namespace: "shop", name: "api-in" },
      workloads: ["shop/api"],
      file: "test.yaml",
    });
    expect(f.line).toBe(lineOf(text, "  - from:"));
    // The to-only rule admits a source outside front on 9090; the from-only one admits front on 8080.
    expect(f.message).toContain("rules[1] (to only) admits every source on ports 9090");
    expect(f.message).toContain("shop/batch is admitted to TCP port 9090");
    expect(f.message).toContain("rules[0] (from only) admits namespaces front on every port and path");
    expect(f.message).toContain("front/web is admitted to TCP port 8080");
    expect(f.fix).toContain("namespaces:");
    expect(f.fix).toContain("to:");
    expect(f.fix!.match(/- from:/g)).toHaveLength(1);
  });

  it("does not report the merged rule", async () => {
    expect(lint(await scenarioFromYaml(base + policy("ALLOW", mergedRule)), [rule])).toEqual([]);
  });

  it("does not report a DENY policy (it denies more, not less)", async () => {
    expect(lint(await scenarioFromYaml(base + policy("DENY", split)), [rule])).toEqual([]);
  });

  it("does not report when the to-only rule adds nothing the from-only rule does not", async () => {
    // The from rule admits any source address and the to rule lists every port of api: merging changes nothing.
    const text = base + policy("ALLOW", `  - from:\n    - source:\n        ipBlocks: ["0.0.0.0/0"]\n  - to:\n    - operation:\n        ports: ["8080", "9090"]\n`);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a policy that binds no mesh workload", async () => {
    const text = setup({ team: "a" }) + policy("ALLOW", split);
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("reports the split of a policy a waypoint enforces (targetRefs), with mesh callers only", async () => {
    const ambientSetup = setup(ambientMode, useWaypoint());
    const extra = service("shop", "api", [{ name: "http", port: 80, targetPort: 8080 }]) + waypoint("shop");
    const rules = `  - from:\n    - source:\n        namespaces: ["front"]\n  - to:\n    - operation:\n        methods: ["GET"]\n`;
    const text = ambientSetup + extra + policy("ALLOW", rules).replace("  selector:\n    matchLabels: {app: api}\n", '  targetRefs:\n  - kind: Service\n    group: ""\n    name: api\n');
    expect(text).toContain("targetRefs");
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.workloads).toEqual(["shop/api"]);
    expect(f.message).toContain("rules[1] (to only) admits every source on methods GET (shop/batch is admitted to GET / on port 8080");
    expect(f.message).toContain("rules[0] (from only) admits namespaces front on every port and path (front/web is admitted to POST /admin on port 8080 of shop/api)");
    expect(f.message).not.toContain("outside client");
    expect(f.message).not.toContain("9090");
  });

  describe("on seed-kyma-ingress (guide §3.4, the pod-level policy)", () => {
    const read = (f: string): string => exampleFile("seed-kyma-ingress", f);
    const setup = ["cluster/namespaces.yaml", "clients/clients.yaml", "istio-system/istiod.yaml", "istio-system/mesh-config.yaml", "garden/apps.yaml"].map(read).join("\n---\n");
    const policies = read("garden/authorization-policies.yaml");

    it("finds the split: /api/* and /public/* are open to every caller, the office IP to every path", async () => {
      const text = `${setup}\n---\n${policies}`;
      const findings = lint(await scenarioFromYaml(text), [rule]);
      expect(findings).toHaveLength(1);
      const f = findings[0]!;
      expect(f).toMatchObject({ resource: { namespace: "garden", name: "beautiful-garden-policy" }, workloads: ["garden/beautiful-garden"] });
      expect(f.line).toBe(lineOf(text, "remoteIpBlocks:") - 2);
      expect(f.message).toContain("rules[1] (to only) admits every source on paths /api/*, /public/*");
      expect(f.message).toContain("is admitted to GET /api/x on port 8080");
      expect(f.message).toContain("rules[0] (from only) admits remoteIpBlocks 163.223.48.163/32 on every port and path");
      expect(f.message).toContain("163.223.48.163 is admitted to GET /admin on port 8080");
      expect(f.fix).toContain("163.223.48.163/32");
      expect(f.fix).toContain("/public/*");
    });

    it("finds nothing once the two rules are one", async () => {
      const fixed = policies.replace("              - \"163.223.48.163/32\"\n    - to:", "              - \"163.223.48.163/32\"\n      to:");
      expect(fixed).not.toBe(policies);
      expect(lint(await scenarioFromYaml(`${setup}\n---\n${fixed}`), [rule])).toEqual([]);
    });
  });
});
