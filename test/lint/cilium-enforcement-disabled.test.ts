import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-enforcement-disabled.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, namespace, pod, type Labels } from "../helpers/fixtures.js";

const dir = join(import.meta.dirname, "..", "..", "examples", "seed-cilium-baselines");
const yamlUnder = (sub: string): string[] =>
  readdirSync(join(dir, sub), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".yaml") && !f.endsWith("kustomization.yaml"))
    .sort()
    .map((f) => readFileSync(join(dir, sub, f), "utf8"));
/** The namespaces first, so that lines in the text are those of namespaces.yaml. */
const namespaces = readFileSync(join(dir, "cluster", "namespaces.yaml"), "utf8");
const rest = ["", ...yamlUnder("workloads"), ...yamlUnder("network-policy")].join("\n---\n");

const findings = async (text: string) => lint(await scenarioFromYaml(text), [rule]);

/** Namespace sandbox labelled `sandboxLabels` with pod toolbox, pod shop/api and a policy isolating shop. */
const small = (sandboxLabels: Labels) =>
  namespace("sandbox", sandboxLabels) + pod("sandbox", "toolbox", { labels: {} }) + pod("shop", "api") + ciliumNetworkPolicy("shop", "api-in", {}, "  ingress:\n  - fromEndpoints:\n    - {}\n");

describe("cilium-enforcement-disabled", () => {
  it("reports sandbox, whose escape hatch is pulled in the baselines example (seed 002)", async () => {
    const text = namespaces + rest;
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "cilium-enforcement-disabled",
      severity: "warning",
      resource: { kind: "Namespace", namespace: null, name: "sandbox" },
      workloads: ["sandbox/toolbox"],
      line: lineOf(text, "network-policy.homelab/enforcement: disabled"),
    });
    expect(found[0]!.message).toContain("for ingress and egress of sandbox/toolbox");
    expect(found[0]!.message).toContain("allowed by CiliumClusterwideNetworkPolicy baseline-escape-hatch");
  });

  it("does not report the label when no policy honours it (the hatch CCNP removed)", async () => {
    const withoutHatch = rest.replace(/apiVersion: cilium\.io\/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n {2}name: baseline-escape-hatch[\s\S]*?(?=\n---|$)/, "");
    expect(withoutHatch).not.toBe(rest);
    expect(await findings(namespaces + withoutHatch)).toEqual([]);
  });

  it("does not report sandbox once the label is removed (the example's escape-hatch-off variant)", async () => {
    const relabelled = namespaces.replace("    network-policy.homelab/enforcement: disabled\n", "");
    expect(relabelled).not.toBe(namespaces);
    expect(await findings(relabelled + rest)).toEqual([]);
  });

  it("reports a namespace the baselines exclude by its label (a NotIn on the namespace label)", async () => {
    // The baselines select every pod but those of namespaces with the label; sandbox loses its profile.
    const excluding = rest
      .split("\n---\n")
      .filter((doc) => !doc.includes("name: baseline-escape-hatch"))
      .join("\n---\n")
      .replaceAll(
        "  endpointSelector: {}\n",
        "  endpointSelector:\n    matchExpressions:\n      - key: io.cilium.k8s.namespace.labels.network-policy.homelab/enforcement\n        operator: NotIn\n        values: [disabled]\n",
      );
    const unprofiled = namespaces.replace("network-policy.homelab/profile: standard\n    network-policy.homelab/enforcement", "network-policy.homelab/enforcement");
    expect(unprofiled).not.toBe(namespaces);
    expect(excluding).toContain("operator: NotIn");
    const text = unprofiled + excluding;
    const found = await findings(text);
    expect(found.map((f) => f.resource.name)).toEqual(["sandbox"]);
    expect(found[0]!.message).toContain("no policy selects them");
  });

  it("reports a labelled namespace that no policy selects while another namespace is isolated", async () => {
    const found = await findings(small({ "network-policy.homelab/enforcement": "disabled" }));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("no policy selects them");
  });

  it("does not report when no pod anywhere is isolated", async () => {
    const text = small({ "network-policy.homelab/enforcement": "disabled" }).replace(/---\napiVersion: cilium\.io\/v2[\s\S]*$/, "");
    expect(text).not.toContain("CiliumNetworkPolicy");
    expect(await findings(text)).toEqual([]);
  });

  it("reads the label and value from the rule's options", async () => {
    const scenario = await scenarioFromYaml(small({ "policy.example.com/bypass": "true" }));
    expect(rule.run(scenario)).toEqual([]);
    const found = rule.run(scenario, { label: "policy.example.com/bypass", value: "true" });
    expect(found.map((f) => f.resource.name)).toEqual(["sandbox"]);
    expect(found[0]!.message).toContain("policy.example.com/bypass=true");
  });
});
