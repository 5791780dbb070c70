/**
 * Changes at the Istio enforcement points: an ALLOW rule for the client's
 * identity (or address) and the port at an AuthorizationPolicy, the missing
 * host at a sidecar's outbound control (Sidecar egress hosts, a ServiceEntry,
 * an entry's exportTo), and PeerAuthentication STRICT against a plaintext
 * client (a PERMISSIVE port, or the client enrolled in the mesh).
 */
import type { Scenario } from "../analysis/scenario.js";
import type { AuthorizationPolicy, PeerAuthentication } from "../layers/istio/authorization.js";
import { LABEL_DATAPLANE_MODE, LABEL_GATEWAY_NAME, LABEL_INJECTION_NS } from "../layers/istio/membership.js";
import type { EgressDestination } from "../layers/istio/sidecar-egress.js";
import type { PolicyRef } from "../layers/types.js";
import type { Labels } from "../model/selector.js";
import { parseIP } from "../sets/index.js";
import type { Workload } from "../model/types.js";
import { serviceInFrontOf } from "../path/index.js";
import { meshModeOf } from "../path/mesh.js";
import { identifyingLabels, newPolicyName, suggestedFile, uniqueName, workloadById, type Candidate, type HopContext, type NoFix } from "./context.js";
import { qualifiedName } from "../layers/policy-ref.js";

const isSubset = (part: Labels, of: Labels) => Object.entries(part).every(([k, v]) => of[k] === v);

/**
 * Whether an Istio policy of `namespace` with this workload selector applies to
 * `w` and to no other workload: a selector policy applies in its own namespace,
 * or, in the root namespace, to matching workloads of every namespace.
 */
function selectsOnly(scenario: Scenario, namespace: string, selector: Labels | undefined, w: Workload): boolean {
  const meshWide = namespace === scenario.mesh?.settings.rootNamespace;
  if (!meshWide && namespace !== w.namespace) return false;
  if (!selector || Object.keys(selector).length === 0 || !isSubset(selector, w.labels)) return false;
  return !scenario.cluster.workloads.some((o) => o !== w && (meshWide || o.namespace === namespace) && isSubset(selector, o.labels));
}

const refName = qualifiedName;

/** The manifest of a scanned Istio policy (security.istio.io kinds keep their file, not their manifest). */
function manifestAt(scenario: Scenario, kind: string, p: { namespace: string; name: string; file: string }) {
  return scenario.manifests.find((m) => m.kind === kind && m.name === p.name && (m.namespace ?? "default") === p.namespace && m.source.file === p.file);
}

// ---------------------------------------------------------------------------
// AuthorizationPolicy

/** Who the enforcer at `index` sees as the client: the waypoint after one, else the flow's source. */
function authzClient(ctx: HopContext): Workload | undefined {
  const hop = ctx.hops[ctx.index]!;
  if (hop.proxy !== "waypoint") {
    for (let i = ctx.index - 1; i >= 0 && ctx.hops[i]!.step !== "service"; i--) {
      const h = ctx.hops[i]!;
      if (h.step === "authorization" && h.proxy === "waypoint") return workloadById(ctx.scenario, h.at);
    }
  }
  return ctx.flow.source.kind === "workload" ? ctx.flow.source.workload : undefined;
}

