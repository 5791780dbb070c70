/**
 * Istio AuthorizationPolicy (semantics.md §4.1–§4.6, §5.4, §5.5): the scanner,
 * with istiod's validation, and a pure evaluator for one request at one
 * enforcement point (sidecar or classic gateway, ztunnel, waypoint).
 */
import type { FieldPath, InputDiagnostic, Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import type { Labels } from "../../model/selector.js";
import type { PolicyRef } from "../types.js";
import {
  OPERATION_FIELDS,
  SOURCE_FIELDS,
  type AuthorizationPolicy,
  type AuthzAction,
  type AuthzCondition,
  type AuthzDecision,
  type AuthzFrom,
  type AuthzOperation,
  type AuthzOptions,
  type AuthzRequest,
  type AuthzRule,
  type AuthzSource,
  type AuthzTo,
  type EnforcementPoint,
  type OperationField,
  type PolicyTargetRef,
  type SourceField,
} from "./authz-types.js";
import {
  bracketNames,
  claimValues,
  envoyNamespaceMatches,
  envoyPrincipalMatches,
  envoyServiceAccountMatches,
  envoyStringMatches,
  envoyTrustDomainMatches,
  headerMatches,
  hostMatches,
  ipBlock,
  ipMatches,
  matchesForm,
  normalizePath,
  parseGoBool,
  parseIdentity,
  parsePortString,
  pathMatches,
  pathTemplateError,
  requestPrincipalMatches,
} from "./strings.js";

export * from "./authz-types.js";

export const DEFAULT_ROOT_NAMESPACE = "istio-system";
export const DEFAULT_TRUST_DOMAIN = "cluster.local";
/** The GatewayClass of waypoints; a root-namespace policy targeting it applies to every waypoint (§5.5 r16). */
export const WAYPOINT_GATEWAY_CLASS = "istio-waypoint";
const DRY_RUN_ANNOTATION = "istio.io/dry-run";

// ===========================================================================
// Scanning

export function isAuthorizationPolicy(m: Manifest): boolean {
  return m.kind === "AuthorizationPolicy" && typeof m.apiVersion === "string" && m.apiVersion.startsWith("security.istio.io/");
}

const SERVED_VERSIONS = ["security.istio.io/v1", "security.istio.io/v1beta1"];

export interface IstioScanOptions {
  /** MeshConfig `rootNamespace`, for warnings about policies that can never attach (default `istio-system`). */
  rootNamespace?: string;
}

/**
 * Reads AuthorizationPolicies with the validation istiod's webhook and the CRD
 * schema apply (`pkg/config/validation` `ValidateAuthorizationPolicy`,
 * `pkg/config/security`, CEL rules of the CRD). A policy they would reject is
 * reported (file:line:field) and left out; warnings keep the policy.
 */
export function scanAuthorizationPolicies(
  manifests: readonly Manifest[],
  diagnostics: InputDiagnostic[],
  options: IstioScanOptions = {},
): AuthorizationPolicy[] {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const out: AuthorizationPolicy[] = [];
  for (const m of manifests) {
    if (!isAuthorizationPolicy(m)) continue;
    const r = new FieldReader(m);
    const policy = readAuthorizationPolicy(r, root);
    diagnostics.push(...r.diagnostics);
    if (policy && !r.hasErrors) out.push(policy);
  }
  return out;
}

const SPEC_KEYS = ["selector", "targetRef", "targetRefs", "rules", "action", "provider"];
const ACTIONS: readonly AuthzAction[] = ["ALLOW", "DENY", "AUDIT", "CUSTOM"];

function readAuthorizationPolicy(r: FieldReader, root: string): AuthorizationPolicy | undefined {
  const m = r.manifest;
  if (!SERVED_VERSIONS.includes(m.apiVersion)) {
    return r.error(["apiVersion"], `AuthorizationPolicy is served as ${SERVED_VERSIONS.join(" and ")}, not ${m.apiVersion}`);
  }
  if (!m.name) return r.error(["metadata", "name"], "an AuthorizationPolicy needs a name");
  const namespace = m.namespace ?? "default";
  // A missing spec is the empty spec: ALLOW with no rules (allow nothing).
  const spec = r.get(["spec"]) === undefined || r.get(["spec"]) === null ? {} : r.object(["spec"]);
  if (!spec) return undefined;
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.includes(key)) r.error(["spec", key], `unknown field "${key}" in an AuthorizationPolicy spec (expected ${SPEC_KEYS.join(", ")})`);
  }

  const actionRaw = r.get(["spec", "action"]);
  let action: AuthzAction = "ALLOW";
  if (actionRaw !== undefined && actionRaw !== null) {
    if (typeof actionRaw === "string" && (ACTIONS as readonly string[]).includes(actionRaw)) action = actionRaw as AuthzAction;
    else r.error(["spec", "action"], `unknown action ${describe(actionRaw)} (expected ALLOW, DENY, AUDIT or CUSTOM)`);
  }

  const selector = readWorkloadSelector(r, ["spec", "selector"]);
  const targetRefs = readTargetRefs(r, namespace, root);

  // provider: CUSTOM only; CUSTOM needs one.
  let provider: string | undefined;
  const providerRaw = r.get(["spec", "provider"]);
  if (providerRaw !== undefined && providerRaw !== null) {
    const obj = r.object(["spec", "provider"]);
    if (obj) {
      for (const k of Object.keys(obj)) if (k !== "name") r.error(["spec", "provider", k], `unknown field "${k}" in provider (expected name)`);
      provider = r.string(["spec", "provider", "name"]);
    }
    if (action !== "CUSTOM") r.error(["spec", "provider"], `provider must only be used with action CUSTOM, not ${action}`);
  }

  const rulesRaw = r.get(["spec", "rules"]);
  const ruleList = r.array(["spec", "rules"]);
  const hasRules = ruleList !== undefined && ruleList.length > 0;
  if (!hasRules && (action === "DENY" || action === "CUSTOM")) {
    r.error(
      rulesRaw === undefined || rulesRaw === null ? ["spec"] : ["spec", "rules"],
      `${action} action without rules is meaningless as it will never be triggered; add an empty rule {} to match every request (semantics.md §4.3 r10)`,
    );
  }
  if (action === "CUSTOM" && hasRules && !provider) r.error(["spec", "provider", "name"], "a CUSTOM policy needs provider.name");
  if (ruleList && ruleList.length > 512) r.error(["spec", "rules"], `at most 512 rules are allowed, got ${ruleList.length}`);

  const rules: AuthzRule[] = [];
  (ruleList ?? []).forEach((_, i) => {
    const rule = readRule(r, i, action);
    if (rule) rules.push(rule);
  });

  let dryRun = false;
  const annotations = r.get(["metadata", "annotations"]);
  if (annotations && typeof annotations === "object" && DRY_RUN_ANNOTATION in annotations) {
    const raw = (annotations as Record<string, unknown>)[DRY_RUN_ANNOTATION];
    const parsed = typeof raw === "string" ? parseGoBool(raw) : undefined;
    if (parsed === undefined) {
      r.warn(["metadata", "annotations", DRY_RUN_ANNOTATION], `${describe(raw)} is not a boolean; istiod treats the policy as enforced`);
    } else dryRun = parsed;
  }

  return {
    namespace,
    name: m.name,
    action,
    provider,
    selector,
    targetRefs,
    rules,
    dryRun,
    file: m.source.file,
    line: m.source.line,
    manifest: m,
  };
}

