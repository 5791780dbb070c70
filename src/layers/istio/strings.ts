/**
 * String, path and address matching as Istio's generated Envoy RBAC config and
 * ztunnel perform it (semantics.md §4.4, §4.5). Each function names the upstream
 * matcher it reproduces; the AuthorizationPolicy evaluator only composes them.
 */
import { IPSet, parseCidr, parseIP } from "../../sets/index.js";
import type { PathNormalization, RequestJwt } from "./authz-types.js";

// ---------------------------------------------------------------------------
// The four string forms (§4.4 r12)

/**
 * `*` = presence, `*abc` = suffix, `abc*` = prefix, anything else exact — checked in
 * that order, so `*abc*` is a suffix match on `abc*` and `a*b` is the exact string
 * `a*b` (istio `matcher.StringMatcherWithPrefix`, ztunnel `stringToMatch`).
 */
export type StringForm =
  | { kind: "exact"; value: string }
  | { kind: "prefix"; value: string }
  | { kind: "suffix"; value: string }
  | { kind: "presence" };

export function stringForm(v: string): StringForm {
  if (v === "*") return { kind: "presence" };
  if (v.startsWith("*")) return { kind: "suffix", value: v.slice(1) };
  if (v.endsWith("*")) return { kind: "prefix", value: v.slice(0, -1) };
  return { kind: "exact", value: v };
}

export interface FormOptions {
  ignoreCase?: boolean;
  /**
   * What presence (`*`) requires: `nonEmpty` (Envoy regex `.+`, ztunnel `Presence`)
   * or `present` (Envoy header `present_match`, which an empty value satisfies).
   */
  presence?: "nonEmpty" | "present";
}

/** Whether `actual` (undefined = absent) matches the written value `v` in its string form. */
export function matchesForm(v: string, actual: string | undefined, options: FormOptions = {}): boolean {
  if (actual === undefined) return false;
  const form = stringForm(v);
  if (form.kind === "presence") return options.presence === "present" ? true : actual.length > 0;
  const a = options.ignoreCase ? actual.toLowerCase() : actual;
  const w = options.ignoreCase ? form.value.toLowerCase() : form.value;
  switch (form.kind) {
    case "exact":
      return a === w;
    case "prefix":
      return a.startsWith(w);
    case "suffix":
      return a.endsWith(w);
  }
}

/** Envoy `StringMatcher` built by istio `matcher.StringMatcher(v)`: `*` is the regex `.+`. */
export function envoyStringMatches(v: string, actual: string | undefined): boolean {
  return matchesForm(v, actual, { presence: "nonEmpty" });
}

/** `methods` and `request.headers[...]` values: istio `matcher.HeaderMatcher`, case-sensitive, `*` = header present. */
export function headerMatches(v: string, actual: string | undefined): boolean {
  return matchesForm(v, actual, { presence: "present" });
}

/** `hosts`: istio `matcher.HostMatcher` on `:authority`, case-insensitive, `*` = present (§4.4 r13). */
export function hostMatches(v: string, authority: string | undefined): boolean {
  return matchesForm(v, authority, { presence: "present", ignoreCase: true });
}

// ---------------------------------------------------------------------------
// Peer identity at an Envoy proxy (§4.5 r17). The peer certificate carries the
// SPIFFE URI `spiffe://<td>/ns/<ns>/sa/<sa>`; without mTLS there is none, and every
// identity matcher fails (so its `not*` variant holds, §4.5 r18).

const SPIFFE = "spiffe://";

function quoteMeta(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const regexCache = new Map<string, RegExp>();

function fullMatch(pattern: string, s: string): boolean {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, "s");
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(s);
}

