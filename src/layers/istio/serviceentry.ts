/**
 * ServiceEntry: what an entry adds to the mesh registry, validated as istiod's
 * webhook does (`pkg/config/validation/validation.go` `ValidateServiceEntry`,
 * `validateExportTo`; semantics.md §4.9), and the registry question a sidecar's
 * outbound listeners answer: which visible entry (if any) takes a connection.
 *
 * How a sidecar matches a connection against an entry's port (istio
 * `pilot/pkg/networking/core/listener.go`, `httproute.go`; §4.9 r29):
 * - HTTP ports all share a `0.0.0.0:PORT` listener and route by Host header against
 *   the entry's hosts (and its single-IP addresses written as literal domains).
 * - TCP-like ports (TCP, TLS/HTTPS, Mongo, Redis, MySQL, and unset = sniffed) listen on
 *   the entry's address (a CIDR becomes a prefix match on `0.0.0.0`); an entry without
 *   addresses listens on `0.0.0.0:PORT`: for TLS/HTTPS with SNI filter chains on its
 *   hosts, for the others on every destination IP of that port.
 * Without DNS capture (the sidecar default) auto-allocated addresses are not used.
 */
import { InputDiagnostic, type FieldPath, type Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import type { Labels } from "../../model/selector.js";
import { CidrError, IPSet, parseIP } from "../../sets/index.js";
import type { PolicyRef } from "../types.js";
import { isDNS1123Label, isPartialWildcard, isWildcardHost, requestHostMatches, validateFQDN, validateWildcardDomain } from "./hosts.js";

export type Resolution = "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
export type Location = "MESH_EXTERNAL" | "MESH_INTERNAL";

/** The protocols istio's `protocol.Parse` knows, in their canonical spelling. */
const PROTOCOLS: Record<string, string> = {
  tcp: "TCP",
  udp: "UDP",
  grpc: "GRPC",
  "grpc-web": "GRPC-Web",
  http: "HTTP",
  http_proxy: "HTTP_PROXY",
  http2: "HTTP2",
  https: "HTTPS",
  tls: "TLS",
  mongo: "Mongo",
  redis: "Redis",
  mysql: "MySQL",
};

/** How a sidecar's outbound listener treats a port: by Host, by SNI/address, by address only, sniffed, or not at all. */
export type PortClass = "http" | "tls" | "tcp" | "auto" | "udp";

export function protocolClass(protocol: string): PortClass {
  switch (protocol) {
    case "HTTP":
    case "HTTP2":
    case "HTTP_PROXY":
    case "GRPC":
    case "GRPC-Web":
      return "http";
    case "HTTPS":
    case "TLS":
      return "tls";
    case "UDP":
      return "udp";
    case "":
      return "auto";
    default:
      return "tcp";
  }
}

export interface ServiceEntryPort {
  number: number;
  name: string;
  /** Canonical protocol name, or "" when unset (Istio sniffs the protocol). */
  protocol: string;
  targetPort?: number;
  line: number;
}

export interface ServiceEntryEndpoint {
  address: string;
  ports: Readonly<Record<string, number>>;
  labels: Labels;
  line: number;
}

export interface ServiceEntry {
  namespace: string;
  name: string;
  hosts: readonly string[];
  /** As written. */
  addresses: readonly string[];
  /** All addresses as one set (CIDRs expanded). */
  addressSet: IPSet;
  ports: readonly ServiceEntryPort[];
  location: Location;
  resolution: Resolution;
  endpoints: readonly ServiceEntryEndpoint[];
  workloadSelector: Labels | undefined;
  /** Effective exportTo (MeshConfig `defaultServiceExportTo` when unset). */
  exportTo: readonly string[];
  exportToDefaulted: boolean;
  /** metadata.labels (waypoint binding, auto-allocation opt-out). */
  labels: Labels;
  file: string;
  line: number;
  manifest: Manifest;
}

/** An entry istiod would reject: kept only to explain a miss ("would match but is invalid"). */
export interface RejectedServiceEntry {
  namespace: string;
  name: string;
  hosts: readonly string[];
  file: string;
  line: number;
  errors: readonly string[];
}

export interface ServiceEntryScan {
  entries: ServiceEntry[];
  rejected: RejectedServiceEntry[];
  diagnostics: InputDiagnostic[];
}

export interface ServiceEntryScanOptions {
  /** MeshConfig `defaultServiceExportTo` (default `["*"]`). */
  defaultExportTo?: readonly string[];
}

export function isServiceEntry(m: Manifest): boolean {
  return m.kind === "ServiceEntry" && m.apiVersion.startsWith("networking.istio.io/");
}

const SPEC_FIELDS = ["hosts", "addresses", "ports", "location", "resolution", "endpoints", "workloadSelector", "exportTo", "subjectAltNames"];
const PORT_FIELDS = ["number", "protocol", "name", "targetPort"];
const ENDPOINT_FIELDS = ["address", "ports", "labels", "network", "locality", "weight", "serviceAccount"];
const RESOLUTIONS: readonly string[] = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"];

/**
 * Reads ServiceEntries with istiod's validation. An entry the webhook would reject
 * is reported (file, line, field) and left out of the registry; warnings keep it.
 */
export function scanServiceEntries(manifests: readonly Manifest[], options: ServiceEntryScanOptions = {}): ServiceEntryScan {
  const entries: ServiceEntry[] = [];
  const rejected: RejectedServiceEntry[] = [];
  const diagnostics: InputDiagnostic[] = [];
  for (const m of manifests) {
    if (!isServiceEntry(m)) continue;
    const r = new FieldReader(m);
    const entry = readServiceEntry(r, options.defaultExportTo ?? ["*"]);
    diagnostics.push(...r.diagnostics);
    if (entry && !r.hasErrors) entries.push(entry);
    else {
      const hosts = (r.get(["spec", "hosts"]) as unknown[] | undefined)?.filter((h): h is string => typeof h === "string") ?? [];
      rejected.push({
        namespace: m.namespace ?? "default",
        name: m.name,
        hosts,
        file: m.source.file,
        line: m.source.line,
        errors: r.diagnostics.filter((d) => d.severity === "error").map((d) => d.message),
      });
    }
  }
  return { entries, rejected, diagnostics };
}

function metaLabels(m: Manifest): Labels {
  const labels = (m.raw.metadata as { labels?: unknown } | undefined)?.labels;
  if (!labels || typeof labels !== "object") return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  return out;
}

function stringList(r: FieldReader, path: FieldPath): { value: string; index: number }[] {
  const out: { value: string; index: number }[] = [];
  (r.array(path) ?? []).forEach((v, index) => {
    if (typeof v === "string") out.push({ value: v, index });
    else r.error([...path, index], `expected a string, got ${describe(v)}`);
  });
  return out;
}

function readServiceEntry(r: FieldReader, defaultExportTo: readonly string[]): ServiceEntry | undefined {
  const m = r.manifest;
  const namespace = m.namespace ?? "default";
  if (!m.name) return r.error(["metadata", "name"], "a ServiceEntry needs a name");
  const spec = r.object(["spec"]);
  if (!spec) return r.error(["spec"], "a ServiceEntry needs a spec");
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.includes(key)) r.error(["spec", key], `unknown field "${key}" in a ServiceEntry spec`);
  }

  const resolutionRaw = r.string(["spec", "resolution"]) ?? "NONE";
  if (!RESOLUTIONS.includes(resolutionRaw)) {
    r.error(["spec", "resolution"], `unknown resolution "${resolutionRaw}" (expected NONE, STATIC, DNS, DNS_ROUND_ROBIN or DYNAMIC_DNS)`);
  }
  const resolution = (RESOLUTIONS.includes(resolutionRaw) ? resolutionRaw : "NONE") as Resolution;
  const locationRaw = r.string(["spec", "location"]) ?? "MESH_EXTERNAL";
  if (locationRaw !== "MESH_EXTERNAL" && locationRaw !== "MESH_INTERNAL") {
    r.error(["spec", "location"], `unknown location "${locationRaw}" (expected MESH_EXTERNAL or MESH_INTERNAL)`);
  }
  const location = (locationRaw === "MESH_INTERNAL" ? "MESH_INTERNAL" : "MESH_EXTERNAL") as Location;

  // workloadSelector (ValidateAlphaWorkloadSelector).
  let workloadSelector: Labels | undefined;
  if (r.get(["spec", "workloadSelector"]) !== undefined && r.get(["spec", "workloadSelector"]) !== null) {
    workloadSelector = r.stringMap(["spec", "workloadSelector", "labels"]);
    for (const [k, v] of Object.entries(workloadSelector)) {
      if (k === "") r.error(["spec", "workloadSelector", "labels"], "empty key is not supported in selector");
      if (k.includes("*") || v.includes("*")) r.error(["spec", "workloadSelector", "labels", k], `wildcard is not supported in selector: "${k}=${v}"`);
    }
    if (Object.keys(workloadSelector).length === 0) r.warn(["spec", "workloadSelector"], "workload selector without labels: it selects every workload of the namespace");
  }
  const hasEndpoints = r.get(["spec", "endpoints"]) !== undefined && r.get(["spec", "endpoints"]) !== null;
  if (workloadSelector && hasEndpoints) r.error(["spec", "workloadSelector"], "only one of workloadSelector or endpoints is allowed");

  // hosts
  const hosts = stringList(r, ["spec", "hosts"]);
  if (hosts.length === 0 && !r.hasErrors) r.error(["spec", "hosts"], "a ServiceEntry must have at least one host");
  for (const { value, index } of hosts) {
    const p = ["spec", "hosts", index];
    if (value === "*") {
      r.error(p, `invalid host "*": a ServiceEntry cannot register every host`);
      continue;
    }
    const err = validateWildcardDomain(value);
    if (err) r.error(p, err);
    else if (resolution !== "DYNAMIC_DNS" && isPartialWildcard(value)) r.warn(p, `partial wildcard "${value}": only "*." as the whole first label is supported`);
  }

  // addresses
  let addressSet = IPSet.none();
  let cidrFound = false;
  const addresses = stringList(r, ["spec", "addresses"]);
  for (const { value, index } of addresses) {
    const p = ["spec", "addresses", index];
    try {
      if (value.split("/").length === 2) {
        cidrFound = true;
        addressSet = addressSet.union(IPSet.fromCidr(value));
      } else addressSet = addressSet.union(IPSet.fromIP(value));
    } catch (e) {
      r.error(p, e instanceof CidrError ? `${e.message} (expected an IP address or a CIDR)` : String(e));
    }
  }
  if (cidrFound && resolution !== "NONE" && resolution !== "STATIC") {
    r.error(["spec", "addresses"], `CIDR addresses are allowed only with resolution NONE or STATIC, not ${resolution}`);
  }

  // ports
  const ports: ServiceEntryPort[] = [];
  const names = new Set<string>();
  const numbers = new Set<number>();
  (r.array(["spec", "ports"]) ?? []).forEach((raw, i) => {
    const p = ["spec", "ports", i];
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return void r.error(p, `a port must be a mapping, got ${describe(raw)}`);
    for (const key of Object.keys(raw)) if (!PORT_FIELDS.includes(key)) r.error([...p, key], `unknown field "${key}" in a ServiceEntry port`);
    const number = r.integer([...p, "number"]);
    const name = r.string([...p, "name"]) ?? "";
    const protoRaw = r.string([...p, "protocol"]) ?? "";
    const targetPort = r.integer([...p, "targetPort"]);
    if (number === undefined) return void r.error([...p, "number"], "a ServiceEntry port needs a number");
    if (number < 1 || number > 65535) r.error([...p, "number"], `port number ${number} must be in the range 1..65535`);
    if (numbers.has(number)) r.error([...p, "number"], `ServiceEntry port ${number} is already defined`);
    numbers.add(number);
    if (!isDNS1123Label(name)) r.error([...p, "name"], name === "" ? "a ServiceEntry port needs a name" : `invalid port name "${name}" (a DNS label)`);
    else if (names.has(name)) r.error([...p, "name"], `ServiceEntry port name "${name}" is already defined`);
    names.add(name);
    const protocol = protoRaw === "" ? "" : PROTOCOLS[protoRaw.toLowerCase()];
    if (protocol === undefined) r.error([...p, "protocol"], `unsupported protocol "${protoRaw}" (expected HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, UDP, Mongo, Redis or MySQL)`);
    if (targetPort !== undefined && targetPort !== 0 && (targetPort < 1 || targetPort > 65535)) r.error([...p, "targetPort"], `port number ${targetPort} must be in the range 1..65535`);
    if (addresses.length === 0 && metaLabels(m)["networking.istio.io/enable-autoallocate-ip"] === "false" && (protoRaw === "" || protocol === "TCP")) {
      r.warn(p, "addresses are required for ports serving TCP (or unset) protocol when IP auto-allocation is not enabled");
    }
    ports.push({ number, name, protocol: protocol ?? "", ...(targetPort ? { targetPort } : {}), line: m.lineOf(p) });
  });

  // endpoints
  const endpoints: ServiceEntryEndpoint[] = [];
  const endpointList = r.array(["spec", "endpoints"]) ?? [];
  endpointList.forEach((raw, i) => {
    const p = ["spec", "endpoints", i];
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return void r.error(p, "endpoint cannot be nil");
    for (const key of Object.keys(raw)) if (!ENDPOINT_FIELDS.includes(key)) r.error([...p, key], `unknown field "${key}" in a ServiceEntry endpoint`);
    const address = r.string([...p, "address"]) ?? "";
    const network = r.string([...p, "network"]);
    const epPorts: Record<string, number> = {};
    for (const [name, v] of Object.entries(r.object([...p, "ports"]) ?? {})) {
      if (typeof v !== "number" || !Number.isInteger(v)) {
        r.error([...p, "ports", name], `expected a port number, got ${describe(v)}`);
        continue;
      }
      if (!names.has(name)) r.error([...p, "ports", name], `endpoint port ${v} is not defined by the service entry (no port named "${name}")`);
      if (v < 1 || v > 65535) r.error([...p, "ports", name], `port number ${v} must be in the range 1..65535`);
      epPorts[name] = v;
    }
    const labels = r.stringMap([...p, "labels"]);
    if (resolution === "STATIC") {
      if (address === "") {
        if (!network) r.error([...p, "address"], "address is required");
        else r.warn([...p, "address"], `address is unset with network "${network}"`);
      } else if (address.startsWith("unix://")) {
        if (Object.keys(epPorts).length > 0) r.error([...p, "ports"], `unix endpoint ${address} must not include ports`);
      } else if (!parseIP(address)) r.error([...p, "address"], `endpoint address "${address}" is not a valid IP address (resolution STATIC)`);
    } else if (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") {
      if (!parseIP(address) && validateFQDN(address)) r.error([...p, "address"], `endpoint address "${address}" is not a valid FQDN or an IP address`);
    }
    endpoints.push({ address, ports: epPorts, labels, line: m.lineOf(p) });
  });

  switch (resolution) {
    case "NONE":
      if (endpointList.length > 0) r.error(["spec", "endpoints"], "no endpoints should be provided for resolution type NONE");
      if (workloadSelector) r.warn(["spec", "workloadSelector"], "workloadSelector should not be set when resolution mode is NONE");
      break;
    case "STATIC":
      // No endpoints and no selector is accepted: the entry simply has no endpoints (§4.9 r31).
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      if (endpointList.length === 0) {
        const bad = hosts.find((h) => validateFQDN(h.value) !== undefined);
        if (bad) {
          r.error(["spec", "hosts", bad.index], `hosts must be FQDNs without wildcards when resolution is ${resolution} and no endpoints are given ("${bad.value}")`);
        }
      }
      if (resolution === "DNS_ROUND_ROBIN" && endpointList.length > 1) r.error(["spec", "endpoints"], "there must be 0 or 1 endpoint for resolution DNS_ROUND_ROBIN");
      if (addresses.length > 0 && hosts.length > 1 && ports.some((p) => protocolClass(p.protocol) === "tcp" || protocolClass(p.protocol) === "tls")) {
        r.warn(["spec", "hosts"], "a service entry cannot have more than one host together with addresses and a TCP port");
      }
      break;
    case "DYNAMIC_DNS":
      for (const { value, index } of hosts) if (!isWildcardHost(value)) r.error(["spec", "hosts", index], "hosts must be wildcarded for resolution DYNAMIC_DNS");
      if (addresses.length > 0) r.error(["spec", "addresses"], "addresses cannot be set for resolution DYNAMIC_DNS");
      if (endpointList.length > 0) r.error(["spec", "endpoints"], "endpoints cannot be set for resolution DYNAMIC_DNS");
      ports.forEach((p, i) => {
        if (!["HTTP", "TLS", "GRPC", "HTTP2"].includes(p.protocol)) r.error(["spec", "ports", i, "protocol"], "only HTTP, TLS, GRPC and HTTP2 are supported for resolution DYNAMIC_DNS");
      });
      if (location === "MESH_INTERNAL" && (metaLabels(m)["istio.io/use-waypoint"] ?? "none").toLowerCase() !== "none") {
        r.error(["spec", "location"], "location MESH_INTERNAL with resolution DYNAMIC_DNS is not supported when using waypoints");
      }
      break;
  }
  if (resolution !== "NONE" && hosts.length > 1) {
    const i = ports.findIndex((p) => protocolClass(p.protocol) !== "http" && protocolClass(p.protocol) !== "tls");
    if (i >= 0) r.error(["spec", "hosts"], `multiple hosts with a non-HTTP, non-TLS port (${ports[i]!.number}) need resolution NONE: the proxy cannot tell the hosts apart`);
  }

  // exportTo
  const exportRaw = stringList(r, ["spec", "exportTo"]);
  validateExportTo(r, ["spec", "exportTo"], namespace, exportRaw);
  const exportTo = exportRaw.length > 0 ? exportRaw.map((e) => e.value) : [...defaultExportTo];

  return {
    namespace,
    name: m.name,
    hosts: hosts.map((h) => h.value),
    addresses: addresses.map((a) => a.value),
    addressSet,
    ports,
    location,
    resolution,
    endpoints,
    workloadSelector,
    exportTo,
    exportToDefaulted: exportRaw.length === 0,
    labels: metaLabels(m),
    file: m.source.file,
    line: m.source.line,
    manifest: m,
  };
}

