import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/one-sided-allow.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { networkPolicy, pod } from "../helpers/fixtures.js";

const pods =
  pod("app", "web") +
  pod("app", "db", {
    ports: [
      { name: "pg", containerPort: 5432 },
      { name: "metrics", containerPort: 9187 },
    ],
  }) +
  pod("app", "cache");

const dbIngress = (ports = "    - protocol: TCP\n      port: 5432\n", from = "    - podSelector:\n        matchLabels: {app: web}\n") => networkPolicy("app", "db-in", { app: "db" }, `  policyTypes: [Ingress]
  ingress:
  - from:
${from}    ports:
${ports}`);

const webEgress = (rules: string) => networkPolicy("app", "web-out", { app: "web" }, `  policyTypes: [Egress]
${rules}`);

const toDb = (ports: string) => `  egress:
  - to:
    - podSelector:
        matchLabels: {app: db}
    ports:
${ports}`;

const run = async (text: string, cni?: "cilium") => lint(await scenarioFromYaml(text, cni ? { cni } : {}), [rule]);

describe("one-sided-allow (NetworkPolicy)", () => {
  it("reports an ingress allow whose sender's egress is default-deny", async () => {
    const text = pods + dbIngress() + webEgress("");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "one-sided-allow",
      severity: "warning",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "db-in" },
      workloads: ["app/db", "app/web"],
      line: lineOf(text, "  - from:"),
    });
    expect(findings[0]!.message).toContain("NetworkPolicy app/db-in ingress[0] admits app/web to app/db on TCP/5432");
    expect(findings[0]!.message).toContain("app/web by NetworkPolicy app/web-out");
    expect(findings[0]!.fix).toContain("egress:\n- to:\n  - podSelector:\n      matchLabels:\n        app: db\n  ports:\n  - protocol: TCP\n    port: 5432\n");
  });

  it("does not report once the sender's egress allows the flow", async () => {
    expect(await run(pods + dbIngress() + webEgress(toDb("    - protocol: TCP\n      port: 5432\n")))).toEqual([]);
  });

  it("does not report when the sender is not isolated for egress", async () => {
    expect(await run(pods + dbIngress())).toEqual([]);
  });

  it("reports an egress allow whose receiver's ingress denies it, naming the receiver's policy", async () => {
    const dbDeny = networkPolicy("app", "db-deny", { app: "db" }, "  policyTypes: [Ingress]\n");
    const text = pods + dbDeny + webEgress(toDb("    - protocol: TCP\n      port: 5432\n"));
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "web-out" }, workloads: ["app/db", "app/web"], line: lineOf(text, "  - to:") });
    expect(findings[0]!.message).toContain("lets app/web send to app/db on TCP/5432, but the receivers' own ingress denies it (app/db by NetworkPolicy app/db-deny)");
    expect(findings[0]!.fix).toContain("ingress:\n- from:\n  - podSelector:\n      matchLabels:\n        app: web\n");
  });

  it("does not report when some port of the rule gets through", async () => {
    const ports = "    - protocol: TCP\n      port: 5432\n    - protocol: TCP\n      port: 9187\n";
    expect(await run(pods + dbIngress(ports) + webEgress(toDb("    - protocol: TCP\n      port: 9187\n")))).toEqual([]);
  });

  it("probes a named port on the pod it names", async () => {
    const text = pods + dbIngress("    - port: pg\n") + webEgress(toDb("    - protocol: TCP\n      port: 9187\n"));
    const findings = await run(text);
    // Both halves are one-sided: db admits pg (5432) only, web may send 9187 only.
    expect(findings.map((f) => f.resource.name)).toEqual(["db-in", "web-out"]);
    expect(findings[0]!.message).toContain("admits app/web to app/db on TCP/5432");
    expect(findings[1]!.message).toContain("lets app/web send to app/db on TCP/9187");
  });

  it("does not report a rule admitting a whole namespace when one of its pods gets through", async () => {
    expect(await run(pods + dbIngress(undefined, "    - podSelector: {}\n") + webEgress(""))).toEqual([]);
  });

  it("reports a rule admitting a whole namespace none of whose pods may send", async () => {
    const client = (name: string) =>
      pod("clients", name) +
      webEgress("").replace("name: web-out", `name: ${name}-out`).replace("namespace: app", "namespace: clients").replace("app: web", `app: ${name}`);
    const text = pods + client("a") + client("b") + dbIngress(undefined, "    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: clients}\n");
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.workloads).toEqual(["app/db", "clients/a", "clients/b"]);
    expect(findings[0]!.fix).toContain("  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: app\n    podSelector:\n");
  });

  it("decides with Cilium's reading of the same NetworkPolicies", async () => {
    const findings = await run(pods + dbIngress() + webEgress(""), "cilium");
    expect(findings.map((f) => f.resource.name)).toEqual(["db-in"]);
  });
});

