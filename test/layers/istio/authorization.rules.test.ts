/**
 * Istio AuthorizationPolicy, item by item: semantics.md §4.1–§4.6 (sidecar and
 * waypoint) and §5.4–§5.5 (ztunnel, waypoint), each case citing its rule or edge
 * case (I1–I17, M3–M13), plus the scanner's istiod validation with located
 * diagnostics. Policies go through the real loader and scanner.
 */
import { describe, expect, it } from "vitest";
import { loadText } from "../../../src/load/index.js";
import type { InputDiagnostic } from "../../../src/load/types.js";
import {
  evaluateAuthorization,
  scanAuthorizationPolicies,
  type AuthorizationPolicy,
  type AuthzDecision,
  type AuthzOptions,
  type AuthzRequest,
  type EnforcementPoint,
  type HttpAttributes,
} from "../../../src/layers/istio/authorization.js";
import { lineOf } from "../../helpers/cluster.js";

const FILE = "authz.yaml";

function scan(text: string, options: { rootNamespace?: string } = {}): { policies: AuthorizationPolicy[]; diagnostics: InputDiagnostic[] } {
  const load = loadText(text, FILE);
  expect(load.diagnostics.map((d) => d.format())).toEqual([]);
  const diagnostics: InputDiagnostic[] = [];
  return { policies: scanAuthorizationPolicies(load.manifests, diagnostics, options), diagnostics };
}

function errorsOf(diags: readonly InputDiagnostic[]): string[] {
  return diags.filter((d) => d.severity === "error").map((d) => d.format());
}

/** Valid policies only: fails on any error diagnostic. */
function policies(text: string): AuthorizationPolicy[] {
  const { policies: ps, diagnostics } = scan(text);
  expect(errorsOf(diagnostics)).toEqual([]);
  return ps;
}

/** An AuthorizationPolicy document: `spec` is YAML (indented by the caller as a block under `spec:`). */
function ap(name: string, namespace: string, spec: string, extraMeta = ""): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: ${namespace}${extraMeta}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

const docs = (...d: string[]) => d.join("---\n");

interface ReqOptions {
  source?: Partial<AuthzRequest["source"]>;
  destination?: Partial<AuthzRequest["destination"]>;
  http?: HttpAttributes;
  protocol?: AuthzRequest["protocol"];
  sni?: string;
}

/** Default: client shop/frontend (10.1.0.5, mTLS) → prod web pod (app=web) port 8080, TCP. */
function req(o: ReqOptions = {}): AuthzRequest {
  return {
    source: { namespace: "shop", serviceAccount: "frontend", ip: "10.1.0.5", mtls: true, ...o.source },
    destination: { namespace: "prod", labels: { app: "web", version: "v1" }, port: 8080, ip: "10.2.0.9", ...o.destination },
    protocol: o.protocol ?? "TCP",
    ...(o.http ? { http: o.http } : {}),
    ...(o.sni ? { sni: o.sni } : {}),
  };
}

const GET: HttpAttributes = { method: "GET", path: "/api/items", host: "web.prod.svc.cluster.local" };
const POST: HttpAttributes = { method: "POST", path: "/api/items", host: "web.prod.svc.cluster.local" };
const SIDECAR: EnforcementPoint = { kind: "sidecar" };
const ZTUNNEL: EnforcementPoint = { kind: "ztunnel" };
const WAYPOINT: EnforcementPoint = { kind: "waypoint", waypoint: { namespace: "prod", name: "waypoint" }, service: { namespace: "prod", name: "web" } };

function evaluate(text: string, r: AuthzRequest, point: EnforcementPoint = SIDECAR, options: AuthzOptions = {}): AuthzDecision {
  return evaluateAuthorization(policies(text), r, point, options);
}

function verdict(text: string, r: AuthzRequest, point: EnforcementPoint = SIDECAR, options: AuthzOptions = {}): "allow" | "deny" {
  return evaluate(text, r, point, options).verdict;
}

/** `ns/name[rule]` of the deciding policies. */
function deciders(d: AuthzDecision): string[] {
  return d.policies.map((p) => `${p.namespace}/${p.name}${p.rule === null ? "" : `[${p.rule}]`}`);
}

const ALLOW_ALL = ap("allow-all", "prod", "rules:\n- {}");