/** istio `validateExportTo` for a ServiceEntry (`~` allowed, alone). */
function validateExportTo(r: FieldReader, path: FieldPath, namespace: string, values: { value: string; index: number }[]): void {
  const seen = new Set<string>();
  for (const { value, index } of values) {
    const key = value === "." ? namespace : value;
    if (seen.has(key)) {
      r.error([...path, index], key !== value ? `duplicate entries in exportTo: . and the current namespace ${namespace}` : `duplicate entry "${value}" in exportTo`);
      continue;
    }
    if (value !== "~" && value !== "*" && value !== "." && !isDNS1123Label(value)) {
      r.error([...path, index], `"${value}": only ., *, ~ or a namespace name is allowed in exportTo`);
      continue;
    }
    seen.add(key);
  }
  if (seen.has("*") && values.length > 1) r.error(path, "cannot have both public (*) and non-public exportTo values");
  if (seen.has("~") && values.length > 1) r.error(path, "cannot export a service entry to no one (~) and someone");
}

/** Whether a service exported with `exportTo` from `ownNamespace` is visible in `clientNamespace` (`IsServiceVisible`). */
export function isExportedTo(exportTo: readonly string[], ownNamespace: string, clientNamespace: string): boolean {
  return exportTo.includes("*") || (exportTo.includes(".") && ownNamespace === clientNamespace) || exportTo.includes(clientNamespace);
}