/** `principals` / `source.principal`: `StringMatcherWithPrefix(v, "spiffe://")` on the peer URI. */
export function envoyPrincipalMatches(v: string, principal: string | undefined): boolean {
  if (principal === undefined) return false;
  const uri = SPIFFE + principal;
  if (v === "*") return uri.length > 0; // regex `.+`
  if (v.startsWith("*")) return fullMatch(`${quoteMeta(SPIFFE)}.*${quoteMeta(v.slice(1))}`, uri);
  if (v.endsWith("*")) return uri.startsWith(SPIFFE + v.slice(0, -1));
  return uri === SPIFFE + v;
}

/**
 * `namespaces` / `source.namespace`: the regex `.*\/ns/<v>/.*` on the peer URI, each
 * `*` in `v` becoming `.*` (istio `srcNamespaceGenerator`). A suffix form can
 * therefore also match across the `/sa/` segment: `*a` matches `…/ns/prod/sa/x`
 * through `prod/sa` — that is what Envoy does, so it is what this does.
 */
export function envoyNamespaceMatches(v: string, principal: string | undefined): boolean {
  if (principal === undefined) return false;
  const ns = v.split("*").map(quoteMeta).join(".*");
  return fullMatch(`.*/ns/${ns}/.*`, SPIFFE + principal);
}

/** `serviceAccounts` / `source.serviceAccount`: `<ns>/<sa>` or `<sa>` in the policy's namespace (istio `serviceAccountRegex`). */
export function envoyServiceAccountMatches(v: string, policyNamespace: string, principal: string | undefined): boolean {
  if (principal === undefined) return false;
  const slash = v.indexOf("/");
  const ns = slash >= 0 ? v.slice(0, slash) : policyNamespace;
  const sa = slash >= 0 ? v.slice(slash + 1) : v;
  return fullMatch(`spiffe://.+/ns/${quoteMeta(ns)}/(.+/|)sa/${quoteMeta(sa)}(/.+)?`, SPIFFE + principal);
}

/** `trustDomains` / `source.trustDomain` (istio `srcTrustDomainGenerator`). */
export function envoyTrustDomainMatches(v: string, principal: string | undefined): boolean {
  if (principal === undefined) return false;
  const uri = SPIFFE + principal;
  if (v === "*") return uri.startsWith(SPIFFE);
  if (!v.includes("*")) return uri.startsWith(`${SPIFFE}${v}/`);
  const star = v.indexOf("*");
  return fullMatch(`spiffe://${quoteMeta(v.slice(0, star))}[^/]*${quoteMeta(v.slice(star + 1))}/.*`, uri);
}

/** The parts of `<td>/ns/<ns>/sa/<sa>`, as ztunnel's `Identity::Spiffe` holds them. */
export function parseIdentity(principal: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined {
  const m = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! } : undefined;
}

// ---------------------------------------------------------------------------
// Request principal and JWT claims (HTTP only)

/**
 * `requestPrincipals` / `request.auth.principal` = `<iss>/<sub>`, split at the last
 * `/` and matched claim by claim (istio `requestPrincipalGenerator`): `*` needs both
 * non-empty; `*x` is a suffix on the issuer (or on the subject when there is no `/`);
 * `x*` a prefix on the subject (or on the issuer when there is no `/`).
 */
export function requestPrincipalMatches(v: string, jwt: RequestJwt | undefined): boolean {
  if (!jwt) return false;
  const idx = v.lastIndexOf("/");
  const found = idx >= 0;
  const iss = found ? v.slice(0, idx) : v;
  const sub = found ? v.slice(idx + 1) : "";
  type M = (s: string) => boolean;
  const any: M = (s) => s.length > 0;
  const exact = (w: string): M => (s) => s === w;
  let mIss: M;
  let mSub: M;
  if (v === "*") {
    mIss = any;
    mSub = any;
  } else if (v.startsWith("*")) {
    if (found) {
      mIss = iss === "*" ? any : (s) => s.endsWith(iss.slice(1));
      mSub = exact(sub);
    } else {
      mIss = any;
      mSub = (s) => s.endsWith(v.slice(1));
    }
  } else if (v.endsWith("*")) {
    if (found) {
      mIss = exact(iss);
      mSub = sub === "*" ? any : (s) => s.startsWith(sub.slice(0, -1));
    } else {
      mIss = (s) => s.startsWith(v.slice(0, -1));
      mSub = any;
    }
  } else {
    mIss = exact(iss);
    mSub = exact(sub);
  }
  return mIss(jwt.iss) && mSub(jwt.sub);
}

