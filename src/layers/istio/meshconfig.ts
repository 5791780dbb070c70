/**
 * MeshConfig: the `mesh` key of the `istio` ConfigMap, read as istiod reads it
 * (istio `pkg/config/mesh/mesh.go` `ApplyMeshConfig` over `DefaultMeshConfig`),
 * and whether the input shows Istio at all (design.md "Facts a manifest cannot tell").
 *
 * istiod applies the YAML on top of the defaults; unknown fields are ignored, but a
 * value of the wrong type or an unknown enum name makes the whole document invalid,
 * and istiod then runs with the defaults ("invalid mesh config, using last known
 * state", `meshwatcher/collection.go`). This module does the same and says so.
 */
import { LineCounter, isMap, isSeq, parseDocument, type Node as YamlNode } from "yaml";
import { InputDiagnostic, type Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import type { PolicyRef } from "../types.js";
import { isDNS1123Label, isNamespaceName } from "./hosts.js";
import { podTemplateOf } from "../../model/pod-template.js";

export type OutboundMode = "ALLOW_ANY" | "REGISTRY_ONLY" | "ALLOW_ANY_DYNAMIC_DNS";

export const ISTIO_SYSTEM = "istio-system";

/** The MeshConfig fields reachability depends on, with their origin. */
export interface MeshSettings {
  /** Namespace whose Sidecar/AuthorizationPolicy/PeerAuthentication apply mesh-wide (default istio-system). */
  rootNamespace: string;
  outboundTrafficPolicy: {
    mode: OutboundMode;
    /** The ConfigMap line that set it; null when it is the default. */
    ref: PolicyRef | null;
  };
  trustDomain: string;
  trustDomainAliases: readonly string[];
  /** `exportTo` of Services and ServiceEntries that set none (default `["*"]`). */
  defaultServiceExportTo: readonly string[];
  enableAutoMtls: boolean;
  /** `defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE` (sidecar DNS proxy; off by default). */
  dnsCapture: boolean;
  /** The ConfigMap read, or null when the defaults are used. */
  source: { namespace: string; name: string; file: string; line: number } | null;
  /** Sentences the output should state (defaults assumed, document rejected, …). */
  assumptions: readonly string[];
}

/** istiod's defaults (`DefaultMeshConfig`). */
export function defaultMeshSettings(assumptions: readonly string[] = []): MeshSettings {
  return {
    rootNamespace: ISTIO_SYSTEM,
    outboundTrafficPolicy: { mode: "ALLOW_ANY", ref: null },
    trustDomain: "cluster.local",
    trustDomainAliases: [],
    defaultServiceExportTo: ["*"],
    enableAutoMtls: true,
    dnsCapture: false,
    source: null,
    assumptions,
  };
}

export interface MeshConfigOptions {
  /** Namespace istiod runs in and keeps its ConfigMap in (default istio-system). */
  istioNamespace?: string;
  /** Control-plane revision: the ConfigMap is then `istio-<revision>`. */
  revision?: string;
}

export interface MeshConfigResult {
  mesh: MeshSettings;
  diagnostics: InputDiagnostic[];
}

function isConfigMap(m: Manifest): boolean {
  return m.kind === "ConfigMap" && (m.apiVersion === "v1" || m.apiVersion === "");
}

/**
 * Finds the `istio` ConfigMap (in `istioNamespace`, else the only one elsewhere)
 * and reads its `mesh` document. Without one, the defaults, with an assumption saying so.
 */
export function readMeshConfig(manifests: readonly Manifest[], options: MeshConfigOptions = {}): MeshConfigResult {
  const istioNs = options.istioNamespace ?? ISTIO_SYSTEM;
  const cmName = options.revision && options.revision !== "default" ? `istio-${options.revision}` : "istio";
  const named = manifests.filter((m) => isConfigMap(m) && m.name === cmName);
  const inNs = named.filter((m) => (m.namespace ?? "default") === istioNs);
  const diagnostics: InputDiagnostic[] = [];
  let chosen: Manifest | undefined = inNs[0];
  const notes: string[] = [];
  if (!chosen && named.length > 0) {
    chosen = named[0]!;
    notes.push(`MeshConfig read from ConfigMap ${chosen.namespace ?? "default"}/${cmName} (none in ${istioNs})`);
  }
  const duplicates = (inNs.length > 0 ? inNs : named).slice(1);
  for (const d of duplicates) {
    diagnostics.push(
      new InputDiagnostic("warning", `another ConfigMap ${d.namespace ?? "default"}/${cmName}: only the first one is read as MeshConfig`, {
        file: d.source.file,
        line: d.source.line,
      }),
    );
  }
  if (!chosen) {
    return {
      mesh: defaultMeshSettings([
        `no ConfigMap ${istioNs}/${cmName} in the input: MeshConfig defaults assumed (outboundTrafficPolicy ALLOW_ANY, rootNamespace istio-system, trustDomain cluster.local)`,
      ]),
      diagnostics,
    };
  }
  const r = new FieldReader(chosen);
  const mesh = readMeshDocument(r, chosen, notes);
  diagnostics.push(...r.diagnostics);
  return { mesh, diagnostics };
}

/** Positions inside the YAML text embedded in `data.mesh`, mapped to lines of the file. */
class Embedded {
  private readonly counter = new LineCounter();
  readonly root: YamlNode | null;
  readonly parseError: { message: string; line: number } | undefined;

  constructor(
    text: string,
    /** File line of the embedded text's first line. */
    private readonly firstLine: number,
    /** Every position is the first line (the text is one JSON string). */
    private readonly flat = false,
  ) {
    const doc = parseDocument(text, { lineCounter: this.counter, uniqueKeys: false });
    const err = doc.errors[0];
    this.parseError = err ? { message: err.message.split("\n")[0]!, line: flat ? firstLine : firstLine + (err.linePos?.[0]?.line ?? 1) - 1 } : undefined;
    this.root = err ? null : ((doc.contents as YamlNode | null) ?? null);
  }

  lineOf(path: readonly (string | number)[]): number {
    if (this.flat) return this.firstLine;
    let node: YamlNode | null | undefined = this.root;
    let best = this.firstLine;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === step);
        if (!pair) break;
        const key = pair.key as YamlNode | null;
        if (key?.range) best = this.firstLine + this.counter.linePos(key.range[0]).line - 1;
        node = pair.value as YamlNode | null;
      } else if (isSeq(node) && typeof step === "number") {
        const item = node.items[step] as YamlNode | undefined;
        if (!item) break;
        if (item.range) best = this.firstLine + this.counter.linePos(item.range[0]).line - 1;
        node = item;
      } else break;
    }
    return best;
  }
}

