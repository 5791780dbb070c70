/**
 * Differential test against the Istio corpus of np-guard/network-config-analyzer
 * (NCA): scripts/oracle/nca-istio.ts, docs/oracle-nca-istio.md.
 *
 * Every compared case must agree, except the known differences below. A listed
 * case that starts agreeing fails, so the list stays honest; a semantic entry must
 * still be explained by exactly its variants (Palisade reading the input as NCA
 * does), and a bug entry must still differ on exactly its pairs and on nothing a
 * documented reading explains.
 *
 * The second half pins each NCA reading Palisade does not share on a small inline
 * input: Palisade's answer, and NCA's answer once the runner's variant is applied.
 * It needs no corpus. The corpus part is skipped without
 * `../shared/oracles/nca-istio` next to the repository root.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildScenario, type Scenario } from "../../src/analysis/scenario.js";
import type { LoadResult, Manifest } from "../../src/load/types.js";
import { traceFlow, type WirePath } from "../../src/path/index.js";
import type { Workload } from "../../src/model/types.js";
import {
  PalisadeView,
  VARIANTS,
  connText,
  formatDiff,
  listCases,
  meshEverywhere,
  oracleDir,
  oracleMissing,
  parseConn,
  parseDot,
  parseFwRules,
  runAll,
  summarize,
  type CaseResult,
  type VariantId,
} from "../../scripts/oracle/nca-istio.js";
import { ConnSet } from "../../src/sets/index.js";
import { loadYaml, workload } from "../helpers/cluster.js";

type KnownDifference =
  /**
   * Palisade is wrong. `pairs`: the pairs that differ because of it (nothing else may
   * differ). `thenVariants`: what the case would need once the bug is fixed, if anything.
   */
  | { kind: "bug"; reason: string; pairs: string[]; thenVariants?: VariantId[] }
  /** NCA reads the input differently (documented); the case agrees once read with exactly these variants. */
  | { kind: "semantic"; variants: VariantId[]; reason: string };

// Semantic differences: NCA's model of Sidecar resources and ServiceEntries, each pinned below.
const FIREWALL =
  "NCA treats a Sidecar's egress hosts as a firewall for mesh destinations and ServiceEntry hosts even under ALLOW_ANY; " +
  "Istio and Palisade pass out-of-scope traffic through (semantics.md §4.8 r25)";
const PORTS =
  "NCA admits every port of a workload (or ServiceEntry host) once one of its Services (or the entry) is in scope; " +
  "Istio and Palisade match the destination port, so REGISTRY_ONLY blocks the other ports and pod-IP traffic (§4.8 r26-27, §4.9)";
const FIREWALL_PORTS = `${FIREWALL}; ${PORTS}`;
const PASSTHROUGH =
  "NCA gives a sidecar client's connection its identity on every port; Istio passes a pod-address connection on a port no Service " +
  "covers through in plaintext, so principal-based ALLOW rules refuse it (istio/istio#31319), and so does Palisade";