/** Values of a claim path (`[a][b]` nesting); a list claim yields its string items. */
export function claimValues(jwt: RequestJwt | undefined, path: readonly string[]): string[] {
  if (!jwt) return [];
  let cur: unknown = { ...jwt.claims, iss: jwt.iss, sub: jwt.sub, ...(jwt.aud ? { aud: jwt.aud } : {}), ...(jwt.azp ? { azp: jwt.azp } : {}) };
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return [];
    cur = (cur as Record<string, unknown>)[p];
  }
  if (typeof cur === "string") return [cur];
  if (Array.isArray(cur)) return cur.filter((x): x is string => typeof x === "string");
  return [];
}

/** `request.headers[name]` → `name`; `request.auth.claims[a][b]` → `[a, b]`; undefined when malformed. */
export function bracketNames(suffix: string): string[] | undefined {
  const m = /^(\[[^[\]]+\])+$/.exec(suffix);
  if (!m) return undefined;
  return [...suffix.matchAll(/\[([^[\]]+)\]/g)].map((x) => x[1]!);
}

// ---------------------------------------------------------------------------
// Paths (§4.4 r15)

export const MATCH_ONE_TEMPLATE = "{*}";
export const MATCH_ANY_TEMPLATE = "{**}";

export function containsPathTemplate(v: string): boolean {
  return v.includes(MATCH_ONE_TEMPLATE) || v.includes(MATCH_ANY_TEMPLATE);
}

/** RFC 3986 pchar, as istio `security.validLiteral`. */
const LITERAL = "a-zA-Z0-9\\-._~%!$&'()+,;:@=";
const VALID_LITERAL = new RegExp(`^[${LITERAL}]+$`);

/** Istio `CheckValidPathTemplate`: the error for one path, or undefined. Applies to every path (a `{` or `}` is rejected even without a template). */
export function pathTemplateError(path: string): string | undefined {
  const templated = containsPathTemplate(path);
  let seenAny = false;
  for (const glob of path.replace(/^\/+|\/+$/g, "").split("/")) {
    if (glob === MATCH_ONE_TEMPLATE && !seenAny) continue;
    if (glob === MATCH_ANY_TEMPLATE && !seenAny) {
      seenAny = true;
      continue;
    }
    if (glob === MATCH_ONE_TEMPLATE || glob === MATCH_ANY_TEMPLATE) return `{**} must be the last operator in "${path}"`;
    if (/[{}]/.test(glob)) return `"${path}" contains '{' or '}' outside a {*} or {**} path template`;
    if (templated && !VALID_LITERAL.test(glob)) {
      return `"${path}" has the segment "${glob}" next to a path template: only {*}, {**} or plain characters (no '*', no empty segment) are allowed`;
    }
  }
  return undefined;
}

/**
 * The Envoy URI template regex for an Istio path template (istio replaces `{*}`
 * by `*` and `{**}` by `**`; Envoy `uri_template_internal.cc` `toRegexPattern`):
 * `*` = `[pchar]+` (one segment), `**` = `[pchar/]*` (zero or more segments),
 * segments joined by `/`, a trailing `/` kept. Full match on the path without query.
 *
 * CONFLICT: the istio/api comment (quoted in semantics.md §4.4 r15) says `/foo/{**}/`
 * matches `/foo/bar/baz.txt`; the regex Envoy builds, `/foo/[pchar/]*\/`, needs the
 * trailing `/`, so it does not. This follows Envoy's source.
 */
