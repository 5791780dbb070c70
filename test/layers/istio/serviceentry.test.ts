/**
 * ServiceEntry (semantics.md §4.9): istiod's validation (r31) with located
 * diagnostics and invalid entries left out, exportTo visibility (r30), and the
 * registry question a sidecar answers (r29) — by Host for HTTP, by SNI for TLS, by
 * address, or by port alone for entries without addresses — on the seed 004 entries
 * (DNS, STATIC and NONE with a CIDR). The host matchers are checked against a
 * brute-force model.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostMatches, hostSubsetOf, requestHostMatches, validateWildcardDomain } from "../../../src/layers/istio/hosts.js";
import { scanServiceEntries, ServiceEntryRegistry } from "../../../src/layers/istio/serviceentry.js";
import { lineOf, loadYaml } from "../../helpers/cluster.js";

async function scan(text: string, defaultExportTo?: string[]) {
  const load = await loadYaml(text, "se.yaml");
  expect(load.diagnostics).toEqual([]);
  return scanServiceEntries(load.manifests, defaultExportTo ? { defaultExportTo } : {});
}

const SE = (name: string, spec: string, ns = "istio-system") => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;

/** The seed 004 entries (§4.3, §4.4 and §4.7 of that document). */
const SEED_004 = [
  SE("zenquotes-external", `hosts: [zenquotes.io]\nports: [{number: 443, name: https, protocol: HTTPS}]\nlocation: MESH_EXTERNAL\nresolution: DNS\nexportTo: ["*"]`),
  SE("kubernetes-api-external", `hosts: [api.c-XXXXX.kyma.ondemand.com]\nports: [{number: 443, name: https, protocol: TLS}]\nlocation: MESH_EXTERNAL\nresolution: DNS\nexportTo: ["*"]`),
  SE("external-database", `hosts: [external-db.internal]\naddresses: [203.0.113.50/32]\nports: [{number: 5432, name: postgres, protocol: TCP}]\nlocation: MESH_EXTERNAL\nresolution: STATIC\nendpoints: [{address: 203.0.113.50}]\nexportTo: ["*"]`),
  SE("corporate-network", `hosts: ["*.corp.internal"]\naddresses: [10.100.0.0/16]\nports:\n- {number: 443, name: https, protocol: HTTPS}\n- {number: 80, name: http, protocol: HTTP}\nlocation: MESH_EXTERNAL\nresolution: NONE\nexportTo: ["*"]`),
  SE(
    "legacy-api-servers",
    `hosts: [legacy-api.internal]\naddresses: [192.168.1.10/32, 192.168.1.11/32, 192.168.1.12/32]\nports: [{number: 8080, name: http, protocol: HTTP}]\nlocation: MESH_EXTERNAL\nresolution: STATIC\nendpoints:\n- {address: 192.168.1.10, weight: 33}\n- {address: 192.168.1.11, weight: 33}\n- {address: 192.168.1.12, weight: 34}\nexportTo: ["*"]`,
  ),
  SE("zenquotes-external", `hosts: [zenquotes.io]\nports: [{number: 443, name: https, protocol: HTTPS}]\nlocation: MESH_EXTERNAL\nresolution: DNS`, "garden"),
].join("---\n");