export function serviceEntryRef(e: ServiceEntry | RejectedServiceEntry, rule: number | null = null): PolicyRef {
  return { kind: "ServiceEntry", namespace: e.namespace, name: e.name, rule, file: e.file, line: e.line };
}

// ---------------------------------------------------------------------------
// The registry question

/** What the client speaks on the connection: plaintext HTTP (Host), TLS (SNI), or opaque TCP. */
export type ClientProtocol = "http" | "tls" | "tcp";

export interface RegistryQuery {
  /** Namespace of the client (visibility through exportTo). */
  namespace: string;
  /** The DNS name the client uses (HTTP Host without port, TLS SNI). */
  host?: string;
  /** The destination IP address, when known. */
  ip?: string;
  port: number;
  /** Undefined: the protocol the matching port declares (sniffed ports: HTTP when a host is given). */
  app?: ClientProtocol;
}

export interface RegistryCandidate {
  entry: ServiceEntry;
  port: ServiceEntryPort;
  /** How the connection matched: Host/SNI name, destination address, or the port alone (entry without addresses). */
  by: "host" | "sni" | "address" | "port";
  /** The entry host that matched the client's name (undefined when matched by address or port). */
  host?: string;
  /** Higher is more specific (what Envoy picks among several). */
  specificity: number;
  visible: boolean;
  /** One phrase for explanations, e.g. `host zenquotes.io on port 443 (HTTPS)`. */
  detail: string;
  notes: string[];
}