export function pathTemplateRegex(template: string): RegExp {
  const body = template.startsWith("/") ? template.slice(1) : template;
  const trailing = body.endsWith("/");
  const segments = (trailing ? body.slice(0, -1) : body).split("/");
  const parts = segments.map((s) =>
    s === MATCH_ANY_TEMPLATE ? `[${LITERAL}/]*` : s === MATCH_ONE_TEMPLATE ? `[${LITERAL}]+` : quoteMeta(s),
  );
  if (trailing) parts.push("");
  return new RegExp(`^/${parts.join("/")}$`);
}

/** The path Envoy matches: query and fragment removed (Envoy `PathMatcher`, `removeQueryAndFragment`). */
export function stripQuery(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

/**
 * MeshConfig `pathNormalization` (§4.4 r15): `BASE` resolves `.`/`..` segments (RFC
 * 3986) and turns `\` into `/`; `MERGE_SLASHES` also merges `//`;
 * `DECODE_AND_MERGE_SLASHES` first decodes `%2F`/`%5C`. `NONE` leaves the path alone.
 */
export function normalizePath(path: string, mode: PathNormalization = "BASE"): string {
  if (mode === "NONE") return path;
  const q = path.search(/[?#]/);
  let p = q < 0 ? path : path.slice(0, q);
  const rest = q < 0 ? "" : path.slice(q);
  if (mode === "DECODE_AND_MERGE_SLASHES") p = p.replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  p = p.replace(/\\/g, "/");
  if (mode === "MERGE_SLASHES" || mode === "DECODE_AND_MERGE_SLASHES") p = p.replace(/\/{2,}/g, "/");
  return removeDotSegments(p) + rest;
}

/** RFC 3986 §5.2.4. */
function removeDotSegments(path: string): string {
  const input = path.split("/");
  const out: string[] = [];
  input.forEach((seg, i) => {
    const last = i === input.length - 1;
    if (seg === ".") {
      if (last) out.push("");
    } else if (seg === "..") {
      if (out.length > 1) out.pop();
      if (last) out.push("");
    } else out.push(seg);
  });
  const joined = out.join("/");
  return joined.startsWith("/") || !path.startsWith("/") ? joined : `/${joined}`;
}

const templateCache = new Map<string, RegExp>();

/** `paths`: a URI template when it has `{*}`/`{**}`, otherwise `StringMatcher(v)` on the path without query. */
export function pathMatches(v: string, path: string | undefined): boolean {
  if (path === undefined) return false;
  const p = stripQuery(path);
  if (containsPathTemplate(v)) {
    let re = templateCache.get(v);
    if (!re) templateCache.set(v, (re = pathTemplateRegex(v)));
    return re.test(p);
  }
  return envoyStringMatches(v, p);
}

// ---------------------------------------------------------------------------
// Addresses and ports

const cidrCache = new Map<string, IPSet | null>();

/** A single address or a CIDR as `source.ip`/`ipBlocks` accept it (Go `netip.ParseAddr`/`ParsePrefix`); null when invalid. */
export function ipBlock(v: string): IPSet | null {
  let set = cidrCache.get(v);
  if (set !== undefined) return set;
  set = null;
  try {
    if (v.includes("/")) {
      // netip.ParsePrefix rejects a prefix length with leading zeros.
      parseCidr(v);
      if (/\/(0|[1-9]\d*)$/.test(v)) set = IPSet.fromCidr(v);
    } else if (parseIP(v)) set = IPSet.fromIP(v);
  } catch {
    set = null;
  }
  cidrCache.set(v, set);
  return set;
}

export function ipMatches(v: string, ip: string | undefined): boolean {
  if (ip === undefined) return false;
  return ipBlock(v)?.contains(ip) ?? false;
}

/** Istio `ValidatePorts`: a decimal `strconv.ParseUint` no greater than 65535; undefined when invalid. */
export function parsePortString(v: string): number | undefined {
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 65535 ? n : undefined;
}

/** Go `strconv.ParseBool`; undefined when the text is not a boolean. */
export function parseGoBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}
