/**
 * Host names as Istio compares them (semantics.md §4.8 r24, §4.9): DNS validation
 * as istiod's webhook does it, the wildcard `Matches`/`SubsetOf` relations between
 * configured host names (istio `pkg/config/host/name.go`), and the matching of a
 * request's Host header or TLS SNI against a configured (possibly wildcard) name,
 * as Envoy's virtual-host and `server_names` matching does it.
 */
import { parseIP } from "../../sets/index.js";

/** `*` alone, or a name whose first character is `*` (`*.example.com`, `*foo.com`). */
export function isWildcardHost(h: string): boolean {
  return h.length > 0 && h[0] === "*";
}

/**
 * Istio `host.Name.Matches`: the two names overlap. Exact names compare as strings;
 * a wildcard compares by suffix after its `*`, in either direction.
 * `*.com` ~ `foo.com`, `*` ~ everything, `*.foo.com` !~ `foo.com`.
 */
export function hostMatches(a: string, b: string): boolean {
  const aw = isWildcardHost(a);
  const bw = isWildcardHost(b);
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/**
 * Istio `host.Name.SubsetOf`: every name `a` stands for is also covered by `b`.
 * This is how a Sidecar egress host imports a service host (`sidecar.go`
 * `hostClassification.Matches`): the service host must be a subset of the import.
 */
export function hostSubsetOf(a: string, b: string): boolean {
  const aw = isWildcardHost(a);
  const bw = isWildcardHost(b);
  if (aw && bw) return a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (aw) return false;
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/**
 * Whether a concrete name a client uses (HTTP Host without port, or TLS SNI) is
 * served by a configured name: exact (case-insensitive, a trailing dot ignored),
 * `*` for anything, `*suffix` when at least one character stands for the `*`
 * (Envoy: "wildcard will not match the empty string").
 */
export function requestHostMatches(pattern: string, requestHost: string): boolean {
  const p = normalizeRequestHost(pattern);
  const h = normalizeRequestHost(requestHost);
  if (h === "") return false;
  if (p === "*") return true;
  if (isWildcardHost(p)) {
    const suffix = p.slice(1);
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return p === h;
}

/** Lower case, without a trailing root dot. */
export function normalizeRequestHost(h: string): string {
  const l = h.toLowerCase();
  return l.endsWith(".") && l.length > 1 ? l.slice(0, -1) : l;
}

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;
const LOWER_DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;

/** A DNS label as istio's validation accepts it (letters of either case, digits, inner `-`, ≤ 63). */
export function isDNS1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** A Kubernetes namespace (or other object) name: lower-case DNS label. */
export function isNamespaceName(s: string): boolean {
  return s.length <= 63 && LOWER_DNS1123_LABEL.test(s);
}

export function isIPAddress(s: string): boolean {
  return parseIP(s) !== null;
}

function dnsPreconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name "${name}" is too long (max 255)`;
  if (name.length === 0) return "empty domain name not allowed";
  return undefined;
}

function dns1123Labels(domain: string): string | undefined {
  const parts = domain.split(".");
  const tld = parts[parts.length - 1]!;
  if (/^\d+$/.test(tld)) return `domain name "${domain}" is invalid (top-level domain "${tld}" cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    // A trailing dot (`istio.io.`) is allowed.
    if (i === parts.length - 1 && label === "") return undefined;
    if (!isDNS1123Label(label)) return `domain name "${domain}" is invalid (label "${label}" is not a DNS label)`;
  }
  return undefined;
}

/** istio `ValidateFQDN`: a DNS name without wildcards; the error message, or undefined when valid. */
export function validateFQDN(name: string): string | undefined {
  return dnsPreconditions(name) ?? dns1123Labels(name);
}

/**
 * istio `ValidateWildcardDomain`: a DNS name whose first label may be `*`, `*foo`
 * or `*-foo`; the error message, or undefined when valid.
 */
export function validateWildcardDomain(name: string): string | undefined {
  const pre = dnsPreconditions(name);
  if (pre) return pre;
  const dot = name.indexOf(".");
  const first = dot < 0 ? name : name.slice(0, dot);
  if (!(first.length <= 63 && WILDCARD_LABEL.test(first))) return `domain name "${name}" is invalid (label "${first}" is not a DNS label or wildcard)`;
  return dot < 0 ? undefined : dns1123Labels(name.slice(dot + 1));
}

/** istio `ValidatePartialWildCard`: a `*` is only allowed alone or as a whole `*.` first label. */
export function isPartialWildcard(name: string): boolean {
  return name.includes("*") && name.length !== 1 && !name.startsWith("*.");
}