export function authorizationCandidates(ctx: HopContext): Candidate[] | NoFix {
  const { scenario } = ctx;
  const mesh = scenario.mesh!;
  const hop = ctx.hops[ctx.index]!;
  const base = { layer: "istio-authorization" as const, direction: "ingress" as const, workload: hop.at };
  const policies = hop.policies.map((r) => mesh.authorizationPolicies.find((p) => p.namespace === r.namespace && p.name === r.name && p.file === r.file));
  const denying = policies.filter((p): p is AuthorizationPolicy => !!p && (p.action === "DENY" || p.action === "CUSTOM"));
  if (denying.length > 0) {
    return {
      ...base,
      reason: `${denying.map((p) => `${p.action} policy ${refName(p)} (${p.file}:${p.line})`).join(", ")} matches the request, and DENY (and CUSTOM) policies are evaluated before any ALLOW: narrow the matching rule (a notPrincipals, notPorts or notPaths that excludes this request) if the denial is not meant`,
      policies: hop.policies,
    };
  }
  const w = workloadById(scenario, hop.at);
  if (!w) return { ...base, reason: `${hop.at} is not a workload of the input`, policies: hop.policies };
  const client = authzClient(ctx);
  const port = hop.wire.port;
  // ztunnel enforces L4 only: a rule with HTTP fields would never match there.
  const http: { method?: string; path?: string } = hop.proxy !== "ztunnel" ? ctx.flow.request : {};
  const operation = {
    ports: [String(port)],
    ...(http.method ? { methods: [http.method.toUpperCase()] } : {}),
    ...(http.path ? { paths: [http.path] } : {}),
  };
  // The client's identity first; an address for a client that arrives in plaintext.
  const sources: { source: Record<string, string[]>; what: string; prerequisite?: Candidate }[] = [];
  const principal = client && `${mesh.settings.trustDomain}/ns/${client.namespace}/sa/${client.serviceAccount || "default"}`;
  if (client && meshModeOf(scenario, client) !== "none") sources.push({ source: { principals: [principal!] }, what: `principal ${principal}` });
  if (hop.wire.srcIP) sources.push({ source: { ipBlocks: [hop.wire.srcIP] }, what: `address ${hop.wire.srcIP} (the client arrives without a mesh identity)` });
  // A client outside the mesh has no identity to name until it joins: enrolment, then its principal.
  const enrol = client && enrolment(ctx, client, w, base);
  if (enrol) sources.push({ source: { principals: [principal!] }, what: `principal ${principal} (once ${client!.namespace} is in the mesh)`, prerequisite: enrol });
  if (sources.length === 0) {
    const who = client ? `${client.id} is outside the mesh: it arrives in plaintext, without an identity a rule could name,` : "the client has no mesh identity";
    return {
      ...base,
      reason: `${who} and the input gives no address for it (status.podIP) that ipBlocks could name: enrol it in the mesh and allow its principal, or give its address as FROM`,
      policies: hop.policies,
    };
  }

  // The place: an ALLOW policy that applies to this workload only, else a new one.
  const atWaypoint = hop.proxy === "waypoint";
  const service = ctx.flow.target.kind === "service" ? ctx.flow.target.service : undefined;
  const place = policies.find(
    (p): p is AuthorizationPolicy =>
      !!p &&
      p.action === "ALLOW" &&
      ctx.workspace.editable(p.file) &&
      (atWaypoint
        ? !!service && p.targetRefs.length === 1 && p.targetRefs[0]!.kind === "Service" && p.targetRefs[0]!.name === service.name && p.namespace === service.namespace
        : p.targetRefs.length === 0 && selectsOnly(scenario, p.namespace, p.selector, w)),
  );
  const waypointName = w.labels[LABEL_GATEWAY_NAME];
  const labels = identifyingLabels(scenario, w);
  const clientName = client?.name ?? hop.wire.srcIP?.replace(/[.:]/g, "-") ?? "client";
  return sources.flatMap(({ source, what, prerequisite }): Candidate[] => {
    const needs = prerequisite ? { prerequisite } : {};
    const rule = { from: [{ source }], to: [{ operation }] };
    const summary = `allow ${what} on port ${port}${operation.methods ? ` ${operation.methods[0]}` : ""}${operation.paths ? ` ${operation.paths[0]}` : ""}`;
    const m = place && manifestAt(scenario, "AuthorizationPolicy", place);
    if (place && m) {
      return [
        {
          ...base,
          summary: `add a rule to AuthorizationPolicy ${refName(place)} (it applies to ${atWaypoint ? `Service ${service!.id} at its waypoint` : `${w.id} only`}): ${summary}`,
          blockedBy: hop.policies,
          ...needs,
          change: { action: "edit", file: place.file, edit: { object: { kind: m.kind, namespace: m.namespace, name: m.name }, path: ["spec", "rules"], value: rule } },
        },
      ];
    }
    const namespace = atWaypoint ? (service?.namespace ?? w.namespace) : w.namespace;
    const name = uniqueName(scenario, ctx, namespace, newPolicyName(clientName, atWaypoint ? (service?.name ?? waypointName ?? w.name) : w.name));
    let attach: Record<string, unknown>;
    if (atWaypoint) {
      attach = service
        ? { targetRefs: [{ kind: "Service", group: "", name: service.name }] }
        : waypointName
          ? { targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: waypointName }] }
          : {};
      if (!attach.targetRefs) return [];
    } else {
      if (!labels || !selectsOnly(scenario, w.namespace, labels, w)) return [];
      attach = { selector: { matchLabels: labels } };
    }
    const object = { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name, namespace }, spec: { ...attach, action: "ALLOW", rules: [rule] } };
    return [
      {
        ...base,
        summary: `create AuthorizationPolicy ${namespace}/${name} (${atWaypoint ? "at the waypoint" : `selecting only ${w.id}`}): ${summary}`,
        blockedBy: hop.policies,
        ...needs,
        change: { action: "create", document: { file: suggestedFile(w, name), object } },
      },
    ];
  });
}

/**
 * The client's namespace labelled into the server's kind of data plane, so
 * that the client connects with a mesh identity (mTLS or HBONE). Undefined when
 * the client is in the mesh already or its Namespace is not in the input.
 */