export interface RegistryNearMiss {
  entry: ServiceEntry | RejectedServiceEntry;
  why: string;
}

export interface RegistryAnswer {
  /** The most specific visible entry that takes the connection, if any. */
  match: RegistryCandidate | null;
  /** Every entry that takes it, visible or not, most specific first. */
  candidates: RegistryCandidate[];
  /** Entries that almost match (other port, wrong protocol, not exported, invalid), for the explanation. */
  nearMisses: RegistryNearMiss[];
}

function singleAddress(a: string): string | undefined {
  const [ip, prefix] = a.split("/");
  if (!ip || !parseIP(ip)) return undefined;
  if (prefix === undefined) return ip;
  const family = parseIP(ip)!.family;
  return (family === 4 && prefix === "32") || (family === 6 && prefix === "128") ? ip : undefined;
}

function hostSpecificity(pattern: string): number {
  // Exact names beat wildcards; longer wildcard suffixes beat shorter ones.
  return isWildcardHost(pattern) ? 1000 + pattern.length : 3000;
}

function addressSpecificity(e: ServiceEntry, ip: string): number {
  let best = 0;
  for (const a of e.addresses) {
    const [addr, prefix] = a.split("/");
    const parsed = addr ? parseIP(addr) : null;
    if (!parsed) continue;
    const len = prefix === undefined ? (parsed.family === 4 ? 32 : 128) : Number(prefix);
    try {
      if ((prefix === undefined ? IPSet.fromIP(a) : IPSet.fromCidr(a)).contains(ip)) best = Math.max(best, 2000 + len);
    } catch {
      // invalid addresses were reported by the scanner
    }
  }
  return best;
}