describe("which policies apply (§4.1)", () => {
  it("r1: no selector = every workload of the policy's namespace; other namespaces are untouched", () => {
    const text = ap("allow-nothing", "prod", "{}");
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ destination: { namespace: "staging" } }))).toBe("allow");
  });

  it("r1–r2: a selector selects the workloads whose labels include it (subset)", () => {
    const text = ap("web-only", "prod", "selector:\n  matchLabels: {app: web}");
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ destination: { labels: { app: "db" } } }))).toBe("allow");
    const two = ap("two-labels", "prod", "selector:\n  matchLabels: {app: web, version: v2}");
    expect(verdict(two, req())).toBe("allow");
  });

  it("I16: a root-namespace policy with a selector applies to those labels in every namespace", () => {
    const text = ap("deny-web-everywhere", "istio-system", "selector:\n  matchLabels: {app: web}");
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ destination: { namespace: "staging" } }))).toBe("deny");
    expect(verdict(text, req({ destination: { labels: { app: "db" } } }))).toBe("allow");
  });

  it("r1: a root-namespace policy without selector applies mesh-wide; the root namespace is a parameter", () => {
    const text = ap("mesh-allow-nothing", "mesh-root", "{}");
    expect(verdict(text, req())).toBe("allow");
    expect(verdict(text, req(), SIDECAR, { rootNamespace: "mesh-root" })).toBe("deny");
    expect(verdict(text, req({ destination: { namespace: "other" } }), SIDECAR, { rootNamespace: "mesh-root" })).toBe("deny");
  });

  it("I15 (r2): a policy with targetRefs is ignored by sidecars, and the decision says so", () => {
    const text = ap("waypoint-only", "prod", "targetRefs:\n- {kind: Service, group: '', name: web}");
    const d = evaluate(text, req());
    expect(d.verdict).toBe("allow");
    expect(d.isolated).toBe(false);
    expect(d.notes.join("\n")).toMatch(/prod\/waypoint-only is not enforced here: sidecars ignore policies with targetRefs/);
  });

  it("§5.4 r9 / M7: targetRefs policies are never sent to ztunnel", () => {
    const text = ap("gw", "prod", "targetRefs:\n- {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}");
    const d = evaluate(text, req(), ZTUNNEL);
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/never sent to ztunnel/);
  });

  it("§5.5 r16: a waypoint enforces only targetRefs policies — selector and namespace-wide ones are ignored", () => {
    const text = docs(ap("ns-wide", "prod", "{}"), ap("selected", "prod", "selector:\n  matchLabels: {app: web}"));
    const d = evaluate(text, req({ http: GET }), WAYPOINT);
    expect(d.verdict).toBe("allow");
    expect(d.notes.filter((n) => /waypoints ignore selector and namespace-wide policies/.test(n))).toHaveLength(2);
  });

  it("§5.5 r16: waypoint attachment by Gateway name, Service, ServiceEntry and GatewayClass istio-waypoint", () => {
    const gw = ap("gw", "prod", "targetRefs:\n- {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}");
    expect(verdict(gw, req({ http: GET }), WAYPOINT)).toBe("deny");
    expect(verdict(gw, req({ http: GET }), { ...WAYPOINT, waypoint: { namespace: "prod", name: "other-waypoint" } })).toBe("allow");

    const svc = ap("svc", "prod", "targetRefs:\n- {kind: Service, group: '', name: web}");
    expect(verdict(svc, req({ http: GET }), WAYPOINT)).toBe("deny");
    expect(verdict(svc, req({ http: GET }), { ...WAYPOINT, service: { namespace: "prod", name: "db" } })).toBe("allow");
    // A Service target binds from the Service's namespace, whatever the waypoint's namespace.
    const shared: EnforcementPoint = { kind: "waypoint", waypoint: { namespace: "infra", name: "shared" }, service: { namespace: "prod", name: "web" } };
    expect(verdict(svc, req({ http: GET }), shared)).toBe("deny");
    expect(verdict(svc, req({ http: GET }), { ...WAYPOINT, service: { namespace: "prod", name: "web", kind: "ServiceEntry" } })).toBe("allow");

    const se = ap("se", "prod", "targetRefs:\n- {kind: ServiceEntry, group: networking.istio.io, name: web}");
    expect(verdict(se, req({ http: GET }), { ...WAYPOINT, service: { namespace: "prod", name: "web", kind: "ServiceEntry" } })).toBe("deny");
    expect(verdict(se, req({ http: GET }), WAYPOINT)).toBe("allow");

    const cls = ap("every-waypoint", "istio-system", "targetRefs:\n- {kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}");
    expect(verdict(cls, req({ http: GET }), shared)).toBe("deny");
    expect(verdict(cls, req({ http: GET }), SIDECAR)).toBe("allow");
  });

  it("§5.4 r10 / M13: AUDIT and CUSTOM policies are not enforced by ztunnel", () => {
    const text = ap("ext", "prod", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- {}");
    const d = evaluate(text, req(), ZTUNNEL, { customDecision: "deny" });
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/ztunnel does not support the CUSTOM action/);
    expect(evaluate(text, req(), SIDECAR, { customDecision: "deny" }).verdict).toBe("deny");
  });

  it("dry-run policies (istio.io/dry-run) are never enforced", () => {
    const text = ap("dry", "prod", "action: DENY\nrules:\n- {}", `\n  annotations: {"istio.io/dry-run": "true"}`);
    for (const point of [SIDECAR, ZTUNNEL]) {
      const d = evaluate(text, req(), point);
      expect(d.verdict).toBe("allow");
      expect(d.notes.join("\n")).toMatch(/dry-run policy/);
    }
  });
});