function enrolment(ctx: HopContext, client: Workload, server: Workload, base: Pick<Candidate, "layer" | "direction" | "workload">): Candidate | undefined {
  const { scenario } = ctx;
  if (meshModeOf(scenario, client) !== "none") return undefined;
  const ns = scenario.manifests.find((m) => m.kind === "Namespace" && m.name === client.namespace);
  if (!ns || !ctx.workspace.editable(ns.source.file)) return undefined;
  const ambient = meshModeOf(scenario, server) === "ambient";
  const [key, value] = ambient ? [LABEL_DATAPLANE_MODE, "ambient"] : [LABEL_INJECTION_NS, "enabled"];
  return {
    ...base,
    summary: `enrol namespace ${client.namespace} in the mesh (${key}=${value}), so that ${client.id} connects with a mesh identity${ambient ? "" : " (its pods must be restarted to get a sidecar)"}`,
    blockedBy: ctx.hops[ctx.index]!.policies,
    change: { action: "edit", file: ns.source.file, edit: { object: { kind: "Namespace", namespace: ns.namespace, name: ns.name }, path: ["metadata", "labels"], key, value } },
  };
}

// ---------------------------------------------------------------------------
// PeerAuthentication

export function peerAuthenticationCandidates(ctx: HopContext): Candidate[] | NoFix {
  const { scenario } = ctx;
  const mesh = scenario.mesh!;
  const hop = ctx.hops[ctx.index]!;
  const base = { layer: "istio-peerauthentication" as const, direction: "ingress" as const, workload: hop.at };
  const w = workloadById(scenario, hop.at);
  if (!w) return { ...base, reason: `${hop.at} is not a workload of the input`, policies: hop.policies };
  const port = hop.wire.port;
  const out: Candidate[] = [];

  // 1. This port PERMISSIVE at this workload only.
  const own = mesh.peerAuthentications.find((p: PeerAuthentication) => selectsOnly(scenario, p.namespace, p.selector, w) && ctx.workspace.editable(p.file));
  const permissive = { mode: "PERMISSIVE" };
  const ownManifest = own && manifestAt(scenario, "PeerAuthentication", own);
  if (own && ownManifest) {
    const m = ownManifest;
    out.push({
      ...base,
      summary: `set port ${port} PERMISSIVE in PeerAuthentication ${refName(own)} (it selects only ${w.id}): plaintext is accepted on that port, mTLS still used by mesh clients`,
      blockedBy: hop.policies,
      change: { action: "edit", file: own.file, edit: { object: { kind: m.kind, namespace: m.namespace, name: m.name }, path: ["spec", "portLevelMtls"], key: String(port), value: permissive } },
    });
  } else {
    const labels = identifyingLabels(scenario, w);
    if (labels && selectsOnly(scenario, w.namespace, labels, w)) {
      const name = uniqueName(scenario, ctx, w.namespace, `${w.name}-permissive-${port}`);
      out.push({
        ...base,
        summary: `create PeerAuthentication ${w.namespace}/${name} selecting only ${w.id} with port ${port} PERMISSIVE (the rest keeps the namespace's mode)`,
        blockedBy: hop.policies,
        change: {
          action: "create",
          document: {
            file: suggestedFile(w, name),
            object: { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name, namespace: w.namespace }, spec: { selector: { matchLabels: labels }, portLevelMtls: { [String(port)]: permissive } } },
          },
        },
      });
    }
  }

  // 2. The client enrolled in the mesh (its namespace labelled), so that it speaks mTLS.
  const client = ctx.flow.source.kind === "workload" ? ctx.flow.source.workload : undefined;
  const enrol = client && enrolment(ctx, client, w, base);
  if (enrol) out.push(enrol);
  if (out.length === 0) return { ...base, reason: `no PeerAuthentication selects ${w.id} alone and no label set does: set port ${port} PERMISSIVE in ${hop.policies.map(refName).join(", ")} or enrol the client in the mesh`, policies: hop.policies };
  return out;
}

// ---------------------------------------------------------------------------
// Sidecar outbound control

/** What the client's sidecar is asked for, the way the wire path asks it. */
function egressDestination(ctx: HopContext): EgressDestination | undefined {
  const { target } = ctx.flow;
  if (target.kind === "service") return { kind: "service", service: target.service, port: target.port.port };
  const hop = ctx.hops[ctx.index]!;
  if (target.kind === "workload") {
    // Mesh clients reach a workload named without its address through its Service.
    const front = target.ip ? undefined : serviceInFrontOf(ctx.scenario, target.workload, hop.wire);
    if (front) return { kind: "service", service: front.service, port: front.port.port };
    return { kind: "workload", workload: target.workload, ...(target.ip ? { ip: target.ip } : {}), port: hop.wire.port };
  }
  if (target.kind === "external") {
    const host = ctx.flow.request.host?.replace(/:\d+$/, "") || target.host;
    return { kind: "external", ...(host ? { host } : {}), ...(target.ip ? { ip: target.ip } : {}), port: hop.wire.port };
  }
  return undefined;
}

