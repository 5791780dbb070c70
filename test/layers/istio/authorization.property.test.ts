/**
 * Property test: random AuthorizationPolicies over a small universe (namespaces,
 * labels, principals, ports, methods, paths, hosts, IPs), rendered to YAML and read
 * through the real loader and scanner, must get the same answer from
 * `evaluateAuthorization` as from the naive reference (reference-authz.ts, written
 * from semantics.md §4–§5) for many requests at every kind of enforcement point:
 * the verdict, the deciding rules, and what the client observes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluateAuthorization, scanAuthorizationPolicies, type AuthzRequest, type EnforcementPoint } from "../../../src/layers/istio/authorization.js";
import { loadText } from "../../../src/load/index.js";
import type { InputDiagnostic } from "../../../src/load/types.js";
import { toYaml } from "../../helpers/cluster.js";
import { refEvaluate, type RefCondition, type RefOperation, type RefOptions, type RefPoint, type RefPolicy, type RefRequest, type RefRule, type RefSource } from "./reference-authz.js";

// ---------------------------------------------------------------------------
// Vocabulary: small, so that values often match and rules often collide.

const POLICY_NAMESPACES = ["prod", "prod", "shop", "istio-system", "istio-system"] as const;
const SOURCE_NAMESPACES = ["prod", "shop", "ops"] as const;
const SERVICE_ACCOUNTS = ["frontend", "admin", "default"] as const;
const DEST_LABELS = [{ app: "web" }, { app: "db" }, { app: "web", version: "v1" }] as const;
const SELECTORS = [{ app: "web" }, { app: "db" }, { version: "v1" }, { app: "web", version: "v1" }] as const;

const SOURCE_VALUES: Readonly<Record<string, readonly string[]>> = {
  principals: ["cluster.local/ns/shop/sa/frontend", "cluster.local/ns/prod/*", "*/sa/admin", "*", "other.td/ns/shop/sa/frontend"],
  // "*a" also matches namespace prod with service account admin at Envoy (the /ns/ regex runs across /sa/).
  namespaces: ["shop", "prod", "sh*", "*a", "*", "*s"],
  serviceAccounts: ["frontend", "shop/admin", "prod/default", "ops/frontend"],
  trustDomains: ["cluster.local", "other.td", "cluster*", "*.local", "*"],
  ipBlocks: ["10.1.0.0/16", "10.1.0.5", "192.168.0.0/16", "0.0.0.0/0", "172.16.0.0/12"],
  remoteIpBlocks: ["10.1.0.0/16", "203.0.113.0/24", "0.0.0.0/0"],
  requestPrincipals: ["iss-a/alice", "iss-a/*", "*/bob", "*"],
};
const OPERATION_VALUES: Readonly<Record<string, readonly string[]>> = {
  hosts: ["web.prod", "*.prod", "WEB.prod:*", "*", "db.shop"],
  ports: ["8080", "9090", "80"],
  methods: ["GET", "POST", "G*", "*"],
  paths: ["/api", "/api/*", "/admin*", "/api/{*}", "/api/{**}", "/{*}/v1", "*", "/api/{**}/"],
};
const CONDITIONS: Readonly<Record<string, readonly string[]>> = {
  "source.ip": ["10.1.0.0/16", "192.168.1.9", "172.16.0.0/12"],
  "source.namespace": ["shop", "prod", "*p"],
  "source.principal": ["cluster.local/ns/shop/sa/frontend", "cluster.local/ns/ops/*", "*"],
  "source.serviceAccount": ["shop/frontend", "prod/admin"],
  "destination.port": ["8080", "9090"],
  "destination.ip": ["10.2.0.0/24", "10.3.0.9"],
  "request.headers[x-team]": ["blue", "g*", "*"],
};
/** What CUSTOM policies may use (istiod rejects identity attributes with CUSTOM). */
const CUSTOM_SOURCE_FIELDS = ["ipBlocks", "remoteIpBlocks"];
const CUSTOM_KEYS = ["source.ip", "destination.port", "request.headers[x-team]", "destination.ip"];

// ---------------------------------------------------------------------------
// Generators

/** A non-empty list field (positive or `not` variant) with 1–2 values. */
function fieldsArb(vocab: Readonly<Record<string, readonly string[]>>, allowed: readonly string[]): fc.Arbitrary<Record<string, string[]>> {
  const entry = fc
    .tuple(fc.constantFrom(...allowed), fc.boolean())
    .chain(([f, negate]) => fc.tuple(fc.constant(negate ? `not${f[0]!.toUpperCase()}${f.slice(1)}` : f), fc.uniqueArray(fc.constantFrom(...vocab[f]!), { minLength: 1, maxLength: 2 })));
  return fc.array(entry, { minLength: 1, maxLength: 2 }).map((entries) => Object.fromEntries(entries));
}