describe("evaluation order CUSTOM → DENY → ALLOW (§4.2)", () => {
  it("I1: no AuthorizationPolicy applies: allow", () => {
    const d = evaluateAuthorization([], req(), SIDECAR);
    expect(d).toMatchObject({ verdict: "allow", isolated: false, policies: [], observed: null });
  });

  it("I2 (§4.3 r10): spec {} is ALLOW with no rules: deny all, the miss says why", () => {
    const text = ap("allow-nothing", "prod", "{}");
    const d = evaluate(text, req({ http: GET }));
    expect(d.verdict).toBe("deny");
    expect(d.policies).toEqual([{ kind: "AuthorizationPolicy", namespace: "prod", name: "allow-nothing", rule: null, file: FILE, line: 1 }]);
    expect(d.misses).toEqual(["prod/allow-nothing has no rules: it allows nothing (semantics.md §4.3 r10)"]);
    expect(d.observed).toBe("http-403");
  });

  it("I2: `rules: []` is the same as no rules", () => {
    expect(verdict(ap("empty-rules", "prod", "rules: []"), req())).toBe("deny");
  });

  it("I3: rules [{}] allows everything, and names the rule with its line", () => {
    const d = evaluate(ALLOW_ALL, req({ source: { mtls: false } }));
    expect(d.verdict).toBe("allow");
    expect(d.policies).toEqual([{ kind: "AuthorizationPolicy", namespace: "prod", name: "allow-all", rule: 0, file: FILE, line: lineOf(ALLOW_ALL, "- {}") }]);
  });

  it("I4: ALLOW policies are ORed: one that does not match does not stop another that does", () => {
    const text = docs(
      ap("from-ops", "prod", "rules:\n- from:\n  - source: {namespaces: [ops]}"),
      ap("from-shop", "prod", "rules:\n- from:\n  - source: {namespaces: [shop]}"),
    );
    const d = evaluate(text, req());
    expect(d.verdict).toBe("allow");
    expect(deciders(d)).toEqual(["prod/from-shop[0]"]);
  });

  it("r6 step 5: ALLOW policies apply and none matches: deny, with a miss per rule", () => {
    const text = docs(
      ap("from-ops", "prod", "rules:\n- from:\n  - source: {namespaces: [ops]}\n- to:\n  - operation: {ports: ['9090']}"),
      ap("from-batch", "istio-system", "selector:\n  matchLabels: {app: web}\nrules:\n- from:\n  - source: {principals: [cluster.local/ns/batch/sa/job]}"),
    );
    const d = evaluate(text, req());
    expect(d.verdict).toBe("deny");
    expect(deciders(d).sort()).toEqual(["istio-system/from-batch", "prod/from-ops"]);
    expect(d.misses).toEqual([
      "prod/from-ops rules[0]: from[0]: source namespace shop does not match namespaces [ops]",
      "prod/from-ops rules[1]: to[0]: port 8080 does not match ports [9090]",
      "istio-system/from-batch rules[0]: from[0]: source principal cluster.local/ns/shop/sa/frontend does not match principals [cluster.local/ns/batch/sa/job]",
    ]);
    expect(d.reason).toMatch(/ALLOW policies .* apply and no rule matches/);
  });

  it("I5: a matching DENY wins over a matching ALLOW; every matching DENY rule is reported with its line", () => {
    const deny = ap("deny-shop", "prod", "action: DENY\nrules:\n- to:\n  - operation: {ports: ['9090']}\n- from:\n  - source: {namespaces: [shop]}");
    const text = docs(ALLOW_ALL, deny);
    const d = evaluate(text, req());
    expect(d.verdict).toBe("deny");
    expect(d.policies).toEqual([
      { kind: "AuthorizationPolicy", namespace: "prod", name: "deny-shop", rule: 1, file: FILE, line: lineOf(text, "- from:") },
    ]);
    expect(d.observed).toBe("reset");
  });

  it("AUDIT never changes the decision", () => {
    const text = ap("audit", "prod", "action: AUDIT\nrules:\n- {}");
    expect(verdict(text, req())).toBe("allow");
    expect(verdict(docs(text, ap("nothing", "prod", "{}")), req())).toBe("deny");
  });

  it("r6 step 1: a matching CUSTOM policy defers to its extension; its answer is an explicit assumption", () => {
    const text = ap("ext", "prod", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- to:\n  - operation: {paths: ['/admin*']}");
    const admin = req({ http: { ...GET, path: "/admin/users" } });
    const allowed = evaluate(text, admin);
    expect(allowed.verdict).toBe("allow");
    expect(allowed.assumptions).toEqual(['extension provider "opa" is assumed to allow requests matched by prod/ext']);
    const denied = evaluate(text, admin, SIDECAR, { customDecision: "deny" });
    expect(denied.verdict).toBe("deny");
    expect(deciders(denied)).toEqual(["prod/ext[0]"]);
    expect(denied.observed).toBe("http-403");
    // Not matched: the extension is not asked.
    expect(evaluate(text, req({ http: GET }), SIDECAR, { customDecision: "deny" }).verdict).toBe("allow");
  });

  it("CUSTOM cannot bypass DENY/ALLOW: an allowing extension still meets ALLOW", () => {
    const text = docs(ap("ext", "prod", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- {}"), ap("nothing", "prod", "{}"));
    expect(verdict(text, req())).toBe("deny");
  });

  it("CUSTOM: an undefined provider, or two providers for one workload, make istiod deny matching requests", () => {
    const one = ap("ext", "prod", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- {}");
    expect(verdict(one, req(), SIDECAR, { extensionProviders: { opa: "grpc" } })).toBe("allow");
    expect(verdict(one, req(), SIDECAR, { extensionProviders: { other: "grpc" } })).toBe("deny");
    const two = docs(one, ap("ext2", "prod", "action: CUSTOM\nprovider: {name: other}\nrules:\n- {}"));
    expect(verdict(two, req())).toBe("deny");
  });

  it("§4.6 r20: CUSTOM with an HTTP ext_authz provider is ignored on a TCP port", () => {
    const text = ap("ext", "prod", "action: CUSTOM\nprovider: {name: http-authz}\nrules:\n- {}");
    const opts: AuthzOptions = { extensionProviders: { "http-authz": "http" }, customDecision: "deny" };
    const d = evaluate(text, req(), SIDECAR, opts);
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/ignored on this TCP port/);
    expect(verdict(text, req({ http: GET }), SIDECAR, opts)).toBe("deny");
  });

  it("r7: what the client observes — HTTP 403 on an HTTP chain, a reset on TCP and at ztunnel", () => {
    const text = ap("nothing", "prod", "{}");
    expect(evaluate(text, req({ http: GET })).observed).toBe("http-403");
    expect(evaluate(text, req()).observed).toBe("reset");
    expect(evaluate(text, req({ http: GET }), ZTUNNEL).observed).toBe("reset");
    expect(evaluate(ap("nothing", "prod", "targetRefs:\n- {kind: Service, name: web}"), req({ http: GET }), WAYPOINT).observed).toBe("http-403");
  });

  it("§5.2 r5 / M10: only TCP is captured — UDP passes whatever the policies say", () => {
    const d = evaluate(ap("nothing", "prod", "{}"), req({ protocol: "UDP" }));
    expect(d.verdict).toBe("allow");
    expect(d.reason).toMatch(/UDP is not captured/);
  });
});

describe("rule semantics (§4.3)", () => {
  it("r8: rules are ORed; inside a rule from AND to AND when", () => {
    const text = ap(
      "combo",
      "prod",
      `rules:
- from:
  - source: {namespaces: [shop]}
  to:
  - operation: {ports: ['8080']}
  when:
  - {key: source.ip, values: [10.1.0.0/16]}`,
    );
    expect(verdict(text, req())).toBe("allow");
    expect(verdict(text, req({ destination: { port: 9090 } }))).toBe("deny");
    expect(verdict(text, req({ source: { ip: "10.9.0.1" } }))).toBe("deny");
    expect(verdict(text, req({ source: { namespace: "ops" } }))).toBe("deny");
  });

  it("r8: items of from/to are ORed; fields of one source are ANDed; values ORed; not* excludes", () => {
    const text = ap(
      "fields",
      "prod",
      `rules:
- from:
  - source: {namespaces: [shop, ops], notPrincipals: [cluster.local/ns/shop/sa/legacy]}
  - source: {ipBlocks: [192.168.0.0/16]}`,
    );
    expect(verdict(text, req())).toBe("allow");
    expect(verdict(text, req({ source: { namespace: "ops", serviceAccount: "x" } }))).toBe("allow");
    expect(verdict(text, req({ source: { serviceAccount: "legacy" } }))).toBe("deny");
    expect(verdict(text, req({ source: { namespace: "batch" } }))).toBe("deny");
    expect(verdict(text, req({ source: { namespace: "batch", ip: "192.168.3.4" } }))).toBe("allow");
  });

  it("r9: absent from/to/when match anything", () => {
    const text = ap("only-port", "prod", "rules:\n- to:\n  - operation: {ports: ['8080']}");
    expect(verdict(text, req({ source: { mtls: false, ip: "203.0.113.9" } }))).toBe("allow");
  });

  it("r10: DENY with rules [{}] denies everything", () => {
    expect(verdict(ap("deny-all", "prod", "action: DENY\nrules:\n- {}"), req({ http: GET }))).toBe("deny");
  });
});

describe("string matching (§4.4)", () => {
  const principal = (value: string) => ap("p", "prod", `rules:\n- from:\n  - source: {principals: ['${value}']}`);

  it("r12: exact, prefix*, *suffix and * (presence) on principals; a middle * is literal", () => {
    expect(verdict(principal("cluster.local/ns/shop/sa/frontend"), req())).toBe("allow");
    expect(verdict(principal("cluster.local/ns/shop/*"), req())).toBe("allow");
    expect(verdict(principal("cluster.local/ns/ops/*"), req())).toBe("deny");
    expect(verdict(principal("*/sa/frontend"), req())).toBe("allow");
    expect(verdict(principal("*/sa/backend"), req())).toBe("deny");
    expect(verdict(principal("cluster.local/ns/*/sa/frontend"), req())).toBe("deny");
  });

  it("I17: principals ['*'] matches any authenticated peer and no plaintext one", () => {
    expect(verdict(principal("*"), req())).toBe("allow");
    expect(verdict(principal("*"), req({ source: { mtls: false } }))).toBe("deny");
  });

  it("r13 / I11: hosts are case-insensitive and exact: a Host with a port needs `host:*`", () => {
    const text = ap("hosts", "prod", "rules:\n- to:\n  - operation: {hosts: [Example.COM]}");
    const withHost = (host: string) => req({ http: { ...GET, host } });
    expect(verdict(text, withHost("example.com"))).toBe("allow");
    expect(verdict(text, withHost("example.com:8080"))).toBe("deny");
    const both = ap("hosts", "prod", "rules:\n- to:\n  - operation: {hosts: [example.com, 'example.com:*']}");
    expect(verdict(both, withHost("EXAMPLE.com:8080"))).toBe("allow");
    const suffix = ap("hosts", "prod", "rules:\n- to:\n  - operation: {hosts: ['*.example.com']}");
    expect(verdict(suffix, withHost("api.example.com"))).toBe("allow");
    expect(verdict(suffix, withHost("example.com"))).toBe("deny");
  });

  it("r14: methods are case-sensitive", () => {
    const text = ap("m", "prod", "rules:\n- to:\n  - operation: {methods: [GET]}");
    expect(verdict(text, req({ http: GET }))).toBe("allow");
    expect(verdict(text, req({ http: { ...GET, method: "get" } }))).toBe("deny");
  });

  it("r15 / I12 / I13: paths drop the query, prefixes are not segment-aware", () => {
    const exact = ap("p", "prod", "rules:\n- to:\n  - operation: {paths: [/api]}");
    expect(verdict(exact, req({ http: { ...GET, path: "/api?x=1" } }))).toBe("allow");
    expect(verdict(exact, req({ http: { ...GET, path: "/api#frag" } }))).toBe("allow");
    expect(verdict(exact, req({ http: { ...GET, path: "/api/" } }))).toBe("deny");
    const prefix = ap("p", "prod", "rules:\n- to:\n  - operation: {paths: ['/api*']}");
    expect(verdict(prefix, req({ http: { ...GET, path: "/apiv2" } }))).toBe("allow");
  });

  it("r15: path templates — {*} is one segment, {**} zero or more and keeps a trailing /", () => {
    const one = ap("t", "prod", "rules:\n- to:\n  - operation: {paths: ['/foo/{*}']}");
    const at = (path: string) => req({ http: { ...GET, path } });
    expect(verdict(one, at("/foo/bar"))).toBe("allow");
    expect(verdict(one, at("/foo/bar/baz"))).toBe("deny");
    expect(verdict(one, at("/foo/"))).toBe("deny");
    const any = ap("t", "prod", "rules:\n- to:\n  - operation: {paths: ['/foo/{**}/']}");
    expect(verdict(any, at("/foo/bar/"))).toBe("allow");
    expect(verdict(any, at("/foo//"))).toBe("allow");
    expect(verdict(any, at("/foo/bar"))).toBe("deny");
    // CONFLICT (documented in strings.ts): the istio/api comment says this matches; Envoy's regex needs the trailing "/".
    expect(verdict(any, at("/foo/bar/baz.txt"))).toBe("deny");
    const mixed = ap("t", "prod", "rules:\n- to:\n  - operation: {paths: ['/foo/{*}/bar/{**}']}");
    expect(verdict(mixed, at("/foo/buzz/bar/"))).toBe("allow");
    expect(verdict(mixed, at("/foo/buzz/bar/baz/qux"))).toBe("allow");
    expect(verdict(mixed, at("/foo/buzz/bar"))).toBe("deny");
  });

  it("r15: paths are compared after normalization (default BASE, configurable)", () => {
    const deny = docs(ALLOW_ALL, ap("no-admin", "prod", "action: DENY\nrules:\n- to:\n  - operation: {paths: ['/admin*']}"));
    const sneaky = req({ http: { ...GET, path: "/public/../admin/users" } });
    expect(verdict(deny, sneaky)).toBe("deny");
    expect(verdict(deny, sneaky, SIDECAR, { pathNormalization: "NONE" })).toBe("allow");
    const slashes = req({ http: { ...GET, path: "//admin" } });
    expect(verdict(deny, slashes)).toBe("allow");
    expect(verdict(deny, slashes, SIDECAR, { pathNormalization: "MERGE_SLASHES" })).toBe("deny");
  });

  it("r16 / I14: ports are the container port the enforcer sees, not the Service port", () => {
    const text = ap("p80", "prod", "rules:\n- to:\n  - operation: {ports: ['80']}");
    expect(verdict(text, req({ destination: { port: 8080 } }))).toBe("deny");
    expect(verdict(text, req({ destination: { port: 80 } }))).toBe("allow");
    const notPorts = ap("not-9090", "prod", "rules:\n- to:\n  - operation: {notPorts: ['9090']}");
    expect(verdict(notPorts, req())).toBe("allow");
    expect(verdict(notPorts, req({ destination: { port: 9090 } }))).toBe("deny");
  });
});

describe("source attributes and mTLS (§4.5)", () => {
  it("I7 (r18): ALLOW namespaces [x] denies plaintext from x", () => {
    const text = ap("ns", "prod", "rules:\n- from:\n  - source: {namespaces: [shop]}");
    expect(verdict(text, req())).toBe("allow");
    const d = evaluate(text, req({ source: { mtls: false } }));
    expect(d.verdict).toBe("deny");
    expect(d.misses[0]).toMatch(/plaintext source \(no peer identity: namespace matching needs mTLS/);
  });

  it("I8 (r18): ALLOW notNamespaces [x] allows plaintext from x (ISTIO-SECURITY-2021-004)", () => {
    const text = ap("not-ns", "prod", "rules:\n- from:\n  - source: {notNamespaces: [shop]}");
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ source: { mtls: false } }))).toBe("allow");
    const notPrincipal = ap("not-p", "prod", "rules:\n- from:\n  - source: {notPrincipals: ['cluster.local/ns/shop/*']}");
    expect(verdict(notPrincipal, req({ source: { mtls: false } }))).toBe("allow");
  });

  it("r17: namespaces is the regex .*/ns/<ns>/.* on the peer URI, with * becoming .*", () => {
    const ns = (v: string) => ap("ns", "prod", `rules:\n- from:\n  - source: {namespaces: ['${v}']}`);
    expect(verdict(ns("sh*"), req())).toBe("allow");
    expect(verdict(ns("*op"), req())).toBe("allow");
    expect(verdict(ns("*"), req())).toBe("allow");
    expect(verdict(ns("*"), req({ source: { mtls: false } }))).toBe("deny");
    // The regex can run across /sa/: namespace "prod" with service account "x" matches "*a" at Envoy.
    expect(verdict(ns("*a"), req({ source: { namespace: "prod", serviceAccount: "x" } }))).toBe("allow");
    // ztunnel compares the namespace itself (§5.4).
    expect(verdict(ns("*a"), req({ source: { namespace: "prod", serviceAccount: "x" } }), ZTUNNEL)).toBe("deny");
  });

  it("r17: serviceAccounts — `<ns>/<sa>`, or `<sa>` in the policy's namespace", () => {
    const text = ap("sa", "shop", "rules:\n- from:\n  - source: {serviceAccounts: [frontend, ops/admin]}");
    const dst = { namespace: "shop" };
    expect(verdict(text, req({ destination: dst }))).toBe("allow");
    expect(verdict(text, req({ destination: dst, source: { namespace: "ops", serviceAccount: "admin" } }))).toBe("allow");
    expect(verdict(text, req({ destination: dst, source: { namespace: "ops", serviceAccount: "frontend" } }))).toBe("deny");
    expect(verdict(text, req({ destination: dst, source: { serviceAccount: "frontend-2" } }))).toBe("deny");
    expect(verdict(text, req({ destination: dst }), ZTUNNEL)).toBe("allow");
    expect(verdict(text, req({ destination: dst, source: { mtls: false } }))).toBe("deny");
  });

  it("r17: trustDomains — exact, prefix, suffix, presence on the peer's trust domain", () => {
    const td = (v: string) => ap("td", "prod", `rules:\n- from:\n  - source: {trustDomains: ['${v}']}`);
    expect(verdict(td("cluster.local"), req())).toBe("allow");
    expect(verdict(td("cluster.*"), req())).toBe("allow");
    expect(verdict(td("*.local"), req())).toBe("allow");
    expect(verdict(td("other.domain"), req())).toBe("deny");
    expect(verdict(td("other.domain"), req(), SIDECAR, { trustDomain: "other.domain" })).toBe("allow");
    expect(verdict(td("*"), req({ source: { mtls: false } }))).toBe("deny");
  });

  it("r17 / r17a: ipBlocks is the direct peer; remoteIpBlocks the original client (= the peer without a trusted proxy)", () => {
    const ip = ap("ip", "prod", "rules:\n- from:\n  - source: {ipBlocks: [10.1.0.0/16], notIpBlocks: [10.1.0.7]}");
    expect(verdict(ip, req())).toBe("allow");
    expect(verdict(ip, req({ source: { ip: "10.1.0.7" } }))).toBe("deny");
    expect(verdict(ip, req({ source: { ip: "10.2.0.7" } }))).toBe("deny");
    const remote = ap("remote", "prod", "rules:\n- from:\n  - source: {remoteIpBlocks: [163.223.48.163/32]}");
    expect(verdict(remote, req({ source: { ip: "163.223.48.163" } }))).toBe("allow");
    expect(verdict(remote, req({ source: { ip: "10.0.0.3", remoteIp: "163.223.48.163" } }))).toBe("allow");
    expect(verdict(remote, req({ source: { ip: "163.223.48.163", remoteIp: "192.168.1.1" } }))).toBe("deny");
  });

  it("an unknown source IP never matches an ipBlock, and the decision says so", () => {
    const d = evaluate(ap("ip", "prod", "rules:\n- from:\n  - source: {ipBlocks: [0.0.0.0/0]}"), req({ source: { ip: undefined } }));
    expect(d.verdict).toBe("deny");
    expect(d.assumptions).toEqual(["the source IP is unknown, so ipBlocks cannot match it"]);
  });

  it("r17: requestPrincipals need a JWT: iss/sub, split at the last /", () => {
    const text = ap("jwt", "prod", "rules:\n- from:\n  - source: {requestPrincipals: ['https://issuer.example.com/*']}");
    const jwt = { iss: "https://issuer.example.com", sub: "alice" };
    expect(verdict(text, req({ http: { ...GET, jwt } }))).toBe("allow");
    expect(verdict(text, req({ http: { ...GET, jwt: { ...jwt, iss: "https://evil.example.com" } } }))).toBe("deny");
    expect(verdict(text, req({ http: GET }))).toBe("deny");
    const any = ap("jwt", "prod", "rules:\n- from:\n  - source: {notRequestPrincipals: ['*']}");
    expect(verdict(any, req({ http: GET }))).toBe("allow");
    expect(verdict(any, req({ http: { ...GET, jwt } }))).toBe("deny");
  });

  it("r19: when — request.headers, request.auth.claims, source/destination ip and port, connection.sni", () => {
    const text = ap(
      "when",
      "prod",
      `rules:
- when:
  - {key: "request.headers[X-Tenant]", values: [acme, "beta*"]}
  - {key: destination.port, values: ["8080"]}
  - {key: destination.ip, notValues: [10.2.0.0/24]}`,
    );
    const withHeaders = (headers: Record<string, string>) => req({ http: { ...GET, headers }, destination: { ip: "10.3.0.9" } });
    expect(verdict(text, withHeaders({ "x-tenant": "acme" }))).toBe("allow");
    expect(verdict(text, withHeaders({ "x-tenant": "beta-2" }))).toBe("allow");
    expect(verdict(text, withHeaders({ "x-tenant": "other" }))).toBe("deny");
    expect(verdict(text, withHeaders({}))).toBe("deny");
    expect(verdict(text, req({ http: { ...GET, headers: { "X-Tenant": "acme" } } }))).toBe("deny"); // destination 10.2.0.9 is excluded

    const claims = ap("claims", "prod", `rules:\n- when:\n  - {key: "request.auth.claims[groups]", values: [admins]}\n  - {key: "request.auth.claims[org][team]", values: [core]}`);
    const jwt = { iss: "i", sub: "s", claims: { groups: ["users", "admins"], org: { team: "core" } } };
    expect(verdict(claims, req({ http: { ...GET, jwt } }))).toBe("allow");
    expect(verdict(claims, req({ http: { ...GET, jwt: { ...jwt, claims: { groups: "users", org: { team: "core" } } } } }))).toBe("deny");

    const sni = ap("sni", "prod", `rules:\n- when:\n  - {key: connection.sni, values: ["*.example.com"]}`);
    expect(verdict(sni, req({ sni: "api.example.com" }))).toBe("allow");
    expect(verdict(sni, req())).toBe("deny");
  });
});

