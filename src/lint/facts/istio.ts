/** Facts the Istio lint rules share, read from the built scenario and its mesh. */
import type { Scenario } from "../../analysis/scenario.js";
import type { AuthorizationPolicy, AuthzRule, SourceField } from "../../layers/istio/authorization.js";
import { ipBlock } from "../../layers/istio/strings.js";
import type { IstioMesh } from "../../layers/istio/index.js";
import type { ServiceEntry, ServiceEntryPort } from "../../layers/istio/serviceentry.js";
import { protocolClass } from "../../layers/istio/serviceentry.js";
import type { FieldPath } from "../../load/types.js";
import type { Service, Workload } from "../../model/types.js";
import { serviceBackends } from "../../path/index.js";
import type { ResourceRef } from "../rule.js";
import { podSpecOf } from "../../model/pod-template.js";

/** The line of `path` in an AuthorizationPolicy's document (the scanned policy keeps no document), else the policy's own line. */
export function policyLine(scenario: Scenario, p: AuthorizationPolicy, path: FieldPath): number {
  return p.manifest.lineOf(path);
}

export function authzResource(p: AuthorizationPolicy): ResourceRef {
  return { kind: "AuthorizationPolicy", namespace: p.namespace, name: p.name };
}

/** Policies the proxies enforce and attach by selector (not dry-run, no targetRefs). */
export function enforcedSelectorPolicies(mesh: IstioMesh): AuthorizationPolicy[] {
  return mesh.authorizationPolicies.filter((p) => !p.dryRun && p.targetRefs.length === 0);
}

/**
 * The mesh workloads a selector (or namespace-wide) policy binds to at their own
 * proxy: the policy's namespace, or every namespace from the root namespace.
 */
export function attachedWorkloads(scenario: Scenario, p: AuthorizationPolicy): Workload[] {
  const mesh = scenario.mesh;
  if (!mesh || p.targetRefs.length > 0) return [];
  return scenario.cluster.workloads.filter(
    (w) =>
      (p.namespace === w.namespace || p.namespace === mesh.settings.rootNamespace) &&
      (!p.selector || Object.entries(p.selector).every(([k, v]) => w.labels[k] === v)) &&
      mesh.membership(w).mode !== "none",
  );
}

/** Source fields that compare the client's address. */
export const ADDRESS_FIELDS: readonly SourceField[] = ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"];

/** `when` keys that compare the client's address. */
const ADDRESS_KEYS = new Set(["source.ip", "remote.ip"]);

/** One place where a rule names client addresses: a source field or a `when` condition. */
export interface AddressCondition {
  /** `remoteIpBlocks`, `when source.ip`, … */
  field: string;
  values: readonly string[];
  path: FieldPath;
}

export function addressConditions(rule: AuthzRule): AddressCondition[] {
  const out: AddressCondition[] = [];
  (rule.from ?? []).forEach((f, j) => {
    for (const field of ADDRESS_FIELDS) {
      if (f.source[field].length > 0) out.push({ field, values: f.source[field], path: ["spec", "rules", rule.index, "from", j, "source", field] });
    }
  });
  rule.when.forEach((c, j) => {
    if (!ADDRESS_KEYS.has(c.key)) return;
    if (c.values.length > 0) out.push({ field: `when ${c.key}`, values: c.values, path: ["spec", "rules", rule.index, "when", j, "values"] });
    if (c.notValues.length > 0) out.push({ field: `when ${c.key} notValues`, values: c.notValues, path: ["spec", "rules", rule.index, "when", j, "notValues"] });
  });
  return out;
}

/** Documentation addresses (RFC 5737) and public resolvers: stand-ins for "some other client". */
const OUTSIDE_CANDIDATES = ["198.51.100.23", "203.0.113.77", "192.0.2.45", "8.8.8.8", "2001:db8::23"];

/**
 * Client addresses that tell an address list apart: the first address of every
 * listed block, and one address outside all of them (when there is one).
 */
export function probeAddresses(blocks: readonly string[]): string[] {
  const sets = blocks.map((b) => ipBlock(b)).filter((s): s is NonNullable<typeof s> => s !== null);
  const inside = sets.map((s) => s.toRanges()[0]!.split("-")[0]!);
  // An address of a family the list does not name would differ for that reason alone.
  const families = new Set(blocks.map((b) => (b.includes(":") ? 6 : 4)));
  const outside = OUTSIDE_CANDIDATES.find((ip) => families.has(ip.includes(":") ? 6 : 4) && !sets.some((s) => s.contains(ip)));
  return [...new Set([...inside, ...(outside ? [outside] : [])])];
}