/** Both spellings jsonpb accepts: lowerCamel and the proto field name. */
function field(obj: Record<string, unknown>, camel: string, snake: string): { key: string; value: unknown } | undefined {
  if (camel in obj) return { key: camel, value: obj[camel] };
  if (snake in obj) return { key: snake, value: obj[snake] };
  return undefined;
}

const MODE_BY_NUMBER: Record<number, OutboundMode> = { 0: "REGISTRY_ONLY", 1: "ALLOW_ANY", 3: "ALLOW_ANY_DYNAMIC_DNS" };
const READ_FIELDS = ["rootNamespace", "outboundTrafficPolicy", "trustDomain", "trustDomainAliases", "defaultServiceExportTo", "enableAutoMtls", "defaultConfig"];

function readMeshDocument(r: FieldReader, cm: Manifest, notes: string[]): MeshSettings {
  const ns = cm.namespace ?? "default";
  const where = `ConfigMap ${ns}/${cm.name}`;
  const source = { namespace: ns, name: cm.name, file: cm.source.file, line: cm.source.line };
  const data = r.object(["data"]);
  const raw = data?.mesh;
  if (raw === undefined || raw === null) {
    if (data && "mesh" in data) r.warn(["data", "mesh"], "empty mesh document: MeshConfig defaults apply");
    else r.warn(["data"], `${where} has no data.mesh key: MeshConfig defaults apply`);
    return { ...defaultMeshSettings([...notes, `${where} has no mesh document: MeshConfig defaults assumed`]), source };
  }
  if (typeof raw !== "string") {
    r.error(["data", "mesh"], `expected the MeshConfig YAML as a string, got ${describe(raw)}`);
    return { ...defaultMeshSettings([...notes, `${where}: data.mesh is not a string, istiod would reject it and run with MeshConfig defaults`]), source };
  }
  const keyLine = cm.lineOf(["data", "mesh"]);
  // In YAML the document is a block scalar (`mesh: |`), whose first line follows the
  // key; in JSON it is one string on the key's line.
  const json = /\.json$/i.test(cm.source.file);
  const emb = new Embedded(raw, json ? keyLine : keyLine + 1, json);
  const errorAt = (path: readonly (string | number)[], message: string) => {
    r.diagnostics.push(
      new InputDiagnostic("error", `${message}; istiod rejects the whole MeshConfig and runs with the defaults`, {
        file: cm.source.file,
        line: emb.lineOf(path),
        field: `data.mesh: ${formatPath(path)}`,
      }),
    );
  };
  const warnAt = (path: readonly (string | number)[], message: string) => {
    r.diagnostics.push(new InputDiagnostic("warning", message, { file: cm.source.file, line: emb.lineOf(path), field: `data.mesh: ${formatPath(path)}` }));
  };
  const rejected = (): MeshSettings => ({
    ...defaultMeshSettings([...notes, `MeshConfig in ${where} is invalid: istiod ignores it and uses the defaults (outboundTrafficPolicy ALLOW_ANY, rootNamespace istio-system)`]),
    source,
  });

  if (emb.parseError) {
    r.diagnostics.push(
      new InputDiagnostic("error", `malformed MeshConfig YAML: ${emb.parseError.message}; istiod runs with the defaults`, {
        file: cm.source.file,
        line: emb.parseError.line,
        field: "data.mesh",
      }),
    );
    return rejected();
  }
  const doc = emb.root ? (emb.root.toJSON() as unknown) : null;
  if (doc === null || doc === undefined) return { ...defaultMeshSettings(notes), source };
  if (typeof doc !== "object" || Array.isArray(doc)) {
    errorAt([], `expected a MeshConfig mapping, got ${describe(doc)}`);
    return rejected();
  }
  const obj = doc as Record<string, unknown>;
  const out = defaultMeshSettings();
  let valid = true;
  const fail = (path: readonly (string | number)[], message: string) => {
    errorAt(path, message);
    valid = false;
  };

  // Keys jsonpb would silently ignore because of their spelling.
  for (const key of Object.keys(obj)) {
    const near = READ_FIELDS.find((f) => f.toLowerCase() === key.toLowerCase().replace(/_/g, "") && f !== key && snakeOf(f) !== key);
    if (near) warnAt([key], `unknown MeshConfig field "${key}" is ignored by istiod (did you mean "${near}"?)`);
  }

  const root = field(obj, "rootNamespace", "root_namespace");
  if (root) {
    if (typeof root.value !== "string") fail([root.key], `rootNamespace must be a string, got ${describe(root.value)}`);
    else if (root.value === "") {
      // An empty string is the proto default: istiod keeps its own default.
    } else {
      out.rootNamespace = root.value;
      if (!isNamespaceName(root.value)) warnAt([root.key], `rootNamespace "${root.value}" is not a valid namespace name: no namespace can be the root namespace`);
    }
  }

  let modeRef: PolicyRef | null = null;
  const otp = field(obj, "outboundTrafficPolicy", "outbound_traffic_policy");
  if (otp && otp.value !== null) {
    if (typeof otp.value !== "object" || Array.isArray(otp.value)) fail([otp.key], `outboundTrafficPolicy must be a mapping, got ${describe(otp.value)}`);
    else {
      const mode = (otp.value as Record<string, unknown>).mode;
      const line = emb.lineOf([otp.key, "mode"]);
      modeRef = { kind: "ConfigMap", namespace: ns, name: cm.name, rule: null, file: cm.source.file, line };
      if (mode === undefined || mode === null) {
        // A message without `mode` carries the proto3 zero value, which is REGISTRY_ONLY.
        out.outboundTrafficPolicy = { mode: "REGISTRY_ONLY", ref: modeRef };
        warnAt([otp.key], "outboundTrafficPolicy without mode means REGISTRY_ONLY (the enum's zero value), not the ALLOW_ANY default");
      } else if (typeof mode === "string" && ["ALLOW_ANY", "REGISTRY_ONLY", "ALLOW_ANY_DYNAMIC_DNS"].includes(mode)) {
        out.outboundTrafficPolicy = { mode: mode as OutboundMode, ref: modeRef };
      } else if (typeof mode === "number" && MODE_BY_NUMBER[mode]) {
        out.outboundTrafficPolicy = { mode: MODE_BY_NUMBER[mode]!, ref: modeRef };
      } else {
        fail([otp.key, "mode"], `unknown outboundTrafficPolicy.mode ${describe(mode)} (expected ALLOW_ANY, REGISTRY_ONLY or ALLOW_ANY_DYNAMIC_DNS)`);
      }
    }
  }

  const td = field(obj, "trustDomain", "trust_domain");
  if (td) {
    if (typeof td.value !== "string") fail([td.key], `trustDomain must be a string, got ${describe(td.value)}`);
    else {
      const err = trustDomainError(td.value);
      if (err) fail([td.key], `trustDomain: ${err}`);
      else out.trustDomain = td.value;
    }
  }
  const tda = field(obj, "trustDomainAliases", "trust_domain_aliases");
  if (tda && tda.value !== null) {
    if (!Array.isArray(tda.value)) fail([tda.key], `trustDomainAliases must be a list, got ${describe(tda.value)}`);
    else {
      const aliases: string[] = [];
      tda.value.forEach((a, i) => {
        if (typeof a !== "string") return fail([tda.key, i], `expected a string, got ${describe(a)}`);
        const err = trustDomainError(a);
        if (err) return fail([tda.key, i], `trustDomainAliases[${i}]: ${err}`);
        aliases.push(a);
      });
      out.trustDomainAliases = aliases;
    }
  }

  const dse = field(obj, "defaultServiceExportTo", "default_service_export_to");
  if (dse && dse.value !== null) {
    if (!Array.isArray(dse.value)) fail([dse.key], `defaultServiceExportTo must be a list, got ${describe(dse.value)}`);
    else {
      const values: string[] = [];
      dse.value.forEach((v, i) => {
        if (typeof v !== "string") return fail([dse.key, i], `expected a string, got ${describe(v)}`);
        if (v !== "*" && v !== "." && v !== "~" && !isNamespaceName(v)) warnAt([dse.key, i], `"${v}" is not *, ., ~ or a namespace name`);
        values.push(v);
      });
      if (values.length > 0) out.defaultServiceExportTo = values;
    }
  }

  const mtls = field(obj, "enableAutoMtls", "enable_auto_mtls");
  if (mtls && mtls.value !== null) {
    if (typeof mtls.value !== "boolean") fail([mtls.key], `enableAutoMtls must be true or false, got ${describe(mtls.value)}`);
    else out.enableAutoMtls = mtls.value;
  }

  const dc = field(obj, "defaultConfig", "default_config");
  if (dc && dc.value && typeof dc.value === "object" && !Array.isArray(dc.value)) {
    const pm = field(dc.value as Record<string, unknown>, "proxyMetadata", "proxy_metadata");
    const v = pm && pm.value && typeof pm.value === "object" ? (pm.value as Record<string, unknown>).ISTIO_META_DNS_CAPTURE : undefined;
    if (v !== undefined) out.dnsCapture = String(v).toLowerCase() === "true";
  }

  if (!valid) return rejected();
  return { ...out, source, assumptions: notes };
}