/** `WorkloadSelector`: `matchLabels` only, no wildcards, no empty keys (istio `validateWorkloadSelector` + CRD CEL). */
export function readWorkloadSelector(r: FieldReader, path: FieldPath): Labels | undefined {
  const raw = r.get(path);
  if (raw === undefined || raw === null) return undefined;
  const obj = r.object(path);
  if (!obj) return undefined;
  for (const k of Object.keys(obj)) {
    if (k !== "matchLabels") {
      const hint = k === "matchExpressions" ? " (Istio selectors support matchLabels only)" : "";
      r.error([...path, k], `unknown field "${k}" in a workload selector${hint}`);
    }
  }
  const labels = r.stringMap([...path, "matchLabels"]);
  for (const [k, v] of Object.entries(labels)) {
    if (k === "") r.error([...path, "matchLabels"], "empty key is not supported in selector");
    if (k.includes("*") || v.includes("*")) r.error([...path, "matchLabels", k], `wildcard is not supported in selector: "${k}=${v}"`);
    if (v.length > 63) r.error([...path, "matchLabels", k], `label value is longer than 63 characters`);
  }
  if (Object.keys(labels).length === 0) {
    r.warn(path, "workload selector specified without labels: it selects every workload in scope");
  }
  return labels;
}

const TARGET_KINDS: readonly { group: string; kind: string }[] = [
  { group: "core", kind: "Service" },
  { group: "networking.istio.io", kind: "ServiceEntry" },
  { group: "gateway.networking.k8s.io", kind: "Gateway" },
  { group: "gateway.networking.k8s.io", kind: "GatewayClass" },
];

function canonicalGroup(g: string): string {
  return g === "" ? "core" : g;
}

function readTargetRefs(r: FieldReader, namespace: string, root: string): PolicyTargetRef[] {
  const single = r.get(["spec", "targetRef"]);
  const list = r.array(["spec", "targetRefs"]);
  const hasSelector = r.get(["spec", "selector"]) !== undefined && r.get(["spec", "selector"]) !== null;
  const hasSingle = single !== undefined && single !== null;
  const hasList = list !== undefined && list.length > 0;
  if ([hasSelector, hasSingle, hasList].filter(Boolean).length > 1) {
    r.error(["spec"], "only one of targetRefs, targetRef or selector can be set (semantics.md §4.1 r3)");
  }
  if (list && list.length > 16) r.error(["spec", "targetRefs"], `at most 16 targetRefs are allowed, got ${list.length}`);
  const out: PolicyTargetRef[] = [];
  const paths: FieldPath[] = hasList ? list.map((_, i) => ["spec", "targetRefs", i]) : hasSingle ? [["spec", "targetRef"]] : [];
  for (const p of paths) {
    const obj = r.object(p);
    if (!obj) continue;
    for (const k of Object.keys(obj)) {
      if (!["group", "kind", "name", "namespace"].includes(k)) r.error([...p, k], `unknown field "${k}" in a targetRef`);
    }
    const group = r.string([...p, "group"]) ?? "";
    const kind = r.string([...p, "kind"]);
    const name = r.string([...p, "name"]);
    const ns = r.string([...p, "namespace"]);
    if (!kind) r.error([...p, "kind"], "targetRef kind must be set");
    if (!name) r.error([...p, "name"], "targetRef name must be set");
    if (ns) r.error([...p, "namespace"], "targetRef namespace must not be set; cross namespace referencing is not supported");
    if (kind && !TARGET_KINDS.some((t) => t.kind === kind && t.group === canonicalGroup(group))) {
      r.error(
        [...p, "kind"],
        `targetRef must be one of ${TARGET_KINDS.map((t) => `${t.group}/${t.kind}`).join(", ")}, not ${group || "core"}/${kind}`,
      );
    }
    if (kind === "GatewayClass" && name) {
      if (namespace !== root) r.warn(p, `a GatewayClass targetRef only attaches from the root namespace ${root}; this policy never applies`);
      else if (name !== WAYPOINT_GATEWAY_CLASS) r.warn([...p, "name"], `only GatewayClass ${WAYPOINT_GATEWAY_CLASS} attaches a policy (to every waypoint)`);
    }
    if (kind && name) out.push({ group, kind, name });
  }
  return out;
}

/**
 * Adds `line`, the line of `path`, computed on first use: positions cost a second
 * parse of the document, and only explanations (the deciding rules) need them.
 */
export function withLine<T extends object>(obj: T, m: Manifest, path: FieldPath): T & { readonly line: number } {
  let line: number | undefined;
  Object.defineProperty(obj, "line", { get: () => (line ??= m.lineOf(path)), enumerable: true });
  return obj as T & { readonly line: number };
}

const RULE_KEYS = ["from", "to", "when"];

function readRule(r: FieldReader, index: number, action: AuthzAction): AuthzRule | undefined {
  const path: FieldPath = ["spec", "rules", index];
  const raw = r.get(path);
  if (raw === null || raw === undefined) return r.error(path, "a rule must not be null (write {} for a rule that matches every request)");
  const obj = r.object(path);
  if (!obj) return undefined;
  for (const k of Object.keys(obj)) {
    if (!RULE_KEYS.includes(k)) r.error([...path, k], `unknown field "${k}" in a rule (expected from, to, when)`);
  }

  const from = readItems(r, [...path, "from"], "source", 512, (p) => readSource(r, p, action));
  const to = readItems(r, [...path, "to"], "operation", Infinity, (p) => readOperation(r, p));
  const when: AuthzCondition[] = [];
  (r.array([...path, "when"]) ?? []).forEach((_, j) => {
    const c = readCondition(r, [...path, "when", j], action);
    if (c) when.push(c);
  });

  // istiod warns when a DENY rule can only be decided by HTTP attributes: on a
  // TCP port those are ignored and the rule denies everything (§4.3 r11, §4.6 r20).
  if (action === "DENY") {
    const fromExists = (from?.length ?? 0) > 0;
    const toExists = (to?.length ?? 0) > 0;
    const tcpInFrom = (from ?? []).some(({ source: s }) =>
      (["principals", "notPrincipals", "ipBlocks", "notIpBlocks", "namespaces", "notNamespaces", "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts"] as const).some(
        (f) => s[f].length > 0,
      ),
    );
    const tcpInTo = (to ?? []).some(({ operation: o }) => o.ports.length > 0 || o.notPorts.length > 0);
    if ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo)) {
      r.warn(path, "this DENY rule uses only HTTP attributes: it will deny all traffic to TCP ports under its scope; specify ports explicitly (semantics.md §4.6 r20)");
    }
  }
  return withLine({ index, from, to, when }, r.manifest, path);
}