export function egressCandidates(ctx: HopContext): Candidate[] | NoFix {
  const { scenario } = ctx;
  const mesh = scenario.mesh!;
  const hop = ctx.hops[ctx.index]!;
  const base = { layer: "istio-egress" as const, direction: "egress" as const, workload: hop.at };
  const noFix = (reason: string): NoFix => ({ ...base, reason, policies: hop.policies });
  const source = workloadById(scenario, hop.at);
  const destination = egressDestination(ctx);
  if (!source || !destination) return noFix(hop.reason);
  const { request } = ctx.flow;
  const http = request.method !== undefined || request.path !== undefined || request.host !== undefined || (destination.kind === "external" && hop.wire.protocol === "TCP" && destination.port === 80);
  const d = mesh.egress.evaluate({ source, sourceMode: "sidecar", destination, protocol: hop.wire.protocol, ...(http ? { app: "http" as const } : {}) });
  const missing = d.missing;
  if (!missing) return noFix(hop.reason);
  if (missing.kind === "SidecarEgressHost") {
    const sidecar = mesh.sidecars.find((s) => s.namespace === missing.namespace && s.name === missing.name);
    const listener = hop.policies.find((p: PolicyRef) => p.kind === "Sidecar" && p.namespace === missing.namespace && p.name === missing.name && p.rule !== null)?.rule;
    if (!sidecar || listener === undefined || listener === null || !missing.host || !ctx.workspace.editable(sidecar.file)) return noFix(missing.suggestion);
    const m = sidecar.manifest;
    return [
      {
        ...base,
        summary: `add "${missing.host}" to the hosts of egress[${listener}] of Sidecar ${refName(sidecar)}`,
        blockedBy: hop.policies,
        change: { action: "edit", file: sidecar.file, edit: { object: { kind: m.kind, namespace: m.namespace, name: m.name }, path: ["spec", "egress", listener, "hosts"], value: missing.host } },
      },
    ];
  }
  if (missing.kind === "ExportTo") {
    const m = scenario.manifests.find((x) => x.kind === "ServiceEntry" && x.name === missing.name && (x.namespace ?? "default") === missing.namespace);
    const exportTo = (m?.raw.spec as { exportTo?: unknown } | undefined)?.exportTo;
    // Without exportTo the entry follows the mesh default: writing one would hide it from everyone else.
    if (!m || !Array.isArray(exportTo) || !ctx.workspace.editable(m.source.file)) return noFix(missing.suggestion);
    return [
      {
        ...base,
        summary: `export ServiceEntry ${missing.namespace}/${missing.name} to namespace ${source.namespace}`,
        blockedBy: hop.policies,
        change: { action: "edit", file: m.source.file, edit: { object: { kind: m.kind, namespace: m.namespace, name: m.name }, path: ["spec", "exportTo"], value: source.namespace } },
      },
    ];
  }
  if (missing.kind === "ServiceEntry" && destination.kind === "external") {
    const port = destination.port;
    const app = http ? "http" : port === 443 ? "tls" : "tcp";
    const portSpec = { number: port, name: `${app}-${port}`, protocol: app.toUpperCase() };
    // A request whose Host is an address is routed by the entry's addresses (they become route domains).
    const hostIsAddress = destination.host !== undefined && parseIP(destination.host) !== null;
    const ip = destination.host && !hostIsAddress ? undefined : hostIsAddress ? destination.host : destination.ip;
    const host = destination.host && !hostIsAddress ? destination.host : `ip-${(ip ?? "unknown").replace(/[.:]/g, "-")}.external`;
    const name = uniqueName(scenario, ctx, source.namespace, host.replace(/[^a-z0-9-]+/gi, "-").toLowerCase().replace(/^-+|-+$/g, "").slice(0, 63));
    const spec = ip
      ? { hosts: [host], addresses: [ip], ports: [portSpec], location: "MESH_EXTERNAL", resolution: "STATIC", endpoints: [{ address: ip }] }
      : { hosts: [host], ports: [portSpec], location: "MESH_EXTERNAL", resolution: "DNS" };
    return [
      {
        ...base,
        summary: `register ${ip ?? host} on port ${port} with a ServiceEntry in ${source.namespace}, so that ${source.id}'s sidecar has a route for it`,
        blockedBy: hop.policies,
        change: {
          action: "create",
          document: { file: suggestedFile(source, name), object: { apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name, namespace: source.namespace }, spec } },
        },
      },
    ];
  }
  return noFix(missing.suggestion);
}
