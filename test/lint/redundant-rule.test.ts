import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadInputs, loadText } from "../../src/load/index.js";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/redundant-rule.js";
import { errors, lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { authorizationPolicy, ciliumEgressToKubeDns, ciliumNetworkPolicy, namespace, networkPolicy, pod, type Labels } from "../helpers/fixtures.js";

/** Namespaces `app` and `other`, pods web (http=8080), api (http=9090), client (in `other`). */
const cluster =
  namespace("app", { team: "a" }) +
  namespace("other", { team: "b" }) +
  pod("app", "web", { labels: { app: "web", tier: "front" }, ports: [{ name: "http", containerPort: 8080 }] }) +
  pod("app", "api", { labels: { app: "api", tier: "front" }, ports: [{ name: "http", containerPort: 9090 }] }) +
  pod("other", "client");

const policy = (name: string, podSelector: Labels, spec: string) => networkPolicy("app", name, podSelector, spec);

async function findings(text: string) {
  const scenario = await scenarioFromYaml(text);
  // A policy the API server or Cilium would reject is left out: a test on it would prove nothing.
  expect(errors(scenario)).toEqual([]);
  return lint(scenario, [rule]);
}

describe("redundant-rule", () => {
  /** web-in: ingress[0] admits every namespace on 8000-8100, ingress[1] other/client on 8080 and what `clientPort` adds. */
  const rangeThenClient = (clientPort = "") =>
    cluster +
    policy(
      "web-in",
      { app: "web" },
      `  ingress:
  - from:
    - namespaceSelector: {}
    ports:
    - port: 8000
      endPort: 8100
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
      podSelector: {matchLabels: {app: client}}
    ports:
    - port: 8080
${clientPort}`,
    );

  it("reports a rule whose peers and ports another rule of the same policy already allows", async () => {
    const text = rangeThenClient();
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "redundant-rule",
      severity: "info",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "web-in" },
      workloads: ["app/web"],
      file: "test.yaml",
      line: lineOf(text, "- from:", 2),
    });
    expect(found[0]!.message).toContain("app/web-in ingress[1] adds nothing for app/web");
    expect(found[0]!.message).toContain(`app/web-in ingress[0] (test.yaml:${lineOf(text, "- from:", 1)})`);
    // The fix is the rule list without the redundant rule.
    expect(found[0]!.fix).toContain("endPort: 8100");
    expect(found[0]!.fix).not.toContain("client");
  });

  it("does not report the rule once it allows a port outside the other's range", async () => {
    const text = rangeThenClient("      endPort: 8200\n");
    expect(await findings(text)).toEqual([]);
  });

  it("reports a rule covered by a rule of another policy selecting the same pods", async () => {
    const text =
      cluster +
      policy("front-in", { tier: "front" }, "  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: b}}\n") +
      policy("web-in", { app: "web" }, "  ingress:\n  - from:\n    - podSelector: {}\n  - from:\n    - namespaceSelector: {matchLabels: {team: b}}\n    ports:\n    - port: 443\n");
    const found = await findings(text);
    expect(found.map((f) => [f.resource.name, f.line])).toEqual([["web-in", lineOf(text, "- from:", 3)]]);
    expect(found[0]!.message).toContain("app/front-in ingress[0]");
  });

  it("does not report a rule that another policy covers for only some of the pods it selects", async () => {
    const text =
      cluster +
      policy("web-only-in", { app: "web" }, "  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: b}}\n") +
      policy("front-in", { tier: "front" }, "  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: b}}\n    ports:\n    - port: 443\n");
    // front-in also selects app/api, which nothing else admits from team b.
    expect(await findings(text)).toEqual([]);
  });

  it("keeps the first of two identical rules and reports the second", async () => {
    const rules = "  - from:\n    - podSelector: {matchLabels: {app: api}}\n    ports:\n    - port: 8080\n";
    const text = cluster + policy("web-in", { app: "web" }, `  ingress:\n${rules}${rules}`);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.line).toBe(lineOf(text, "- from:", 2));
    expect(found[0]!.message).toContain("app/web-in ingress[0]");
  });

  it("decides ipBlock rules over addresses exactly, excepts included", async () => {
    const block = (cidr: string, except = "") =>
      `  - to:\n    - ipBlock:\n        cidr: ${cidr}\n${except ? `        except: [${except}]\n` : ""}    ports:\n    - port: 443\n`;
    const base = block("10.0.0.0/8", "10.1.0.0/16");
    const inside = cluster + policy("web-out", { app: "web" }, `  egress:\n${base}${block("10.2.0.0/16")}`);
    const found = await findings(inside);
    expect(found.map((f) => f.line)).toEqual([lineOf(inside, "- to:", 2)]);
    // 10.1.2.0/24 lies in the except: the second rule adds it.
    const inExcept = cluster + policy("web-out", { app: "web" }, `  egress:\n${base}${block("10.1.2.0/24")}`);
    expect(await findings(inExcept)).toEqual([]);
  });

  it("reports an ipBlock covered only by the union of two others, naming both", async () => {
    const block = (cidr: string) => `  - to:\n    - ipBlock: {cidr: ${cidr}}\n    ports:\n    - port: 443\n`;
    const text = cluster + policy("web-out", { app: "web" }, `  egress:\n${block("10.0.0.0/9")}${block("10.128.0.0/9")}${block("10.0.0.0/8")}`);
    const found = await findings(text);
    expect(found.map((f) => f.line)).toEqual([lineOf(text, "- to:", 3)]);
    expect(found[0]!.message).toContain("egress[0]");
    expect(found[0]!.message).toContain("egress[1]");
  });

  it("resolves named ports on each selected pod", async () => {
    const spec = "  ingress:\n  - ports:\n    - port: 8080\n  - from:\n    - namespaceSelector: {}\n    ports:\n    - port: http\n";
    // On web, http is 8080: the named rule adds nothing.
    const webOnly = cluster + policy("in", { app: "web" }, spec);
    expect((await findings(webOnly)).map((f) => f.line)).toEqual([lineOf(webOnly, "- from:")]);
    // On api, http is 9090: the same rule opens a port the first one does not.
    const both = cluster + policy("in", { tier: "front" }, spec);
    expect(await findings(both)).toEqual([]);
  });

  it("resolves an egress named port on the destination, and never on an address", async () => {
    const spec = "  egress:\n  - to:\n    - podSelector: {}\n    ports:\n    - port: 8080\n    - port: 9090\n  - to:\n    - podSelector: {}\n    ports:\n    - port: http\n";
    const text = cluster + policy("out", { app: "web" }, spec);
    expect((await findings(text)).map((f) => f.line)).toEqual([lineOf(text, "- to:", 2)]);
  });

  it("ignores the rules of a direction the policy's policyTypes leave out", async () => {
    // egress[0] of ingress-only is never consulted: it neither covers nor is covered.
    const text =
      cluster +
      policy("ingress-only", { app: "web" }, "  policyTypes: [Ingress]\n  ingress:\n  - {}\n  egress:\n  - {}\n") +
      policy("web-out", { app: "web" }, "  egress:\n  - to:\n    - podSelector: {}\n");
    expect(await findings(text)).toEqual([]);
  });

  it("reports a rule that an empty rule (every peer, every port) covers", async () => {
    const text = cluster + policy("web-in", { app: "web" }, "  ingress:\n  - {}\n  - from:\n    - ipBlock: {cidr: 0.0.0.0/0}\n");
    const found = await findings(text);
    expect(found.map((f) => f.line)).toEqual([lineOf(text, "- from:")]);
  });

  it("does not take addresses and pods for every peer: a rule without peers also admits nodes", async () => {
    const text =
      cluster +
      policy(
        "web-in",
        { app: "web" },
        "  ingress:\n  - from:\n    - ipBlock: {cidr: 0.0.0.0/0}\n    - ipBlock: {cidr: '::/0'}\n    - namespaceSelector: {}\n  - ports:\n    - port: 8080\n",
      );
    expect(await findings(text)).toEqual([]);
  });

  it("does not report a rule that allows nothing for the input's pods", async () => {
    // No namespace carries team: z: the rule matches nothing (selector-selects-nothing says so).
    const text = cluster + policy("web-in", { app: "web" }, "  ingress:\n  - from:\n    - podSelector: {}\n  - from:\n    - namespaceSelector: {matchLabels: {team: z}}\n");
    expect(await findings(text)).toEqual([]);
  });

  it("writes policyTypes out in the fix when the last egress rule of a defaulted policy goes", async () => {
    const text =
      cluster +
      policy("all-out", { app: "web" }, "  policyTypes: [Egress]\n  egress:\n  - {}\n") +
      policy("web-both", { app: "web" }, "  ingress:\n  - {}\n  egress:\n  - to:\n    - podSelector: {}\n");
    const found = await findings(text);
    expect(found.map((f) => [f.resource.name, f.line])).toEqual([["web-both", lineOf(text, "- to:")]]);
    expect(found[0]!.fix).toBe("policyTypes:\n  - Ingress\n  - Egress\negress: []\n");
  });

  it("looks at each address of a workload with several pods: an ipBlock may hold one pod and not the others", async () => {
    const withAddresses = (name: string, http: number, podIPs: string[]) => pod("app", name, { ports: [{ name: "http", containerPort: http }], status: { podIPs } });
    const pods = withAddresses("web", 80, ["10.9.0.1"]) + withAddresses("q", 9090, ["10.1.0.7"]);
    const spec = "  egress:\n  - to:\n    - podSelector: {matchLabels: {app: q}}\n    ports:\n    - port: http\n  - to:\n    - ipBlock: {cidr: 10.1.0.0/16}\n    ports:\n    - port: http\n";
    // With q alone, the ipBlock rule admits q's http, which egress[0] admits too.
    const single = pods + policy("web-out", { app: "web" }, spec);
    expect((await findings(single)).map((f) => f.line)).toEqual([lineOf(single, "- to:", 2)]);
    // multi has one address inside 10.1.0.0/16 and one outside: the ipBlock admits that pod's 8080, which
    // nothing else does, so it stays; egress[0] is the one that adds nothing.
    const multi = pods + withAddresses("multi", 8080, ["10.1.0.5", "10.2.0.9"]) + policy("web-out", { app: "web" }, spec);
    const found = await findings(multi);
    expect(found.map((f) => f.line)).toEqual([lineOf(multi, "- to:", 1)]);
    expect(found[0]!.message).toContain("egress[0] adds nothing");
  });
});