function snakeOf(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function formatPath(path: readonly (string | number)[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${p}` : p;
  return s || "(document)";
}

/** istio `ValidateTrustDomain`. */
function trustDomainError(domain: string): string | undefined {
  if (domain.length === 0) return "empty domain name not allowed";
  const parts = domain.split(".");
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === "") return undefined;
    if (!isDNS1123Label(parts[i]!)) return `trust domain name "${domain}" is invalid`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Is Istio there at all?

export interface IstioDetection {
  present: boolean;
  /** Why we think so, one short phrase per kind of evidence (first few). */
  evidence: string[];
}

const ISTIO_LABELS_NS = ["istio-injection", "istio.io/rev", "istio.io/dataplane-mode", "istio.io/use-waypoint"];
const ISTIO_LABELS_POD = ["sidecar.istio.io/inject", "istio.io/rev", "istio.io/dataplane-mode", "istio.io/use-waypoint"];

function podTemplateMeta(m: Manifest): { labels: Record<string, unknown>; annotations: Record<string, unknown>; spec: Record<string, unknown> } | undefined {
  const tmpl = podTemplateOf(m) as Record<string, any> | undefined;
  if (!tmpl) return undefined;
  const meta = (tmpl.metadata ?? {}) as Record<string, any>;
  return { labels: meta.labels ?? {}, annotations: meta.annotations ?? {}, spec: tmpl.spec ?? {} };
}

/**
 * Whether the input shows an Istio installation: the istio ConfigMap, objects of
 * Istio API groups (or their CRDs), Istio Gateway classes, or Istio labels on
 * namespaces and pods (injection, revision, ambient, waypoints), or injected pods.
 */
export function detectIstio(manifests: readonly Manifest[]): IstioDetection {
  const evidence = new Set<string>();
  for (const m of manifests) {
    const raw = m.raw as Record<string, any>;
    const group = m.apiVersion.includes("/") ? m.apiVersion.split("/")[0]! : "";
    if (group === "istio.io" || group.endsWith(".istio.io")) evidence.add(`${m.kind} (${group})`);
    else if (m.kind === "CustomResourceDefinition" && typeof raw.spec?.group === "string" && String(raw.spec.group).endsWith("istio.io")) {
      evidence.add(`CRD ${m.name}`);
    } else if (isConfigMap(m) && /^istio(-.+)?$/.test(m.name) && raw.data && typeof raw.data === "object" && "mesh" in raw.data) {
      evidence.add(`ConfigMap ${m.namespace ?? "default"}/${m.name}`);
    } else if (m.kind === "Gateway" && typeof raw.spec?.gatewayClassName === "string" && String(raw.spec.gatewayClassName).startsWith("istio")) {
      evidence.add(`Gateway with gatewayClassName ${raw.spec.gatewayClassName}`);
    } else if (m.kind === "Namespace") {
      const labels = (raw.metadata?.labels ?? {}) as Record<string, unknown>;
      for (const l of ISTIO_LABELS_NS) if (l in labels) evidence.add(`namespace label ${l}`);
    } else {
      const t = podTemplateMeta(m);
      if (!t) continue;
      for (const l of ISTIO_LABELS_POD) if (l in t.labels) evidence.add(`pod label ${l}`);
      if ("sidecar.istio.io/status" in t.annotations) evidence.add("injected pods (sidecar.istio.io/status)");
      const containers = [...(Array.isArray(t.spec.containers) ? t.spec.containers : []), ...(Array.isArray(t.spec.initContainers) ? t.spec.initContainers : [])];
      if (containers.some((c: any) => c && c.name === "istio-proxy")) evidence.add("istio-proxy containers");
      if ((t.labels.app === "istiod" || t.labels.app === "ztunnel") && (m.namespace ?? "default") !== "") evidence.add(`${t.labels.app} workload`);
    }
  }
  const list = [...evidence];
  return { present: list.length > 0, evidence: list.slice(0, 6) };
}