const KNOWN_DIFFERENCES: Record<string, KnownDifference> = {
  // The bookinfo Sidecars (default, per-workload, root-namespace) import a subset of
  // details/ratings/reviews/productpage; the mesh default is ALLOW_ANY.
  connectivity_map_bookinfo_adding_default_sidecar_after_specific: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_default_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_multiple_sidecar_overrides: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_productpage_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_sidecars_with_different_selectors: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_specific_sidecar_overrides_default_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_specific_sidecar_overrides_global_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_bookinfo_two_different_sidecars_override_default_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  // ratings' Sidecar imports ./details, ./reviews and */www.slack.com (the ServiceEntry also has www.google.com), under ALLOW_ANY.
  connectivity_internal_external_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  // The same Sidecar with REGISTRY_ONLY: only the ports differ (9080 of the Services, 443 of the entry).
  connectivity_internal_external_sidecar_registry_only: { kind: "semantic", variants: ["scope-ignores-ports"], reason: PORTS },
  "connectivity_map_configs_w_sidecars_different_outbound_mode@sidecar-with-selector-registery-only": { kind: "semantic", variants: ["scope-ignores-ports"], reason: PORTS },
  // ratings' Sidecar imports */en.wikipedia.org (no entry has it: the entry says *.wikipedia.org) or
  // */*.facebook.com (covers api.facebook.com); the other entries and every Service are out of scope.
  connectivity_sidecar_host_name_contains_service_entry_hosts: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_sidecar_host_name_does_not_contain_se_hosts: { kind: "semantic", variants: ["scope-is-a-firewall"], reason: FIREWALL },
  // frontend's Sidecar imports seven default/ Services; with `~/*` it imports nothing.
  connectivity_map_online_boutique_frontend_sidecar: { kind: "semantic", variants: ["scope-is-a-firewall", "scope-ignores-ports"], reason: FIREWALL_PORTS },
  connectivity_map_online_boutique_frontend_sidecar_disable_egress: { kind: "semantic", variants: ["scope-is-a-firewall"], reason: FIREWALL },
  // onlineboutique Sidecars import istio-system/*; the ServiceEntry lives in default.
  connectivity_map_onlineboutique_multi_layer_from_live_cluster: {
    kind: "semantic",
    variants: ["scope-is-a-firewall", "scope-ignores-ports", "entries-in-every-namespace"],
    reason: `${FIREWALL_PORTS}; NCA also lets istio-system/* import a ServiceEntry of namespace default (it places entry hosts in every namespace)`,
  },
  // Sidecars in default import ./cartservice.onlineboutique.svc.cluster.local (a name of no Service) and
  // istio-system/*; the ServiceEntry in default has a host with an underscore.
  "sidecars-and-gateways-test-connectivity-map": {
    kind: "semantic",
    variants: ["scope-is-a-firewall", "scope-ignores-ports", "service-host-by-name", "lenient-host-names", "entries-in-every-namespace"],
    reason:
      `${FIREWALL_PORTS}; NCA matches Sidecar hosts of Services by their first label only, accepts the invalid host ` +
      "connected_with_mesh.example.com (istiod rejects the entry, Palisade drops it with an error) and places entry hosts in every namespace",
  },

  // A sidecar client's connection to a pod address on a port no Service covers is passed
  // through in plaintext: principal-based ALLOW rules (productpage-viewer, details-viewer, the
  // online boutique *-auth policies) refuse it where NCA keeps the client's identity.
  "connectivity-bookinfo-demo-by-deployments": { kind: "semantic", variants: ["passthrough-keeps-identity"], reason: PASSTHROUGH },
  "connectivity-bookinfo-demo-by-pods": { kind: "semantic", variants: ["passthrough-keeps-identity"], reason: PASSTHROUGH },
  new_online_boutique_connectivity_map: { kind: "semantic", variants: ["passthrough-keeps-identity"], reason: PASSTHROUGH },
  new_online_boutique_synth_res_connectivity_map: { kind: "semantic", variants: ["passthrough-keeps-identity"], reason: PASSTHROUGH },
  new_online_boutique_synth_res_connectivity_map_with_baseline_rule: { kind: "semantic", variants: ["passthrough-keeps-identity"], reason: PASSTHROUGH },
  new_online_boutique_synth_res_connectivity_map_wo_fw_rules: { kind: "semantic", variants: ["passthrough-keeps-identity"], reason: PASSTHROUGH },
};

const dir = oracleDir();
const missing = oracleMissing(dir);
if (missing) console.warn(`skipping the NCA Istio oracle test: ${missing}`);

