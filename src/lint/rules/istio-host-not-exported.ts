/**
 * A Service or ServiceEntry that the input expects a namespace to use (a Sidecar
 * of that namespace imports its host by name, a VirtualService or DestinationRule
 * there routes to it, a gateway's VirtualService sends requests to it) but whose
 * `exportTo` (or MeshConfig `defaultServiceExportTo`) leaves that namespace out:
 * the proxies there do not know the host at all.
 *
 * Sidecar imports are decided with the sidecar's egress evaluator (the call is
 * refused or passed through for want of the export); routes with the same
 * visibility rule istiod applies (`IsServiceVisible`).
 */
import type { Scenario } from "../../analysis/scenario.js";
import type { IstioMesh } from "../../layers/istio/index.js";
import { isExportedTo, type ServiceEntry } from "../../layers/istio/serviceentry.js";
import { hostSubsetOf, isWildcardHost } from "../../layers/istio/hosts.js";
import { EXPORT_TO_ANNOTATION, type SidecarResource } from "../../layers/istio/sidecar-egress.js";
import type { Manifest } from "../../load/types.js";
import type { Service, Workload } from "../../model/types.js";
import { entryProbe, serviceEntryResource } from "../facts/istio.js";
import { createRule, type ResourceRef } from "../rule.js";
import { listed } from "../util.js";

/** A registry object with its visibility. */
interface Exported {
  resource: ResourceRef;
  host: string;
  exportTo: readonly string[];
  defaulted: boolean;
  file: string;
  line: number;
  service?: Service;
  entry?: ServiceEntry;
}

