import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import redundantPolicy from "../../src/lint/rules/redundant-policy.js";
import redundantRule from "../../src/lint/rules/redundant-rule.js";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadInputs, loadText } from "../../src/load/index.js";
import { errors, lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { authorizationPolicy, ciliumEgressToKubeDns, ciliumNetworkPolicy, networkPolicy, pod, type Labels } from "../helpers/fixtures.js";

/** Pods app/web, app/frontend and app/db, each serving http on 8080. */
const cluster = ["web", "frontend", "db"].map((name) => pod("app", name, { ports: [{ name: "http", containerPort: 8080 }] })).join("");

const policy = (name: string, podSelector: Labels, spec: string) => networkPolicy("app", name, podSelector, spec);

const appWide = policy("app-wide", {}, "  ingress:\n  - from:\n    - podSelector: {}\n");
const fromFrontend = (selector: Labels) =>
  policy("web-from-frontend", selector, "  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: frontend}}\n    ports:\n    - port: 8080\n");

async function findings(text: string) {
  return lint(await scenarioFromYaml(text), [redundantPolicy, redundantRule]);
}

describe("redundant-policy", () => {
  it("reports a narrower policy that a broader one already covers, and not its rules one by one", async () => {
    const text = cluster + appWide + fromFrontend({ app: "web" });
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "redundant-policy",
      severity: "warning",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "web-from-frontend" },
      workloads: ["app/web"],
      file: "test.yaml",
      line: lineOf(text, "name: web-from-frontend") - 3,
    });
    expect(found[0]!.message).toContain("changes nothing for app/web");
    expect(found[0]!.message).toContain("other policies isolate them too (app/app-wide)");
    expect(found[0]!.message).toContain(`app/app-wide ingress[0] (test.yaml:${lineOf(text, "- from:")})`);
  });

  it("does not report a policy that is the only one isolating some of its pods", async () => {
    // app-wide now selects only web: removing web-from-frontend would open frontend and db to everyone.
    const text = cluster + appWide.replace("podSelector: {}\n  ingress", "podSelector: {matchLabels: {app: web}}\n  ingress") + fromFrontend({});
    expect((await findings(text)).filter((f) => f.rule === "redundant-policy")).toEqual([]);
  });

  it("does not report a policy that allows a connection the others do not", async () => {
    const text = cluster + appWide.replace("- podSelector: {}", "- podSelector: {matchLabels: {app: db}}") + fromFrontend({ app: "web" });
    expect(await findings(text)).toEqual([]);
  });

  it("does not report a default deny next to the policies that allow", async () => {
    const text = cluster + policy("default-deny", {}, "  policyTypes: [Ingress, Egress]\n") + appWide;
    expect(await findings(text)).toEqual([]);
  });

  it("does not report a policy whose egress isolation nothing else provides", async () => {
    const text = cluster + appWide + policy("web-locked", { app: "web" }, "  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector: {}\n");
    // Its ingress rule adds nothing, but the policy still isolates web for egress.
    const found = await findings(text);
    expect(found.map((f) => `${f.rule} ${f.resource.name} ${f.line}`)).toEqual([`redundant-rule web-locked ${lineOf(text, "- from:", 2)}`]);
  });

  it("keeps the first of two identical policies and reports the second", async () => {
    const text = cluster + appWide + appWide.replace("name: app-wide", "name: app-wide-copy");
    const found = await findings(text);
    expect(found.map((f) => `${f.rule} ${f.resource.name}`)).toEqual(["redundant-policy app-wide-copy"]);
    expect(found[0]!.workloads).toEqual(["app/db", "app/frontend", "app/web"]);
  });
});