/** Every CIDR that covers all addresses of its family. */
export function isEveryAddress(block: string): boolean {
  return /\/0$/.test(block.trim()) && ipBlock(block.trim()) !== null;
}

/** NodePort and LoadBalancer Services with externalTrafficPolicy Cluster in front of `w`. */
export function clusterPolicyServicesOf(scenario: Scenario, w: Workload): Service[] {
  return scenario.cluster.services.filter(
    (s) => (s.type === "LoadBalancer" || s.type === "NodePort") && s.externalTrafficPolicy === "Cluster" && serviceBackends(scenario, s).includes(w),
  );
}

/** Istio's own ports (status, admin, stats): the proxy answers them itself. */
export function isProxyPort(port: number): boolean {
  return port >= 15000 && port <= 15099;
}

/**
 * A connection that a ServiceEntry port is meant to take: to its first address (or
 * an address of its first block), else by its first host (a wildcard made concrete).
 */
export function entryProbe(e: ServiceEntry, port: ServiceEntryPort): { host?: string; ip?: string; app: "http" | "tls" | "tcp" } {
  const cls = protocolClass(port.protocol);
  const app = cls === "http" ? "http" : cls === "tls" ? "tls" : "tcp";
  const block = e.addresses[0];
  const ip = block ? ipBlock(block)?.toRanges()[0]?.split("-")[0] : undefined;
  const first = e.hosts[0];
  const host = first ? first.replace(/^\*\./, "probe.").replace(/^\*$/, "probe.example") : undefined;
  if (app === "http") return { ...(host ? { host } : {}), app };
  return { ...(ip ? { ip } : host ? { host } : {}), app };
}

/**
 * Sidecar workloads whose outbound listener sends a connection to `e` on `port`
 * (the sidecar's registry answers with this entry), and whether their sidecar
 * runs REGISTRY_ONLY (where the entry is what lets the connection out).
 */
export function workloadsRoutedTo(scenario: Scenario, e: ServiceEntry, port: ServiceEntryPort, probe = entryProbe(e, port)): { workload: Workload; registryOnly: boolean }[] {
  const mesh = scenario.mesh;
  if (!mesh) return [];
  const out: { workload: Workload; registryOnly: boolean }[] = [];
  for (const w of scenario.cluster.workloads) {
    if (mesh.membership(w).mode !== "sidecar") continue;
    const d = mesh.egress.evaluate({
      source: w,
      sourceMode: "sidecar",
      destination: { kind: "external", ...(probe.host ? { host: probe.host } : {}), ...(probe.ip ? { ip: probe.ip } : {}), port: port.number },
      protocol: "TCP",
      app: probe.app,
    });
    if (d.applies && d.route === "serviceentry" && d.matched?.kind === "ServiceEntry" && d.matched.entry === e) {
      out.push({ workload: w, registryOnly: d.outboundTrafficPolicy.mode === "REGISTRY_ONLY" });
    }
  }
  return out;
}

export function serviceEntryResource(e: ServiceEntry): ResourceRef {
  return { kind: "ServiceEntry", namespace: e.namespace, name: e.name };
}

/** Every string a workload's containers are started with: env values, command and args. */
function startupStrings(w: Workload): string[] {
  const spec = podSpecOf(w);
  const containers = ["containers", "initContainers"].flatMap((k) => (Array.isArray(spec[k]) ? (spec[k] as unknown[]) : []));
  const out: string[] = [];
  for (const c of containers) {
    if (!c || typeof c !== "object") continue;
    const { env, command, args } = c as { env?: unknown; command?: unknown; args?: unknown };
    if (Array.isArray(env)) for (const e of env) if (e && typeof (e as { value?: unknown }).value === "string") out.push((e as { value: string }).value);
    for (const list of [command, args]) if (Array.isArray(list)) for (const s of list) if (typeof s === "string") out.push(s);
  }
  return out;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Where a workload's env, command or args name a Service by its DNS name
 * (`name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`), with the port the URL
 * gives, if any. Short names are left out: they are too common to tell apart.
 */
export function serviceNamedBy(w: Workload, s: Service): { text: string; port: number | undefined } | undefined {
  const pattern = new RegExp(`(?<![A-Za-z0-9.-])${escape(s.name)}\\.${escape(s.namespace)}(?:\\.svc(?:\\.cluster\\.local)?)?(?::(\\d+))?(?![A-Za-z0-9.-])`);
  for (const text of startupStrings(w)) {
    const m = pattern.exec(text);
    if (m) return { text: m[0], port: m[1] !== undefined ? Number(m[1]) : undefined };
  }
  return undefined;
}