describe("redundant-rule on Cilium policies", () => {
  const cnp = (name: string, spec: string) => ciliumNetworkPolicy("app", name, { app: "web" }, spec);
  const port = (p: string) => `    toPorts:\n    - ports:\n      - {port: "${p}", protocol: TCP}\n`;

  it("reports an allow rule inside another one's endpoints and ports", async () => {
    const text = cluster + cnp("web-in", `  ingress:\n  - fromEndpoints:\n    - {}\n${port("8000").replace("}", ", endPort: 8100}")}  - fromEndpoints:\n    - matchLabels: {app: api}\n${port("8080")}`);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "redundant-rule",
      resource: { kind: "CiliumNetworkPolicy", namespace: "app", name: "web-in" },
      workloads: ["app/web"],
      line: lineOf(text, "- fromEndpoints:", 2),
    });
    expect(found[0]!.message).toContain("CiliumNetworkPolicy app/web-in ingress[1] adds nothing for app/web");
    expect(found[0]!.message).toContain(`app/web-in ingress[0] (test.yaml:${lineOf(text, "- fromEndpoints:", 1)})`);
    expect(found[0]!.fix).toContain("endPort: 8100");
    expect(found[0]!.fix).not.toContain("api");
  });

  it("counts what a deny rule denies as covered: an allow for it changes nothing", async () => {
    // 10.0.0.0/8 on http: 10.1.0.0/16 is denied anyway, the rest is allowed on every port by the second policy.
    const first = cnp("first", `  ingress:\n  - fromCIDR: [10.0.0.0/8]\n    toPorts:\n    - ports:\n      - {port: http, protocol: TCP}\n  - fromEndpoints:\n    - {}\n`);
    const second = cnp("second", `  ingress:\n  - fromCIDRSet:\n    - {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n  ingressDeny:\n  - fromCIDR: [10.1.0.0/16]\n`);
    const found = await findings(cluster + first + second);
    expect(found.map((f) => [f.resource.name, f.line])).toEqual([["first", lineOf(cluster + first + second, "- fromCIDR: [10.0.0.0/8]")]]);
    // The deny rule is not named as covering: only allow rules are.
    expect(found[0]!.message).not.toContain("ingressDeny");
    expect(found[0]!.message).toContain("second");
  });

  it("reports a CIDR rule that the world entity covers, and not the world rule", async () => {
    const text = cluster + cnp("web-out", `  egress:\n  - toEntities: [world]\n${port("443")}  - toCIDRSet:\n    - {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n${port("443")}`);
    expect((await findings(text)).map((f) => f.line)).toEqual([lineOf(text, "- toCIDRSet:")]);
  });

  it("does not count a rule with L7 parts as covering: without the L4 rule, the L7 rules would apply", async () => {
    const http = `  - fromEndpoints:\n    - {}\n    toPorts:\n    - ports:\n      - {port: "80", protocol: TCP}\n      rules:\n        http:\n        - {method: GET}\n`;
    const text = cluster + cnp("web-in", `  ingress:\n  - fromEndpoints:\n    - {}\n${port("80")}${http}`);
    expect(await findings(text)).toEqual([]);
  });

  it("keeps a rule whose removal would take its policy, the only one in default deny, out of default deny", async () => {
    const covering = (defaultDeny: string) => cnp("wide", `${defaultDeny}  ingress:\n  - fromEndpoints:\n    - {}\n`);
    // narrow's egress rule adds something, so narrow stays; its only ingress rule is covered by wide.
    const narrow = cnp("narrow", `  ingress:\n  - fromEndpoints:\n    - matchLabels: {app: api}\n${port("8080")}  egress:\n  - toEntities: [world]\n${port("443")}`);
    const both = cluster + covering("") + narrow;
    const found = await findings(both);
    expect(found.map((f) => [f.resource.name, f.line])).toEqual([["narrow", lineOf(both, "- fromEndpoints:", 2)]]);
    expect(found[0]!.fix).toBe("ingress: []\n");
    // Without its ingress rule, narrow no longer puts web in ingress default deny, and wide does not either.
    const wideWithoutDefaultDeny = cluster + covering("  enableDefaultDeny: {ingress: false}\n") + narrow;
    expect(await findings(wideWithoutDefaultDeny)).toEqual([]);
  });

  it("keeps a rule to every outside address that only several rules cover together: a DNS name needs one of them", async () => {
    // The world rule comes last, so it is judged first: the two CIDR rules cover its addresses together,
    // but egress to a DNS name is admitted only by a rule covering all of IPv4 on its own.
    const text = cluster + cnp("web-out", `  egress:\n  - toCIDR: [0.0.0.0/1, "::/0"]\n${port("443")}  - toCIDR: [128.0.0.0/1]\n${port("443")}  - toEntities: [world]\n${port("443")}`);
    expect((await findings(text)).map((f) => f.line)).toEqual([lineOf(text, "- toCIDR:", 1), lineOf(text, "- toCIDR:", 2)]);
    // With one rule for all of IPv4, the world rule adds nothing, names included.
    const whole = cluster + cnp("web-out", `  egress:\n  - toCIDR: [0.0.0.0/0, "::/0"]\n${port("443")}  - toEntities: [world]\n${port("443")}`);
    expect((await findings(whole)).map((f) => f.line)).toEqual([lineOf(whole, "- toEntities:")]);
  });

  it("does not take every pod, node and the API server for the cluster entity: cilium-health is in it too", async () => {
    const ccnp = `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: web-in
spec:
  endpointSelector:
    matchLabels: {app: web}
  ingress:
  - fromEndpoints:
    - {}
${port("80")}  - fromEntities: [host, remote-node, kube-apiserver]
${port("80")}  - fromEntities: [cluster]
${port("80")}---
`;
    // The cluster rule, judged first, also admits health, init, ingress and unmanaged endpoints: it stays.
    const text = cluster + ccnp;
    const found = await findings(text);
    expect(found.map((f) => [f.resource.kind, f.line])).toEqual([
      ["CiliumClusterwideNetworkPolicy", lineOf(text, "- fromEndpoints:")],
      ["CiliumClusterwideNetworkPolicy", lineOf(text, "- fromEntities:", 1)],
    ]);
    expect(found[0]!.message).toContain("CiliumClusterwideNetworkPolicy web-in ingress[0]");
  });

  it("leaves rules asking for mutual authentication alone, as covered and as covering", async () => {
    const auth = "    authentication: {mode: required}\n";
    const plain = `  - fromEndpoints:\n    - matchLabels: {app: api}\n${port("8080")}`;
    const wideAuth = `  - fromEndpoints:\n    - {}\n${auth}`;
    // Without the plain rule, api's traffic would need the handshake the wide rule asks for.
    expect(await findings(cluster + cnp("web-in", `  ingress:\n${wideAuth}${plain}`))).toEqual([]);
    expect(await findings(cluster + cnp("web-in", `  ingress:\n  - fromEndpoints:\n    - {}\n${plain}${auth}`))).toEqual([]);
    // Without authentication the wide rule covers it.
    expect(await findings(cluster + cnp("web-in", `  ingress:\n  - fromEndpoints:\n    - {}\n${plain}`))).toHaveLength(1);
  });

  it("reports NetworkPolicy rules under the Cilium engine too", async () => {
    const text =
      cluster +
      policy("web-in", { app: "web" }, "  ingress:\n  - from:\n    - podSelector: {}\n  - from:\n    - podSelector: {matchLabels: {app: api}}\n    ports:\n    - port: 8080\n");
    const found = lint(await scenarioFromYaml(text, { cni: "cilium" }), [rule]);
    expect(found.map((f) => [f.resource.kind, f.line])).toEqual([["NetworkPolicy", lineOf(text, "- from:", 2)]]);
  });
});

