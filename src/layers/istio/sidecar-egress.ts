/**
 * Outbound control at a sidecar: the `Sidecar` resource in force for a workload
 * (its egress scope) and `outboundTrafficPolicy` (semantics.md §4.8), over the
 * registry of Kubernetes Services and ServiceEntries (§4.9).
 *
 * Scoping is not a firewall (§4.8 r25): a destination outside the scope or the
 * registry is still passed through under ALLOW_ANY (the mesh default). Only
 * REGISTRY_ONLY blocks it: HTTP gets a 502 from the `BlackHole` route, TCP/TLS is
 * sent to the `BlackHoleCluster` and the connection is closed (§4.8 r27).
 *
 * Selection (istio `push_context.go` `doGetSidecarScope`, `initSidecarScopes`):
 * Sidecars of the workload's namespace with a matching `workloadSelector` first,
 * oldest first; then the namespace's Sidecar without selector; then the root
 * namespace's Sidecar without selector (evaluated as if it lived in the workload's
 * namespace, so `.` means that namespace); else every exported service is in scope.
 * Imports (`sidecar.go` `selectServices`): a service host must be a subset of an
 * imported `namespace/host` of the egress listener for the port (or the catch-all
 * listener), not excluded by a `~namespace/host` entry, and exported to the namespace.
 */
