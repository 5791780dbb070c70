import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-redundant-default-deny.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { pod } from "../helpers/fixtures.js";

/** apps/api, apps/web and other/cache; appended after the policies. */
const cluster = "---\n" + pod("apps", "api") + pod("apps", "web") + pod("other", "cache");

/** Seed 002's baseline: every pod, health probes in (an ingress section on {}). */
const healthBaseline = `---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: baseline-health-probes
spec:
  endpointSelector: {}
  ingress:
  - fromEntities:
    - health
`;

const denyAll = (sections: string, selector = "{}") => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: default-deny
  namespace: apps
spec:
  endpointSelector: ${selector}
${sections}`;

const findings = async (text: string) => lint(await scenarioFromYaml(text + cluster), [rule]);

describe("cilium-redundant-default-deny", () => {
  it("reports an explicit ingress default deny under a baseline that selects every pod (seed 002)", async () => {
    const text = denyAll("  ingress:\n  - {}\n") + healthBaseline;
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "cilium-redundant-default-deny",
      severity: "info",
      resource: { kind: "CiliumNetworkPolicy", namespace: "apps", name: "default-deny" },
      workloads: ["apps/api", "apps/web"],
      line: lineOf(text, "  ingress:"),
    });
    expect(found[0]!.message).toContain("in default deny for ingress");
    expect(found[0]!.message).toContain("CiliumClusterwideNetworkPolicy baseline-health-probes already do");
  });

  it("does not report the only policy that puts the endpoints in default deny", async () => {
    expect(await findings(denyAll("  ingress:\n  - {}\n"))).toEqual([]);
  });

  it("reports only the direction other policies already cover", async () => {
    const text = denyAll("  ingress:\n  - {}\n  egress:\n  - {}\n") + healthBaseline;
    const found = await findings(text);
    expect(found.map((f) => [f.line, f.message.includes("for ingress")])).toEqual([[lineOf(text, "  ingress:"), true]]);
  });

  it("does not report when some selected endpoint is not yet in default deny", async () => {
    const partial = healthBaseline.replace("endpointSelector: {}", "endpointSelector:\n    matchLabels: {app: api}");
    expect(await findings(denyAll("  ingress:\n  - {}\n") + partial)).toEqual([]);
  });

  it("does not report a policy that also allows something", async () => {
    const text = denyAll("  ingress:\n  - {}\n  - fromEndpoints:\n    - matchLabels: {app: web}\n") + healthBaseline;
    expect(await findings(text)).toEqual([]);
  });

  it("reports enableDefaultDeny next to an empty rule list in the other direction", async () => {
    const text = denyAll("  enableDefaultDeny:\n    ingress: true\n  egress:\n  - {}\n") + healthBaseline;
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: lineOf(text, "  enableDefaultDeny:") });
  });
});

describe("cilium-redundant-default-deny on seed-cilium-baselines", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples", "seed-cilium-baselines");
  const yamlUnder = (sub: string): string[] =>
    readdirSync(join(dir, sub), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".yaml") && !f.endsWith("kustomization.yaml") && !f.endsWith("profile-isolated.yaml"))
      .sort()
      .map((f) => readFileSync(join(dir, sub, f), "utf8"));
  /** profile-isolated first, so that lines in the text are those of its file. */
  const isolated = readFileSync(join(dir, "network-policy", "profiles", "profile-isolated.yaml"), "utf8");
  const rest = ["", ...yamlUnder("cluster"), ...yamlUnder("workloads"), ...yamlUnder("network-policy")].join("\n---\n");

  it("reports both directions of profile-isolated, whose empty rules repeat the baselines (seed 002)", async () => {
    const found = lint(await scenarioFromYaml(isolated + rest), [rule]);
    expect(found.map((f) => [f.resource.name, f.line, f.workloads])).toEqual([
      ["profile-isolated", lineOf(isolated, "  ingress:"), ["feeds/feed-cache", "feeds/feed-worker"]],
      ["profile-isolated", lineOf(isolated, "  egress:"), ["feeds/feed-cache", "feeds/feed-worker"]],
    ]);
    expect(found[1]!.message).toContain("CiliumClusterwideNetworkPolicy baseline-dns-egress already do");
  });

  it("does not report profile-isolated without the baselines", async () => {
    const withoutBaselines = rest.split("\n---\n").filter((doc) => !/name: baseline-/.test(doc)).join("\n---\n");
    expect(withoutBaselines).not.toBe(rest);
    expect(lint(await scenarioFromYaml(isolated + withoutBaselines), [rule])).toEqual([]);
  });
});