describe("redundant-rule on seed-cilium-baselines", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples", "seed-cilium-baselines");
  /** A namespace policy in recipes written as its owner might: DNS to kube-dns on `ports`, then what `ports` goes on to write. */
  const recipesDns = (ports: string) => ciliumNetworkPolicy("recipes", "recipes-dns", {}, `  egress:\n${ciliumEgressToKubeDns(ports)}`);
  /** The example, plus recipesDns(ports). */
  async function withRecipesDns(ports: string) {
    const extra = recipesDns(ports);
    const base = await loadInputs([dir]);
    const added = loadText(extra, "recipes-dns.yaml");
    const scenario = buildScenario({ manifests: [...base.manifests, ...added.manifests], diagnostics: [...base.diagnostics, ...added.diagnostics] });
    expect(errors(scenario)).toEqual([]);
    return lint(scenario, [rule]);
  }

  it("finds nothing in the example as written", async () => {
    const scenario = buildScenario(await loadInputs([dir]));
    expect(lint(scenario, [rule])).toEqual([]);
  });

  it("reports a namespace rule that repeats the cluster-wide DNS baseline", async () => {
    const ports = '      - {port: "53", protocol: UDP}\n  - toEntities: [world]\n    toPorts:\n    - ports:\n      - {port: "8443", protocol: TCP}\n';
    const found = await withRecipesDns(ports);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "redundant-rule",
      resource: { kind: "CiliumNetworkPolicy", namespace: "recipes", name: "recipes-dns" },
      file: "recipes-dns.yaml",
      line: lineOf(recipesDns(ports), "  - toEndpoints:"),
    });
    expect(found[0]!.workloads.every((w) => w.startsWith("recipes/"))).toBe(true);
    expect(found[0]!.message).toContain("already allowed by baseline-dns-egress egress[0]");
  });

  it("does not report it once it opens a port the baseline does not", async () => {
    expect(await withRecipesDns('      - {port: "53", protocol: UDP}\n      - {port: "5353", protocol: UDP}\n  - toEntities: [world]\n    toPorts:\n    - ports:\n      - {port: "8443", protocol: TCP}\n')).toEqual([]);
  });
});