/** `from` / `to`: absent = any; present must be a non-empty list of `{source}` / `{operation}` items (§4.3 r11). */
function readItems<T>(r: FieldReader, path: FieldPath, inner: "source" | "operation", max: number, read: (p: FieldPath) => T | undefined): T[] | undefined {
  const raw = r.get(path);
  if (raw === undefined || raw === null) return undefined;
  const list = r.array(path);
  if (!list) return undefined;
  const field = path[path.length - 1] as string;
  if (list.length === 0) {
    r.error(path, `\`${field}\` must not be empty (omit it to match any ${inner === "source" ? "source" : "operation"}; semantics.md §4.3 r11)`);
    return undefined;
  }
  if (list.length > max) r.error(path, `at most ${max} ${field} items are allowed, got ${list.length}`);
  const out: T[] = [];
  list.forEach((item, i) => {
    const p = [...path, i];
    if (item === null || item === undefined) return void r.error(p, `a ${field} item must not be null`);
    const obj = r.object(p);
    if (!obj) return;
    for (const k of Object.keys(obj)) if (k !== inner) r.error([...p, k], `unknown field "${k}" in a ${field} item (expected ${inner})`);
    if (obj[inner] === undefined || obj[inner] === null) return void r.error([...p, inner], `\`${field}.${inner}\` must not be null`);
    const v = read([...p, inner]);
    if (v !== undefined) out.push(v);
  });
  return out;
}

/** A list of strings; numbers (`ports: [8080]`) are the usual mistake and get a hint. */
function readStringList(r: FieldReader, path: FieldPath): string[] {
  const list = r.array(path);
  if (!list) return [];
  const out: string[] = [];
  list.forEach((v, i) => {
    if (typeof v === "string") out.push(v);
    else if (typeof v === "number" || typeof v === "boolean") r.error([...path, i], `expected a string, got ${describe(v)} (quote it: "${String(v)}")`);
    else r.error([...path, i], `expected a string, got ${describe(v)}`);
  });
  return out;
}

function checkEmptyValues(r: FieldReader, path: FieldPath, values: readonly string[]): void {
  values.forEach((v, i) => {
    if (v === "") r.error([...path, i], "empty value not allowed");
  });
}

function checkIPs(r: FieldReader, path: FieldPath, values: readonly string[]): void {
  values.forEach((v, i) => {
    if (v !== "" && !ipBlock(v)) r.error([...path, i], v.includes("/") ? `bad CIDR range "${v}"` : `bad IP address "${v}"`);
  });
}

function checkPorts(r: FieldReader, path: FieldPath, values: readonly string[]): void {
  values.forEach((v, i) => {
    if (v !== "" && parsePortString(v) === undefined) {
      r.error([...path, i], `bad port "${v}": expected a decimal number 0-65535 (no ranges or names; semantics.md §4.4 r16)`);
    }
  });
}

/** istio `CheckServiceAccount`. */
function checkServiceAccounts(r: FieldReader, path: FieldPath, values: readonly string[]): void {
  if (values.length > 16) r.error(path, `may not have more than 16 values, got ${values.length}`);
  values.forEach((v, i) => {
    const p = [...path, i];
    if (v === "") return void r.error(p, "empty value not allowed");
    if (v.includes("*")) return void r.error(p, `wildcard not allowed in "${v}"`);
    const slashes = v.split("/").length - 1;
    if (slashes > 1) return void r.error(p, `expected format 'serviceAccount' or 'namespace/serviceAccount', found "${v}"`);
    if (v.length > 320) return void r.error(p, "value cannot exceed 320 characters");
    const [ns, sa] = slashes === 1 ? v.split("/") : ["x", v];
    if (!ns || !sa) r.error(p, `expected format 'serviceAccount' or 'namespace/serviceAccount', found "${v}"`);
  });
}

/** istio `CheckWildcardValues`: one `*` at most, only at the start or end. */
function checkWildcards(r: FieldReader, path: FieldPath, values: readonly string[]): void {
  values.forEach((v, i) => {
    if (v === "") return void r.error([...path, i], "empty value not allowed");
    const stars = v.split("*").length - 1;
    if (stars > 1) r.error([...path, i], `at most one wildcard is allowed, found "${v}"`);
    else if (stars === 1 && v !== "*" && !v.startsWith("*") && !v.endsWith("*")) r.error([...path, i], `wildcard is only allowed at the start or end, found "${v}"`);
  });
}

const IDENTITY_FIELDS: readonly SourceField[] = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
  "requestPrincipals",
  "notRequestPrincipals",
];

function readSource(r: FieldReader, path: FieldPath, action: AuthzAction): AuthzFrom | undefined {
  const obj = r.object(path);
  if (!obj) return undefined;
  const before = r.diagnostics.length;
  for (const k of Object.keys(obj)) {
    if (!(SOURCE_FIELDS as readonly string[]).includes(k)) r.error([...path, k], `unknown field "${k}" in a source`);
  }
  const source = Object.fromEntries(SOURCE_FIELDS.map((f) => [f, readStringList(r, [...path, f])])) as Record<SourceField, string[]>;
  // Emptiness is only worth saying when nothing more specific was (a misspelt field, an unquoted value).
  if (r.diagnostics.length === before && SOURCE_FIELDS.every((f) => source[f].length === 0)) {
    r.error(path, "`from.source` must not be empty (semantics.md §4.3 r11)");
  }
  for (const f of SOURCE_FIELDS) {
    const p = [...path, f];
    if (f === "serviceAccounts" || f === "notServiceAccounts") checkServiceAccounts(r, p, source[f]);
    else if (f === "trustDomains" || f === "notTrustDomains") {
      checkWildcards(r, p, source[f]);
      source[f].forEach((v, i) => v.includes("/") && r.error([...p, i], `trust domain must not contain '/', found "${v}"`));
    } else checkEmptyValues(r, p, source[f]);
    if (f.endsWith("pBlocks") || f.endsWith("IpBlocks")) checkIPs(r, p, source[f]);
  }
  const sa = source.serviceAccounts.length + source.notServiceAccounts.length > 0;
  const pn = source.principals.length + source.notPrincipals.length + source.namespaces.length + source.notNamespaces.length > 0;
  if (sa && pn) r.error(path, "cannot set serviceAccounts with namespaces or principals");
  if (action === "CUSTOM") {
    for (const f of IDENTITY_FIELDS) if (source[f].length > 0) r.error([...path, f], `${f} is currently not supported with CUSTOM action`);
  }
  return withLine({ source }, r.manifest, path);
}

function readOperation(r: FieldReader, path: FieldPath): AuthzTo | undefined {
  const obj = r.object(path);
  if (!obj) return undefined;
  const before = r.diagnostics.length;
  for (const k of Object.keys(obj)) {
    if (!(OPERATION_FIELDS as readonly string[]).includes(k)) r.error([...path, k], `unknown field "${k}" in an operation`);
  }
  const operation = Object.fromEntries(OPERATION_FIELDS.map((f) => [f, readStringList(r, [...path, f])])) as Record<OperationField, string[]>;
  if (r.diagnostics.length === before && OPERATION_FIELDS.every((f) => operation[f].length === 0)) r.error(path, "`to.operation` must not be empty (semantics.md §4.3 r11)");
  for (const f of OPERATION_FIELDS) {
    const p = [...path, f];
    checkEmptyValues(r, p, operation[f]);
    if (f === "ports" || f === "notPorts") checkPorts(r, p, operation[f]);
    if (f === "paths" || f === "notPaths") {
      operation[f].forEach((v, i) => {
        const err = v === "" ? undefined : pathTemplateError(v);
        if (err) r.error([...p, i], `invalid or unsupported path: ${err} (semantics.md §4.4 r15)`);
      });
    }
  }
  return withLine({ operation }, r.manifest, path);
}

