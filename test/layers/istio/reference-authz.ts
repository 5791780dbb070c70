/**
 * A deliberately naive reference evaluator for Istio AuthorizationPolicy, written
 * straight from semantics.md §4.1–§4.6 and §5.4–§5.5, reading policies in their API
 * shape (as written in YAML). No sharing with `src/`: no regexes for identities (a
 * glob matcher instead), paths matched segment by segment, IPv4 parsed by hand. It
 * is the oracle the property test holds the real evaluator against, so it favours
 * being obviously right over being fast or general (IPv4 only, no CUSTOM providers
 * beyond one yes/no answer, no JWT claims beyond iss/sub).
 */

export type RefLabels = Readonly<Record<string, string>>;

export interface RefSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
}

export interface RefOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface RefCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface RefRule {
  from?: { source: RefSource }[];
  to?: { operation: RefOperation }[];
  when?: RefCondition[];
}

export interface RefTargetRef {
  group?: string;
  kind: string;
  name: string;
}

/** An AuthorizationPolicy as written in a manifest. */
export interface RefPolicy {
  apiVersion: "security.istio.io/v1";
  kind: "AuthorizationPolicy";
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: {
    selector?: { matchLabels: Record<string, string> };
    targetRefs?: RefTargetRef[];
    action?: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
    provider?: { name: string };
    rules?: RefRule[];
  };
}

export interface RefRequest {
  source: { namespace?: string; serviceAccount?: string; ip?: string; remoteIp?: string; mtls: boolean };
  destination: { namespace: string; labels: RefLabels; port: number; ip?: string };
  protocol: "TCP" | "UDP" | "SCTP";
  http?: { method: string; path: string; host: string; headers?: Record<string, string>; jwt?: { iss: string; sub: string } };
}

export type RefPoint =
  | { kind: "sidecar" }
  | { kind: "ztunnel" }
  | { kind: "waypoint"; waypoint: { namespace: string; name: string }; service?: { namespace: string; name: string } };

export interface RefOptions {
  rootNamespace: string;
  trustDomain: string;
  customDecision: "allow" | "deny";
}

export interface RefResult {
  verdict: "allow" | "deny";
  /** `ns/name[i]` of the deciding rules, or `ns/name` for ALLOW policies none of whose rules matched. */
  deciders: string[];
  observed: "http-403" | "reset" | null;
}

// ---------------------------------------------------------------------------
// Strings (§4.4 r12): exact, `prefix*`, `*suffix`, `*` = non-empty.

function form(v: string, actual: string | undefined, opts: { ignoreCase?: boolean; presentIsEnough?: boolean } = {}): boolean {
  if (actual === undefined) return false;
  if (v === "*") return opts.presentIsEnough ? true : actual !== "";
  const a = opts.ignoreCase ? actual.toLowerCase() : actual;
  const w = opts.ignoreCase ? v.toLowerCase() : v;
  if (w.startsWith("*")) return a.endsWith(w.slice(1));
  if (w.endsWith("*")) return a.startsWith(w.slice(0, -1));
  return a === w;
}

/** `*` = any run of characters, everything else literal (used for §4.5 r17's `.*\/ns/<ns>/.*`). */
function glob(pattern: string, s: string): boolean {
  // dp[i][j]: pattern[0..i) matches s[0..j)
  const dp: boolean[][] = Array.from({ length: pattern.length + 1 }, () => Array<boolean>(s.length + 1).fill(false));
  dp[0]![0] = true;
  for (let i = 1; i <= pattern.length; i++) {
    const c = pattern[i - 1];
    for (let j = 0; j <= s.length; j++) {
      if (c === "*") dp[i]![j] = dp[i - 1]![j]! || (j > 0 && dp[i]![j - 1]!);
      else dp[i]![j] = j > 0 && dp[i - 1]![j - 1]! && s[j - 1] === c;
    }
  }
  return dp[pattern.length]![s.length]!;
}

// ---------------------------------------------------------------------------
// IPv4

function ip4(s: string): number | undefined {
  const p = s.split(".");
  if (p.length !== 4 || p.some((x) => !/^\d+$/.test(x) || Number(x) > 255)) return undefined;
  return p.reduce((acc, x) => acc * 256 + Number(x), 0);
}

function inBlock(block: string, ip: string | undefined): boolean {
  if (ip === undefined) return false;
  const [addr, len] = block.includes("/") ? block.split("/") : [block, "32"];
  const a = ip4(addr!);
  const b = ip4(ip);
  if (a === undefined || b === undefined) return false;
  const size = 2 ** (32 - Number(len));
  return Math.floor(a / size) === Math.floor(b / size);
}