describe("validation as istiod's webhook (§4.9 r31)", () => {
  it("the seed 004 entries are all valid", async () => {
    const s = await scan(SEED_004);
    expect(s.diagnostics).toEqual([]);
    expect(s.entries.map((e) => `${e.namespace}/${e.name} ${e.resolution} ${e.exportTo.join(",")}${e.exportToDefaulted ? " (default)" : ""}`)).toEqual([
      "istio-system/zenquotes-external DNS *",
      "istio-system/kubernetes-api-external DNS *",
      "istio-system/external-database STATIC *",
      "istio-system/corporate-network NONE *",
      "istio-system/legacy-api-servers STATIC *",
      "garden/zenquotes-external DNS * (default)",
    ]);
  });

  it("exportTo defaults to MeshConfig defaultServiceExportTo", async () => {
    const s = await scan(SE("x", `hosts: [a.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS`), ["."]);
    expect(s.entries[0]).toMatchObject({ exportTo: ["."], exportToDefaulted: true });
  });

  it("STATIC without endpoints is accepted (the entry just has no endpoints)", async () => {
    const s = await scan(SE("x", `hosts: [db.internal]\naddresses: [10.0.0.5]\nports: [{number: 5432, name: pg, protocol: TCP}]\nresolution: STATIC`));
    expect(s.diagnostics).toEqual([]);
    expect(s.entries).toHaveLength(1);
  });

  const cases: [string, string, string, string][] = [
    ["host *", `hosts: ["*"]\nports: [{number: 80, name: http, protocol: HTTP}]`, `hosts: ["*"]`, "spec.hosts[0]"],
    ["an invalid host", `hosts: [bad_host.example.com]\nports: [{number: 80, name: http}]`, "bad_host", "spec.hosts[0]"],
    ["no hosts", `hosts: []\nports: [{number: 80, name: http}]`, "hosts: []", "spec.hosts"],
    ["endpoints with workloadSelector", `hosts: [a.example.com]\nresolution: STATIC\nworkloadSelector: {labels: {app: a}}\nendpoints: [{address: 10.0.0.1}]\nports: [{number: 80, name: http}]`, "workloadSelector:", "spec.workloadSelector"],
    ["a CIDR with DNS resolution", `hosts: [a.example.com]\naddresses: [10.0.0.0/8]\nresolution: DNS\nports: [{number: 80, name: http, protocol: HTTP}]`, "addresses:", "spec.addresses"],
    ["endpoints with NONE", `hosts: [a.example.com]\nresolution: NONE\nendpoints: [{address: 10.0.0.1}]\nports: [{number: 80, name: http}]`, "endpoints:", "spec.endpoints"],
    ["a wildcard host with DNS and no endpoints", `hosts: ["*.example.com"]\nresolution: DNS\nports: [{number: 443, name: tls, protocol: TLS}]`, `"*.example.com"`, "spec.hosts[0]"],
    ["two endpoints with DNS_ROUND_ROBIN", `hosts: [a.example.com]\nresolution: DNS_ROUND_ROBIN\nendpoints: [{address: a1.example.com}, {address: a2.example.com}]\nports: [{number: 80, name: http, protocol: HTTP}]`, "endpoints:", "spec.endpoints"],
    ["a STATIC endpoint that is not an IP", `hosts: [a.example.com]\nresolution: STATIC\nendpoints: [{address: a1.example.com}]\nports: [{number: 80, name: http}]`, "endpoints:", "spec.endpoints[0].address"],
    ["an endpoint port that names no port", `hosts: [a.example.com]\nresolution: STATIC\nendpoints: [{address: 10.0.0.1, ports: {grpc: 9000}}]\nports: [{number: 80, name: http}]`, "endpoints:", "spec.endpoints[0].ports.grpc"],
    ["DYNAMIC_DNS with an exact host", `hosts: [a.example.com]\nresolution: DYNAMIC_DNS\nports: [{number: 443, name: tls, protocol: TLS}]`, "hosts:", "spec.hosts[0]"],
    ["DYNAMIC_DNS with a TCP port", `hosts: ["*.example.com"]\nresolution: DYNAMIC_DNS\nports: [{number: 5432, name: pg, protocol: TCP}]`, "ports:", "spec.ports[0].protocol"],
    ["two hosts with a TCP port and DNS", `hosts: [a.example.com, b.example.com]\nresolution: DNS\nports: [{number: 5432, name: pg, protocol: TCP}]`, "hosts:", "spec.hosts"],
    ["a duplicate port number", `hosts: [a.example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: web, protocol: HTTP}]`, "ports:", "spec.ports[1].number"],
    ["a duplicate port name", `hosts: [a.example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http, protocol: HTTP}]`, "ports:", "spec.ports[1].name"],
    ["a port without name", `hosts: [a.example.com]\nports: [{number: 80, protocol: HTTP}]`, "ports:", "spec.ports[0].name"],
    ["an unknown protocol", `hosts: [a.example.com]\nports: [{number: 80, name: web, protocol: QUIC}]`, "ports:", "spec.ports[0].protocol"],
    ["a port out of range", `hosts: [a.example.com]\nports: [{number: 70000, name: web}]`, "ports:", "spec.ports[0].number"],
    ["an unknown resolution", `hosts: [a.example.com]\nresolution: STATIK\nports: [{number: 80, name: web}]`, "resolution: STATIK", "spec.resolution"],
    ["an unknown field", `hosts: [a.example.com]\nport: [{number: 80, name: web}]`, "port:", "spec.port"],
    ["exportTo * with another value", `hosts: [a.example.com]\nports: [{number: 80, name: web}]\nexportTo: ["*", "garden"]`, "exportTo:", "spec.exportTo"],
    ["exportTo ~ with another value", `hosts: [a.example.com]\nports: [{number: 80, name: web}]\nexportTo: ["~", "garden"]`, "exportTo:", "spec.exportTo"],
    ["exportTo . and its own namespace", `hosts: [a.example.com]\nports: [{number: 80, name: web}]\nexportTo: [".", "istio-system"]`, "exportTo:", "spec.exportTo[1]"],
    ["an invalid exportTo entry", `hosts: [a.example.com]\nports: [{number: 80, name: web}]\nexportTo: ["team a"]`, "exportTo:", "spec.exportTo[0]"],
  ];
  it.each(cases)("rejects %s, located, and leaves the entry out", async (_what, spec, needle, field) => {
    const text = SE("bad", spec) + "---\n" + SE("good", `hosts: [ok.example.com]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DNS`);
    const s = await scan(text);
    const errs = s.diagnostics.filter((d) => d.severity === "error");
    expect(errs.length, errs.map((d) => d.format()).join("\n")).toBeGreaterThanOrEqual(1);
    expect(errs.map((d) => d.location.field)).toContain(field);
    const e = errs.find((d) => d.location.field === field)!;
    expect(e.location.line).toBe(lineOf(text, needle));
    expect(s.entries.map((x) => x.name)).toEqual(["good"]);
    expect(s.rejected.map((x) => x.name)).toEqual(["bad"]);
  });

  it("warnings keep the entry: partial wildcard, selector with NONE, several hosts with addresses and a TCP port", async () => {
    const text = [
      SE("partial", `hosts: ["*foo.example.com"]\nports: [{number: 80, name: http, protocol: HTTP}]`),
      SE("selector", `hosts: [a.example.com]\nresolution: NONE\nworkloadSelector: {labels: {app: a}}\nports: [{number: 80, name: http, protocol: HTTP}]`),
      SE("multi", `hosts: [a.example.com, b.example.com]\naddresses: [10.1.1.1]\nresolution: DNS\nports: [{number: 443, name: tls, protocol: TLS}]`),
    ].join("---\n");
    const s = await scan(text);
    expect(s.diagnostics.map((d) => [d.severity, d.location.field])).toEqual([
      ["warning", "spec.hosts[0]"],
      ["warning", "spec.workloadSelector"],
      ["warning", "spec.hosts"],
    ]);
    expect(s.entries).toHaveLength(3);
  });
});