export class ServiceEntryRegistry {
  constructor(
    readonly entries: readonly ServiceEntry[],
    readonly rejected: readonly RejectedServiceEntry[] = [],
  ) {}

  static fromScan(scan: ServiceEntryScan): ServiceEntryRegistry {
    return new ServiceEntryRegistry(scan.entries, scan.rejected);
  }

  /** Entries visible to a namespace through exportTo. */
  visibleTo(namespace: string): ServiceEntry[] {
    return this.entries.filter((e) => isExportedTo(e.exportTo, e.namespace, namespace));
  }

  /** Which entry takes the connection (see the module comment for the listener model). */
  query(q: RegistryQuery): RegistryAnswer {
    const candidates: RegistryCandidate[] = [];
    const nearMisses: RegistryNearMiss[] = [];
    const ip = q.ip ?? (q.host && parseIP(q.host) ? q.host : undefined);
    const name = q.host && !parseIP(q.host) ? q.host : undefined;
    for (const e of this.entries) {
      const visible = isExportedTo(e.exportTo, e.namespace, q.namespace);
      const port = e.ports.find((p) => p.number === q.port);
      const nameMatches = name !== undefined && e.hosts.some((h) => requestHostMatches(h, name));
      const ipMatches = ip !== undefined && e.addressSet.contains(ip);
      if (!port) {
        if (nameMatches || ipMatches) {
          const declared = e.ports.map((p) => p.number).join(", ") || "none";
          nearMisses.push({ entry: e, why: `ServiceEntry ${e.namespace}/${e.name} registers ${nameMatches ? name : ip} but not port ${q.port} (ports: ${declared})` });
        }
        continue;
      }
      const c = matchPort(e, port, q, name, ip);
      if (c.match) {
        candidates.push({ entry: e, port, visible, ...c.match });
        if (!visible) {
          nearMisses.push({
            entry: e,
            why: `ServiceEntry ${e.namespace}/${e.name} matches but is exported only to ${e.exportTo.join(", ")}${e.exportToDefaulted ? " (MeshConfig defaultServiceExportTo)" : ""}, not to namespace ${q.namespace}`,
          });
        }
      } else if (c.miss && (nameMatches || ipMatches)) nearMisses.push({ entry: e, why: c.miss });
    }
    for (const rej of this.rejected) {
      if (name !== undefined && rej.hosts.some((h) => h !== "*" && requestHostMatches(h, name))) {
        nearMisses.push({ entry: rej, why: `ServiceEntry ${rej.namespace}/${rej.name} names ${name} but is invalid (${rej.errors[0] ?? "rejected"}), so it is not in the registry` });
      }
    }
    candidates.sort((a, b) => b.specificity - a.specificity || (a.entry.namespace === q.namespace ? -1 : 0) - (b.entry.namespace === q.namespace ? -1 : 0));
    return { match: candidates.find((c) => c.visible) ?? null, candidates, nearMisses };
  }
}