/** `when` keys accepted by istiod (`security.ValidateAttribute`, §4.5 r19). */
function attributeError(key: string, values: readonly string[]): string | undefined {
  if (values.some((v) => v === "")) return "empty value not allowed";
  // istio `validateMapKey`: `a[b]` with a non-empty b.
  const open = key.indexOf("[");
  const mapKeyError = key.endsWith("]") && open > 0 && open < key.length - 2 ? undefined : `bad key "${key}": should have the format a[b]`;
  if (key.startsWith("request.headers") || key.startsWith("request.auth.claims") || key.startsWith("experimental.envoy.filters.")) return mapKeyError;
  switch (key) {
    case "source.ip":
    case "remote.ip":
    case "destination.ip": {
      const bad = values.find((v) => !ipBlock(v));
      return bad === undefined ? undefined : `bad IP address or CIDR "${bad}"`;
    }
    case "destination.port": {
      const bad = values.find((v) => parsePortString(v) === undefined);
      return bad === undefined ? undefined : `bad port "${bad}"`;
    }
    case "source.serviceAccount": {
      const bad = values.find((v) => v.includes("*") || v.split("/").length > 2 || v.split("/").some((s) => s === ""));
      return bad === undefined ? (values.length > 16 ? "may not have more than 16 values" : undefined) : `bad service account "${bad}"`;
    }
    case "source.trustDomain": {
      const bad = values.find((v) => {
        const stars = v.split("*").length - 1;
        return stars > 1 || (stars === 1 && v !== "*" && !v.startsWith("*") && !v.endsWith("*"));
      });
      return bad === undefined ? undefined : `bad trust domain "${bad}": one wildcard at most, at the start or end`;
    }
    case "source.namespace":
    case "source.principal":
    case "request.auth.principal":
    case "request.auth.audiences":
    case "request.auth.presenter":
    case "connection.sni":
      return undefined;
    case "destination.namespace":
      return `attribute ${key} is replaced by the metadata.namespace`;
    case "destination.name":
    case "destination.user":
      return `deprecated attribute ${key}: only supported in v1alpha1`;
    default:
      if (key.startsWith("destination.labels")) return `attribute ${key} is replaced by the workload selector`;
      return `unknown attribute: ${key}`;
  }
}