describe("the registry question (§4.9 r29, r30)", () => {
  it("seed 004: zenquotes.io on 443 (HTTPS) matches by SNI; other names and ports do not", async () => {
    const reg = ServiceEntryRegistry.fromScan(await scan(SEED_004));
    const a = reg.query({ namespace: "garden", host: "zenquotes.io", port: 443 });
    expect(a.match).toMatchObject({ by: "sni", host: "zenquotes.io", visible: true });
    // Both the istio-system and the garden entry match; the client's own namespace comes first.
    expect(a.match!.entry.namespace).toBe("garden");
    expect(reg.query({ namespace: "garden", host: "google.com", port: 443 }).match).toBeNull();
    const port80 = reg.query({ namespace: "garden", host: "zenquotes.io", port: 80, app: "http" });
    expect(port80.match).toBeNull();
    expect(port80.nearMisses[0]!.why).toMatch(/registers zenquotes.io but not port 80 \(ports: 443\)/);
    const plain = reg.query({ namespace: "garden", host: "zenquotes.io", port: 443, app: "tcp" });
    expect(plain.match).toBeNull();
    expect(plain.nearMisses[0]!.why).toMatch(/SNI/);
  });

  it("seed 004 §4.7 STATIC address entry: matched by destination IP on 5432, not another IP", async () => {
    const reg = ServiceEntryRegistry.fromScan(await scan(SEED_004));
    expect(reg.query({ namespace: "garden", ip: "203.0.113.50", port: 5432 }).match).toMatchObject({ by: "address", entry: { name: "external-database" } });
    expect(reg.query({ namespace: "garden", ip: "203.0.113.51", port: 5432 }).match).toBeNull();
    const byName = reg.query({ namespace: "garden", host: "external-db.internal", port: 5432 });
    expect(byName.match).toMatchObject({ by: "host" });
    expect(byName.match!.notes.join(" ")).toMatch(/resolves to an address/);
  });

  it("seed 004 §4.7 NONE with a CIDR: TLS to any address of the range; HTTP is routed by Host, not by address", async () => {
    const reg = ServiceEntryRegistry.fromScan(await scan(SEED_004));
    expect(reg.query({ namespace: "garden", ip: "10.100.7.9", port: 443, app: "tls" }).match).toMatchObject({ by: "address", entry: { name: "corporate-network" } });
    expect(reg.query({ namespace: "garden", ip: "10.101.0.1", port: 443, app: "tls" }).match).toBeNull();
    expect(reg.query({ namespace: "garden", host: "wiki.corp.internal", port: 80, app: "http" }).match).toMatchObject({ by: "host", host: "*.corp.internal" });
    const byIp = reg.query({ namespace: "garden", ip: "10.100.7.9", port: 80, app: "http" });
    expect(byIp.match).toBeNull();
    expect(byIp.nearMisses[0]!.why).toMatch(/HTTP is routed by Host header/);
  });

  it("seed 004 §4.7 several STATIC addresses on an HTTP port: Host = one of the addresses, or the host name", async () => {
    const reg = ServiceEntryRegistry.fromScan(await scan(SEED_004));
    expect(reg.query({ namespace: "garden", ip: "192.168.1.11", port: 8080, app: "http" }).match).toMatchObject({ by: "address", entry: { name: "legacy-api-servers" } });
    expect(reg.query({ namespace: "garden", host: "legacy-api.internal", port: 8080 }).match).toMatchObject({ by: "host" });
  });

  it("r29: NONE without addresses on a TCP port takes every IP on that port", async () => {
    const reg = ServiceEntryRegistry.fromScan(await scan(SE("db", `hosts: [db.example.com]\nports: [{number: 5432, name: pg, protocol: TCP}]\nresolution: NONE`)));
    const a = reg.query({ namespace: "x", ip: "8.8.8.8", port: 5432 });
    expect(a.match).toMatchObject({ by: "port" });
    expect(a.match!.notes.join(" ")).toMatch(/every IP on that port/);
    expect(reg.query({ namespace: "x", ip: "8.8.8.8", port: 5433 }).match).toBeNull();
  });

  it("wildcard hosts: *.example.com serves api.example.com, not example.com; an exact host is more specific", async () => {
    const text = [
      SE("wild", `hosts: ["*.example.com"]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: NONE`),
      SE("exact", `hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS`),
    ].join("---\n");
    const reg = ServiceEntryRegistry.fromScan(await scan(text));
    expect(reg.query({ namespace: "x", host: "API.Example.com", port: 80 }).match!.entry.name).toBe("exact");
    expect(reg.query({ namespace: "x", host: "www.example.com", port: 80 }).match!.entry.name).toBe("wild");
    expect(reg.query({ namespace: "x", host: "example.com", port: 80 }).match).toBeNull();
  });

  it("r30: exportTo decides visibility (., ~, namespace names); hidden entries are explained", async () => {
    const text = [
      SE("private", `hosts: [a.example.com]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DNS\nexportTo: ["."]`, "team-a"),
      SE("nobody", `hosts: [b.example.com]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DNS\nexportTo: ["~"]`, "team-a"),
      SE("named", `hosts: [c.example.com]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DNS\nexportTo: [team-b]`, "team-a"),
    ].join("---\n");
    const reg = ServiceEntryRegistry.fromScan(await scan(text));
    expect(reg.query({ namespace: "team-a", host: "a.example.com", port: 443 }).match?.entry.name).toBe("private");
    const hidden = reg.query({ namespace: "team-b", host: "a.example.com", port: 443 });
    expect(hidden.match).toBeNull();
    expect(hidden.candidates[0]).toMatchObject({ visible: false });
    expect(hidden.nearMisses[0]!.why).toMatch(/exported only to \., not to namespace team-b/);
    expect(reg.query({ namespace: "team-a", host: "b.example.com", port: 443 }).match).toBeNull();
    expect(reg.query({ namespace: "team-b", host: "c.example.com", port: 443 }).match?.entry.name).toBe("named");
    expect(reg.visibleTo("team-b").map((e) => e.name)).toEqual(["named"]);
  });

  it("an invalid entry that would match is named in the near misses", async () => {
    const reg = ServiceEntryRegistry.fromScan(await scan(SE("broken", `hosts: [pay.example.com]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DNS\nendpoints: [{address: 10.0.0.1}, {address: 10.0.0.2}]\nbogus: true`)));
    const a = reg.query({ namespace: "x", host: "pay.example.com", port: 443 });
    expect(a.match).toBeNull();
    expect(a.nearMisses[0]!.why).toMatch(/broken names pay.example.com but is invalid/);
  });
});