describe("HTTP-only attributes on a TCP port (§4.6 r20)", () => {
  it("I9: an ALLOW rule with methods is skipped on TCP (narrower); other rules still allow", () => {
    const text = ap("get-only", "prod", "rules:\n- to:\n  - operation: {methods: [GET]}");
    const d = evaluate(text, req());
    expect(d.verdict).toBe("deny");
    expect(d.misses[0]).toMatch(/rules\[0\]: skipped: it uses to\[0\]\.methods/);
    expect(d.notes.join("\n")).toMatch(/prod\/get-only rules\[0\] is skipped here/);
    expect(verdict(text, req({ http: GET }))).toBe("allow");
    const plus = ap("get-or-port", "prod", "rules:\n- to:\n  - operation: {methods: [GET]}\n- to:\n  - operation: {ports: ['8080']}");
    expect(verdict(plus, req())).toBe("allow");
  });

  it("I9: an ALLOW rule is skipped when any item uses an HTTP-only attribute, even next to TCP ones", () => {
    const text = ap("mixed", "prod", "rules:\n- from:\n  - source: {namespaces: [shop]}\n  - source: {requestPrincipals: ['*']}");
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ http: GET }))).toBe("allow");
  });

  it("I10: DENY methods [POST] without ports denies every TCP connection; on HTTP only POST", () => {
    const text = docs(ALLOW_ALL, ap("no-post", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST]}"));
    const d = evaluate(text, req());
    expect(d.verdict).toBe("deny");
    expect(d.notes.join("\n")).toMatch(/to\[0\]\.methods is ignored on this TCP port, so the DENY rule applies more widely/);
    expect(verdict(text, req({ http: GET }))).toBe("allow");
    expect(verdict(text, req({ http: POST }))).toBe("deny");
  });

  it("I10: DENY {methods, ports} on TCP denies the whole port, no other", () => {
    const text = docs(ALLOW_ALL, ap("no-post-8080", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST], ports: ['8080']}"));
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ destination: { port: 9090 } }))).toBe("allow");
  });

  it("DENY: an HTTP-only when condition is dropped on TCP; the rest of the rule applies", () => {
    const text = docs(
      ALLOW_ALL,
      ap("deny-shop-tenant", "prod", `action: DENY\nrules:\n- from:\n  - source: {namespaces: [shop]}\n  when:\n  - {key: "request.headers[x-tenant]", values: [evil]}`),
    );
    expect(verdict(text, req())).toBe("deny");
    expect(verdict(text, req({ source: { namespace: "ops" } }))).toBe("allow");
    expect(verdict(text, req({ http: { ...GET, headers: { "x-tenant": "good" } } }))).toBe("allow");
  });
});