function readCondition(r: FieldReader, path: FieldPath, action: AuthzAction): AuthzCondition | undefined {
  const obj = r.object(path);
  if (!obj) return r.get(path) === null ? r.error(path, "a when condition must not be null") : undefined;
  for (const k of Object.keys(obj)) {
    if (!["key", "values", "notValues"].includes(k)) r.error([...path, k], `unknown field "${k}" in a when condition (expected key, values, notValues)`);
  }
  const key = r.string([...path, "key"]);
  const values = readStringList(r, [...path, "values"]);
  const notValues = readStringList(r, [...path, "notValues"]);
  if (!key) return r.error([...path, "key"], "`key` must not be empty");
  if (values.length === 0 && notValues.length === 0) {
    return r.error(path, `at least one of values or notValues must be set for key ${key}`);
  }
  const errV = attributeError(key, values);
  const errN = attributeError(key, notValues);
  if (errV) r.error([...path, values.length ? "values" : "key"], `invalid value for key ${key}: ${errV}`);
  else if (errN) r.error([...path, "notValues"], `invalid notValue for key ${key}: ${errN}`);
  if (
    action === "CUSTOM" &&
    (["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].includes(key) || key.startsWith("request.auth."))
  ) {
    r.error([...path, "key"], `${key} is currently not supported with CUSTOM action`);
  }
  return withLine({ key, values, notValues }, r.manifest, path);
}

// ===========================================================================
// Evaluation

/** The filter chain a rule is evaluated on: Envoy HTTP, Envoy TCP, or ztunnel's L4 subset. */
type Chain = "http" | "tcp" | "ztunnel";

/** Attributes an Envoy TCP chain cannot evaluate (istio generators returning "is HTTP only", §4.6 r20). */
const HTTP_ONLY_OPERATION: readonly OperationField[] = ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"];
const HTTP_ONLY_SOURCE: readonly SourceField[] = ["requestPrincipals", "notRequestPrincipals"];
/** What ztunnel flags as HTTP in a source (`httpSources`, §5.4 r11). */
const ZTUNNEL_HTTP_SOURCE: readonly SourceField[] = ["remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals"];
/** `when` keys ztunnel converts (`l4WhenAttributes`); any other key is L7 to ztunnel (§5.4 r11). */
const ZTUNNEL_WHEN_KEYS = new Set(["source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"]);

function isHttpOnlyKey(key: string): boolean {
  return key.startsWith("request.headers") || key.startsWith("request.auth.");
}

/** Everything the evaluator knows about the request, resolved once. */
interface Ctx {
  req: AuthzRequest;
  chain: Chain;
  /** `<td>/ns/<ns>/sa/<sa>` when the connection is mTLS and an identity is known. */
  principal: string | undefined;
  identity: { trustDomain: string; namespace: string; serviceAccount: string } | undefined;
  path: string | undefined;
  remoteIp: string | undefined;
  assumptions: Set<string>;
}

/** The outcome of one rule: matched, or why not. */
interface RuleOutcome {
  matched: boolean;
  why: string;
  notes: string[];
}

export function policyRef(p: AuthorizationPolicy, rule: AuthzRule | null = null): PolicyRef {
  const ref = { kind: "AuthorizationPolicy", namespace: p.namespace, name: p.name, rule: rule ? rule.index : null, file: p.file } as PolicyRef;
  // A rule's line means re-reading its document with positions: only when someone looks.
  return Object.defineProperty(ref, "line", { enumerable: true, get: () => (rule ? rule.line : p.line) });
}

function refName(r: PolicyRef): string {
  return `${r.namespace}/${r.name}${r.rule === null ? "" : ` rules[${r.rule}]`}`;
}

function pointName(point: EnforcementPoint): string {
  switch (point.kind) {
    case "sidecar":
      return point.gateway ? "the gateway" : "the sidecar";
    case "ztunnel":
      return "the destination ztunnel";
    case "waypoint":
      return `waypoint ${point.waypoint.namespace}/${point.waypoint.name}`;
  }
}

function labelsSubset(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => Object.prototype.hasOwnProperty.call(labels, k) && labels[k] === v);
}

/**
 * Whether `p` binds to this enforcement point (istio `ShouldAttachPolicy`,
 * `ListAuthorizationPolicies`; ambient `convertAuthorizationPolicy`). Explains, in
 * `notes`, policies that look relevant but are not enforced here.
 */
function attaches(p: AuthorizationPolicy, req: AuthzRequest, point: EnforcementPoint, root: string, notes: string[]): boolean {
  const name = `${p.namespace}/${p.name}`;
  if (point.kind === "waypoint") {
    const svc = point.service;
    const inScope = p.namespace === root || p.namespace === point.waypoint.namespace || p.namespace === svc?.namespace;
    if (p.targetRefs.length === 0) {
      if (inScope) notes.push(`${name} has no targetRefs: waypoints ignore selector and namespace-wide policies (semantics.md §5.5 r16)`);
      return false;
    }
    const hit = p.targetRefs.some((t) => {
      const group = canonicalGroup(t.group);
      if (svc && t.kind === "Service" && group === "core") return (svc.kind ?? "Service") === "Service" && t.name === svc.name && p.namespace === svc.namespace;
      if (svc && t.kind === "ServiceEntry" && group === "networking.istio.io") return svc.kind === "ServiceEntry" && t.name === svc.name && p.namespace === svc.namespace;
      if (t.kind === "GatewayClass" && group === "gateway.networking.k8s.io") return p.namespace === root && t.name === WAYPOINT_GATEWAY_CLASS;
      if (t.kind === "Gateway" && group === "gateway.networking.k8s.io") return p.namespace === point.waypoint.namespace && t.name === point.waypoint.name;
      return false;
    });
    if (!hit) return false;
  } else {
    const inScope = p.namespace === req.destination.namespace || p.namespace === root;
    if (!inScope) return false;
    if (p.selector && !labelsSubset(p.selector, req.destination.labels)) return false;
    if (p.targetRefs.length > 0) {
      const where = point.kind === "ztunnel" ? "policies with targetRefs are never sent to ztunnel (semantics.md §5.4 r9)" : "sidecars ignore policies with targetRefs (semantics.md §4.1 r2)";
      notes.push(`${name} is not enforced here: ${where}`);
      return false;
    }
    if (point.kind === "ztunnel" && (p.action === "AUDIT" || p.action === "CUSTOM")) {
      notes.push(`${name} is not enforced here: ztunnel does not support the ${p.action} action (semantics.md §5.4 r10)`);
      return false;
    }
  }
  if (p.dryRun) {
    notes.push(`${name} is a dry-run policy (${DRY_RUN_ANNOTATION}): evaluated for logs only, never enforced`);
    return false;
  }
  return true;
}

/**
 * One request at one enforcement point: CUSTOM → DENY → ALLOW (semantics.md §4.2 r6).
 *
 * 1. a CUSTOM policy matches and its extension denies ⇒ deny;
 * 2. a DENY policy matches ⇒ deny;
 * 3. no ALLOW policy applies ⇒ allow;
 * 4. an ALLOW policy matches ⇒ allow;
 * 5. otherwise deny.
 *
 * AUDIT never changes the decision. Only TCP reaches a proxy: other protocols are
 * not captured and pass (semantics.md §5.2 r5; sidecar capture is TCP-only too).
 */
export function evaluateAuthorization(
  policies: readonly AuthorizationPolicy[],
  request: AuthzRequest,
  point: EnforcementPoint,
  options: AuthzOptions = {},
): AuthzDecision {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const td = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const where = pointName(point);
  const notes: string[] = [];

  if (request.protocol !== "TCP") {
    return {
      verdict: "allow",
      isolated: false,
      policies: [],
      reason: `${request.protocol} is not captured by Istio proxies, so AuthorizationPolicy does not apply`,
      misses: [],
      observed: null,
      notes,
      assumptions: [],
    };
  }

  const chain: Chain = point.kind === "ztunnel" ? "ztunnel" : request.http ? "http" : "tcp";
  const ctx = makeContext(request, chain, td, options);
  const applicable = policies.filter((p) => attaches(p, request, point, root, notes));
  const denyObserved = chain === "http" ? "http-403" : "reset";
  const result = (d: Omit<AuthzDecision, "notes" | "assumptions" | "isolated">): AuthzDecision => ({
    ...d,
    isolated: applicable.some((p) => p.action !== "AUDIT"),
    notes,
    assumptions: [...ctx.assumptions],
  });

  // 1. CUSTOM. Rules are generated with the DENY action (istio builder), so on a
  // TCP chain HTTP-only attributes are dropped rather than skipping the rule.
  const custom = applicable.filter((p) => p.action === "CUSTOM");
  const providers = new Set(custom.map((p) => p.provider ?? ""));
  for (const p of custom) {
    const provider = p.provider ?? "";
    const kind = options.extensionProviders?.[provider];
    const multiple = providers.size > 1;
    const unknown = options.extensionProviders !== undefined && kind === undefined;
    if (!multiple && !unknown && kind === "http" && chain === "tcp") {
      notes.push(`${p.namespace}/${p.name} is ignored on this TCP port: provider "${provider}" is an HTTP ext_authz service (semantics.md §4.6 r20)`);
      continue;
    }
    const matched = matchingRules(p, ctx, notes);
    if (matched.length === 0) continue;
    const refs = matched.map((rule) => policyRef(p, rule));
    let deny: string | undefined;
    if (multiple) {
      // istio builder: several providers per workload need PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS (off by default).
      deny = `${where} has CUSTOM policies with ${providers.size} different providers, so istiod generates deny rules for them (semantics.md §4.2 r6)`;
    } else if (unknown) {
      deny = `extension provider "${provider}" is not defined in MeshConfig, so istiod generates deny rules for ${refName(refs[0]!)}`;
    } else {
      const decision = options.customDecision ?? "allow";
      ctx.assumptions.add(`extension provider "${provider}" is assumed to ${decision} requests matched by ${p.namespace}/${p.name}`);
      if (decision === "deny") deny = `${refName(refs[0]!)} sends the request to extension provider "${provider}", which denies it`;
    }
    if (deny) {
      return result({ verdict: "deny", policies: refs, reason: `denied at ${where}: ${deny}`, misses: [], observed: denyObserved });
    }
  }

  // 2. DENY: every matching rule is reported.
  const denied: PolicyRef[] = [];
  for (const p of applicable.filter((x) => x.action === "DENY")) for (const rule of matchingRules(p, ctx, notes)) denied.push(policyRef(p, rule));
  if (denied.length > 0) {
    return result({
      verdict: "deny",
      policies: denied,
      reason: `denied at ${where} by DENY policy ${denied.map(refName).join(", ")}`,
      misses: [],
      observed: denyObserved,
    });
  }

  // 3–5. ALLOW.
  const allows = applicable.filter((p) => p.action === "ALLOW");
  if (allows.length === 0) {
    const none = applicable.length === 0 ? "no AuthorizationPolicy applies" : "no ALLOW policy applies";
    return result({ verdict: "allow", policies: [], reason: `${none} at ${where}, so the request is allowed`, misses: [], observed: null });
  }
  const allowed: PolicyRef[] = [];
  const misses: string[] = [];
  for (const p of allows) {
    if (p.rules.length === 0) misses.push(`${p.namespace}/${p.name} has no rules: it allows nothing (semantics.md §4.3 r10)`);
    for (const rule of p.rules) {
      const o = evaluateRule(p, rule, ctx);
      notes.push(...o.notes);
      if (o.matched) allowed.push(policyRef(p, rule));
      else misses.push(`${p.namespace}/${p.name} rules[${rule.index}]: ${o.why}`);
    }
  }
  if (allowed.length > 0) {
    return result({ verdict: "allow", policies: allowed, reason: `allowed at ${where} by ALLOW policy ${allowed.map(refName).join(", ")}`, misses: [], observed: null });
  }
  const refs = allows.map((p) => policyRef(p));
  return result({
    verdict: "deny",
    policies: refs,
    reason: `denied at ${where}: ALLOW ${refs.length === 1 ? "policy" : "policies"} ${refs.map(refName).join(", ")} ${refs.length === 1 ? "applies" : "apply"} and no rule matches`,
    misses,
    observed: denyObserved,
  });
}

function makeContext(req: AuthzRequest, chain: Chain, td: string, options: AuthzOptions): Ctx {
  let principal: string | undefined;
  if (req.source.mtls) {
    if (req.source.principal) principal = req.source.principal;
    else if (req.source.namespace) principal = `${td}/ns/${req.source.namespace}/sa/${req.source.serviceAccount ?? "default"}`;
  }
  const http = chain === "http" ? req.http : undefined;
  return {
    req,
    chain,
    principal,
    identity: principal === undefined ? undefined : parseIdentity(principal),
    path: http ? normalizePath(http.path, options.pathNormalization ?? "BASE") : undefined,
    remoteIp: req.source.remoteIp ?? req.source.ip,
    assumptions: new Set(),
  };
}

function matchingRules(p: AuthorizationPolicy, ctx: Ctx, notes: string[]): AuthzRule[] {
  const out: AuthzRule[] = [];
  for (const rule of p.rules) {
    const o = evaluateRule(p, rule, ctx);
    notes.push(...o.notes);
    if (o.matched) out.push(rule);
  }
  return out;
}

function evaluateRule(p: AuthorizationPolicy, rule: AuthzRule, ctx: Ctx): RuleOutcome {
  return ctx.chain === "ztunnel" ? ztunnelRule(p, rule, ctx) : envoyRule(p, rule, ctx);
}

// ---------------------------------------------------------------------------
// Envoy (sidecar, gateway, waypoint)

/**
 * One rule on an Envoy HTTP or TCP chain (istio `authz/model` `New`/`Generate`).
 * Attributes Envoy cannot build here — HTTP-only ones on a TCP chain — make an
 * ALLOW rule be skipped (narrower allow) and are dropped from a DENY/CUSTOM rule,
 * the rest of the rule still applying (wider deny) (semantics.md §4.6 r20).
 */
function envoyRule(p: AuthorizationPolicy, rule: AuthzRule, ctx: Ctx): RuleOutcome {
  const tcp = ctx.chain === "tcp";
  const unbuildable: string[] = [];
  const dropOp = (f: OperationField) => tcp && HTTP_ONLY_OPERATION.includes(f);
  const dropSrc = (f: SourceField) => tcp && HTTP_ONLY_SOURCE.includes(f);
  const dropWhen = (c: AuthzCondition) => (tcp && isHttpOnlyKey(c.key)) || malformedKey(c.key);
  (rule.from ?? []).forEach((f, i) => SOURCE_FIELDS.forEach((k) => f.source[k].length > 0 && dropSrc(k) && unbuildable.push(`from[${i}].${k}`)));
  (rule.to ?? []).forEach((t, i) => OPERATION_FIELDS.forEach((k) => t.operation[k].length > 0 && dropOp(k) && unbuildable.push(`to[${i}].${k}`)));
  rule.when.forEach((c, i) => dropWhen(c) && unbuildable.push(`when[${i}] ${c.key}`));
  const label = `${p.namespace}/${p.name} rules[${rule.index}]`;

  if (unbuildable.length > 0 && p.action === "ALLOW") {
    const why = tcp ? "HTTP-only attributes on a TCP port" : "attributes Envoy cannot build";
    return {
      matched: false,
      why: `skipped: it uses ${unbuildable.join(", ")} — ${why} make istiod drop an ALLOW rule (semantics.md §4.6 r20)`,
      notes: [`${label} is skipped here: ${unbuildable.join(", ")} cannot be evaluated on this ${tcp ? "TCP" : "HTTP"} chain (semantics.md §4.6 r20)`],
    };
  }
  const notes =
    unbuildable.length > 0
      ? [`${label}: ${unbuildable.join(", ")} ${unbuildable.length === 1 ? "is" : "are"} ignored on this TCP port, so the ${p.action} rule applies more widely (semantics.md §4.6 r20)`]
      : [];

  if (rule.from) {
    const whys: string[] = [];
    const ok = rule.from.some((f, i) => {
      const why = envoySource(p, f.source, ctx, dropSrc);
      if (why) whys.push(`from[${i}]: ${why}`);
      return !why;
    });
    if (!ok) return { matched: false, why: whys.join("; "), notes };
  }
  if (rule.to) {
    const whys: string[] = [];
    const ok = rule.to.some((t, i) => {
      const why = envoyOperation(t.operation, ctx, dropOp);
      if (why) whys.push(`to[${i}]: ${why}`);
      return !why;
    });
    if (!ok) return { matched: false, why: whys.join("; "), notes };
  }
  for (const [i, c] of rule.when.entries()) {
    if (dropWhen(c)) continue;
    const why = envoyCondition(p, c, ctx);
    if (why) return { matched: false, why: `when[${i}]: ${why}`, notes };
  }
  return { matched: true, why: "", notes };
}

function malformedKey(key: string): boolean {
  if (key.startsWith("request.headers")) return bracketNames(key.slice("request.headers".length))?.length !== 1;
  if (key.startsWith("request.auth.claims")) return bracketNames(key.slice("request.auth.claims".length)) === undefined;
  return false;
}

/** Positive and negative lists of one attribute: why they do not match, or undefined. */
function checkValues(values: readonly string[], notValues: readonly string[], test: (v: string) => boolean, field: string, actual: string): string | undefined {
  if (values.length > 0 && !values.some(test)) return `${actual} does not match ${field} [${values.join(", ")}]`;
  const hit = notValues.find(test);
  if (hit !== undefined) return `${actual} matches not${field[0]!.toUpperCase()}${field.slice(1)} ${hit}`;
  return undefined;
}

function describeIdentity(ctx: Ctx, what: "principal" | "namespace" | "service account" | "trust domain"): string {
  if (!ctx.req.source.mtls) return `the plaintext source (no peer identity: ${what} matching needs mTLS, semantics.md §4.5 r18)`;
  if (!ctx.principal) return "the source (identity unknown)";
  const id = ctx.identity;
  switch (what) {
    case "principal":
      return `source principal ${ctx.principal}`;
    case "namespace":
      return `source namespace ${id?.namespace ?? `of ${ctx.principal}`}`;
    case "service account":
      return id ? `source service account ${id.namespace}/${id.serviceAccount}` : `source ${ctx.principal}`;
    case "trust domain":
      return `source trust domain ${id?.trustDomain ?? `of ${ctx.principal}`}`;
  }
}

function sourceIp(ctx: Ctx, remote: boolean): string | undefined {
  const ip = remote ? ctx.remoteIp : ctx.req.source.ip;
  if (ip === undefined) ctx.assumptions.add(`the source IP is unknown, so ${remote ? "remoteIpBlocks" : "ipBlocks"} cannot match it`);
  return ip;
}

function envoySource(p: AuthorizationPolicy, s: AuthzSource, ctx: Ctx, drop: (f: SourceField) => boolean): string | undefined {
  const http = ctx.chain === "http" ? ctx.req.http : undefined;
  const pairs: [SourceField, SourceField, (v: string) => boolean, () => string][] = [
    ["principals", "notPrincipals", (v) => envoyPrincipalMatches(v, ctx.principal), () => describeIdentity(ctx, "principal")],
    ["namespaces", "notNamespaces", (v) => envoyNamespaceMatches(v, ctx.principal), () => describeIdentity(ctx, "namespace")],
    ["serviceAccounts", "notServiceAccounts", (v) => envoyServiceAccountMatches(v, p.namespace, ctx.principal), () => describeIdentity(ctx, "service account")],
    ["trustDomains", "notTrustDomains", (v) => envoyTrustDomainMatches(v, ctx.principal), () => describeIdentity(ctx, "trust domain")],
    ["requestPrincipals", "notRequestPrincipals", (v) => requestPrincipalMatches(v, http?.jwt), () => (http?.jwt ? `request principal ${http.jwt.iss}/${http.jwt.sub}` : "the request (no JWT)")],
    ["ipBlocks", "notIpBlocks", (v) => ipMatches(v, ctx.req.source.ip), () => `source IP ${ctx.req.source.ip ?? "(unknown)"}`],
    ["remoteIpBlocks", "notRemoteIpBlocks", (v) => ipMatches(v, ctx.remoteIp), () => `remote IP ${ctx.remoteIp ?? "(unknown)"}`],
  ];
  for (const [pos, neg, test, actual] of pairs) {
    const values = drop(pos) ? [] : s[pos];
    const notValues = drop(neg) ? [] : s[neg];
    if (values.length === 0 && notValues.length === 0) continue;
    if (pos === "ipBlocks") sourceIp(ctx, false);
    if (pos === "remoteIpBlocks") sourceIp(ctx, true);
    const why = checkValues(values, notValues, test, pos, actual());
    if (why) return why;
  }
  return undefined;
}

function envoyOperation(o: AuthzOperation, ctx: Ctx, drop: (f: OperationField) => boolean): string | undefined {
  const http = ctx.chain === "http" ? ctx.req.http : undefined;
  const port = ctx.req.destination.port;
  const pairs: [OperationField, OperationField, (v: string) => boolean, string][] = [
    ["ports", "notPorts", (v) => parsePortString(v) === port, `port ${port}`],
    ["hosts", "notHosts", (v) => hostMatches(v, http?.host), `host ${http?.host ?? "(none)"}`],
    ["methods", "notMethods", (v) => headerMatches(v, http?.method), `method ${http?.method ?? "(none)"}`],
    ["paths", "notPaths", (v) => pathMatches(v, ctx.path), `path ${ctx.path ?? "(none)"}`],
  ];
  for (const [pos, neg, test, actual] of pairs) {
    const values = drop(pos) ? [] : o[pos];
    const notValues = drop(neg) ? [] : o[neg];
    const why = checkValues(values, notValues, test, pos, actual);
    if (why) return why;
  }
  return undefined;
}

function headerValue(ctx: Ctx, name: string): string | undefined {
  const headers = ctx.req.http?.headers ?? {};
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  if (lower === ":authority" || lower === "host") return ctx.req.http?.host;
  if (lower === ":method") return ctx.req.http?.method;
  if (lower === ":path") return ctx.req.http?.path;
  return undefined;
}

/** One `when` condition on an Envoy chain (istio `authz/model` generators, §4.5 r19). */
function envoyCondition(p: AuthorizationPolicy, c: AuthzCondition, ctx: Ctx): string | undefined {
  const k = c.key;
  const jwt = ctx.req.http?.jwt;
  const check = (test: (v: string) => boolean, actual: string) => checkValues(c.values, c.notValues, test, "values", actual);
  switch (k) {
    case "source.ip":
      return check((v) => ipMatches(v, sourceIp(ctx, false)), `source IP ${ctx.req.source.ip ?? "(unknown)"}`);
    case "remote.ip":
      return check((v) => ipMatches(v, sourceIp(ctx, true)), `remote IP ${ctx.remoteIp ?? "(unknown)"}`);
    case "source.namespace":
      return check((v) => envoyNamespaceMatches(v, ctx.principal), describeIdentity(ctx, "namespace"));
    case "source.principal":
      return check((v) => envoyPrincipalMatches(v, ctx.principal), describeIdentity(ctx, "principal"));
    case "source.serviceAccount":
      return check((v) => envoyServiceAccountMatches(v, p.namespace, ctx.principal), describeIdentity(ctx, "service account"));
    case "source.trustDomain":
      return check((v) => envoyTrustDomainMatches(v, ctx.principal), describeIdentity(ctx, "trust domain"));
    case "destination.ip": {
      const ip = ctx.req.destination.ip;
      if (ip === undefined) ctx.assumptions.add("the destination IP is unknown, so destination.ip cannot match it");
      return check((v) => ipMatches(v, ip), `destination IP ${ip ?? "(unknown)"}`);
    }
    case "destination.port":
      return check((v) => parsePortString(v) === ctx.req.destination.port, `port ${ctx.req.destination.port}`);
    case "connection.sni":
      return check((v) => envoyStringMatches(v, ctx.req.sni), `SNI ${ctx.req.sni ?? "(none)"}`);
    case "request.auth.principal":
      return check((v) => requestPrincipalMatches(v, jwt), jwt ? `request principal ${jwt.iss}/${jwt.sub}` : "the request (no JWT)");
    case "request.auth.audiences":
      return check((v) => claimValues(jwt, ["aud"]).some((a) => envoyStringMatches(v, a)), `audiences [${claimValues(jwt, ["aud"]).join(", ")}]`);
    case "request.auth.presenter":
      return check((v) => claimValues(jwt, ["azp"]).some((a) => envoyStringMatches(v, a)), `presenter ${claimValues(jwt, ["azp"])[0] ?? "(none)"}`);
  }
  if (k.startsWith("request.headers")) {
    const name = bracketNames(k.slice("request.headers".length))![0]!;
    const value = headerValue(ctx, name);
    return check((v) => headerMatches(v, value), `header ${name}${value === undefined ? " (absent)" : `: ${value}`}`);
  }
  if (k.startsWith("request.auth.claims")) {
    const path = bracketNames(k.slice("request.auth.claims".length))!;
    const vals = claimValues(jwt, path);
    return check((v) => vals.some((a) => envoyStringMatches(v, a)), `claim ${path.join(".")} [${vals.join(", ")}]`);
  }
  // experimental.envoy.filters.*: Envoy dynamic metadata a manifest cannot show.
  ctx.assumptions.add(`${k} reads Envoy filter metadata that is unknown offline: its values are assumed not to match`);
  return check(() => false, `filter metadata ${k}`);
}

// ---------------------------------------------------------------------------
// ztunnel (L4)

/** An attribute of a rule that ztunnel cannot check (only an L7 proxy can). */
export interface L7Attribute {
  /** `to[0].paths`, `from[1].requestPrincipals`, `when[0] request.headers[x]`. */
  what: string;
  /** Path of the field in the manifest, for its line. */
  path: (string | number)[];
}

/**
 * The attributes of a rule that ztunnel cannot enforce, as istiod's ambient conversion
 * flags them: HTTP operation fields, request principals and remote addresses, and
 * `when` keys other than the five L4 ones (semantics.md §5.4 r11).
 */
export function ztunnelUnenforceable(rule: AuthzRule): L7Attribute[] {
  const out: L7Attribute[] = [];
  const base = ["spec", "rules", rule.index];
  (rule.to ?? []).forEach((t, i) =>
    HTTP_ONLY_OPERATION.forEach((k) => t.operation[k].length > 0 && out.push({ what: `to[${i}].${k}`, path: [...base, "to", i, "operation", k] })),
  );
  (rule.from ?? []).forEach((f, i) =>
    ZTUNNEL_HTTP_SOURCE.forEach((k) => f.source[k].length > 0 && out.push({ what: `from[${i}].${k}`, path: [...base, "from", i, "source", k] })),
  );
  rule.when.forEach((c, i) => !ZTUNNEL_WHEN_KEYS.has(c.key) && out.push({ what: `when[${i}] ${c.key}`, path: [...base, "when", i] }));
  return out;
}

/** Whether ztunnel can evaluate a `when` key. */
export function ztunnelKnowsCondition(key: string): boolean {
  return ZTUNNEL_WHEN_KEYS.has(key);
}

/**
 * One rule at ztunnel (istiod `handleRule` → ztunnel `rbac.rs`). The rule becomes
 * clauses that must all match: the `to` items (ports), the `from` items (IPs,
 * namespaces, service accounts, principals), then one clause per `when`. Inside a
 * clause, an item whose fields were all HTTP (or otherwise not converted) is an
 * empty match and never matches; a `when` on a key ztunnel does not know is such a
 * clause. An ALLOW rule with any HTTP attribute is dropped entirely ("L7 policies
 * never match for ALLOW"); a DENY keeps its L4 parts (semantics.md §5.4 r11–r13).
 */
function ztunnelRule(p: AuthorizationPolicy, rule: AuthzRule, ctx: Ctx): RuleOutcome {
  const label = `${p.namespace}/${p.name} rules[${rule.index}]`;
  const l7 = ztunnelUnenforceable(rule).map((u) => u.what);
  if (l7.length > 0 && p.action === "ALLOW") {
    return {
      matched: false,
      why: `dropped by ztunnel: it uses ${l7.join(", ")}, and ALLOW rules with HTTP attributes never match at ztunnel (semantics.md §5.4 r12)`,
      notes: [`${label} is dropped at ztunnel: ${l7.join(", ")} need a waypoint (semantics.md §5.4 r12)`],
    };
  }
  const notes: string[] = [];
  if (l7.length > 0) notes.push(`${label}: ztunnel ignores ${l7.join(", ")}; the rest of the DENY rule is enforced, and parts left with no L4 field never match (semantics.md §5.4 r13)`);
  const td = (rule.from ?? []).flatMap((f, i) => (f.source.trustDomains.length + f.source.notTrustDomains.length > 0 ? [`from[${i}]`] : []));
  if (td.length > 0) notes.push(`${label}: ztunnel does not enforce trustDomains/notTrustDomains (${td.join(", ")}) (semantics.md §5.4 r11)`);

  if (rule.to) {
    const whys: string[] = [];
    const ok = rule.to.some((t, i) => {
      const o = t.operation;
      if (o.ports.length === 0 && o.notPorts.length === 0) {
        whys.push(`to[${i}]: nothing ztunnel can check is left, so it never matches`);
        return false;
      }
      const port = ctx.req.destination.port;
      const why = checkValues(o.ports, o.notPorts, (v) => parsePortString(v) === port, "ports", `port ${port}`);
      if (why) whys.push(`to[${i}]: ${why}`);
      return !why;
    });
    if (!ok) return { matched: false, why: whys.join("; "), notes };
  }
  if (rule.from) {
    const whys: string[] = [];
    const ok = rule.from.some((f, i) => {
      const why = ztunnelSource(p, f.source, ctx);
      if (why) whys.push(`from[${i}]: ${why}`);
      return !why;
    });
    if (!ok) return { matched: false, why: whys.join("; "), notes };
  }
  for (const [i, c] of rule.when.entries()) {
    const why = ZTUNNEL_WHEN_KEYS.has(c.key) ? ztunnelCondition(c, ctx) : `ztunnel cannot evaluate ${c.key}, so this condition never matches`;
    if (why) return { matched: false, why: `when[${i}]: ${why}`, notes };
  }
  return { matched: true, why: "", notes };
}

/** ztunnel `StringMatch` on the namespace or principal (no regex: `*a` is a plain suffix here). */
function ztunnelString(v: string, actual: string | undefined): boolean {
  return matchesForm(v, actual ?? "", { presence: "nonEmpty" });
}

function ztunnelServiceAccount(v: string, policyNamespace: string, ctx: Ctx): boolean {
  const slash = v.indexOf("/");
  const ns = slash >= 0 ? v.slice(0, slash) : policyNamespace;
  const sa = slash >= 0 ? v.slice(slash + 1) : v;
  return ctx.identity !== undefined && ctx.identity.namespace === ns && ctx.identity.serviceAccount === sa;
}

function ztunnelSource(p: AuthorizationPolicy, s: AuthzSource, ctx: Ctx): string | undefined {
  const fields: [SourceField, SourceField, (v: string) => boolean, () => string][] = [
    ["ipBlocks", "notIpBlocks", (v) => ipMatches(v, sourceIp(ctx, false)), () => `source IP ${ctx.req.source.ip ?? "(unknown)"}`],
    ["namespaces", "notNamespaces", (v) => ztunnelString(v, ctx.identity?.namespace), () => describeIdentity(ctx, "namespace")],
    ["serviceAccounts", "notServiceAccounts", (v) => ztunnelServiceAccount(v, p.namespace, ctx), () => describeIdentity(ctx, "service account")],
    ["principals", "notPrincipals", (v) => ctx.principal !== undefined && ztunnelString(v, ctx.principal), () => describeIdentity(ctx, "principal")],
  ];
  if (fields.every(([pos, neg]) => s[pos].length === 0 && s[neg].length === 0)) return "nothing ztunnel can check is left, so it never matches";
  for (const [pos, neg, test, actual] of fields) {
    if (s[pos].length === 0 && s[neg].length === 0) continue;
    const why = checkValues(s[pos], s[neg], test, pos, actual());
    if (why) return why;
  }
  return undefined;
}

function ztunnelCondition(c: AuthzCondition, ctx: Ctx): string | undefined {
  const check = (test: (v: string) => boolean, actual: string) => checkValues(c.values, c.notValues, test, "values", actual);
  switch (c.key) {
    case "source.ip":
      return check((v) => ipMatches(v, sourceIp(ctx, false)), `source IP ${ctx.req.source.ip ?? "(unknown)"}`);
    case "source.namespace":
      return check((v) => ztunnelString(v, ctx.identity?.namespace), describeIdentity(ctx, "namespace"));
    case "source.principal":
      return check((v) => ctx.principal !== undefined && ztunnelString(v, ctx.principal), describeIdentity(ctx, "principal"));
    case "destination.ip": {
      const ip = ctx.req.destination.ip;
      if (ip === undefined) ctx.assumptions.add("the destination IP is unknown, so destination.ip cannot match it");
      return check((v) => ipMatches(v, ip), `destination IP ${ip ?? "(unknown)"}`);
    }
    default:
      return check((v) => parsePortString(v) === ctx.req.destination.port, `port ${ctx.req.destination.port}`);
  }
}