describe("redundant-policy on seed-ambient-networkpolicy", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples", "seed-ambient-networkpolicy");
  const read = (f: string): string => readFileSync(join(dir, f), "utf8");
  const seed = `${read("namespaces.yaml")}\n---\n${read("workloads.yaml")}\n---\n${read("network-policy.yaml")}\n---\n`;
  /** The page's deny-ingress-allow-kubelet-healthprobes, kept next to the corrected policy. */
  const probes = (ports: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-ingress-allow-kubelet-healthprobes
  namespace: apps
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: my-app}
  ingress:
  - from:
    - ipBlock: {cidr: 169.254.7.127/32}
${ports}`;

  it("finds nothing in the example as written", async () => {
    expect(await findings(seed)).toEqual([]);
  });

  it("reports the probe policy once the corrected policy opens its port to every source", async () => {
    const text = seed + probes("    ports:\n    - {port: 8080, protocol: TCP}\n");
    const found = await findings(text);
    expect(found.map((f) => `${f.rule} ${f.resource.name} ${f.workloads.join(",")}`)).toEqual([
      "redundant-policy deny-ingress-allow-kubelet-healthprobes apps/my-app",
    ]);
    expect(found[0]!.message).toContain("apps/my-app-ingress ingress[0]");
  });

  it("does not report the page's probe policy, which admits the probe address on every port", async () => {
    expect(await findings(seed + probes(""))).toEqual([]);
  });
});

describe("redundant-policy on Cilium policies", () => {
  const cnp = (name: string, spec: string) => ciliumNetworkPolicy("app", name, { app: "web" }, spec);
  const wide = (extra = "") => cnp("wide", `${extra}  ingress:\n  - fromEndpoints:\n    - {}\n`);
  const narrow = (extra = "") => cnp("narrow", `  ingress:\n  - fromEndpoints:\n    - matchLabels: {app: frontend}\n    toPorts:\n    - ports:\n      - {port: "8080", protocol: TCP}\n${extra}`);

  async function ciliumFindings(text: string) {
    const scenario = await scenarioFromYaml(text);
    expect(errors(scenario)).toEqual([]);
    return lint(scenario, [redundantPolicy, redundantRule]);
  }

  it("reports a narrower CiliumNetworkPolicy that a broader one covers and keeps in default deny", async () => {
    const text = cluster + wide() + narrow();
    const found = await ciliumFindings(text);
    expect(found.map((f) => `${f.rule} ${f.resource.kind} ${f.resource.name} ${f.line}`)).toEqual([
      `redundant-policy CiliumNetworkPolicy narrow ${lineOf(text, "name: narrow") - 3}`,
    ]);
    expect(found[0]!.workloads).toEqual(["app/web"]);
    expect(found[0]!.message).toContain("other policies isolate them too (app/wide)");
    expect(found[0]!.message).toContain("app/wide ingress[0]");
  });

  it("does not report it when the broader one does not put the pods in default deny", async () => {
    expect(await ciliumFindings(cluster + wide("  enableDefaultDeny: {ingress: false}\n") + narrow())).toEqual([]);
  });

  it("does not report a policy with a deny rule", async () => {
    const text = cluster + wide() + narrow("  ingressDeny:\n  - fromEntities: [world]\n");
    expect((await ciliumFindings(text)).filter((f) => f.rule === "redundant-policy")).toEqual([]);
  });

  it("reports a namespace policy of seed-cilium-baselines that repeats the cluster-wide DNS baseline", async () => {
    const dir = join(import.meta.dirname, "..", "..", "examples", "seed-cilium-baselines");
    const extra = ciliumNetworkPolicy("recipes", "recipes-dns", {}, `  egress:\n${ciliumEgressToKubeDns('      - {port: "53", protocol: UDP}')}`);
    const base = await loadInputs([dir]);
    const added = loadText(extra, "recipes-dns.yaml");
    const scenario = buildScenario({ manifests: [...base.manifests, ...added.manifests], diagnostics: [...base.diagnostics, ...added.diagnostics] });
    expect(errors(scenario)).toEqual([]);
    const found = lint(scenario, [redundantPolicy, redundantRule]);
    expect(found.map((f) => `${f.rule} ${f.resource.kind} ${f.resource.namespace}/${f.resource.name} ${f.file}:${f.line}`)).toEqual([
      `redundant-policy CiliumNetworkPolicy recipes/recipes-dns recipes-dns.yaml:${lineOf(extra, "kind: CiliumNetworkPolicy") - 1}`,
    ]);
    expect(found[0]!.message).toContain("baseline-dns-egress");
    expect(found[0]!.workloads.length).toBeGreaterThan(0);
    expect(found[0]!.workloads.every((w) => w.startsWith("recipes/"))).toBe(true);
  });
});

describe("redundant-policy on AuthorizationPolicies", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples", "seed-kyma-ingress");
  /** A pod-level policy for jaeger-query next to the guide's namespace policy (§3.3), meant to admit garden only. */
  const jaegerPolicy = (namespaces: string) =>
    authorizationPolicy("garden", "jaeger-from-garden", { "app.kubernetes.io/name": "jaeger-query" }, "ALLOW", `  - from:\n    - source:\n        namespaces: [${namespaces}]\n`);
  async function withJaegerPolicy(extra: string) {
    const base = await loadInputs([dir]);
    const added = loadText(extra, "jaeger-policy.yaml");
    const scenario = buildScenario({ manifests: [...base.manifests, ...added.manifests], diagnostics: [...base.diagnostics, ...added.diagnostics] });
    expect(errors(scenario)).toEqual([]);
    return lint(scenario, [redundantPolicy, redundantRule]);
  }

  it("reports a pod-level policy of seed-kyma-ingress that the namespace policy makes useless: it restricts nothing", async () => {
    const found = await withJaegerPolicy(jaegerPolicy("garden"));
    expect(found.map((f) => `${f.rule} ${f.severity} ${f.resource.kind} ${f.resource.namespace}/${f.resource.name} ${f.file}:${f.line}`)).toEqual([
      `redundant-policy warning AuthorizationPolicy garden/jaeger-from-garden jaeger-policy.yaml:${lineOf(jaegerPolicy("garden"), "kind: AuthorizationPolicy") - 1}`,
    ]);
    expect(found[0]!.workloads).toEqual(["garden/jaeger-query"]);
    expect(found[0]!.message).toContain("changes nothing for garden/jaeger-query: other ALLOW policies apply wherever it does (garden/garden-namespace-policy)");
    expect(found[0]!.message).toContain("garden/garden-namespace-policy rules[0]");
  });

  it("does not report it when it admits a namespace the namespace policy does not", async () => {
    expect(await withJaegerPolicy(jaegerPolicy("garden, kyma-system"))).toEqual([]);
  });

  it("does not report a policy bound by targetRefs, which no selector policy stands in for at a waypoint", async () => {
    const refs = "  targetRefs:\n  - kind: Service\n    group: \"\"\n    name: jaeger\n";
    const text = jaegerPolicy("garden").replace("  selector:\n    matchLabels: {app.kubernetes.io/name: jaeger-query}\n", refs);
    expect(text).toContain("targetRefs");
    expect(text).not.toContain("selector");
    expect(await withJaegerPolicy(text)).toEqual([]);
  });
});