function exportedService(mesh: IstioMesh, s: Service): Exported {
  const annotated = (s.manifest.raw.metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations?.[EXPORT_TO_ANNOTATION];
  return {
    resource: { kind: "Service", namespace: s.namespace, name: s.name },
    host: mesh.egress.fqdn(s),
    exportTo: mesh.egress.serviceExportTo(s),
    defaulted: typeof annotated !== "string",
    file: s.source.file,
    line: typeof annotated === "string" ? s.manifest.lineOf(["metadata", "annotations", EXPORT_TO_ANNOTATION]) : s.source.line,
    service: s,
  };
}

function exportedEntry(e: ServiceEntry, host: string): Exported {
  return {
    resource: serviceEntryResource(e),
    host,
    exportTo: e.exportTo,
    defaulted: e.exportToDefaulted,
    file: e.file,
    line: e.exportToDefaulted ? e.line : e.manifest.lineOf(["spec", "exportTo"]),
    entry: e,
  };
}

/** Services and ServiceEntries of `namespace` (`*`: any) whose host an import pattern covers. */
function importedObjects(scenario: Scenario, mesh: IstioMesh, namespace: string, pattern: string): Exported[] {
  const inNamespace = (ns: string): boolean => namespace === "*" || ns === namespace;
  const services = scenario.cluster.services.filter((s) => inNamespace(s.namespace) && hostSubsetOf(mesh.egress.fqdn(s), pattern)).map((s) => exportedService(mesh, s));
  const entries = mesh.registry.entries.flatMap((e) => {
    const host = inNamespace(e.namespace) ? e.hosts.find((h) => hostSubsetOf(h, pattern)) : undefined;
    return host ? [exportedEntry(e, host)] : [];
  });
  return [...services, ...entries];
}

/** The object a route's destination host names, read in `namespace` (a short name is a Service of that namespace). */
function destinationObject(scenario: Scenario, mesh: IstioMesh, host: string, namespace: string): Exported | undefined {
  const fqdn = host.includes(".") ? host : `${host}.${namespace}.svc.cluster.local`;
  const service = scenario.cluster.services.find((s) => mesh.egress.fqdn(s) === fqdn);
  if (service) return exportedService(mesh, service);
  const entry = mesh.registry.entries.find((e) => e.hosts.includes(fqdn));
  return entry ? exportedEntry(entry, fqdn) : undefined;
}

function sidecarWorkloads(scenario: Scenario, mesh: IstioMesh, sc: SidecarResource): Workload[] {
  return scenario.cluster.workloads.filter((w) => mesh.membership(w).mode === "sidecar" && mesh.egress.selectSidecar(w).sidecar === sc);
}

/** What a workload's sidecar does with a call to the object: refused or passed through for want of the export, else null. */
function egressForWantOfExport(mesh: IstioMesh, w: Workload, obj: Exported): string | null {
  let d;
  if (obj.service) {
    const port = obj.service.ports.find((p) => p.protocol === "TCP");
    if (!port) return null;
    d = mesh.egress.evaluate({ source: w, sourceMode: "sidecar", destination: { kind: "service", service: obj.service, port: port.port }, protocol: "TCP" });
  } else {
    const e = obj.entry!;
    const port = e.ports.find((p) => p.protocol !== "UDP");
    if (!port) return null;
    const probe = entryProbe(e, port);
    const host = isWildcardHost(obj.host) ? obj.host.replace(/^\*\.?/, "probe.") : obj.host;
    d = mesh.egress.evaluate({
      source: w,
      sourceMode: "sidecar",
      destination: { kind: "external", ...(probe.ip ? { ip: probe.ip } : { host }), port: port.number },
      protocol: "TCP",
      app: probe.app,
    });
  }
  if (!d.applies || d.missing?.kind !== "ExportTo" || d.missing.name !== obj.resource.name || d.missing.namespace !== obj.resource.namespace) return null;
  return d.verdict === "deny" ? `refused (${d.observed === "http-502" ? "HTTP 502" : "connection reset"})` : "passed through in plaintext, without mTLS";
}

/** Route destinations of a VirtualService (`http`, `tcp`, `tls`) with their paths. */
function routeDestinations(m: Manifest): { host: string; path: (string | number)[] }[] {
  const spec = (m.raw.spec ?? {}) as Record<string, unknown>;
  const out: { host: string; path: (string | number)[] }[] = [];
  for (const kind of ["http", "tcp", "tls"]) {
    const routes = spec[kind];
    if (!Array.isArray(routes)) continue;
    routes.forEach((r, i) => {
      const list = (r as { route?: unknown })?.route;
      if (!Array.isArray(list)) return;
      list.forEach((d, j) => {
        const host = (d as { destination?: { host?: unknown } })?.destination?.host;
        if (typeof host === "string") out.push({ host, path: ["spec", kind, i, "route", j, "destination", "host"] });
      });
    });
  }
  return out;
}

/** Where a VirtualService is used: the gateways it binds to (their proxies' namespaces), else its own namespace. */
function routeUsers(scenario: Scenario, mesh: IstioMesh, vs: Manifest): Workload[] {
  const ns = vs.namespace ?? "default";
  const gateways = ((vs.raw.spec as { gateways?: unknown } | undefined)?.gateways ?? []) as unknown[];
  const names = gateways.filter((g): g is string => typeof g === "string");
  const users: Workload[] = [];
  if (names.length === 0 || names.includes("mesh")) users.push(...scenario.cluster.workloads.filter((w) => w.namespace === ns && mesh.membership(w).mode === "sidecar"));
  for (const g of names) {
    if (g === "mesh") continue;
    const [gwNs, gwName] = g.includes("/") ? g.split("/") : [ns, g];
    const gw = scenario.manifests.find((m) => m.kind === "Gateway" && m.apiVersion.startsWith("networking.istio.io/") && (m.namespace ?? "default") === gwNs && m.name === gwName);
    const selector = (gw?.raw.spec as { selector?: Record<string, unknown> } | undefined)?.selector;
    if (!selector) continue;
    users.push(...scenario.cluster.workloads.filter((w) => Object.entries(selector).every(([k, v]) => w.labels[k] === v) && mesh.membership(w).mode === "gateway"));
  }
  return [...new Set(users)];
}

function fixFor(obj: Exported, namespaces: readonly string[]): string {
  const values = [...new Set([...(obj.exportTo.includes("*") ? [] : obj.exportTo), ...namespaces])];
  if (obj.service) return `metadata:\n  annotations:\n    ${EXPORT_TO_ANNOTATION}: "${values.join(",")}"\n`;
  return `spec:\n  exportTo:\n${values.map((v) => `  - "${v}"`).join("\n")}\n`;
}

export default createRule({
  id: "istio-host-not-exported",
  description: "A Service or ServiceEntry that a Sidecar, VirtualService or DestinationRule names is not exported to the namespace that uses it",
  severity: "error",
  messages: {
    sidecarImport:
      "{{kind}} {{object}} is exported only to {{exportTo}}, not to {{namespaces}}, but Sidecar {{sidecar}} imports {{import}} ({{ref}}): the sidecars of {{workloads}} do not have {{host}} in their registry, so their calls to it are {{effect}}",
    route:
      "{{kind}} {{object}} is exported only to {{exportTo}}, not to {{namespaces}}, but {{referrer}} sends traffic to {{host}} ({{ref}}): the proxies of {{workloads}} do not know the host, so requests on that route get HTTP 503 (cluster not found)",
    destinationRule:
      "{{kind}} {{object}} is exported only to {{exportTo}}, not to {{namespaces}}, but {{referrer}} there configures {{host}} ({{ref}}): the proxies of {{workloads}} do not know the host, so the rule has no effect and their calls to it are not routed as a mesh service",
  },
  check({ scenario, report }) {
    const mesh = scenario.mesh;
    if (!mesh) return;
    const exportText = (o: Exported) => `${o.exportTo.join(", ")}${o.defaulted ? " (MeshConfig defaultServiceExportTo)" : ""}`;

    // 1. Sidecar egress hosts that name a host (not `ns/*`).
    for (const sc of mesh.sidecars) {
      const users = sidecarWorkloads(scenario, mesh, sc);
      if (users.length === 0) continue;
      for (const listener of sc.egress) {
        for (const h of listener.hosts) {
          // A named host, in a named namespace or in any (`*/api.example.com`); `ns/*` and `*/*.suffix` name no one host.
          if (h.exclude || h.host === "*" || (h.namespace === "*" && isWildcardHost(h.host))) continue;
          for (const obj of importedObjects(scenario, mesh, h.namespace === "." ? sc.namespace : h.namespace, h.host)) {
            const affected = users.map((w) => ({ w, effect: egressForWantOfExport(mesh, w, obj) })).filter((a) => a.effect !== null);
            if (affected.length === 0) continue;
            const namespaces = [...new Set(affected.map((a) => a.w.namespace))];
            report({
              messageId: "sidecarImport",
              data: {
                kind: obj.resource.kind,
                object: `${obj.resource.namespace}/${obj.resource.name}`,
                exportTo: exportText(obj),
                namespaces: listed(namespaces),
                sidecar: `${sc.namespace}/${sc.name}`,
                import: h.raw,
                ref: `${sc.file}:${h.line}`,
                workloads: listed(affected.map((a) => a.w.id)),
                host: obj.host,
                effect: affected[0]!.effect!,
              },
              resource: obj.resource,
              workloads: affected.map((a) => a.w.id),
              file: obj.file,
              line: obj.line,
              fix: fixFor(obj, namespaces),
            });
          }
        }
      }
    }

    // 2. VirtualService route destinations and DestinationRule hosts.
    for (const m of scenario.manifests) {
      if (!m.apiVersion.startsWith("networking.istio.io/")) continue;
      const ns = m.namespace ?? "default";
      let refs: { host: string; path: (string | number)[] }[];
      let users: Workload[];
      if (m.kind === "VirtualService") {
        refs = routeDestinations(m);
        users = routeUsers(scenario, mesh, m);
      } else if (m.kind === "DestinationRule") {
        const host = (m.raw.spec as { host?: unknown } | undefined)?.host;
        refs = typeof host === "string" ? [{ host, path: ["spec", "host"] }] : [];
        users = scenario.cluster.workloads.filter((w) => w.namespace === ns && mesh.membership(w).mode === "sidecar");
      } else continue;
      for (const ref of refs) {
        const obj = destinationObject(scenario, mesh, ref.host, ns);
        if (!obj) continue;
        // A DestinationRule in the host's own namespace or the root namespace serves other namespaces' clients.
        if (m.kind === "DestinationRule" && (obj.resource.namespace === ns || ns === mesh.settings.rootNamespace)) continue;
        const blind = users.filter((w) => !isExportedTo(obj.exportTo, obj.resource.namespace!, w.namespace));
        if (blind.length === 0) continue;
        const namespaces = [...new Set(blind.map((w) => w.namespace))];
        report({
          messageId: m.kind === "DestinationRule" ? "destinationRule" : "route",
          data: {
            kind: obj.resource.kind,
            object: `${obj.resource.namespace}/${obj.resource.name}`,
            exportTo: exportText(obj),
            namespaces: listed(namespaces),
            referrer: `${m.kind} ${ns}/${m.name}`,
            host: ref.host,
            ref: `${m.source.file}:${m.lineOf(ref.path)}`,
            workloads: listed(blind.map((w) => w.id)),
          },
          resource: obj.resource,
          workloads: blind.map((w) => w.id),
          file: obj.file,
          line: obj.line,
          fix: fixFor(obj, namespaces),
        });
      }
    }
  },
});