describe("ztunnel (§5.4)", () => {
  it("M3 (r12): a selector ALLOW with only methods denies everything at ztunnel", () => {
    const text = ap("get-only", "prod", "selector:\n  matchLabels: {app: web}\nrules:\n- to:\n  - operation: {methods: [GET]}");
    const d = evaluate(text, req({ http: GET }), ZTUNNEL);
    expect(d.verdict).toBe("deny");
    expect(d.observed).toBe("reset");
    expect(d.misses[0]).toMatch(/dropped by ztunnel: it uses to\[0\]\.methods/);
  });

  it("M4 (r13): a selector DENY with only methods has no effect at ztunnel (but denies all TCP at a sidecar)", () => {
    const text = ap("no-post", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST]}");
    const d = evaluate(text, req({ http: POST }), ZTUNNEL);
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/ztunnel ignores to\[0\]\.methods/);
    expect(verdict(text, req())).toBe("deny");
  });

  it("M5 (r13): DENY {methods, ports 8080} denies all of 8080 at ztunnel", () => {
    const text = ap("no-post-8080", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST], ports: ['8080']}");
    expect(verdict(text, req({ http: GET }), ZTUNNEL)).toBe("deny");
    expect(verdict(text, req({ destination: { port: 9090 } }), ZTUNNEL)).toBe("allow");
  });

  it("r13: in a DENY, a to item left empty never matches, but its sibling items still can", () => {
    const text = ap("d", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST]}\n  - operation: {ports: ['9090']}");
    expect(verdict(text, req(), ZTUNNEL)).toBe("allow");
    expect(verdict(text, req({ destination: { port: 9090 } }), ZTUNNEL)).toBe("deny");
  });

  it("r11: a when key ztunnel does not convert never matches (DENY no-op; ALLOW rule dropped)", () => {
    const deny = ap("d", "prod", `action: DENY\nrules:\n- when:\n  - {key: "request.headers[x]", values: [y]}`);
    expect(verdict(deny, req(), ZTUNNEL)).toBe("allow");
    const allow = ap("a", "prod", `rules:\n- when:\n  - {key: source.serviceAccount, values: [shop/frontend]}`);
    expect(verdict(allow, req(), ZTUNNEL)).toBe("deny");
    expect(verdict(allow, req(), SIDECAR)).toBe("allow");
    const l4 = ap("a", "prod", `rules:\n- when:\n  - {key: source.namespace, values: [shop]}\n  - {key: destination.port, values: ["8080"]}`);
    expect(verdict(l4, req(), ZTUNNEL)).toBe("allow");
  });

  it("r11: remoteIpBlocks and requestPrincipals are HTTP to ztunnel; trustDomains are not enforced", () => {
    const remote = ap("a", "prod", "rules:\n- from:\n  - source: {remoteIpBlocks: [0.0.0.0/0]}");
    expect(verdict(remote, req(), ZTUNNEL)).toBe("deny");
    const tdOnly = ap("a", "prod", "rules:\n- from:\n  - source: {trustDomains: [cluster.local]}");
    expect(verdict(tdOnly, req(), ZTUNNEL)).toBe("deny");
    const tdAndNs = ap("a", "prod", "rules:\n- from:\n  - source: {trustDomains: [other.domain], namespaces: [shop]}");
    const d = evaluate(tdAndNs, req(), ZTUNNEL);
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/does not enforce trustDomains/);
    expect(verdict(tdAndNs, req(), SIDECAR)).toBe("deny");
  });

  it("r14: plaintext sources have no identity at ztunnel either", () => {
    const text = ap("a", "prod", "rules:\n- from:\n  - source: {principals: ['*']}");
    expect(verdict(text, req(), ZTUNNEL)).toBe("allow");
    expect(verdict(text, req({ source: { mtls: false } }), ZTUNNEL)).toBe("deny");
    const not = ap("a", "prod", "rules:\n- from:\n  - source: {notNamespaces: [shop]}");
    expect(verdict(not, req({ source: { mtls: false } }), ZTUNNEL)).toBe("allow");
  });

  it("M6 (r15): behind a waypoint the destination ztunnel sees the waypoint's identity", () => {
    const text = ap("client-only", "prod", "selector:\n  matchLabels: {app: web}\nrules:\n- from:\n  - source: {principals: [cluster.local/ns/shop/sa/frontend]}");
    expect(verdict(text, req(), ZTUNNEL)).toBe("allow");
    expect(verdict(text, req({ source: { namespace: "prod", serviceAccount: "waypoint" } }), ZTUNNEL)).toBe("deny");
  });

  it("rules [{}] allows everything and spec {} nothing, at ztunnel too", () => {
    expect(verdict(ALLOW_ALL, req({ source: { mtls: false } }), ZTUNNEL)).toBe("allow");
    expect(verdict(ap("nothing", "prod", "{}"), req(), ZTUNNEL)).toBe("deny");
  });
});