describe("redundant-rule on AuthorizationPolicies", () => {
  const web = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, image: c}]}
---
`;
  const ap = (name: string, attachment: string, rules: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: prod}
spec:
${attachment}  action: ALLOW
  rules:
${rules}---
`;
  const webOnly = "  selector:\n    matchLabels: {app: web}\n";
  const fromShop = "  - from:\n    - source: {namespaces: [shop]}\n    to:\n    - operation: {ports: [\"8080\"]}\n";
  /** A rule nothing else allows, so that the policy itself is not redundant (redundant-policy's case). */
  const fromDocs = "  - from:\n    - source: {ipBlocks: [192.0.2.0/24]}\n";
  const wideRule = (source: string, extra = "") => `  - from:\n    - source: ${source}\n${extra}`;

  it("reports a rule that one rule of a namespace-wide policy covers for every request", async () => {
    const text = web + ap("web-shop", webOnly, fromShop + fromDocs) + ap("from-sh", "", wideRule("{namespaces: [\"sh*\"]}"));
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "redundant-rule",
      resource: { kind: "AuthorizationPolicy", namespace: "prod", name: "web-shop" },
      workloads: ["prod/web"],
      line: lineOf(text, "- from:", 1),
    });
    expect(found[0]!.message).toContain("prod/web-shop rules[0] adds nothing");
    expect(found[0]!.message).toContain(`prod/from-sh rules[0] (test.yaml:${lineOf(text, "- from:", 3)})`);
    expect(found[0]!.fix).toBe("rules:\n  - from:\n      - source:\n          ipBlocks:\n            - 192.0.2.0/24\n");
  });

  it("does not report it when the other rule's values do not hold its own", async () => {
    expect(await findings(web + ap("web-shop", webOnly, fromShop) + ap("from-pro", "", wideRule("{namespaces: [\"pro*\"]}")))).toEqual([]);
  });

  it("does not take an HTTP-only rule as covering: on a TCP port or at ztunnel it matches nothing", async () => {
    const http = wideRule("{namespaces: [shop]}", "    to:\n    - operation: {methods: [GET]}\n");
    expect(await findings(web + ap("web-shop", webOnly, fromShop) + ap("get-from-shop", "", http))).toEqual([]);
  });

  it("does not take a policy that applies elsewhere as covering", async () => {
    const text = web + ap("web-shop", webOnly, fromShop) + ap("from-shop-db", "  selector:\n    matchLabels: {app: db}\n", wideRule("{namespaces: [shop]}"));
    expect(await findings(text)).toEqual([]);
  });

  it("compares exclusions: a rule is covered when it excludes at least what the other excludes", async () => {
    const excluding = (ns: string) => wideRule(`{namespaces: ["*"], notNamespaces: [${ns}]}`);
    const covered = web + ap("narrow", webOnly, excluding("ops, shop") + fromDocs) + ap("wide", "", excluding("ops"));
    expect((await findings(covered)).map((f) => f.resource.name)).toEqual(["narrow"]);
    const notCovered = web + ap("narrow", webOnly, excluding("ops") + fromDocs) + ap("wide", "", excluding("ops, shop"));
    expect(await findings(notCovered)).toEqual([]);
  });
});