const sourceArb = (custom: boolean): fc.Arbitrary<RefSource> =>
  fieldsArb(SOURCE_VALUES, custom ? CUSTOM_SOURCE_FIELDS : Object.keys(SOURCE_VALUES)).map((s) => {
    // istiod: serviceAccounts cannot be combined with principals or namespaces.
    const hasSa = Object.keys(s).some((k) => /erviceAccounts$/.test(k));
    if (hasSa) for (const k of ["principals", "notPrincipals", "namespaces", "notNamespaces"]) delete s[k];
    return s as RefSource;
  });

const operationArb: fc.Arbitrary<RefOperation> = fieldsArb(OPERATION_VALUES, Object.keys(OPERATION_VALUES)) as fc.Arbitrary<RefOperation>;

const conditionArb = (custom: boolean): fc.Arbitrary<RefCondition> =>
  fc.constantFrom(...(custom ? CUSTOM_KEYS : Object.keys(CONDITIONS))).chain((key) => {
    const vals = fc.uniqueArray(fc.constantFrom(...CONDITIONS[key]!), { minLength: 1, maxLength: 2 });
    return fc.oneof(
      fc.record({ key: fc.constant(key), values: vals }),
      fc.record({ key: fc.constant(key), notValues: vals }),
      fc.record({ key: fc.constant(key), values: vals, notValues: vals }),
    ) as fc.Arbitrary<RefCondition>;
  });

const ruleArb = (custom: boolean): fc.Arbitrary<RefRule> =>
  fc
    .record(
      {
        from: fc.array(sourceArb(custom).map((source) => ({ source })), { minLength: 1, maxLength: 2 }),
        to: fc.array(operationArb.map((operation) => ({ operation })), { minLength: 1, maxLength: 2 }),
        when: fc.array(conditionArb(custom), { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: [] },
    )
    .map((r) => r as RefRule);

type Attachment = { selector?: { matchLabels: Record<string, string> } } | { targetRefs: RefPolicy["spec"]["targetRefs"] };
const attachmentArb: fc.Arbitrary<Attachment> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 3, arbitrary: fc.constantFrom(...SELECTORS).map((s) => ({ selector: { matchLabels: { ...s } } })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<RefPolicy["spec"]["targetRefs"]>(
      [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "waypoint" }],
      [{ group: "", kind: "Service", name: "web" }],
      [{ kind: "Service", name: "db" }],
      [{ group: "gateway.networking.k8s.io", kind: "GatewayClass", name: "istio-waypoint" }],
    ).map((targetRefs) => ({ targetRefs })),
  },
);

const policyArb = (index: number): fc.Arbitrary<RefPolicy> =>
  fc
    .record({
      namespace: fc.constantFrom(...POLICY_NAMESPACES),
      action: fc.constantFrom("ALLOW", "ALLOW", "ALLOW", "DENY", "DENY", "AUDIT", "CUSTOM", undefined),
      attachment: attachmentArb,
      dryRun: fc.constantFrom(false, false, false, false, true),
      rules: fc.oneof(
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constant([] as RefRule[]) },
        { weight: 1, arbitrary: fc.constant([{}] as RefRule[]) },
        { weight: 6, arbitrary: fc.array(ruleArb(false), { minLength: 1, maxLength: 3 }) },
      ),
      customRules: fc.array(ruleArb(true), { minLength: 1, maxLength: 2 }),
    })
    .map(({ namespace, action, attachment, dryRun, rules, customRules }) => {
      let r = rules;
      // istiod rejects DENY and CUSTOM without rules; CUSTOM has its own restricted rules.
      if (action === "CUSTOM") r = customRules;
      else if (action === "DENY" && (!r || r.length === 0)) r = [{}];
      const spec: RefPolicy["spec"] = { ...attachment };
      if (action) spec.action = action;
      if (action === "CUSTOM") spec.provider = { name: "opa" };
      if (r !== undefined) spec.rules = r;
      return {
        apiVersion: "security.istio.io/v1" as const,
        kind: "AuthorizationPolicy" as const,
        metadata: { name: `p${index}`, namespace, ...(dryRun ? { annotations: { "istio.io/dry-run": "true" } } : {}) },
        spec,
      };
    });

const policiesArb: fc.Arbitrary<RefPolicy[]> = fc
  .integer({ min: 1, max: 4 })
  .chain((n) => (n === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: n }, (_, i) => policyArb(i)))));

const httpArb = fc.option(
  fc.record(
    {
      method: fc.constantFrom("GET", "POST", "get"),
      path: fc.constantFrom("/api", "/api/v1", "/api/v1/x", "/admin/users", "/api?q=1", "/api/../admin", "/x/v1", "/api/", "/api//"),
      host: fc.constantFrom("web.prod", "web.prod:8080", "WEB.PROD", "db.shop"),
      headers: fc.constantFrom<Record<string, string>>({}, { "x-team": "blue" }, { "X-Team": "green" }, { "x-team": "" }),
      jwt: fc.constantFrom<{ iss: string; sub: string }>({ iss: "iss-a", sub: "alice" }, { iss: "iss-b", sub: "bob" }, { iss: "iss-a", sub: "bob" }),
    },
    { requiredKeys: ["method", "path", "host"] },
  ),
  { nil: undefined },
);