// ---------------------------------------------------------------------------
// Paths (§4.4 r15)

const PCHAR = /^[A-Za-z0-9\-._~%!$&'()+,;:@=]*$/;

/** `/a/../b` → `/b` (RFC 3986 dot segments; MeshConfig default BASE). */
function normalize(path: string): string {
  const q = path.search(/[?#]/);
  const p = q < 0 ? path : path.slice(0, q);
  const out: string[] = [];
  const segs = p.split("/").slice(1);
  segs.forEach((s, i) => {
    const last = i === segs.length - 1;
    if (s === ".") {
      if (last) out.push("");
    } else if (s === "..") {
      out.pop();
      if (last) out.push("");
    } else out.push(s);
  });
  return `/${out.join("/")}`;
}

/**
 * A template, segment by segment: `{*}` is one non-empty segment, `{**}` one or more
 * segments (each possibly empty: it may match the empty string), anything else a
 * literal segment; a trailing `/` is a final empty segment. (This is Envoy's reading;
 * semantics.md §4.4 r15 quotes an API example that disagrees for `/foo/{**}/`.)
 */
function templateMatches(template: string, path: string): boolean {
  const t = template.slice(1).split("/");
  const p = path.slice(1).split("/");
  const go = (i: number, j: number): boolean => {
    if (i === t.length) return j === p.length;
    const seg = t[i]!;
    if (seg === "{**}") {
      for (let k = j + 1; k <= p.length; k++) if (p.slice(j, k).every((x) => PCHAR.test(x)) && go(i + 1, k)) return true;
      return false;
    }
    if (j >= p.length) return false;
    if (seg === "{*}") return p[j] !== "" && PCHAR.test(p[j]!) && go(i + 1, j + 1);
    return p[j] === seg && go(i + 1, j + 1);
  };
  return path.startsWith("/") && go(0, 0);
}

function pathMatches(v: string, rawPath: string | undefined): boolean {
  if (rawPath === undefined) return false;
  const path = normalize(rawPath);
  if (v.includes("{*}") || v.includes("{**}")) return templateMatches(v, path);
  return form(v, path);
}

// ---------------------------------------------------------------------------
// The request's attributes

interface Identity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

function identityOf(r: RefRequest, o: RefOptions): Identity | undefined {
  if (!r.source.mtls || !r.source.namespace) return undefined;
  return { trustDomain: o.trustDomain, namespace: r.source.namespace, serviceAccount: r.source.serviceAccount ?? "default" };
}

const principalOf = (id: Identity) => `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;

/** One value of one attribute: does it match this request? `where` picks Envoy or ztunnel semantics. */
type Test = (v: string) => boolean;

function sourceTests(p: RefPolicy, r: RefRequest, id: Identity | undefined, where: "envoy" | "ztunnel"): Record<string, Test> {
  const jwtPrincipal = r.http?.jwt ? `${r.http.jwt.iss}/${r.http.jwt.sub}` : undefined;
  const sa: Test = (v) => {
    const [ns, name] = v.includes("/") ? v.split("/") : [p.metadata.namespace, v];
    return !!id && id.namespace === ns && id.serviceAccount === name;
  };
  return {
    principals: (v) => !!id && form(v, principalOf(id)),
    // §4.5 r17: Envoy matches `.*/ns/<ns>/.*` on the URI, `*` → `.*`; ztunnel compares the namespace (§5.4).
    namespaces: where === "envoy" ? (v) => !!id && glob(`*/ns/${v}/*`, `spiffe://${principalOf(id)}`) : (v) => !!id && form(v, id.namespace),
    serviceAccounts: sa,
    trustDomains: (v) => !!id && form(v, id.trustDomain),
    requestPrincipals: (v) => form(v, jwtPrincipal),
    ipBlocks: (v) => inBlock(v, r.source.ip),
    remoteIpBlocks: (v) => inBlock(v, r.source.remoteIp ?? r.source.ip),
  };
}

function operationTests(r: RefRequest): Record<string, Test> {
  return {
    hosts: (v) => form(v, r.http?.host, { ignoreCase: true, presentIsEnough: true }),
    ports: (v) => Number(v) === r.destination.port,
    methods: (v) => form(v, r.http?.method, { presentIsEnough: true }),
    paths: (v) => pathMatches(v, r.http?.path),
  };
}

function conditionTest(p: RefPolicy, key: string, r: RefRequest, id: Identity | undefined, where: "envoy" | "ztunnel"): Test {
  const src = sourceTests(p, r, id, where);
  switch (key) {
    case "source.ip":
      return src.ipBlocks!;
    case "remote.ip":
      return src.remoteIpBlocks!;
    case "source.namespace":
      return src.namespaces!;
    case "source.principal":
      return src.principals!;
    case "source.serviceAccount":
      return src.serviceAccounts!;
    case "destination.port":
      return (v) => Number(v) === r.destination.port;
    case "destination.ip":
      return (v) => inBlock(v, r.destination.ip);
  }
  if (key.startsWith("request.headers[")) {
    const name = key.slice("request.headers[".length, -1).toLowerCase();
    const headers = Object.fromEntries(Object.entries(r.http?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return (v) => form(v, headers[name], { presentIsEnough: true });
  }
  throw new Error(`reference: unsupported key ${key}`);
}

/** Values ORed, notValues none (§4.3 r8). An empty list is "not set". */
function pair(values: string[] | undefined, notValues: string[] | undefined, test: Test): boolean {
  const pos = !values || values.length === 0 || values.some(test);
  const neg = !notValues || notValues.length === 0 || !notValues.some(test);
  return pos && neg;
}

const SOURCE_ATTRS = ["principals", "namespaces", "serviceAccounts", "trustDomains", "requestPrincipals", "ipBlocks", "remoteIpBlocks"] as const;
const OPERATION_ATTRS = ["hosts", "ports", "methods", "paths"] as const;
const not = (a: string) => `not${a[0]!.toUpperCase()}${a.slice(1)}`;
const set = (o: object, k: string): boolean => ((o as Record<string, string[] | undefined>)[k]?.length ?? 0) > 0;

// ---------------------------------------------------------------------------
// Envoy: sidecar, gateway, waypoint (§4.3–§4.6)

/** §4.6 r20: what a TCP filter chain cannot evaluate. */
const HTTP_ONLY_OPS = new Set(["hosts", "methods", "paths"]);
const HTTP_ONLY_SOURCE = new Set(["requestPrincipals"]);
const httpOnlyKey = (k: string) => k.startsWith("request.headers") || k.startsWith("request.auth.");

function envoyRuleMatches(p: RefPolicy, rule: RefRule, r: RefRequest, id: Identity | undefined, tcp: boolean): boolean {
  const action = p.spec.action ?? "ALLOW";
  const usesHttp =
    (rule.from ?? []).some((f) => [...HTTP_ONLY_SOURCE].some((a) => set(f.source, a) || set(f.source, not(a)))) ||
    (rule.to ?? []).some((t) => [...HTTP_ONLY_OPS].some((a) => set(t.operation, a) || set(t.operation, not(a)))) ||
    (rule.when ?? []).some((c) => httpOnlyKey(c.key));
  // ALLOW: the rule is skipped. DENY (and CUSTOM, built as DENY): those attributes are ignored.
  if (tcp && usesHttp && action === "ALLOW") return false;
  const ignored = (a: string) => tcp && (HTTP_ONLY_OPS.has(a) || HTTP_ONLY_SOURCE.has(a));

  const src = sourceTests(p, r, id, "envoy");
  const fromOk =
    !rule.from ||
    rule.from.some(({ source: s }) =>
      SOURCE_ATTRS.every((a) => ignored(a) || pair((s as Record<string, string[]>)[a], (s as Record<string, string[]>)[not(a)], src[a]!)),
    );
  const ops = operationTests(r);
  const toOk =
    !rule.to ||
    rule.to.some(({ operation: o }) =>
      OPERATION_ATTRS.every((a) => ignored(a) || pair((o as Record<string, string[]>)[a], (o as Record<string, string[]>)[not(a)], ops[a]!)),
    );
  const whenOk = (rule.when ?? []).every((c) => (tcp && httpOnlyKey(c.key)) || pair(c.values, c.notValues, conditionTest(p, c.key, r, id, "envoy")));
  return fromOk && toOk && whenOk;
}

// ---------------------------------------------------------------------------
// ztunnel (§5.4 r11–r13)

const ZT_L7_OPS = ["hosts", "methods", "paths"];
const ZT_L7_SOURCE = ["remoteIpBlocks", "requestPrincipals"];
const ZT_L4_SOURCE = ["ipBlocks", "namespaces", "serviceAccounts", "principals"] as const;
const ZT_L4_KEYS = new Set(["source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"]);

function ztunnelRuleMatches(p: RefPolicy, rule: RefRule, r: RefRequest, id: Identity | undefined): boolean {
  const action = p.spec.action ?? "ALLOW";
  const l7 =
    (rule.to ?? []).some((t) => ZT_L7_OPS.some((a) => set(t.operation, a) || set(t.operation, not(a)))) ||
    (rule.from ?? []).some((f) => ZT_L7_SOURCE.some((a) => set(f.source, a) || set(f.source, not(a)))) ||
    (rule.when ?? []).some((c) => !ZT_L4_KEYS.has(c.key));
  // r12: an ALLOW rule with an L7 attribute is dropped.
  if (l7 && action === "ALLOW") return false;
  // r13: what remains of each from/to item and each when; an item with nothing left never matches.
  const src = sourceTests(p, r, id, "ztunnel");
  const fromOk =
    !rule.from ||
    rule.from.some(({ source: s }) => {
      const left = ZT_L4_SOURCE.filter((a) => set(s, a) || set(s, not(a)));
      return left.length > 0 && left.every((a) => pair((s as Record<string, string[]>)[a], (s as Record<string, string[]>)[not(a)], src[a]!));
    });
  const toOk =
    !rule.to ||
    rule.to.some(({ operation: o }) => (set(o, "ports") || set(o, "notPorts")) && pair(o.ports, o.notPorts, (v) => Number(v) === r.destination.port));
  const whenOk = (rule.when ?? []).every((c) => ZT_L4_KEYS.has(c.key) && pair(c.values, c.notValues, conditionTest(p, c.key, r, id, "ztunnel")));
  return fromOk && toOk && whenOk;
}

// ---------------------------------------------------------------------------
// Attachment (§4.1, §5.4 r9–r10, §5.5 r16) and the decision (§4.2)

function attaches(p: RefPolicy, r: RefRequest, point: RefPoint, o: RefOptions): boolean {
  if (p.metadata.annotations?.["istio.io/dry-run"] === "true") return false;
  const refs = p.spec.targetRefs ?? [];
  const ns = p.metadata.namespace;
  if (point.kind === "waypoint") {
    return refs.some((t) => {
      const group = t.group ?? "";
      if (t.kind === "Gateway" && group === "gateway.networking.k8s.io") return ns === point.waypoint.namespace && t.name === point.waypoint.name;
      if (t.kind === "Service" && (group === "" || group === "core")) return !!point.service && ns === point.service.namespace && t.name === point.service.name;
      if (t.kind === "GatewayClass") return ns === o.rootNamespace && t.name === "istio-waypoint";
      return false;
    });
  }
  if (refs.length > 0) return false;
  if (point.kind === "ztunnel" && (p.spec.action === "AUDIT" || p.spec.action === "CUSTOM")) return false;
  if (ns !== r.destination.namespace && ns !== o.rootNamespace) return false;
  const sel = p.spec.selector?.matchLabels ?? {};
  return Object.entries(sel).every(([k, v]) => r.destination.labels[k] === v);
}

export function refEvaluate(policies: readonly RefPolicy[], r: RefRequest, point: RefPoint, o: RefOptions): RefResult {
  if (r.protocol !== "TCP") return { verdict: "allow", deciders: [], observed: null };
  const id = identityOf(r, o);
  const http = point.kind !== "ztunnel" && r.http !== undefined;
  const req: RefRequest = http ? r : { ...r, http: undefined };
  const observed = http ? "http-403" : "reset";
  const applied = policies.filter((p) => attaches(p, req, point, o));
  const matches = (p: RefPolicy, rule: RefRule) =>
    point.kind === "ztunnel" ? ztunnelRuleMatches(p, rule, req, id) : envoyRuleMatches(p, rule, req, id, !http);
  const matched = (p: RefPolicy) => (p.spec.rules ?? []).flatMap((rule, i) => (matches(p, rule) ? [`${p.metadata.namespace}/${p.metadata.name}[${i}]`] : []));
  const action = (p: RefPolicy) => p.spec.action ?? "ALLOW";

  // 1. CUSTOM: a matching policy asks the extension.
  for (const p of applied.filter((x) => action(x) === "CUSTOM")) {
    const m = matched(p);
    if (m.length > 0 && o.customDecision === "deny") return { verdict: "deny", deciders: m, observed };
  }
  // 2. DENY.
  const denied = applied.filter((x) => action(x) === "DENY").flatMap(matched);
  if (denied.length > 0) return { verdict: "deny", deciders: denied, observed };
  // 3. No ALLOW policy: allow.
  const allows = applied.filter((x) => action(x) === "ALLOW");
  if (allows.length === 0) return { verdict: "allow", deciders: [], observed: null };
  // 4. Any ALLOW matches: allow. 5. Otherwise deny.
  const allowed = allows.flatMap(matched);
  if (allowed.length > 0) return { verdict: "allow", deciders: allowed, observed: null };
  return { verdict: "deny", deciders: allows.map((p) => `${p.metadata.namespace}/${p.metadata.name}`), observed };
}