/** Every YAML file of an example, as one stream (directories starting with a dot are kustomize inputs). */
function exampleText(name: string): string {
  const root = join(import.meta.dirname, "..", "..", "examples", name);
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (entry.startsWith(".")) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith(".yaml") && entry !== "expected.yaml") files.push(path);
    }
  };
  walk(root);
  return files.map((f) => readFileSync(f, "utf8").replace(/\n*$/, "\n")).join("---\n");
}

/** The documents of a stream, without those whose text contains all of `needles`. */
function withoutDocument(text: string, ...needles: string[]): string {
  return text
    .split(/^---\n/m)
    .filter((doc) => !needles.every((n) => doc.includes(n)))
    .join("---\n");
}

const correctedPartnerApi = `---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: partner-api, namespace: partner-cp}
spec:
  endpointSelector:
    matchLabels: {app.kubernetes.io/name: partner-api}
  egress:
  - toEndpoints:
    - matchLabels:
        io.kubernetes.pod.namespace: global-auth
        app.kubernetes.io/name: auth
    toPorts:
    - ports: [{port: "5555", protocol: TCP}]
  ingress:
  - fromEndpoints:
    - matchLabels:
        io.kubernetes.pod.namespace: billing-cp
        app.kubernetes.io/name: billing-backend
    toPorts:
    - ports: [{port: "5080", protocol: TCP}]
`;

describe("one-sided-allow on seed-cilium-partner-api (seed 003: policy on both sides)", () => {
  const seed = exampleText("seed-cilium-partner-api");
  const seedWithout = (name: string) => withoutDocument(seed, "kind: CiliumNetworkPolicy", `metadata:\n  name: ${name}\n`);

  it("reports both other halves the seed's policy leaves one-sided", async () => {
    const findings = await run(seed);
    expect(findings.map((f) => [f.resource.namespace, f.resource.name, f.workloads])).toEqual([
      ["billing-cp", "billing-backend", ["billing-cp/billing-backend", "partner-cp/partner-api"]],
      ["global-auth", "auth", ["global-auth/auth", "partner-cp/partner-api"]],
    ]);
    expect(findings[0]!.message).toContain("lets billing-cp/billing-backend send to partner-cp/partner-api on TCP/5080, but the receivers' own ingress denies it");
    expect(findings[0]!.message).toContain("CiliumNetworkPolicy partner-cp/partner-api");
    expect(findings[0]!.fix).toContain("ingress:\n- fromEndpoints:\n  - matchLabels:\n      io.kubernetes.pod.namespace: billing-cp\n      app.kubernetes.io/name: billing-backend\n");
    expect(findings[1]!.message).toContain("admits partner-cp/partner-api to global-auth/auth on TCP/5555");
  });

  it("finds nothing with the corrected policy", async () => {
    expect(await run(seedWithout("partner-api") + correctedPartnerApi)).toEqual([]);
  });

  it("reports the corrected policy when auth's side is missing", async () => {
    const text = withoutDocument(seedWithout("partner-api"), "kind: CiliumNetworkPolicy", "metadata:\n  name: auth\n") + correctedPartnerApi;
    const findings = await run(text);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "CiliumNetworkPolicy", namespace: "partner-cp", name: "partner-api" }, workloads: ["global-auth/auth", "partner-cp/partner-api"] });
    expect(findings[0]!.line).toBe(lineOf(text, "  - toEndpoints:", text.split("\n").filter((l) => l === "  - toEndpoints:").length));
    expect(findings[0]!.message).toContain("global-auth/auth by CiliumNetworkPolicy global-auth/namespace-defaults");
  });
});

describe("one-sided-allow on the shop example", () => {
  const shop = exampleText("shop");

  it("reports redis admitting the worker, whose egress nobody opened", async () => {
    const findings = await run(shop);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { name: "redis" }, workloads: ["shop/redis", "shop/worker"] });
    expect(findings[0]!.message).toContain("admits shop/worker to shop/redis on TCP/6379");
  });

  it("finds nothing once the worker may send to redis", async () => {
    const fix = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: worker-to-redis, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: worker}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app: redis}
    ports:
    - {protocol: TCP, port: 6379}
`;
    expect(await run(shop + fix)).toEqual([]);
  });
});

describe("one-sided-allow on seed-cilium-baselines", () => {
  const baselines = exampleText("seed-cilium-baselines");

  it("finds nothing: the HBONE rules naming ztunnel never see a ztunnel pod on 15008, and the other halves are there", async () => {
    expect(await run(baselines)).toEqual([]);
  });

  it("reports garage admitting the database's backups once the database may no longer send them", async () => {
    const backups = "    - toEndpoints:\n        - matchLabels:\n            io.kubernetes.pod.namespace: garage\n            app.kubernetes.io/name: garage\n      toPorts:\n        - ports:\n            - port: \"3900\"\n              protocol: TCP\n";
    expect(baselines).toContain(backups);
    const findings = await run(baselines.replace(backups, ""));
    expect(findings.map((f) => [f.resource.name, f.workloads])).toEqual([["garage", ["database/platform", "garage/garage"]]]);
    expect(findings[0]!.message).toContain("admits database/platform to garage/garage on TCP/3900");
  });
});