const requestArb: fc.Arbitrary<RefRequest> = fc
  .record({
    namespace: fc.constantFrom(...SOURCE_NAMESPACES),
    serviceAccount: fc.constantFrom(...SERVICE_ACCOUNTS),
    ip: fc.constantFrom("10.1.0.5", "10.1.7.7", "192.168.1.9", "172.16.0.1", undefined),
    remoteIp: fc.constantFrom(undefined, undefined, "203.0.113.7"),
    mtls: fc.boolean(),
    destNamespace: fc.constantFrom("prod", "prod", "prod", "shop", "other"),
    labels: fc.constantFrom(...DEST_LABELS),
    port: fc.constantFrom(8080, 9090, 80),
    destIp: fc.constantFrom("10.2.0.9", "10.3.0.9", undefined),
    protocol: fc.constantFrom("TCP", "TCP", "TCP", "TCP", "UDP"),
    http: httpArb,
  })
  .map((x) => ({
    source: { namespace: x.namespace, serviceAccount: x.serviceAccount, ip: x.ip, remoteIp: x.remoteIp, mtls: x.mtls },
    destination: { namespace: x.destNamespace, labels: { ...x.labels }, port: x.port, ip: x.destIp },
    protocol: x.protocol as RefRequest["protocol"],
    ...(x.http ? { http: x.http } : {}),
  }));

const POINTS: readonly RefPoint[] = [
  { kind: "sidecar" },
  { kind: "ztunnel" },
  { kind: "waypoint", waypoint: { namespace: "prod", name: "waypoint" }, service: { namespace: "prod", name: "web" } },
  { kind: "waypoint", waypoint: { namespace: "prod", name: "waypoint" }, service: { namespace: "prod", name: "db" } },
];

// ---------------------------------------------------------------------------

function scanned(policies: readonly RefPolicy[]) {
  const load = loadText(toYaml(policies), "gen.yaml");
  const diagnostics: InputDiagnostic[] = [...load.diagnostics];
  const out = scanAuthorizationPolicies(load.manifests, diagnostics);
  const errs = diagnostics.filter((d) => d.severity === "error").map((d) => d.format());
  if (errs.length > 0) throw new Error(`generated policies did not validate:\n${errs.join("\n")}\n${toYaml(policies)}`);
  if (out.length !== policies.length) throw new Error("a generated policy was dropped");
  return out;
}

function toRequest(r: RefRequest): AuthzRequest {
  return {
    source: { ...r.source },
    destination: { ...r.destination },
    protocol: r.protocol,
    ...(r.http ? { http: { ...r.http } } : {}),
  };
}

function actual(policies: ReturnType<typeof scanned>, r: RefRequest, point: RefPoint, options: RefOptions) {
  const d = evaluateAuthorization(policies, toRequest(r), point as EnforcementPoint, options);
  return {
    verdict: d.verdict,
    deciders: d.policies.map((p) => `${p.namespace}/${p.name}${p.rule === null ? "" : `[${p.rule}]`}`).sort(),
    observed: d.observed,
  };
}

describe("evaluateAuthorization agrees with the reference evaluator", () => {
  it("on random policies, requests and enforcement points", { timeout: 180_000 }, () => {
    const RUNS = 2000;
    const REQUESTS = 8;
    /** How often each kind of outcome happened, per enforcement point: `allow` (no policy decided), `allow-rule`, `deny-rule`, `deny-no-allow`. */
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(
        policiesArb,
        fc.array(requestArb, { minLength: REQUESTS, maxLength: REQUESTS }),
        fc.constantFrom<"allow" | "deny">("allow", "deny"),
        (policies, requests, customDecision) => {
          const ps = scanned(policies);
          const options: RefOptions = { rootNamespace: "istio-system", trustDomain: "cluster.local", customDecision };
          for (const r of requests) {
            for (const point of POINTS) {
              const want = refEvaluate(policies, r, point, options);
              const got = actual(ps, r, point, options);
              const expected = { ...want, deciders: [...want.deciders].sort() };
              // The message (YAML of the policies) is only worth building for a failure.
              if (JSON.stringify(got) !== JSON.stringify(expected)) {
                expect(got, `${JSON.stringify(point)}: ${JSON.stringify(r)}\n${toYaml(policies)}`).toEqual(expected);
              }
              const kind = got.deciders.length === 0 ? got.verdict : got.deciders[0]!.includes("[") ? `${got.verdict}-rule` : "deny-no-allow";
              const key = `${point.kind} ${kind}`;
              outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Every kind of outcome must occur at every kind of enforcement point, often enough to mean something.
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(RUNS * REQUESTS * POINTS.length);
    for (const point of ["sidecar", "ztunnel", "waypoint"]) {
      for (const kind of ["allow", "allow-rule", "deny-rule", "deny-no-allow"]) {
        expect(outcomes.get(`${point} ${kind}`) ?? 0, `${point} ${kind}: ${JSON.stringify(Object.fromEntries(outcomes))}`).toBeGreaterThan(total / 200);
      }
    }
  });
});