describe.skipIf(missing !== undefined)("NCA Istio oracle", () => {
  let results: CaseResult[] = [];
  const byName = new Map<string, CaseResult>();
  const cases = missing ? [] : listCases(dir);

  beforeAll(async () => {
    results = await runAll(dir);
    for (const r of results) byName.set(r.name, r);
    const s = summarize(results);
    console.log(`NCA Istio oracle: ${s.agree}/${s.agree + s.disagree} compared cases agree (${(100 * s.rate).toFixed(1)}%), ${s.skipped} skipped`);
  }, 120_000);

  it("finds the connectivity maps of the scheme files and compares them", () => {
    expect(cases.length).toBeGreaterThan(40);
    const s = summarize(results);
    // Guards against a loader, scheme or golden-format regression that would skip everything.
    expect(s.agree + s.disagree).toBeGreaterThanOrEqual(40);
    for (const r of results.filter((x) => x.status === "skipped")) expect(r.reason, r.name).toMatch(/^not a connectivity map /);
    // A comparison that compares nothing would agree trivially.
    for (const r of results.filter((x) => x.status !== "skipped")) expect(r.pairs, r.name).toBeGreaterThan(0);
  });

  it("lists only existing, compared cases as known differences, with known variants", () => {
    const ids = new Set(VARIANTS.map((v) => v.id));
    for (const [name, known] of Object.entries(KNOWN_DIFFERENCES)) {
      expect(byName.has(name), `${name} is listed but is not a case`).toBe(true);
      expect(byName.get(name)?.status, `${name} is listed but is not compared`).not.toBe("skipped");
      const variants = known.kind === "semantic" ? known.variants : (known.thenVariants ?? []);
      for (const v of variants) expect(ids.has(v), `${name}: unknown variant ${v}`).toBe(true);
    }
  });

  for (const c of cases) {
    it(c.name, (ctx) => {
      const r = byName.get(c.name)!;
      const known = KNOWN_DIFFERENCES[c.name];
      if (r.status === "skipped") return ctx.skip(r.reason);
      const diff = `\n${formatDiff(r)}\n${r.notes.map((n) => `note: ${n}`).join("\n")}`;
      if (!known) {
        expect(r.status, `${c.name} disagrees with NCA:${diff}`).toBe("agree");
        return;
      }
      if (known.kind === "bug") {
        const then = known.thenVariants ? `change the entry to { kind: "semantic", variants: ${JSON.stringify(known.thenVariants)} }` : "remove the entry";
        expect(r.status, `${c.name} now agrees: the bug (${known.reason}) looks fixed; ${then}`).toBe("disagree");
        expect(r.diffs.map((d) => d.pair), `${c.name} differs on other pairs than the bug explains:${diff}`).toEqual(known.pairs);
        expect(r.explainedBy, `${c.name} is now explained by ${r.explainedBy?.join(" + ")}: the bug looks fixed; ${then}`).toBeUndefined();
        return;
      }
      expect(r.status, `${c.name} now agrees: remove it from KNOWN_DIFFERENCES (${known.reason})`).toBe("disagree");
      expect(r.explainedBy, `${c.name} is no longer explained by ${known.variants.join(" + ")}:${diff}`).toEqual(known.variants);
    });
  }
});

// ---------------------------------------------------------------------------
// The golden formats (no corpus needed)