// ---------------------------------------------------------------------------
// Property: the host relations agree with a brute-force model over a finite universe.

const LABELS = ["a", "b", "c", "ab"];
function names(depth: number): string[] {
  if (depth === 1) return [...LABELS];
  const shorter = names(depth - 1);
  return [...shorter, ...LABELS.flatMap((l) => shorter.filter((s) => s.split(".").length === depth - 1).map((s) => `${l}.${s}`))];
}
/** Concrete names up to 4 labels; patterns up to 3 labels (so a fresh label is always a witness). */
const UNIVERSE = names(4);
const PATTERN_NAMES = names(3);
const PATTERNS = ["*", ...PATTERN_NAMES, ...PATTERN_NAMES.map((n) => `*.${n}`)];

/** What a (valid) pattern stands for: itself, everything, or the names strictly under its suffix. */
function covers(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  return pattern === name;
}

describe("host matching against a brute-force model (property)", () => {
  it("SubsetOf(a, b) ⇔ every name a stands for, b stands for; Matches(a, b) ⇔ they share a name", () => {
    const pattern = fc.constantFrom(...PATTERNS);
    fc.assert(
      fc.property(pattern, pattern, (a, b) => {
        const subset = UNIVERSE.every((n) => !covers(a, n) || covers(b, n));
        const overlap = UNIVERSE.some((n) => covers(a, n) && covers(b, n));
        expect(hostSubsetOf(a, b), `${a} ⊆ ${b}`).toBe(subset);
        expect(hostMatches(a, b), `${a} ~ ${b}`).toBe(overlap);
        expect(hostMatches(a, b)).toBe(hostMatches(b, a));
      }),
      { numRuns: 2000 },
    );
  });

  it("requestHostMatches(pattern, host) ⇔ the pattern stands for the host, ignoring case and a trailing dot", () => {
    const upper = (s: string, mask: number) => [...s].map((c, i) => ((mask >> i) & 1 ? c.toUpperCase() : c)).join("");
    fc.assert(
      fc.property(fc.constantFrom(...PATTERNS), fc.constantFrom(...UNIVERSE), fc.integer({ min: 0, max: 1 << 12 }), fc.boolean(), (p, n, mask, dot) => {
        const asked = upper(n, mask) + (dot ? "." : "");
        expect(requestHostMatches(upper(p, mask >> 3), asked), `${p} serves ${asked}`).toBe(covers(p, n));
      }),
      { numRuns: 2000 },
    );
  });

  it("every generated pattern passes istiod's wildcard-domain check", () => {
    for (const p of PATTERNS) expect(validateWildcardDomain(p), p).toBeUndefined();
  });
});
