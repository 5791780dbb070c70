/**
 * Istio PeerAuthentication (semantics.md §4.7, §5.6): the scanner, with istiod's
 * validation, and a pure evaluator of whether a destination accepts a plaintext or
 * mutual-TLS connection on one port, for sidecars and for ambient (ztunnel).
 */
import type { FieldPath, InputDiagnostic, Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import type { Labels } from "../../model/selector.js";
import type { PolicyRef } from "../types.js";
import type { MtlsMode, PeerAuthentication, PeerAuthnDecision, PortMtls } from "./authz-types.js";
import { DEFAULT_ROOT_NAMESPACE, readWorkloadSelector, withLine, type IstioScanOptions } from "./authorization.js";

export type { MtlsMode, PeerAuthentication, PeerAuthnDecision, PortMtls } from "./authz-types.js";

export function isPeerAuthentication(m: Manifest): boolean {
  return m.kind === "PeerAuthentication" && typeof m.apiVersion === "string" && m.apiVersion.startsWith("security.istio.io/");
}

const SERVED_VERSIONS = ["security.istio.io/v1", "security.istio.io/v1beta1"];
const MODES: readonly MtlsMode[] = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"];

/**
 * Reads PeerAuthentications with istiod's validation (`ValidatePeerAuthentication`
 * and the CRD's CEL rules): invalid ones are reported and left out. Warns about
 * policies that are valid but never take effect: selector policies in the root
 * namespace (§4.7 r21), and every namespace-wide policy but the oldest of a namespace.
 */
export function scanPeerAuthentications(
  manifests: readonly Manifest[],
  diagnostics: InputDiagnostic[],
  options: IstioScanOptions = {},
): PeerAuthentication[] {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const out: PeerAuthentication[] = [];
  const all: FieldReader[] = [];
  const readers = new Map<PeerAuthentication, FieldReader>();
  for (const m of manifests) {
    if (!isPeerAuthentication(m)) continue;
    const r = new FieldReader(m);
    all.push(r);
    const policy = readPeerAuthentication(r, root);
    if (policy && !r.hasErrors) {
      out.push(policy);
      readers.set(policy, r);
    }
  }
  // Only the oldest namespace-wide policy of a namespace counts (istio `addPeerAuthentication`).
  const byNamespace = new Map<string, PeerAuthentication[]>();
  for (const p of out) if (!p.selector) byNamespace.set(p.namespace, [...(byNamespace.get(p.namespace) ?? []), p]);
  for (const list of byNamespace.values()) {
    const [oldest, ...rest] = [...list].sort(compareAge);
    for (const p of rest) {
      readers.get(p)!.warn(["metadata", "name"], `ignored: namespace ${p.namespace} already has the namespace-wide PeerAuthentication ${oldest!.name}, and the oldest one wins (${ageRule})`);
    }
  }
  for (const r of all) diagnostics.push(...r.diagnostics);
  return out;
}

function readPeerAuthentication(r: FieldReader, root: string): PeerAuthentication | undefined {
  const m = r.manifest;
  if (!SERVED_VERSIONS.includes(m.apiVersion)) {
    return r.error(["apiVersion"], `PeerAuthentication is served as ${SERVED_VERSIONS.join(" and ")}, not ${m.apiVersion}`);
  }
  if (!m.name) return r.error(["metadata", "name"], "a PeerAuthentication needs a name");
  const namespace = m.namespace ?? "default";
  const spec = r.get(["spec"]) === undefined || r.get(["spec"]) === null ? {} : r.object(["spec"]);
  if (!spec) return undefined;
  for (const k of Object.keys(spec)) {
    if (!["selector", "mtls", "portLevelMtls"].includes(k)) r.error(["spec", k], `unknown field "${k}" in a PeerAuthentication spec (expected selector, mtls, portLevelMtls)`);
  }
  const labels = readWorkloadSelector(r, ["spec", "selector"]);
  // An empty matchLabels is the same as no selector (istio `ComposePeerAuthentication`).
  const selector: Labels | undefined = labels && Object.keys(labels).length > 0 ? labels : undefined;
  const mode = readMode(r, ["spec", "mtls"]) ?? "UNSET";

  const portLevelMtls = new Map<number, PortMtls>();
  const portsRaw = r.get(["spec", "portLevelMtls"]);
  if (portsRaw !== undefined && portsRaw !== null) {
    const obj = r.object(["spec", "portLevelMtls"]);
    if (obj) {
      if (Object.keys(obj).length === 0) r.error(["spec", "portLevelMtls"], "port level mTLS, if defined, must have at least one element");
      if (!selector) r.error(["spec", "portLevelMtls"], "portLevelMtls requires a selector: mesh/namespace peer authentication cannot have port level mTLS (semantics.md §4.7 r21)");
      for (const key of Object.keys(obj)) {
        const port = /^\d+$/.test(key) ? Number(key) : NaN;
        const path: FieldPath = ["spec", "portLevelMtls", Number.isNaN(port) ? key : port];
        if (!(port >= 1 && port <= 65535)) {
          r.error(path, `port must be between 1-65535, got "${key}" (a workload port number, not a name)`);
          continue;
        }
        portLevelMtls.set(port, withLine({ mode: readMode(r, path) ?? "UNSET" }, r.manifest, path));
      }
    }
  }
  if (selector && namespace === root) {
    r.warn(["spec", "selector"], `a PeerAuthentication with a selector in the root namespace ${root} is ignored (semantics.md §4.7 r21)`);
  }
  const modePath: FieldPath = ["spec", "mtls", "mode"];
  const hasMode = r.get(modePath) !== undefined;
  let modeLine: number | undefined;
  const policy = { namespace, name: m.name, selector, mode, portLevelMtls, createdAt: readTimestamp(r), file: m.source.file, line: m.source.line };
  Object.defineProperty(policy, "modeLine", { get: () => (modeLine ??= hasMode ? m.lineOf(modePath) : m.source.line), enumerable: true });
  return policy as unknown as PeerAuthentication;
}

/** A `MutualTLS` mapping: `{mode: UNSET|DISABLE|PERMISSIVE|STRICT}`; undefined when absent or invalid. */
function readMode(r: FieldReader, path: FieldPath): MtlsMode | undefined {
  const raw = r.get(path);
  if (raw === undefined || raw === null) return undefined;
  const obj = r.object(path);
  if (!obj) return undefined;
  for (const k of Object.keys(obj)) if (k !== "mode") r.error([...path, k], `unknown field "${k}" in mTLS settings (expected mode)`);
  const mode = obj.mode;
  if (mode === undefined || mode === null) return "UNSET";
  if (typeof mode === "string" && (MODES as readonly string[]).includes(mode)) return mode as MtlsMode;
  r.error([...path, "mode"], `unknown mTLS mode ${describe(mode)} (expected UNSET, DISABLE, PERMISSIVE or STRICT)`);
  return undefined;
}

function readTimestamp(r: FieldReader): number | undefined {
  const raw = r.get(["metadata", "creationTimestamp"]);
  const t = raw instanceof Date ? raw.getTime() : typeof raw === "string" ? Date.parse(raw) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

const ageRule = "oldest by metadata.creationTimestamp; a policy without one counts as newer than any with one; equal ages by name, then namespace";

/**
 * "Oldest wins" among equals, as istio `configCompareByCreationTime`: by creation
 * time, then name, then namespace. Offline manifests often have no timestamp: such a
 * policy would be created when applied, so it counts as newer than any that has one.
 */
function compareAge(a: PeerAuthentication, b: PeerAuthentication): number {
  const ta = a.createdAt ?? Infinity;
  const tb = b.createdAt ?? Infinity;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0;
}

function oldest(list: readonly PeerAuthentication[]): PeerAuthentication | undefined {
  return [...list].sort(compareAge)[0];
}

export function peerAuthnRef(p: PeerAuthentication, port?: number): PolicyRef {
  const line = port !== undefined ? (p.portLevelMtls.get(port)?.line ?? p.line) : p.modeLine;
  return { kind: "PeerAuthentication", namespace: p.namespace, name: p.name, rule: null, file: p.file, line };
}

function labelsSubset(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => Object.prototype.hasOwnProperty.call(labels, k) && labels[k] === v);
}

export interface PeerAuthnOptions {
  /**
   * `sidecar` (default): the Envoy inbound listener (istio `ComposePeerAuthentication`).
   * `ambient`: the destination ztunnel, where istiod turns PeerAuthentication into DENY
   * policies (ambient `convertedSelectorPeerAuthentications`, `convertPeerAuthentication`).
   */
  dataplane?: "sidecar" | "ambient";
}

/** The policies that apply to one workload: the oldest of each scope. */
interface Scopes {
  mesh: PeerAuthentication | undefined;
  namespace: PeerAuthentication | undefined;
  workload: PeerAuthentication | undefined;
  shadowed: string[];
}

function scopes(policies: readonly PeerAuthentication[], destination: { namespace: string; labels: Labels }, root: string): Scopes {
  const mesh = policies.filter((p) => p.namespace === root && !p.selector);
  const ns = destination.namespace === root ? [] : policies.filter((p) => p.namespace === destination.namespace && !p.selector);
  // Selector policies in the root namespace are ignored (§4.7 r21).
  const wl = policies.filter((p) => p.namespace === destination.namespace && p.namespace !== root && p.selector && labelsSubset(p.selector, destination.labels));
  const pick = (list: PeerAuthentication[], what: string, shadowed: string[]) => {
    const o = oldest(list);
    if (o && list.length > 1) {
      shadowed.push(`${list.length} ${what} PeerAuthentications apply; ${o.namespace}/${o.name} is used (${ageRule})`);
    }
    return o;
  };
  const shadowed: string[] = [];
  return { mesh: pick(mesh, "mesh-wide", shadowed), namespace: pick(ns, "namespace-wide", shadowed), workload: pick(wl, "workload", shadowed), shadowed };
}

/**
 * Whether the destination workload accepts the connection on `port` (a workload,
 * i.e. container, port). Precedence: workload (selector) > namespace > root namespace;
 * UNSET inherits, and with nothing to inherit the mode is PERMISSIVE; `portLevelMtls`
 * of the workload policy overrides for its port, an UNSET port inheriting the
 * workload's effective mode (semantics.md §4.7 r21, istio `ComposePeerAuthentication`).
 * STRICT refuses plaintext before any AuthorizationPolicy runs (§4.7 r22).
 *
 * Ambient (§5.6 r19): DISABLE is not supported — HBONE is always mutual TLS — and
 * only STRICT matters, enforced by ztunnel as a DENY of connections without a peer
 * identity. The strictness per port follows istiod's conversion code, see `ambientStrict`.
 */
export function evaluatePeerAuthentication(
  policies: readonly PeerAuthentication[],
  destination: { namespace: string; labels: Labels },
  port: number,
  sourceIsMtls: boolean,
  rootNamespace: string = DEFAULT_ROOT_NAMESPACE,
  options: PeerAuthnOptions = {},
): PeerAuthnDecision {
  const s = scopes(policies, destination, rootNamespace);
  const notes = [...s.shadowed];
  const assumptions: string[] = [];
  const isolated = !!(s.mesh || s.namespace || s.workload);
  const { mode, decidedBy } = sidecarMode(s, port);
  const refs = decidedBy ? [peerAuthnRef(decidedBy.policy, decidedBy.port)] : [];
  const origin = decidedBy
    ? `${decidedBy.policy.namespace}/${decidedBy.policy.name}${decidedBy.port !== undefined ? ` (portLevelMtls ${decidedBy.port})` : ""}`
    : "no PeerAuthentication (default PERMISSIVE)";

  if (options.dataplane === "ambient") {
    const strict = ambientStrict(s, port);
    const intended = mode === "STRICT";
    if (strict.strict !== intended) {
      notes.push(
        `istiod's ambient conversion makes port ${port} ${strict.strict ? "STRICT" : "not STRICT"} although the PeerAuthentication inheritance rules give ${mode}: ${strict.why}`,
      );
    }
    if (mode === "DISABLE") notes.push("ztunnel does not support DISABLE: HBONE traffic stays mutual TLS and plaintext is accepted as under PERMISSIVE (semantics.md §5.6 r19)");
    const ambientRefs = strict.by ? [peerAuthnRef(strict.by.policy, strict.by.port)] : refs;
    const ambientMode = strict.strict ? "STRICT" : "PERMISSIVE";
    if (strict.strict && !sourceIsMtls) {
      return {
        verdict: "deny",
        isolated,
        policies: ambientRefs,
        reason: `port ${port} of the ambient destination requires mutual TLS (STRICT, from ${origin}) and the connection is plaintext; ztunnel rejects it`,
        misses: [],
        mode: ambientMode,
        connectionMtls: false,
        observed: "reset",
        notes,
        assumptions,
      };
    }
    return {
      verdict: "allow",
      isolated,
      policies: ambientRefs,
      reason: `ztunnel accepts ${sourceIsMtls ? "the HBONE (mutual TLS)" : "the plaintext"} connection on port ${port}: ${strict.strict ? "STRICT" : "not STRICT"}${decidedBy ? ` (${origin})` : ""}`,
      misses: [],
      mode: ambientMode,
      connectionMtls: sourceIsMtls,
      observed: null,
      notes,
      assumptions,
    };
  }

  if (mode === "STRICT" && !sourceIsMtls) {
    return {
      verdict: "deny",
      isolated,
      policies: refs,
      reason: `port ${port} requires mutual TLS (STRICT, from ${origin}) and the client sends plaintext; the sidecar closes the connection`,
      misses: [],
      mode,
      connectionMtls: false,
      observed: "reset",
      notes,
      assumptions,
    };
  }
  let connectionMtls = sourceIsMtls;
  if (mode === "DISABLE" && sourceIsMtls) {
    connectionMtls = false;
    assumptions.push(
      `the client's sidecar uses automatic mTLS and sends plaintext to a DISABLE port; a DestinationRule forcing ISTIO_MUTUAL would fail instead`,
    );
  }
  return {
    verdict: "allow",
    isolated,
    policies: refs,
    reason: `port ${port} accepts ${connectionMtls ? "mutual TLS" : "plaintext"} (${mode}, from ${origin})`,
    misses: [],
    mode,
    connectionMtls,
    observed: null,
    notes,
    assumptions,
  };
}

interface DecidedBy {
  policy: PeerAuthentication;
  port?: number;
}

/** istio `ComposePeerAuthentication`: mesh → namespace → workload, UNSET inheriting; then the port. */
function sidecarMode(s: Scopes, port: number): { mode: Exclude<MtlsMode, "UNSET">; decidedBy: DecidedBy | undefined } {
  let mode: Exclude<MtlsMode, "UNSET"> = "PERMISSIVE";
  let decidedBy: DecidedBy | undefined;
  for (const p of [s.mesh, s.namespace, s.workload]) {
    if (p && p.mode !== "UNSET") {
      mode = p.mode;
      decidedBy = { policy: p };
    }
  }
  const pm = s.workload?.portLevelMtls.get(port);
  if (s.workload && pm && pm.mode !== "UNSET") {
    mode = pm.mode;
    decidedBy = { policy: s.workload, port };
  }
  return { mode, decidedBy };
}

/**
 * Whether ztunnel enforces STRICT on `port`, reproducing istiod (HEAD 86c9f01f)
 * `convertedSelectorPeerAuthentications` + `convertPeerAuthentication`. It agrees
 * with the inheritance rules (DISABLE counting as PERMISSIVE) except in three cases
 * that come from that code and are reported as notes when they change the answer:
 *
 * 1. workload PERMISSIVE/DISABLE with a STRICT port, when the namespace has no
 *    policy (or an UNSET one) and the mesh policy is STRICT: the port is skipped as
 *    "enforced by the parent", so it is not STRICT;
 * 2. workload UNSET with a PERMISSIVE port, namespace policy UNSET, mesh STRICT: every
 *    port-level exception is skipped and the static STRICT policy is withdrawn, so no
 *    port of the workload is STRICT;
 * 3. workload UNSET under a STRICT parent with only DISABLE (no PERMISSIVE) ports: the
 *    exception is never generated, so those ports stay STRICT.
 */
function ambientStrict(s: Scopes, port: number): { strict: boolean; why: string; by: DecidedBy | undefined } {
  const strictOf = (p: PeerAuthentication | undefined) => p?.mode === "STRICT";
  const unset = (p: PeerAuthentication | undefined) => !p || p.mode === "UNSET";
  let parent = strictOf(s.mesh);
  let parentBy: DecidedBy | undefined = s.mesh && s.mesh.mode !== "UNSET" ? { policy: s.mesh } : undefined;
  if (s.namespace && s.namespace.mode !== "UNSET") {
    parent = strictOf(s.namespace);
    parentBy = { policy: s.namespace };
  }
  const w = s.workload;
  if (!w) return { strict: parent, why: "namespace or mesh policy", by: parentBy };
  const ports = [...w.portLevelMtls.entries()];
  const pm = w.portLevelMtls.get(port)?.mode;
  const at = { policy: w, port };
  switch (w.mode) {
    case "STRICT":
      if (pm === "PERMISSIVE" || pm === "DISABLE") return { strict: false, why: "port-level exception of a STRICT workload policy", by: at };
      return { strict: true, why: "STRICT workload policy", by: { policy: w } };
    case "PERMISSIVE":
    case "DISABLE": {
      if (pm !== "STRICT") return { strict: false, why: `${w.mode} workload policy`, by: { policy: w } };
      if (unset(s.namespace) && strictOf(s.mesh)) {
        return { strict: false, why: `the STRICT port of a ${w.mode} workload policy is skipped because the mesh policy is STRICT (case 1)`, by: { policy: w } };
      }
      return { strict: true, why: "STRICT port of the workload policy", by: at };
    }
    case "UNSET": {
      if (parent) {
        const hasPermissive = ports.some(([, m]) => m.mode === "PERMISSIVE");
        if (!hasPermissive) {
          return { strict: true, why: pm === "DISABLE" ? "a DISABLE port is only exempted when the policy also has a PERMISSIVE port (case 3)" : "STRICT parent policy", by: parentBy };
        }
        if (s.namespace && s.namespace.mode === "UNSET") {
          return { strict: false, why: "port exceptions under an UNSET namespace policy withdraw the mesh STRICT policy for the whole workload (case 2)", by: { policy: w } };
        }
        if (pm === "PERMISSIVE" || pm === "DISABLE") return { strict: false, why: "port-level exception under a STRICT parent", by: at };
        return { strict: true, why: "STRICT parent policy", by: parentBy };
      }
      if (pm === "STRICT") return { strict: true, why: "STRICT port of the workload policy", by: at };
      return { strict: false, why: "no STRICT policy applies", by: parentBy };
    }
  }
}