describe("redundant-rule on seed-kyma-ingress", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples", "seed-kyma-ingress");
  /** A pod-level policy for jaeger-query next to the guide's namespace policy (§3.3): `namespaces`, and an address range. */
  const jaegerPolicy = (namespaces: string) =>
    authorizationPolicy("garden", "jaeger-from-garden", { "app.kubernetes.io/name": "jaeger-query" }, "ALLOW", `  - from:
    - source:
        namespaces: [${namespaces}]
  - from:
    - source:
        ipBlocks: [192.0.2.0/24]
`);
  async function withJaegerPolicy(namespaces: string) {
    const extra = jaegerPolicy(namespaces);
    const base = await loadInputs([dir]);
    const added = loadText(extra, "jaeger-policy.yaml");
    const scenario = buildScenario({ manifests: [...base.manifests, ...added.manifests], diagnostics: [...base.diagnostics, ...added.diagnostics] });
    expect(errors(scenario)).toEqual([]);
    return lint(scenario, [rule]);
  }

  it("finds nothing in the example as written", async () => {
    expect(lint(buildScenario(await loadInputs([dir])), [rule])).toEqual([]);
  });

  it("reports a pod-level rule that the namespace policy already allows: it restricts nothing", async () => {
    const found = await withJaegerPolicy("garden");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      resource: { kind: "AuthorizationPolicy", namespace: "garden", name: "jaeger-from-garden" },
      workloads: ["garden/jaeger-query"],
      file: "jaeger-policy.yaml",
      line: lineOf(jaegerPolicy("garden"), "  - from:"),
    });
    expect(found[0]!.message).toContain("also allowed by garden/garden-namespace-policy rules[0]");
  });

  it("does not report it once it admits a namespace the namespace policy does not", async () => {
    expect(await withJaegerPolicy("garden, kyma-system")).toEqual([]);
  });
});