/** `api.example.com`, or `api.example.com (*.example.com)` when a wildcard matched. */
function named(name: string, pattern: string): string {
  return pattern.toLowerCase() === name.toLowerCase() ? name : `${name} (${pattern})`;
}

type PortMatch = { match?: Omit<RegistryCandidate, "entry" | "port" | "visible">; miss?: string };

function matchPort(e: ServiceEntry, port: ServiceEntryPort, q: RegistryQuery, name: string | undefined, ip: string | undefined): PortMatch {
  const cls = protocolClass(port.protocol);
  const id = `ServiceEntry ${e.namespace}/${e.name}`;
  const portText = `port ${port.number}${port.protocol ? ` (${port.protocol})` : ""}`;
  if (cls === "udp") return { miss: `${id} declares ${portText}, which the sidecar does not capture` };
  const app: ClientProtocol = q.app ?? (cls === "http" ? "http" : cls === "tls" ? "tls" : cls === "auto" && name ? "http" : "tcp");
  const notes: string[] = [];
  const hostPattern = name !== undefined ? e.hosts.find((h) => requestHostMatches(h, name)) : undefined;

  if (app === "http" && (cls === "http" || cls === "auto")) {
    // Routed by Host header on the shared 0.0.0.0:PORT HTTP route.
    if (hostPattern !== undefined) return { match: { by: "host", host: hostPattern, specificity: hostSpecificity(hostPattern), detail: `host ${named(name!, hostPattern)} on ${portText}`, notes } };
    const literal = name === undefined && ip !== undefined ? e.addresses.map(singleAddress).find((a) => a === ip) : undefined;
    if (literal) return { match: { by: "address", specificity: 3000, detail: `Host ${ip} (an address of the entry) on ${portText}`, notes } };
    if (ip !== undefined && e.addressSet.contains(ip)) {
      return { miss: `${id} covers ${ip} on ${portText}, but HTTP is routed by Host header and the request's Host (${name ?? ip}) is not one of its hosts (${e.hosts.join(", ")})` };
    }
    return {};
  }
  if (cls === "http") {
    return { miss: `${id} declares ${portText} as HTTP, but the client speaks ${app === "tls" ? "TLS" : "plain TCP"} there` };
  }
  // TCP-like listener: bound to the entry's addresses, else 0.0.0.0:PORT.
  if (e.addresses.length > 0) {
    if (ip !== undefined) {
      const s = addressSpecificity(e, ip);
      if (s > 0) return { match: { by: "address", specificity: s, detail: `address ${ip} (${e.addresses.join(", ")}) on ${portText}`, notes } };
      return hostPattern !== undefined ? { miss: `${id} has host ${hostPattern} but its addresses (${e.addresses.join(", ")}) do not include ${ip}` } : {};
    }
    if (hostPattern !== undefined) {
      notes.push(`assumed that ${name} resolves to an address of ServiceEntry ${e.namespace}/${e.name} (${e.addresses.join(", ")})`);
      return { match: { by: "host", host: hostPattern, specificity: hostSpecificity(hostPattern), detail: `host ${named(name!, hostPattern)} on ${portText}`, notes } };
    }
    return {};
  }
  if (cls === "tls") {
    if (app !== "tls") return hostPattern !== undefined ? { miss: `${id} matches TLS connections by SNI on ${portText}, but the client does not speak TLS` } : {};
    if (hostPattern !== undefined) return { match: { by: "sni", host: hostPattern, specificity: hostSpecificity(hostPattern), detail: `SNI ${named(name!, hostPattern)} on ${portText}`, notes } };
    return name === undefined ? { miss: `${id} matches TLS connections by SNI, and the connection names no host` } : {};
  }
  // TCP or sniffed port without addresses: a 0.0.0.0:PORT listener takes every destination IP.
  if (hostPattern === undefined || (ip !== undefined && name === undefined)) {
    notes.push(
      `ServiceEntry ${e.namespace}/${e.name} has no addresses, so its ${portText} takes connections to every IP on that port${e.resolution === "NONE" ? "" : ` and forwards them to its ${e.resolution} endpoints`} (§4.9 r29)`,
    );
  }
  const specificity = hostPattern !== undefined ? 500 : 100;
  return { match: { by: hostPattern !== undefined ? "host" : "port", ...(hostPattern !== undefined ? { host: hostPattern } : {}), specificity, detail: hostPattern !== undefined ? `host ${name} on ${portText}` : `${portText} (no addresses: every IP)`, notes } };
}