import { InputDiagnostic, type FieldPath, type Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import type { Labels } from "../../model/selector.js";
import type { Service, Workload } from "../../model/types.js";
import { IPSet, parseIP, type Protocol } from "../../sets/index.js";
import type { PolicyRef } from "../types.js";
import { hostSubsetOf, isDNS1123Label, isPartialWildcard, normalizeRequestHost, validateWildcardDomain } from "./hosts.js";
import type { MeshMode } from "./membership.js";
import type { MeshSettings, OutboundMode } from "./meshconfig.js";
import {
  isExportedTo,
  serviceEntryRef,
  type ClientProtocol,
  type RegistryCandidate,
  type RegistryNearMiss,
  type ServiceEntry,
  type ServiceEntryPort,
  type ServiceEntryRegistry,
} from "./serviceentry.js";

// ---------------------------------------------------------------------------
// Sidecar resources

export interface SidecarEgressHost {
  /** As written, e.g. `istio-system/*`. */
  raw: string;
  /** `*`, `.`, or a namespace name (after removing an exclusion `~`; a bare `~` is `*`). */
  namespace: string;
  host: string;
  /** A `~namespace/host` exclusion entry (Istio HEAD; older Istio: `~/…` imports nothing). */
  exclude: boolean;
  line: number;
}

export interface SidecarEgressListener {
  index: number;
  /** Undefined for the catch-all listener. */
  port: { number: number; protocol: string; name?: string } | undefined;
  hosts: readonly SidecarEgressHost[];
  line: number;
}

export interface SidecarResource {
  namespace: string;
  name: string;
  /** Undefined: no selector (namespace or root-namespace default). */
  workloadSelector: Labels | undefined;
  /** As written; when empty, Istio uses one catch-all listener importing `*\/*`. */
  egress: readonly SidecarEgressListener[];
  outboundTrafficPolicy: { mode: "ALLOW_ANY" | "REGISTRY_ONLY"; line: number } | undefined;
  creationTimestamp: string | undefined;
  /** Order in the input, for ties. */
  order: number;
  file: string;
  line: number;
  manifest: Manifest;
}

export interface SidecarScan {
  sidecars: SidecarResource[];
  diagnostics: InputDiagnostic[];
}

export function isSidecar(m: Manifest): boolean {
  return m.kind === "Sidecar" && m.apiVersion.startsWith("networking.istio.io/");
}

const SPEC_FIELDS = ["workloadSelector", "ingress", "egress", "outboundTrafficPolicy", "inboundConnectionPool"];
const EGRESS_FIELDS = ["port", "bind", "captureMode", "hosts"];
const KNOWN_PROTOCOLS = ["tcp", "udp", "grpc", "grpc-web", "http", "http_proxy", "http2", "https", "tls", "mongo", "redis", "mysql"];

/** Reads Sidecars with istiod's validation (`ValidateSidecar`); rejected ones are reported and left out. */
export function scanSidecars(manifests: readonly Manifest[]): SidecarScan {
  const sidecars: SidecarResource[] = [];
  const diagnostics: InputDiagnostic[] = [];
  let order = 0;
  for (const m of manifests) {
    if (!isSidecar(m)) continue;
    const r = new FieldReader(m);
    const sc = readSidecar(r, order++);
    diagnostics.push(...r.diagnostics);
    if (sc && !r.hasErrors) sidecars.push(sc);
  }
  return { sidecars, diagnostics };
}

function readSidecar(r: FieldReader, order: number): SidecarResource | undefined {
  const m = r.manifest;
  const namespace = m.namespace ?? "default";
  if (!m.name) return r.error(["metadata", "name"], "a Sidecar needs a name");
  const spec = r.object(["spec"]);
  if (!spec) return r.error(["spec"], "a Sidecar needs a spec");
  for (const key of Object.keys(spec)) if (!SPEC_FIELDS.includes(key)) r.error(["spec", key], `unknown field "${key}" in a Sidecar spec`);

  let workloadSelector: Labels | undefined;
  if (spec.workloadSelector !== undefined && spec.workloadSelector !== null) {
    workloadSelector = r.stringMap(["spec", "workloadSelector", "labels"]);
    for (const [k, v] of Object.entries(workloadSelector)) {
      if (k === "") r.error(["spec", "workloadSelector", "labels"], "empty key is not supported in selector");
      if (k.includes("*") || v.includes("*")) r.error(["spec", "workloadSelector", "labels", k], `wildcard is not supported in selector: "${k}=${v}"`);
    }
    if (Object.keys(workloadSelector).length === 0) r.warn(["spec", "workloadSelector"], "workload selector without labels: the Sidecar applies to every workload of the namespace");
  }

  const egressRaw = r.array(["spec", "egress"]) ?? [];
  const ingressRaw = r.array(["spec", "ingress"]) ?? [];
  const hasOTP = spec.outboundTrafficPolicy !== undefined && spec.outboundTrafficPolicy !== null;
  if (egressRaw.length === 0 && ingressRaw.length === 0 && !hasOTP && (spec.inboundConnectionPool === undefined || spec.inboundConnectionPool === null)) {
    return r.error(["spec"], "empty Sidecar configuration: it needs egress, ingress, outboundTrafficPolicy or inboundConnectionPool");
  }

  ingressRaw.forEach((raw, i) => {
    const p = ["spec", "ingress", i];
    if (raw === null || typeof raw !== "object") return void r.error(p, "an ingress listener may not be null");
    if (r.object([...p, "port"]) === undefined) return void r.error([...p, "port"], "a port is required for ingress listeners");
    readPort(r, [...p, "port"], true);
  });

  const egress: SidecarEgressListener[] = [];
  const ports = new Set<number>();
  let catchAll = false;
  egressRaw.forEach((raw, index) => {
    const p = ["spec", "egress", index];
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return void r.error(p, "an egress listener may not be null");
    for (const key of Object.keys(raw)) if (!EGRESS_FIELDS.includes(key)) r.error([...p, key], `unknown field "${key}" in an egress listener`);
    let port: SidecarEgressListener["port"];
    if (r.get([...p, "port"]) === undefined || r.get([...p, "port"]) === null) {
      if (catchAll) return void r.error(p, "a Sidecar can have only one egress listener without port");
      catchAll = true;
      if (index !== egressRaw.length - 1) r.error(p, "the egress listener without port must be the last one");
    } else {
      port = readPort(r, [...p, "port"], false);
      if (port) {
        if (port.number !== 0 && ports.has(port.number)) r.error([...p, "port", "number"], `port ${port.number} is used by another egress listener`);
        ports.add(port.number);
        const bind = r.string([...p, "bind"]);
        if (port.number === 0 && !(bind ?? "").startsWith("unix://")) r.error([...p, "bind"], "a port number 0 needs a unix domain socket bind address");
        if (port.number !== 0 && bind && !parseIP(bind)) r.error([...p, "bind"], `bind "${bind}" is not an IP address`);
      }
    }
    const hostList = r.array([...p, "hosts"]) ?? [];
    if (hostList.length === 0) r.error([...p, "hosts"], "an egress listener must contain at least one host");
    const hosts: SidecarEgressHost[] = [];
    const seen = new Map<string, Set<string>>();
    hostList.forEach((h, j) => {
      const hp = [...p, "hosts", j];
      if (typeof h !== "string") return void r.error(hp, `expected a "namespace/host" string, got ${describe(h)}`);
      const parsed = parseEgressHost(r, hp, h, namespace);
      if (!parsed) return;
      hosts.push(parsed);
      if (!parsed.exclude) {
        const ns = parsed.namespace === "." ? namespace : parsed.namespace;
        const set = seen.get(ns) ?? new Set<string>();
        if ((parsed.host !== "*" && (set.has(parsed.host) || set.has("*"))) || (parsed.host === "*" && set.size > 0)) r.warn(hp, `duplicated egress host ${h}`);
        set.add(parsed.host);
        seen.set(ns, set);
      }
    });
    if (seen.get("*")?.has("*") && seen.size > 1) r.warn([...p, "hosts"], "`*/*` selects everything: other hosts add nothing");
    egress.push({ index, port, hosts, line: r.manifest.lineOf(p) });
  });

  let outboundTrafficPolicy: SidecarResource["outboundTrafficPolicy"];
  if (hasOTP) {
    const p = ["spec", "outboundTrafficPolicy"];
    if (r.object(p)) {
      const mode = r.get([...p, "mode"]);
      const hasProxy = r.get([...p, "egressProxy"]) !== undefined && r.get([...p, "egressProxy"]) !== null;
      if (mode === undefined || mode === null) {
        r.warn(p, "outboundTrafficPolicy without mode means REGISTRY_ONLY (the enum's zero value)");
        outboundTrafficPolicy = { mode: "REGISTRY_ONLY", line: r.manifest.lineOf(p) };
      } else if (mode === "ALLOW_ANY" || mode === "REGISTRY_ONLY") {
        outboundTrafficPolicy = { mode, line: r.manifest.lineOf([...p, "mode"]) };
      } else if (mode === "ALLOW_ANY_DYNAMIC_DNS") {
        r.error([...p, "mode"], "ALLOW_ANY_DYNAMIC_DNS is only supported in MeshConfig, not in a Sidecar");
      } else {
        r.error([...p, "mode"], `unknown mode ${describe(mode)} (expected ALLOW_ANY or REGISTRY_ONLY)`);
      }
      if (hasProxy && outboundTrafficPolicy?.mode !== "ALLOW_ANY") r.error([...p, "egressProxy"], "egressProxy can be set only with mode ALLOW_ANY");
    }
  }

  const ts = (m.raw.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp;
  return {
    namespace,
    name: m.name,
    workloadSelector,
    egress,
    outboundTrafficPolicy,
    creationTimestamp: typeof ts === "string" ? ts : undefined,
    order,
    file: m.source.file,
    line: m.source.line,
    manifest: m,
  };
}

function readPort(r: FieldReader, p: FieldPath, ingress: boolean): { number: number; protocol: string; name?: string } | undefined {
  const number = r.integer([...p, "number"]);
  const protocol = r.string([...p, "protocol"]) ?? "";
  const name = r.string([...p, "name"]);
  if (number === undefined) return r.error([...p, "number"], "a port needs a number");
  if ((number !== 0 || ingress) && (number < 1 || number > 65535)) return r.error([...p, "number"], `port number ${number} must be in the range 1..65535`);
  if (protocol !== "" && !KNOWN_PROTOCOLS.includes(protocol.toLowerCase())) return r.error([...p, "protocol"], `unsupported protocol "${protocol}"`);
  if (name !== undefined && name !== "" && !isDNS1123Label(name)) r.error([...p, "name"], `invalid port name "${name}"`);
  return { number, protocol, ...(name ? { name } : {}) };
}

/** `namespace/dnsName` as `ValidateNamespaceSlashWildcardHostname` (sidecar) checks it. */
function parseEgressHost(r: FieldReader, p: FieldPath, h: string, ownNamespace: string): SidecarEgressHost | undefined {
  const slash = h.indexOf("/");
  if (slash < 0) return r.error(p, `host "${h}" must be of the form namespace/dnsName (e.g. "${ownNamespace}/${h}" or "*/${h}")`);
  const nsPart = h.slice(0, slash);
  const host = h.slice(slash + 1);
  if (nsPart === "" || host === "") return r.error(p, `host "${h}": the namespace and the dnsName cannot be empty`);
  if (host.includes("/")) return r.error(p, `host "${h}" must contain exactly one "/"`);
  const exclude = nsPart.startsWith("~");
  const nsName = exclude ? nsPart.slice(1) : nsPart;
  if (nsName !== "" && nsName !== "*" && nsName !== "." && !isDNS1123Label(nsName)) return r.error(p, `invalid namespace "${nsPart}" in host "${h}" (expected *, ., ~ or a namespace name)`);
  if (host !== "*" && !host.includes(".")) return r.error(p, `host "${h}": short names are not allowed, use the FQDN (e.g. ${host}.${nsName && nsName !== "*" && nsName !== "." ? nsName : ownNamespace}.svc.cluster.local)`);
  const err = validateWildcardDomain(host);
  if (err) return r.error(p, err);
  if (isPartialWildcard(host)) return r.error(p, `partial wildcard "${host}" is not allowed (only "*" or a "*." first label)`);
  return { raw: h, namespace: exclude && nsName === "" ? "*" : nsName, host, exclude, line: r.manifest.lineOf(p) };
}

export function sidecarRef(sc: SidecarResource, rule: number | null = null, line?: number): PolicyRef {
  return { kind: "Sidecar", namespace: sc.namespace, name: sc.name, rule, file: sc.file, line: line ?? sc.line };
}

// ---------------------------------------------------------------------------
// Which Sidecar applies

export interface SidecarSelection {
  sidecar: SidecarResource | null;
  level: "workload" | "namespace" | "root" | "none";
  reason: string;
  /** Other Sidecars that also qualified at the same level and were ignored (Istio: undefined, oldest wins). */
  ignored: SidecarResource[];
}

function byAge(a: SidecarResource, b: SidecarResource): number {
  if (a.creationTimestamp && b.creationTimestamp && a.creationTimestamp !== b.creationTimestamp) return a.creationTimestamp < b.creationTimestamp ? -1 : 1;
  return a.order - b.order;
}

function selectorMatches(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The Sidecar resource in force for a workload (§4.8 r23). */
export function selectSidecar(sidecars: readonly SidecarResource[], workload: Workload, rootNamespace: string): SidecarSelection {
  const inNs = sidecars.filter((s) => s.namespace === workload.namespace).sort(byAge);
  const selected = inNs.filter((s) => s.workloadSelector !== undefined && selectorMatches(s.workloadSelector, workload.labels));
  const id = (s: SidecarResource) => `${s.namespace}/${s.name}`;
  const several = (list: SidecarResource[], what: string) =>
    list.length > 1 ? `; ${list.slice(1).map(id).join(", ")} also ${what} and ${list.length > 2 ? "are" : "is"} ignored (Istio leaves this undefined and uses the oldest)` : "";
  if (selected.length > 0) {
    const s = selected[0]!;
    return {
      sidecar: s,
      level: "workload",
      reason: `Sidecar ${id(s)} selects ${workload.id} (workloadSelector ${fmtLabels(s.workloadSelector!)})${several(selected, "select it")}`,
      ignored: selected.slice(1),
    };
  }
  const defaults = inNs.filter((s) => s.workloadSelector === undefined);
  if (defaults.length > 0) {
    const s = defaults[0]!;
    return {
      sidecar: s,
      level: "namespace",
      reason: `Sidecar ${id(s)} is the default (no workloadSelector) of namespace ${workload.namespace}${several(defaults, "have no selector")}`,
      ignored: defaults.slice(1),
    };
  }
  const roots = sidecars.filter((s) => s.namespace === rootNamespace && s.workloadSelector === undefined).sort(byAge);
  if (roots.length > 0) {
    const s = roots[0]!;
    return {
      sidecar: s,
      level: "root",
      reason: `Sidecar ${id(s)} in the root namespace ${rootNamespace} is the mesh-wide default${several(roots, "have no selector")}`,
      ignored: roots.slice(1),
    };
  }
  return { sidecar: null, level: "none", reason: `no Sidecar applies to ${workload.id}: every service exported to namespace ${workload.namespace} is in scope`, ignored: [] };
}

function fmtLabels(l: Labels): string {
  const entries = Object.entries(l);
  return entries.length === 0 ? "{}" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

/** The egress listener that handles a destination port: the one with that port, else the catch-all (§4.8; sidecar.proto "most specific port"). */
export function egressListenerFor(sc: SidecarResource, port: number): SidecarEgressListener | undefined {
  if (sc.egress.length === 0) return DEFAULT_LISTENER;
  return sc.egress.find((l) => l.port && l.port.number === port && l.port.protocol.toUpperCase() !== "HTTP_PROXY") ?? sc.egress.find((l) => !l.port);
}

const DEFAULT_LISTENER: SidecarEgressListener = {
  index: -1,
  port: undefined,
  hosts: [{ raw: "*/*", namespace: "*", host: "*", exclude: false, line: 0 }],
  line: 0,
};

export interface ImportCheck {
  imported: boolean;
  /** The entry that imported (or excluded) the host. */
  entry?: SidecarEgressHost;
  excludedBy?: SidecarEgressHost;
}

/**
 * Whether a listener imports a service host living in `serviceNamespace`, for a
 * workload in `workloadNamespace` (`.` means that namespace; `~ns/host` excludes).
 */
export function listenerImports(listener: SidecarEgressListener, workloadNamespace: string, serviceNamespace: string, serviceHost: string): ImportCheck {
  const nsOf = (h: SidecarEgressHost) => (h.namespace === "." ? workloadNamespace : h.namespace);
  for (const h of listener.hosts) {
    if (!h.exclude) continue;
    const ns = nsOf(h);
    if ((ns === serviceNamespace || ns === "*") && hostSubsetOf(serviceHost, h.host)) return { imported: false, excludedBy: h };
  }
  // Explicit namespace imports are checked before `*/…` ones, as Istio does.
  const ordered = [...listener.hosts.filter((h) => !h.exclude && nsOf(h) === serviceNamespace), ...listener.hosts.filter((h) => !h.exclude && nsOf(h) === "*")];
  for (const h of ordered) if (hostSubsetOf(serviceHost, h.host)) return { imported: true, entry: h };
  return { imported: false };
}

// ---------------------------------------------------------------------------
// The egress decision

export type EgressDestination =
  /** A Kubernetes Service (reached through its VIP / DNS name); `port` is the Service port. */
  | { kind: "service"; service: Service; port: number }
  /** A pod addressed directly by its IP. */
  | { kind: "workload"; workload: Workload; ip?: string; port: number }
  /** Anything else: a DNS name and/or an IP address. */
  | { kind: "external"; host?: string; ip?: string; port: number };

export interface EgressFlow {
  source: Workload;
  /** The source's mesh mode (membership.ts); the layer applies to `sidecar` only. */
  sourceMode: MeshMode;
  destination: EgressDestination;
  /** Transport protocol. */
  protocol: Protocol;
  /** What the client speaks; undefined: inferred (Service port name/appProtocol, the ServiceEntry port's protocol). */
  app?: ClientProtocol;
}

export interface MissingEgressConfig {
  /** What has to be added: a ServiceEntry, an egress host in a Sidecar, or a namespace in an entry's exportTo. */
  kind: "ServiceEntry" | "SidecarEgressHost" | "ExportTo" | "ServicePort";
  /** Where the fix goes (the Sidecar's or the entry's namespace; for a new ServiceEntry, the client's). */
  namespace: string | null;
  /** The object to change, when it exists. */
  name: string | null;
  /** The host (or `namespace/host` for a Sidecar) that is missing. */
  host: string | null;
  port: number;
  file: string | null;
  line: number | null;
  /** One line saying what to add. */
  suggestion: string;
}

export interface SidecarEgressDecision {
  verdict: "allow" | "deny";
  /** False when the flow does not go through a sidecar's outbound listeners (no sidecar, UDP, capture excluded). */
  applies: boolean;
  /** One sentence for people, naming the missing ServiceEntry or host on a denial. */
  reason: string;
  /** The deciding Sidecar (rule = egress listener index), the matching ServiceEntry, the ConfigMap that set the mode. */
  policies: PolicyRef[];
  missing: MissingEgressConfig | null;
  /** What the client observes on a denial: HTTP 502 for HTTP, a closed/reset connection otherwise. */
  observed: "http-502" | "reset" | null;
  route: "service" | "serviceentry" | "passthrough" | "blackhole" | "not-captured";
  outboundTrafficPolicy: { mode: OutboundMode; source: "Sidecar" | "MeshConfig" | "default"; ref: PolicyRef | null };
  sidecar: SidecarSelection;
  matched: { kind: "Service"; service: Service } | { kind: "ServiceEntry"; entry: ServiceEntry; port: ServiceEntryPort } | null;
  /** Assumptions and side facts (plaintext passthrough, capture exclusions, …). */
  notes: string[];
}

export interface SidecarEgressContext {
  mesh: MeshSettings;
  sidecars: readonly SidecarResource[];
  registry: ServiceEntryRegistry;
  services: readonly Service[];
  /** Cluster DNS domain for Service FQDNs (default cluster.local). */
  clusterDomain?: string;
}

export const EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo";

function annotations(m: Manifest): Record<string, string> {
  const a = (m.raw.metadata as { annotations?: unknown } | undefined)?.annotations;
  const out: Record<string, string> = {};
  if (a && typeof a === "object") for (const [k, v] of Object.entries(a)) if (typeof v === "string") out[k] = v;
  return out;
}

/** The ports of a CSV annotation; undefined when absent. */
function csv(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function ipSetOf(list: string[]): IPSet | "all" {
  let set = IPSet.none();
  for (const c of list) {
    if (c === "*") return "all";
    try {
      set = set.union(c.includes("/") ? IPSet.fromCidr(c) : IPSet.fromIP(c));
    } catch {
      // not an address: istio-iptables would fail; ignore here
    }
  }
  return set;
}

export class SidecarEgress {
  private readonly domain: string;
  /** Services by every DNS name that reaches them from anywhere (`name.ns.svc.<domain>`, `name.ns.svc`, `name.ns`). */
  private readonly byName = new Map<string, Service>();
  private readonly byShortName = new Map<string, Service>();
  private readonly byClusterIP = new Map<string, Service>();

  constructor(private readonly ctx: SidecarEgressContext) {
    this.domain = ctx.clusterDomain ?? "cluster.local";
    for (const s of ctx.services) {
      for (const n of [this.fqdn(s), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`]) if (!this.byName.has(n)) this.byName.set(n, s);
      if (!this.byShortName.has(`${s.namespace}/${s.name}`)) this.byShortName.set(`${s.namespace}/${s.name}`, s);
      for (const ip of s.clusterIPs) if (!this.byClusterIP.has(ip)) this.byClusterIP.set(ip, s);
    }
  }

  fqdn(s: Service): string {
    return `${s.name}.${s.namespace}.svc.${this.domain}`;
  }

  /** A Kubernetes Service's exportTo (annotation `networking.istio.io/exportTo`, else MeshConfig default). */
  serviceExportTo(s: Service): string[] {
    return csv(annotations(s.manifest)[EXPORT_TO_ANNOTATION]) ?? [...this.ctx.mesh.defaultServiceExportTo];
  }

  selectSidecar(w: Workload): SidecarSelection {
    return selectSidecar(this.ctx.sidecars, w, this.ctx.mesh.rootNamespace);
  }

  evaluate(flow: EgressFlow): SidecarEgressDecision {
    const src = flow.source;
    const selection = this.selectSidecar(src);
    const otp = this.outboundPolicy(selection);
    const base = { outboundTrafficPolicy: otp, sidecar: selection, matched: null, missing: null, observed: null, policies: [] as PolicyRef[] };
    const notCaptured = (reason: string, notes: string[] = []): SidecarEgressDecision => ({ ...base, verdict: "allow", applies: false, reason, route: "not-captured", notes });

    if (flow.sourceMode !== "sidecar") {
      return notCaptured(`${src.id} has no sidecar (${flow.sourceMode}): Sidecar resources and outboundTrafficPolicy do not apply`);
    }
    if (flow.protocol !== "TCP") return notCaptured(`the sidecar captures only TCP; ${flow.protocol} from ${src.id} leaves the pod directly`);
    const dst = this.resolve(flow.destination, src.namespace);
    const capture = this.captured(src, dst.ip, dst.port);
    if (!capture.captured) return notCaptured(capture.reason!, capture.notes);

    const notes = [...capture.notes, ...dst.notes];
    const listener = selection.sidecar ? egressListenerFor(selection.sidecar, dst.port) : DEFAULT_LISTENER;
    const scRef = (l?: SidecarEgressListener) => (selection.sidecar ? [sidecarRef(selection.sidecar, l && l.index >= 0 ? l.index : null, l && l.index >= 0 ? l.line : undefined)] : []);
    const app: ClientProtocol = flow.app ?? dst.app ?? "tcp";
    const target = dst.label;

    // Kubernetes Service destinations.
    if (dst.service) {
      const s = dst.service;
      const exported = isExportedTo(this.serviceExportTo(s), s.namespace, src.namespace);
      const imp = listener ? listenerImports(listener, src.namespace, s.namespace, this.fqdn(s)) : { imported: false as const };
      if (!s.ports.some((p) => p.port === dst.port)) {
        return this.unknown(flow, base, notes, app, target, listener, scRef, `Service ${s.id} has no port ${dst.port}`, {
          kind: "ServicePort",
          namespace: s.namespace,
          name: s.name,
          host: this.fqdn(s),
          port: dst.port,
          file: s.source.file,
          line: s.source.line,
          suggestion: `add port ${dst.port} to Service ${s.id} or call one of its ports (${s.ports.map((p) => p.port).join(", ")})`,
        });
      }
      if (exported && imp.imported) {
        return {
          ...base,
          verdict: "allow",
          applies: true,
          reason: `Service ${s.id} (${this.fqdn(s)}) is in ${src.id}'s egress scope${selection.sidecar ? ` (Sidecar ${selection.sidecar.namespace}/${selection.sidecar.name} imports ${imp.entry!.raw})` : ""}`,
          policies: scRef(listener),
          route: "service",
          matched: { kind: "Service", service: s },
          notes,
        };
      }
      const why = !exported
        ? `Service ${s.id} is not exported to namespace ${src.namespace} (exportTo ${this.serviceExportTo(s).join(", ")})`
        : this.notImportedWhy(selection, listener, dst.port, s.namespace, this.fqdn(s), imp);
      const missing: MissingEgressConfig = !exported
        ? {
            kind: "ExportTo",
            namespace: s.namespace,
            name: s.name,
            host: this.fqdn(s),
            port: dst.port,
            file: s.source.file,
            line: s.source.line,
            suggestion: `add ${src.namespace} to the ${EXPORT_TO_ANNOTATION} annotation of Service ${s.id}`,
          }
        : this.missingImport(selection, listener, s.namespace, this.fqdn(s), dst.port);
      return this.unknown(flow, base, notes, app, target, listener, scRef, why, missing);
    }

    // ServiceEntries (external names and addresses, or a pod IP covered by an entry).
    const answer = this.ctx.registry.query({ namespace: src.namespace, ...(dst.host ? { host: dst.host } : {}), ...(dst.ip ? { ip: dst.ip } : {}), port: dst.port, ...(flow.app ? { app: flow.app } : {}) });
    const visible = answer.candidates.filter((c) => c.visible);
    const importOf = (c: RegistryCandidate) => {
      const hosts = c.host !== undefined ? [c.host] : c.entry.hosts;
      let last: ImportCheck = { imported: false };
      for (const h of hosts) {
        last = listener ? listenerImports(listener, src.namespace, c.entry.namespace, h) : { imported: false };
        if (last.imported) return { ...last, host: h };
      }
      return { ...last, host: hosts[0]! };
    };
    for (const c of visible) {
      const imp = importOf(c);
      if (!imp.imported) continue;
      return {
        ...base,
        verdict: "allow",
        applies: true,
        reason: `ServiceEntry ${c.entry.namespace}/${c.entry.name} registers ${c.detail} for namespace ${src.namespace}${selection.sidecar ? ` and Sidecar ${selection.sidecar.namespace}/${selection.sidecar.name} imports it (${imp.entry!.raw})` : ""}`,
        policies: [...scRef(listener), serviceEntryRef(c.entry)],
        route: "serviceentry",
        matched: { kind: "ServiceEntry", entry: c.entry, port: c.port },
        notes: [...notes, ...c.notes],
      };
    }

    if (dst.workload && dst.headless.length === 0) {
      notes.push(`traffic addressed directly to a pod IP matches no Service VIP listener (only headless Services get per-pod listeners)`);
    }
    if (dst.workload && dst.headless.length > 0) {
      for (const s of dst.headless) {
        const exported = isExportedTo(this.serviceExportTo(s), s.namespace, src.namespace);
        const imp = listener ? listenerImports(listener, src.namespace, s.namespace, this.fqdn(s)) : { imported: false };
        if (exported && imp.imported && s.ports.some((p) => p.port === dst.port)) {
          return {
            ...base,
            verdict: "allow",
            applies: true,
            reason: `${dst.workload.id} is an endpoint of the headless Service ${s.id}, which is in ${src.id}'s egress scope`,
            policies: scRef(listener),
            route: "service",
            matched: { kind: "Service", service: s },
            notes,
          };
        }
      }
    }

    // Not in scope: explain with the best visible-but-not-imported candidate, a hidden one, or a near miss.
    const first = visible[0];
    if (first) {
      const imp = importOf(first);
      const why = this.notImportedWhy(selection, listener, dst.port, first.entry.namespace, imp.host, imp, `ServiceEntry ${first.entry.namespace}/${first.entry.name} registers ${first.detail}`);
      const firstApp = flow.app ?? (first.port.protocol === "" ? (dst.host ? "http" : "tcp") : classToApp(first.port.protocol));
      return this.unknown(flow, { ...base, policies: [serviceEntryRef(first.entry)] }, [...notes, ...first.notes], firstApp, target, listener, scRef, why, this.missingImport(selection, listener, first.entry.namespace, imp.host, dst.port));
    }
    const hidden = answer.candidates.find((c) => !c.visible);
    if (hidden) {
      const e = hidden.entry;
      return this.unknown(flow, { ...base, policies: [serviceEntryRef(e)] }, notes, app, target, listener, scRef, answer.nearMisses.find((n) => n.entry === e)?.why ?? `ServiceEntry ${e.namespace}/${e.name} is not exported to ${src.namespace}`, {
        kind: "ExportTo",
        namespace: e.namespace,
        name: e.name,
        host: e.hosts[0] ?? null,
        port: dst.port,
        file: e.file,
        line: e.line,
        suggestion: `export ServiceEntry ${e.namespace}/${e.name} to ${src.namespace} (exportTo: ["${src.namespace}"] or ["*"])`,
      });
    }
    const near: RegistryNearMiss | undefined = answer.nearMisses[0];
    const what = dst.host ?? dst.ip ?? "the destination";
    const why = `no ServiceEntry visible to namespace ${src.namespace} registers ${what} on port ${dst.port}${near ? ` (${near.why})` : ""}`;
    // Without a hint, 443 is almost always TLS: suggest a port matched by SNI rather than a TCP port taking every IP.
    const suggested: ClientProtocol = flow.app ?? dst.app ?? (dst.port === 443 ? "tls" : app);
    const portName = suggested === "http" ? "http" : suggested === "tls" ? "tls" : "tcp";
    const proto = suggested === "http" ? "HTTP" : suggested === "tls" ? "TLS" : "TCP";
    const portSpec = `ports: [{number: ${dst.port}, name: ${portName}-${dst.port}, protocol: ${proto}}]`;
    const suggestion = dst.host && !parseIP(dst.host)
      ? `add a ServiceEntry in ${src.namespace} with hosts: [${dst.host}], ${portSpec}, resolution: DNS, location: MESH_EXTERNAL${suggested === "tcp" ? " (and its addresses, or the TCP port takes every IP)" : ""}`
      : `add a ServiceEntry in ${src.namespace} with a synthetic host, addresses: [${dst.ip ?? "<ip>"}], ${portSpec}, resolution: ${dst.ip ? `STATIC, endpoints: [{address: ${dst.ip}}]` : "NONE"}, location: MESH_EXTERNAL`;
    return this.unknown(flow, base, notes, app, target, listener, scRef, why, {
      kind: "ServiceEntry",
      namespace: src.namespace,
      name: null,
      host: dst.host ?? dst.ip ?? null,
      port: dst.port,
      file: null,
      line: null,
      suggestion,
    });
  }

  /** The mode in force and where it comes from: the Sidecar, else MeshConfig, else the default. */
  outboundPolicy(sel: SidecarSelection): SidecarEgressDecision["outboundTrafficPolicy"] {
    const sc = sel.sidecar;
    if (sc?.outboundTrafficPolicy) {
      return { mode: sc.outboundTrafficPolicy.mode, source: "Sidecar", ref: sidecarRef(sc, null, sc.outboundTrafficPolicy.line) };
    }
    const mesh = this.ctx.mesh.outboundTrafficPolicy;
    return { mode: mesh.mode, source: mesh.ref ? "MeshConfig" : "default", ref: mesh.ref };
  }

  /** A destination outside the registry or the scope: passthrough under ALLOW_ANY, blocked under REGISTRY_ONLY. */
  private unknown(
    flow: EgressFlow,
    base: Omit<SidecarEgressDecision, "verdict" | "applies" | "reason" | "route" | "notes">,
    notesIn: string[],
    app: ClientProtocol,
    target: string,
    listener: SidecarEgressListener | undefined,
    scRef: (l?: SidecarEgressListener) => PolicyRef[],
    why: string,
    missing: MissingEgressConfig,
  ): SidecarEgressDecision {
    let notes = notesIn;
    const otp = base.outboundTrafficPolicy;
    const modeText = `outboundTrafficPolicy ${otp.mode} (${otp.source === "Sidecar" ? `Sidecar ${base.sidecar.sidecar!.namespace}/${base.sidecar.sidecar!.name}` : otp.source === "MeshConfig" ? "MeshConfig" : "mesh default"})`;
    if (otp.mode !== "REGISTRY_ONLY") {
      return {
        ...base,
        verdict: "allow",
        applies: true,
        reason: `${target} is not in ${flow.source.id}'s registry scope (${why}), but ${modeText} passes it through`,
        route: "passthrough",
        missing,
        notes: [...notes, "passthrough traffic leaves the sidecar as is: no mTLS origination, no ServiceEntry or DestinationRule settings"],
      };
    }
    // The 502 comes from the BlackHole route of a 0.0.0.0:PORT HTTP listener; without one the
    // connection falls to the catch-all TCP chain (BlackHoleCluster) and is reset.
    const httpListener = app === "http" && this.hasHttpListener(flow.source.namespace, listener, flow.destination.port);
    const observed = httpListener ? "http-502" : "reset";
    if (app === "http" && !httpListener) {
      notes = [...notes, `no HTTP service on port ${flow.destination.port} is in scope, so there is no HTTP listener for it: the request goes to the BlackHoleCluster and the connection is reset instead of getting a 502`];
    }
    const refs = [...scRef(listener), ...base.policies];
    if (otp.source === "MeshConfig" && otp.ref) refs.push(otp.ref);
    if (otp.source === "Sidecar" && base.sidecar.sidecar && !refs.some((r) => r.kind === "Sidecar")) refs.push(otp.ref!);
    return {
      ...base,
      verdict: "deny",
      applies: true,
      reason: `${modeText} blocks ${target}: ${why}; the client gets ${observed === "http-502" ? "HTTP 502" : "a reset connection"}`,
      policies: dedupe(refs),
      route: "blackhole",
      missing,
      observed,
      notes,
    };
  }

  /**
   * Whether the sidecar has a `0.0.0.0:PORT` HTTP listener: an egress listener declared
   * with an HTTP protocol on that port, or an in-scope Service or ServiceEntry port of an
   * HTTP protocol (sniffed ports get listeners on their own VIP, not on 0.0.0.0).
   */
  private hasHttpListener(clientNs: string, listener: SidecarEgressListener | undefined, port: number): boolean {
    if (!listener) return false;
    if (listener.port && listener.port.number === port && classToApp(listener.port.protocol) === "http" && listener.port.protocol !== "") return true;
    for (const s of this.ctx.services) {
      const sp = s.ports.find((p) => p.port === port && p.protocol === "TCP");
      if (!sp || this.appOfServicePort(s, sp.name) !== "http") continue;
      if (isExportedTo(this.serviceExportTo(s), s.namespace, clientNs) && listenerImports(listener, clientNs, s.namespace, this.fqdn(s)).imported) return true;
    }
    for (const e of this.ctx.registry.visibleTo(clientNs)) {
      if (!e.ports.some((p) => p.number === port && p.protocol !== "" && classToApp(p.protocol) === "http")) continue;
      if (e.hosts.some((h) => listenerImports(listener, clientNs, e.namespace, h).imported)) return true;
    }
    return false;
  }

  private notImportedWhy(sel: SidecarSelection, listener: SidecarEgressListener | undefined, port: number, ns: string, host: string, imp: ImportCheck, prefix?: string): string {
    const sc = sel.sidecar;
    const lead = prefix ? `${prefix}, but ` : "";
    if (!sc) return `${lead}it is not in scope`;
    const id = `Sidecar ${sc.namespace}/${sc.name}`;
    if (!listener) return `${lead}${id} has no egress listener for port ${port} (and no catch-all listener)`;
    const where = listener.index >= 0 ? ` egress[${listener.index}]` : "";
    if (imp.excludedBy) return `${lead}${id}${where} excludes it (${imp.excludedBy.raw})`;
    return `${lead}${id}${where} does not import ${ns}/${host} (hosts: ${listener.hosts.map((h) => h.raw).join(", ")})`;
  }

  private missingImport(sel: SidecarSelection, listener: SidecarEgressListener | undefined, ns: string, host: string, port: number): MissingEgressConfig {
    const sc = sel.sidecar;
    if (!sc) return { kind: "SidecarEgressHost", namespace: null, name: null, host: `${ns}/${host}`, port, file: null, line: null, suggestion: `import ${ns}/${host}` };
    return {
      kind: "SidecarEgressHost",
      namespace: sc.namespace,
      name: sc.name,
      host: `${ns}/${host}`,
      port,
      file: sc.file,
      line: listener && listener.index >= 0 ? listener.line : sc.line,
      suggestion: listener
        ? `add "${ns}/${host}" to the hosts of egress[${listener.index >= 0 ? listener.index : 0}] of Sidecar ${sc.namespace}/${sc.name}`
        : `add an egress listener for port ${port} (or a catch-all one) importing "${ns}/${host}" to Sidecar ${sc.namespace}/${sc.name}`,
    };
  }

  /** Normalises the destination: Services found by DNS name or VIP, the IP the sidecar sees, the protocol hint. */
  private resolve(d: EgressDestination, clientNs: string) {
    const notes: string[] = [];
    if (d.kind === "service") {
      const sp = d.service.ports.find((p) => p.port === d.port);
      return { service: d.service, workload: undefined, headless: [] as Service[], ip: d.service.clusterIPs[0], host: this.fqdn(d.service), port: d.port, app: sp ? this.appOfServicePort(d.service, sp.name) : undefined, label: `Service ${d.service.id} port ${d.port}`, notes };
    }
    if (d.kind === "workload") {
      const ip = d.ip ?? d.workload.ips[0];
      const headless = this.ctx.services.filter(
        (s) => s.namespace === d.workload.namespace && s.selector && Object.keys(s.selector).length > 0 && selectorMatches(s.selector, d.workload.labels) && (s.manifest.raw.spec as { clusterIP?: unknown } | undefined)?.clusterIP === "None",
      );
      return { service: undefined, workload: d.workload, headless, ip, host: undefined, port: d.port, app: undefined, label: `${d.workload.id}${ip ? ` (${ip})` : ""} port ${d.port}`, notes };
    }
    // An external name may be a Service's DNS name, an external IP a Service VIP.
    const svc = (d.host && this.serviceByName(d.host, clientNs)) || (d.ip && this.byClusterIP.get(d.ip));
    if (svc) {
      notes.push(`${d.host ?? d.ip} is Service ${svc.id}`);
      const sp = svc.ports.find((p) => p.port === d.port);
      return { service: svc, workload: undefined, headless: [] as Service[], ip: d.ip ?? svc.clusterIPs[0], host: this.fqdn(svc), port: d.port, app: sp ? this.appOfServicePort(svc, sp.name) : undefined, label: `${d.host ?? d.ip}:${d.port}`, notes };
    }
    return { service: undefined, workload: undefined, headless: [] as Service[], ip: d.ip, host: d.host, port: d.port, app: undefined, label: `${d.host ?? d.ip ?? "destination"}:${d.port}`, notes };
  }

  /** `name.ns.svc.<domain>`, `name.ns.svc`, `name.ns`, or a short name in the client's namespace. */
  private serviceByName(host: string, clientNs: string): Service | undefined {
    const h = normalizeRequestHost(host);
    return this.byName.get(h) ?? (h.includes(".") ? undefined : this.byShortName.get(`${clientNs}/${h}`));
  }

  /** Istio protocol selection for a Service port: `appProtocol`, else the name prefix (`http-…`, `tls-…`). */
  private appOfServicePort(s: Service, portName: string | undefined): ClientProtocol | undefined {
    const rawPorts = (s.manifest.raw.spec as { ports?: unknown } | undefined)?.ports;
    const raw = Array.isArray(rawPorts) ? (rawPorts.find((p) => p && typeof p === "object" && (p as { name?: unknown }).name === portName) as { appProtocol?: unknown } | undefined) : undefined;
    const proto = typeof raw?.appProtocol === "string" ? raw.appProtocol : (portName ?? "").split("-")[0]!;
    const p = proto.toLowerCase();
    if (["http", "http2", "grpc", "grpc-web", "kubernetes.io/h2c"].includes(p)) return "http";
    if (["https", "tls"].includes(p)) return "tls";
    if (["tcp", "mongo", "redis", "mysql"].includes(p)) return "tcp";
    return undefined;
  }

  /** Whether the pod's iptables send this connection to the sidecar (`traffic.sidecar.istio.io/*` annotations). */
  private captured(w: Workload, ip: string | undefined, port: number): { captured: boolean; reason?: string; notes: string[] } {
    const a = w.annotations;
    const notes: string[] = [];
    const excludePorts = csv(a["traffic.sidecar.istio.io/excludeOutboundPorts"]) ?? [];
    if (excludePorts.includes(String(port))) {
      return { captured: false, reason: `${w.id} excludes outbound port ${port} from the sidecar (traffic.sidecar.istio.io/excludeOutboundPorts)`, notes };
    }
    const includePorts = csv(a["traffic.sidecar.istio.io/includeOutboundPorts"]) ?? [];
    if (includePorts.includes(String(port))) return { captured: true, notes };
    const excludeRanges = csv(a["traffic.sidecar.istio.io/excludeOutboundIPRanges"]);
    const includeRanges = csv(a["traffic.sidecar.istio.io/includeOutboundIPRanges"]);
    if (!excludeRanges && !includeRanges) return { captured: true, notes };
    if (ip === undefined) {
      notes.push(`${w.id} has outbound IP range capture annotations, but the destination IP is unknown: assumed captured`);
      return { captured: true, notes };
    }
    if (excludeRanges) {
      const set = ipSetOf(excludeRanges);
      if (set === "all" || set.contains(ip)) return { captured: false, reason: `${w.id} excludes ${ip} from the sidecar (traffic.sidecar.istio.io/excludeOutboundIPRanges)`, notes };
    }
    if (includeRanges) {
      const set = ipSetOf(includeRanges);
      if (set !== "all" && !set.contains(ip)) return { captured: false, reason: `${ip} is outside ${w.id}'s traffic.sidecar.istio.io/includeOutboundIPRanges, so it bypasses the sidecar`, notes };
    }
    return { captured: true, notes };
  }
}

function classToApp(protocol: string): ClientProtocol {
  const p = protocol.toUpperCase();
  if (["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"].includes(p)) return "http";
  if (["HTTPS", "TLS"].includes(p)) return "tls";
  return "tcp";
}

function dedupe(refs: PolicyRef[]): PolicyRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = `${r.kind}/${r.namespace}/${r.name}/${r.rule}/${r.line}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** One flow without keeping an evaluator (build a `SidecarEgress` once to ask many). */
export function evaluateSidecarEgress(ctx: SidecarEgressContext, flow: EgressFlow): SidecarEgressDecision {
  return new SidecarEgress(ctx).evaluate(flow);
}