describe("NCA golden formats", () => {
  it("projects connections on protocol and destination port; HTTP attributes keep the ports", () => {
    const tcp = ConnSet.protocol("TCP");
    expect(parseConn("All connections", tcp).conns.equals(tcp)).toBe(true);
    const r = parseConn("{dst_ports:8080,methods:GET, POST}", tcp);
    expect(r.conns.toString()).toBe("TCP 8080");
    expect(r.http).toBe(true);
    expect(parseConn("{methods:POST,paths:/a, /b}", tcp).conns.equals(tcp)).toBe(true);
    expect(parseConn("{protocols:TCP,dst_ports:1-8079,8081-65535}", tcp).conns.toString()).toBe("TCP 1-8079,8081-65535");
    expect(connText(ConnSet.ports("TCP", 7070), "TCP")).toBe("{dst_ports:7070}");
  });

  it("reads fw-rules lines with label expressions, names and address/DNS peers, per configuration", () => {
    const text = [
      "For connections of type TCP, final fw rules for query: q, config: a:",
      "src: 0.0.0.0/0 dst_ns: [default] dst_pods: [*] conn: All connections",
      "src_ns: [default] src_pods: [app!=ratings] dst: www.google.com conn: All connections",
      "src_ns: [default] src_pods: [app in (details,ratings)] dst_ns: [default,prod] dst_pods: [details-v1, ratings-v1] conn: {dst_ports:9080}",
      "",
      "For connections of type TCP, final fw rules for query: q, config: b:",
      "src_ns: [x] src_pods: [*] dst_ns: [x] dst_pods: [*] conn: All connections",
    ].join("\n");
    const rules = parseFwRules(text, "a");
    expect(rules.map((r) => [r.src.kind, r.dst.kind])).toEqual([
      ["ip", "pods"],
      ["pods", "dns"],
      ["pods", "pods"],
    ]);
    expect(rules[2]!.src).toEqual({ kind: "pods", namespaces: ["default"], expr: { kind: "in", key: "app", values: ["details", "ratings"], negated: false } });
    expect(rules[2]!.dst).toEqual({ kind: "pods", namespaces: ["default", "prod"], expr: { kind: "names", names: ["details-v1", "ratings-v1"] } });
  });

  it("reads dot graphs: grouped nodes, bicliques and two-way edges", () => {
    const text = `// The Connectivity Graph of q/c, for TCP connections
digraph {
	"0.0.0.0/0" [label=<<table><tr><td>0.0.0.0/0</td></tr></table>> shape=box]
	"biclique_All0" [shape=box xlabel="All" tooltip="Traffic allowed from any source workload of the BICLIQUE to any of its destination workloads:
All"]
	"ns/a(Deployment)" [label=<<table border="1"><tr><td>a(Deployment)</td></tr><tr><td>b(Deployment)</td></tr></table>> shape=box]
	"ns/c(Deployment)" [label=<<table border="0"><tr><td>c(Deployment)</td></tr></table>> shape=box]
	"ns/a(Deployment)" -> "biclique_All0"[  color=red dir=both arrowhead=normal arrowtail=none]
	"biclique_All0" -> "0.0.0.0/0"[  color=red dir=both arrowhead=normal arrowtail=none]
	"ns/c(Deployment)" -> "ns/a(Deployment)"[label="TCP" labeltooltip="{methods:GET}" dir=both arrowhead=normal arrowtail=normal]
}`;
    const rules = parseDot(text).map((r) => `${JSON.stringify(r.src)} -> ${JSON.stringify(r.dst)} ${r.conns.toString()}`);
    expect(rules).toEqual([
      `{"kind":"workload","namespace":"ns","names":["c"]} -> {"kind":"workload","namespace":"ns","names":["a"]} TCP 1-65535`,
      `{"kind":"workload","namespace":"ns","names":["c"]} -> {"kind":"workload","namespace":"ns","names":["b"]} TCP 1-65535`,
      `{"kind":"workload","namespace":"ns","names":["a"]} -> {"kind":"workload","namespace":"ns","names":["c"]} TCP 1-65535`,
      `{"kind":"workload","namespace":"ns","names":["b"]} -> {"kind":"workload","namespace":"ns","names":["c"]} TCP 1-65535`,
      `{"kind":"workload","namespace":"ns","names":["a"]} -> {"kind":"ip","text":"0.0.0.0/0"} TCP 1-65535`,
      `{"kind":"workload","namespace":"ns","names":["b"]} -> {"kind":"ip","text":"0.0.0.0/0"} TCP 1-65535`,
    ]);
  });
});

// ---------------------------------------------------------------------------
// NCA readings Palisade does not share, pinned (no corpus needed)