describe("waypoint (§5.5)", () => {
  it("r16: full L7 semantics for targetRefs policies", () => {
    const text = ap("svc", "prod", "targetRefs:\n- {kind: Service, group: '', name: web}\nrules:\n- to:\n  - operation: {methods: [GET], paths: ['/api/*']}");
    expect(verdict(text, req({ http: GET }), WAYPOINT)).toBe("allow");
    expect(verdict(text, req({ http: POST }), WAYPOINT)).toBe("deny");
    // A TCP port at the waypoint: the HTTP-only ALLOW rule is skipped.
    expect(verdict(text, req(), WAYPOINT)).toBe("deny");
  });
});

describe("validation (§4.3 r11, istiod ValidateAuthorizationPolicy)", () => {
  interface Case {
    name: string;
    spec: string;
    field: string;
    needle: string;
    message: RegExp;
  }
  const cases: Case[] = [
    { name: "I6: DENY without rules", spec: "action: DENY", field: "spec", needle: "spec:", message: /DENY action without rules is meaningless/ },
    { name: "CUSTOM without rules", spec: "action: CUSTOM\nprovider: {name: opa}", field: "spec", needle: "spec:", message: /CUSTOM action without rules/ },
    { name: "unknown action", spec: "action: REJECT\nrules:\n- {}", field: "spec.action", needle: "action: REJECT", message: /unknown action the string "REJECT"/ },
    { name: "selector and targetRefs", spec: "selector:\n  matchLabels: {app: web}\ntargetRefs:\n- {kind: Service, name: web}", field: "spec", needle: "spec:", message: /only one of targetRefs, targetRef or selector/ },
    { name: "targetRef namespace", spec: "targetRefs:\n- {kind: Service, name: web, namespace: other}", field: "spec.targetRefs[0].namespace", needle: "namespace: other", message: /cross namespace/ },
    { name: "targetRef kind", spec: "targetRefs:\n- {kind: Deployment, group: apps, name: web}", field: "spec.targetRefs[0].kind", needle: "kind: Deployment", message: /targetRef must be one of/ },
    { name: "wildcard selector", spec: "selector:\n  matchLabels: {app: 'web*'}", field: "spec.selector.matchLabels.app", needle: "matchLabels", message: /wildcard is not supported/ },
    { name: "matchExpressions", spec: "selector:\n  matchExpressions: [{key: app, operator: Exists}]", field: "spec.selector.matchExpressions", needle: "matchExpressions", message: /matchLabels only/ },
    { name: "provider with ALLOW", spec: "provider: {name: opa}\nrules:\n- {}", field: "spec.provider", needle: "provider:", message: /provider must only be used with action CUSTOM/ },
    { name: "null rule", spec: "rules:\n- null", field: "spec.rules[0]", needle: "- null", message: /a rule must not be null/ },
    { name: "empty from", spec: "rules:\n- from: []", field: "spec.rules[0].from", needle: "from: []", message: /`from` must not be empty/ },
    { name: "empty to", spec: "rules:\n- to: []", field: "spec.rules[0].to", needle: "to: []", message: /`to` must not be empty/ },
    { name: "from without source", spec: "rules:\n- from:\n  - {}", field: "spec.rules[0].from[0].source", needle: "- {}", message: /`from.source` must not be null/ },
    { name: "empty source", spec: "rules:\n- from:\n  - source: {}", field: "spec.rules[0].from[0].source", needle: "source: {}", message: /`from.source` must not be empty/ },
    { name: "empty operation", spec: "rules:\n- to:\n  - operation: {}", field: "spec.rules[0].to[0].operation", needle: "operation: {}", message: /`to.operation` must not be empty/ },
    { name: "unknown source field", spec: "rules:\n- from:\n  - source: {namespace: [shop]}", field: "spec.rules[0].from[0].source.namespace", needle: "namespace: [shop]", message: /unknown field "namespace" in a source/ },
    { name: "port range", spec: "rules:\n- to:\n  - operation: {ports: ['8000-9000']}", field: "spec.rules[0].to[0].operation.ports[0]", needle: "8000-9000", message: /bad port "8000-9000"/ },
    { name: "port name", spec: "rules:\n- to:\n  - operation: {ports: [http]}", field: "spec.rules[0].to[0].operation.ports[0]", needle: "ports: [http]", message: /bad port "http"/ },
    { name: "port out of range", spec: "rules:\n- to:\n  - operation: {notPorts: ['70000']}", field: "spec.rules[0].to[0].operation.notPorts[0]", needle: "70000", message: /bad port "70000"/ },
    { name: "unquoted port", spec: "rules:\n- to:\n  - operation: {ports: [8080]}", field: "spec.rules[0].to[0].operation.ports[0]", needle: "ports: [8080]", message: /quote it: "8080"/ },
    { name: "bad CIDR", spec: "rules:\n- from:\n  - source: {ipBlocks: [10.0.0.0/33]}", field: "spec.rules[0].from[0].source.ipBlocks[0]", needle: "10.0.0.0/33", message: /bad CIDR range/ },
    { name: "empty value", spec: "rules:\n- from:\n  - source: {principals: ['']}", field: "spec.rules[0].from[0].source.principals[0]", needle: "principals: ['']", message: /empty value not allowed/ },
    { name: "serviceAccounts with principals", spec: "rules:\n- from:\n  - source: {serviceAccounts: [a], principals: [b]}", field: "spec.rules[0].from[0].source", needle: "serviceAccounts", message: /cannot set serviceAccounts with namespaces or principals/ },
    { name: "serviceAccounts wildcard", spec: "rules:\n- from:\n  - source: {serviceAccounts: ['ns/*']}", field: "spec.rules[0].from[0].source.serviceAccounts[0]", needle: "serviceAccounts", message: /wildcard not allowed/ },
    { name: "trustDomains slash", spec: "rules:\n- from:\n  - source: {trustDomains: [a/b]}", field: "spec.rules[0].from[0].source.trustDomains[0]", needle: "trustDomains", message: /must not contain '\/'/ },
    { name: "trustDomains middle wildcard", spec: "rules:\n- from:\n  - source: {trustDomains: ['a*b']}", field: "spec.rules[0].from[0].source.trustDomains[0]", needle: "trustDomains", message: /only allowed at the start or end/ },
    { name: "path template not last", spec: "rules:\n- to:\n  - operation: {paths: ['/{**}/foo/{*}']}", field: "spec.rules[0].to[0].operation.paths[0]", needle: "paths:", message: /\{\*\*\} must be the last operator/ },
    { name: "path template glued", spec: "rules:\n- to:\n  - operation: {paths: ['/foo/{*}.txt']}", field: "spec.rules[0].to[0].operation.paths[0]", needle: "paths:", message: /outside a \{\*\} or \{\*\*\} path template/ },
    { name: "star in template", spec: "rules:\n- to:\n  - operation: {paths: ['/*/baz/{*}']}", field: "spec.rules[0].to[0].operation.paths[0]", needle: "paths:", message: /segment "\*"/ },
    { name: "braces without template", spec: "rules:\n- to:\n  - operation: {paths: ['/api/{id}']}", field: "spec.rules[0].to[0].operation.paths[0]", needle: "paths:", message: /contains '\{' or '\}'/ },
    { name: "when without values", spec: "rules:\n- when:\n  - {key: source.ip}", field: "spec.rules[0].when[0]", needle: "key: source.ip", message: /at least one of values or notValues/ },
    { name: "unknown when key", spec: "rules:\n- when:\n  - {key: source.name, values: [x]}", field: "spec.rules[0].when[0].values", needle: "source.name", message: /unknown attribute: source.name/ },
    { name: "replaced when key", spec: "rules:\n- when:\n  - {key: destination.namespace, values: [x]}", field: "spec.rules[0].when[0].values", needle: "destination.namespace", message: /replaced by the metadata.namespace/ },
    { name: "malformed header key", spec: "rules:\n- when:\n  - {key: 'request.headers[]', values: [x]}", field: "spec.rules[0].when[0].values", needle: "request.headers", message: /should have the format a\[b\]/ },
    { name: "bad when port", spec: "rules:\n- when:\n  - {key: destination.port, values: ['80-90']}", field: "spec.rules[0].when[0].values", needle: "destination.port", message: /bad port/ },
    { name: "CUSTOM with identity", spec: "action: CUSTOM\nprovider: {name: opa}\nrules:\n- from:\n  - source: {namespaces: [a]}", field: "spec.rules[0].from[0].source.namespaces", needle: "namespaces", message: /not supported with CUSTOM action/ },
    { name: "unknown rule field", spec: "rules:\n- source: {}", field: "spec.rules[0].source", needle: "- source", message: /unknown field "source" in a rule/ },
    { name: "unknown spec field", spec: "rule:\n- {}", field: "spec.rule", needle: "rule:", message: /unknown field "rule"/ },
  ];

  for (const c of cases) {
    it(`${c.name}: rejected at ${c.field}, and the policy is left out`, () => {
      const text = docs(ap("bad", "prod", c.spec), ALLOW_ALL);
      const { policies: ps, diagnostics } = scan(text);
      const errs = diagnostics.filter((d) => d.severity === "error");
      expect(errs.map((d) => d.format()), c.name).toHaveLength(1);
      const e = errs[0]!;
      expect(e.location).toEqual({ file: FILE, line: lineOf(text, c.needle), field: c.field });
      expect(e.message).toMatch(c.message);
      expect(ps.map((p) => p.name)).toEqual(["allow-all"]);
    });
  }

  it("a DENY rule with only HTTP attributes is accepted with istiod's warning", () => {
    const text = ap("no-post", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST]}");
    const { policies: ps, diagnostics } = scan(text);
    expect(ps).toHaveLength(1);
    expect(diagnostics.map((d) => d.format())).toEqual([
      `${FILE}:${lineOf(text, "- to:")}: warning: spec.rules[0]: this DENY rule uses only HTTP attributes: it will deny all traffic to TCP ports under its scope; specify ports explicitly (semantics.md §4.6 r20)`,
    ]);
    expect(scan(ap("ok", "prod", "action: DENY\nrules:\n- to:\n  - operation: {methods: [POST], ports: ['80']}")).diagnostics).toEqual([]);
  });

  it("warnings: empty selector, GatewayClass outside the root namespace, a non-boolean dry-run annotation", () => {
    const text = docs(
      ap("empty-selector", "prod", "selector: {}\nrules:\n- {}"),
      ap("gwc", "prod", "targetRefs:\n- {kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}"),
      ap("dry", "prod", "rules:\n- {}", `\n  annotations: {"istio.io/dry-run": "yes"}`),
    );
    const { policies: ps, diagnostics } = scan(text);
    expect(ps.map((p) => p.name)).toEqual(["empty-selector", "gwc", "dry"]);
    expect(diagnostics.map((d) => `${d.severity} ${d.location.field}: ${d.message}`)).toEqual([
      "warning spec.selector: workload selector specified without labels: it selects every workload in scope",
      "warning spec.targetRefs[0]: a GatewayClass targetRef only attaches from the root namespace istio-system; this policy never applies",
      'warning metadata.annotations.istio.io/dry-run: the string "yes" is not a boolean; istiod treats the policy as enforced',
    ]);
    expect(ps[2]!.dryRun).toBe(false);
  });

  it("apiVersion must be served (v1, v1beta1); other groups' AuthorizationPolicy kinds are not read", () => {
    const text = `apiVersion: security.istio.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: old, namespace: prod}
spec: {}
---
apiVersion: example.com/v1
kind: AuthorizationPolicy
metadata: {name: foreign, namespace: prod}
spec: {}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: beta, namespace: prod}
spec: {}
`;
    const { policies: ps, diagnostics } = scan(text);
    expect(ps.map((p) => p.name)).toEqual(["beta"]);
    expect(errorsOf(diagnostics)).toEqual([`${FILE}:1: error: apiVersion: AuthorizationPolicy is served as security.istio.io/v1 and security.istio.io/v1beta1, not security.istio.io/v1alpha1`]);
  });

  it("keeps rule and item lines for references; a missing namespace means default", () => {
    const text = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: lines}
spec:
  rules:
  - from:
    - source: {namespaces: [a]}
    to:
    - operation: {ports: ["1"]}
  - when:
    - {key: source.ip, values: [10.0.0.1]}
`;
    const [p] = policies(text);
    expect(p!.namespace).toBe("default");
    expect(p!.rules.map((r) => r.line)).toEqual([lineOf(text, "- from:"), lineOf(text, "- when:")]);
    expect(p!.rules[0]!.from![0]!.line).toBe(lineOf(text, "source: {namespaces"));
    expect(p!.rules[0]!.to![0]!.line).toBe(lineOf(text, "operation:"));
    expect(p!.rules[1]!.when[0]!.line).toBe(lineOf(text, "key: source.ip"));
  });
});