/** Namespace `shop` with injection on; `client` calls `server` (Service port 8080) and `other`. */
function shop(extra: string): string {
  const deploy = (name: string, port?: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      serviceAccountName: ${name}
      containers: [{name: ${name}, image: ${name}${port ? `, ports: [{containerPort: ${port}}]` : ""}}]`;
  const svc = (name: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {app: ${name}}
  ports: [{name: tcp-app, port: 8080, targetPort: 8080}]`;
  return [
    `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}`,
    deploy("client"),
    deploy("server", 8080),
    deploy("other", 8080),
    svc("server"),
    svc("other"),
    extra,
  ].join("\n---\n");
}

function sidecar(hosts: string[], mode?: "ALLOW_ANY" | "REGISTRY_ONLY"): string {
  return `
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: client, namespace: shop}
spec:
  workloadSelector: {labels: {app: client}}
  egress: [{hosts: [${hosts.map((h) => `"${h}"`).join(", ")}]}]${mode ? `\n  outboundTrafficPolicy: {mode: ${mode}}` : ""}`;
}

const ENTRY = `
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL`;

function rewrite(load: LoadResult, id: VariantId): LoadResult {
  const v = VARIANTS.find((x) => x.id === id)!;
  return { manifests: [...(v.rewrite!(load.manifests) as Manifest[])], diagnostics: load.diagnostics };
}

function toService(s: Scenario, from: string, service: string, port = 8080): WirePath {
  const svc = s.cluster.services.find((x) => x.id === service)!;
  return traceFlow(s, { kind: "workload", workload: workload(s, from) }, { kind: "service", service: svc, port: svc.ports.find((p) => p.port === port)! }, { protocol: "TCP", port })[0]!;
}

function toPod(s: Scenario, from: string, to: string, port: number): WirePath {
  return traceFlow(s, { kind: "workload", workload: workload(s, from) }, { kind: "workload", workload: workload(s, to) }, { protocol: "TCP", port })[0]!;
}

function toHost(s: Scenario, from: string, host: string, port: number): WirePath {
  return traceFlow(s, { kind: "workload", workload: workload(s, from) }, { kind: "external", host }, { protocol: "TCP", port })[0]!;
}

/** TCP ports from `from` to `to` the runner finds (8080, 9999 and their neighbours are classes of their own). */
function tcpView(s: Scenario, from: string, to: string, variants: VariantId[] = []): string {
  const view = new PalisadeView(s, [8080, 9999], variants);
  return connText(view.workloadToWorkload(workload(s, from), workload(s, to)), "TCP") || "(none)";
}

describe("NCA reading scope-is-a-firewall: Palisade passes out-of-scope destinations through under ALLOW_ANY (semantics.md §4.8 r25)", () => {
  it("a Service the client's Sidecar does not import is still reached under ALLOW_ANY, and blocked under REGISTRY_ONLY", async () => {
    const allowAny = buildScenario(await loadYaml(shop(sidecar(["./server.shop.svc.cluster.local"]))));
    const p = toService(allowAny, "shop/client", "shop/other");
    expect(p.verdict).toBe("allowed");
    expect(p.hops.find((h) => h.step === "mesh-egress")?.reason).toMatch(/passes it through/);
    const registryOnly = buildScenario(await loadYaml(shop(sidecar(["./server.shop.svc.cluster.local"], "REGISTRY_ONLY"))));
    expect(toService(registryOnly, "shop/client", "shop/other").blocked?.enforcer).toBe("istio-egress");
  });

  it("read as NCA does, the out-of-scope workload is unreachable over TCP", async () => {
    const s = buildScenario(await loadYaml(shop(sidecar(["./server.shop.svc.cluster.local"]))));
    expect(tcpView(s, "shop/client", "shop/other")).toBe("All connections");
    expect(tcpView(s, "shop/client", "shop/other", ["scope-is-a-firewall"])).toBe("(none)");
    expect(tcpView(s, "shop/client", "shop/server", ["scope-is-a-firewall"])).toBe("{dst_ports:8080}");
  });
});

describe("NCA reading scope-ignores-ports: Palisade matches the destination port (semantics.md §4.8 r26-27, §4.9 r29)", () => {
  it("under REGISTRY_ONLY only the Service port and the ServiceEntry port get through", async () => {
    const s = buildScenario(await loadYaml(shop(`${sidecar(["*/*"], "REGISTRY_ONLY")}\n---\n${ENTRY}`)));
    expect(toService(s, "shop/client", "shop/server").verdict).toBe("allowed");
    expect(toPod(s, "shop/client", "shop/server", 9999).blocked?.enforcer).toBe("istio-egress");
    expect(toHost(s, "shop/client", "api.example.com", 443).verdict).toBe("allowed");
    expect(toHost(s, "shop/client", "api.example.com", 80).blocked?.enforcer).toBe("istio-egress");
  });

  it("read as NCA does, every port of a workload with a Service in scope is reachable", async () => {
    const s = buildScenario(await loadYaml(shop(sidecar(["*/*"], "REGISTRY_ONLY"))));
    expect(tcpView(s, "shop/client", "shop/server")).toBe("{dst_ports:8080}");
    expect(tcpView(s, "shop/client", "shop/server", ["scope-ignores-ports"])).toBe("All connections");
  });
});

describe("NCA reading service-host-by-name: Palisade compares a Sidecar host with the Service's whole FQDN (semantics.md §4.8 r24)", () => {
  it("./server.elsewhere.svc.cluster.local does not import shop/server; NCA's rewrite adds ./server.shop.svc.cluster.local", async () => {
    const load = await loadYaml(shop(sidecar(["./server.elsewhere.svc.cluster.local"], "REGISTRY_ONLY")));
    expect(toService(buildScenario(load), "shop/client", "shop/server").blocked?.enforcer).toBe("istio-egress");
    expect(toService(buildScenario(rewrite(load, "service-host-by-name")), "shop/client", "shop/server").verdict).toBe("allowed");
  });
});

describe("NCA reading lenient-host-names: Palisade rejects a ServiceEntry whose host is not a DNS name, as istiod does (semantics.md §4.9 r31)", () => {
  it("the whole entry is left out with a located error; with valid names it registers its hosts", async () => {
    const entry = ENTRY.replace("hosts: [api.example.com]", "hosts: [api.example.com, bad_name.example.com]");
    const load = await loadYaml(shop(`${sidecar(["*/*"], "REGISTRY_ONLY")}\n---\n${entry}`));
    const s = buildScenario(load);
    expect(s.diagnostics.some((d) => d.severity === "error" && /bad_name/.test(d.message))).toBe(true);
    expect(toHost(s, "shop/client", "api.example.com", 443).blocked?.enforcer).toBe("istio-egress");
    expect(toHost(buildScenario(rewrite(load, "lenient-host-names")), "shop/client", "api.example.com", 443).verdict).toBe("allowed");
  });
});

describe("NCA reading entries-in-every-namespace: Palisade imports a ServiceEntry only through its own namespace (semantics.md §4.8 r24, §4.9 r30)", () => {
  it("istio-system/* does not import an entry of namespace shop; NCA's rewrite imports it", async () => {
    const load = await loadYaml(shop(`${sidecar(["istio-system/*"], "REGISTRY_ONLY")}\n---\n${ENTRY}`));
    expect(toHost(buildScenario(load), "shop/client", "api.example.com", 443).blocked?.enforcer).toBe("istio-egress");
    expect(toHost(buildScenario(rewrite(load, "entries-in-every-namespace")), "shop/client", "api.example.com", 443).verdict).toBe("allowed");
  });
});

describe("comparison normalisations (docs/oracle-nca-istio.md)", () => {
  const plain = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: plain}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{containerPort: 7070}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: post-only, namespace: plain}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {methods: [POST]}}]}]`;

  it("mesh everywhere: without an injection label Palisade leaves a pod outside the mesh; the runner marks it injected, as NCA assumes", async () => {
    const load = await loadYaml(plain);
    const s = buildScenario(load);
    const api: Workload = workload(s, "plain/api");
    expect(s.mesh?.membership(api).mode).toBe("none");
    const adjusted = meshEverywhere(load, s);
    expect(adjusted.changed).toEqual(["plain/api"]);
    const s2 = buildScenario(adjusted.load);
    expect(s2.mesh?.membership(workload(s2, "plain/api")).mode).toBe("sidecar");
  });

  it("some request: an ALLOW rule with HTTP attributes is skipped for plain TCP, so the runner also asks with HTTP requests built from the rules", async () => {
    const load = await loadYaml(plain);
    const s = buildScenario(meshEverywhere(load, buildScenario(load)).load);
    const api = workload(s, "plain/api");
    const plainTcp = traceFlow(s, { kind: "external", ip: "203.0.113.7" }, { kind: "workload", workload: api }, { protocol: "TCP", port: 7070 })[0]!;
    expect(plainTcp.blocked?.enforcer).toBe("istio-authorization");
    const post = traceFlow(s, { kind: "external", ip: "203.0.113.7" }, { kind: "workload", workload: api }, { protocol: "TCP", port: 7070 }, { method: "POST" })[0]!;
    expect(post.verdict).toBe("allowed");
    const view = new PalisadeView(s, [7070]);
    expect(view.probesFor(api, 7070).some((r) => r.method === "POST")).toBe(true);
    expect(connText(view.externalToWorkload(api), "TCP")).toBe("All connections");
  });
});
