/**
 * The expectation files of the seed examples (`examples/seed-*\/expected.yaml`):
 * reading, validating and building the variant inputs they describe.
 *
 * An expected.yaml is an empty `kind: List` (so that reading the example directory
 * with `-f` yields no objects from it) with these extra top-level keys:
 *
 *   document:   the reference document the example reproduces
 *   references: other sources the `why` lines cite (optional)
 *   rendered:   [{file, kustomize}, ...] (optional): `file` (relative to the example) is exactly what
 *               `kubectl kustomize <kustomize>` prints; the kustomize inputs sit under a directory
 *               whose name starts with a dot, which `-f` skips, so only the rendered file is loaded
 *   variants:   NAME → {description, remove?: ["Kind NS/NAME" | "Kind NAME", ...], add?: [manifest, ...]}
 *               the same setup with objects removed and/or added (a replacement is both)
 *   flows:      the expectations, each:
 *     name       unique within the file
 *     from, to   reach references (`NS/NAME`, `svc:NS/NAME:PORT`, `kubelet`, an IP, a DNS name)
 *     protocol   TCP | UDP | SCTP (optional)
 *     method, path, host   HTTP attributes (optional; passed as --method/--path/--host)
 *     verdict    allowed | denied
 *     blockedBy  for denials, only the fields the documents make certain:
 *                layer, direction, workload, port, protocol, observed,
 *                policies (exact set of NS/NAME), policy (one NS/NAME that must be among them)
 *     why        one sentence citing the document section that makes the verdict expected
 *     variant    a key of `variants` (optional; default: the example as it is on disk)
 *     pending    istio | cilium | bug: the verdict needs behaviour `reach` does not have yet
 *                (istio: the Istio layers; cilium: the Cilium layer, CiliumNetworkPolicy and
 *                CiliumClusterwideNetworkPolicy), or is wrong because of a known defect (bug, with
 *                `bug:` saying which)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseAllDocuments, parse as parseYaml, stringify } from "yaml";

export const LAYERS = ["networkpolicy", "adminnetworkpolicy", "cilium", "istio-egress", "istio-peerauthentication", "istio-authorization", "service"] as const;
export const OBSERVED = ["timeout", "reset", "http-403", "http-502"] as const;
export const PENDING = ["istio", "cilium", "bug"] as const;

export interface ExpectedBlock {
  layer?: (typeof LAYERS)[number];
  direction?: "ingress" | "egress" | null;
  workload?: string;
  port?: number;
  protocol?: "TCP" | "UDP" | "SCTP";
  observed?: (typeof OBSERVED)[number];
  policies?: string[];
  policy?: string;
}

export interface ExpectedFlow {
  name: string;
  from: string;
  to: string;
  protocol?: "TCP" | "UDP" | "SCTP";
  method?: string;
  path?: string;
  host?: string;
  verdict: "allowed" | "denied";
  blockedBy?: ExpectedBlock;
  why: string;
  variant?: string;
  pending?: (typeof PENDING)[number];
  bug?: string;
}

export interface Variant {
  description: string;
  remove?: string[];
  add?: Record<string, unknown>[];
}

/** A manifest file of the example that is the output of `kubectl kustomize` on a directory of it. */
export interface Rendered {
  /** Relative to the example directory. */
  file: string;
  /** The kustomization directory, relative to the example directory. */
  kustomize: string;
}

/** One lint finding the setup must produce: the rule and the resource it names. */
export interface ExpectedFinding {
  rule: string;
  /** `Kind NS/NAME`, or `Kind NAME` for a cluster-scoped resource. */
  resource: string;
  why: string;
}

/** What `palisade lint` must find: exactly these findings, on the example and on every variant. */
export interface LintExpectations {
  findings: ExpectedFinding[];
  variants: Record<string, ExpectedFinding[]>;
}

export interface Expectations {
  /** `examples/<name>`, relative to the repository root. */
  dir: string;
  document: string;
  variants: Record<string, Variant>;
  flows: ExpectedFlow[];
  rendered: Rendered[];
  lint?: LintExpectations;
}

const FLOW_KEYS = new Set(["name", "from", "to", "protocol", "method", "path", "host", "verdict", "blockedBy", "why", "variant", "pending", "bug"]);
const BLOCK_KEYS = new Set(["layer", "direction", "workload", "port", "protocol", "observed", "policies", "policy"]);
const TOP_KEYS = new Set(["apiVersion", "kind", "items", "document", "references", "rendered", "variants", "flows", "lint"]);
const FINDING_KEYS = new Set(["rule", "resource", "why"]);
const RENDERED_KEYS = new Set(["file", "kustomize"]);
const VARIANT_KEYS = new Set(["description", "remove", "add"]);

/** Reads and checks one expected.yaml; throws with the file and the offending entry. */
export function readExpectations(root: string, dir: string): Expectations {
  const file = join(root, dir, "expected.yaml");
  const doc = parseYaml(readFileSync(file, "utf8")) as Record<string, unknown>;
  const fail = (msg: string): never => {
    throw new Error(`${dir}/expected.yaml: ${msg}`);
  };
  for (const k of Object.keys(doc)) if (!TOP_KEYS.has(k)) fail(`unknown top-level key ${k}`);
  if (doc.kind !== "List" || !Array.isArray(doc.items) || doc.items.length !== 0) fail("must be an empty kind: List (items: [])");
  if (typeof doc.document !== "string") fail("document: the reference document's title is required");
  const rendered = (doc.rendered ?? []) as Rendered[];
  if (!Array.isArray(rendered)) fail("rendered: a list of {file, kustomize}");
  for (const r of rendered) {
    for (const k of Object.keys(r ?? {})) if (!RENDERED_KEYS.has(k)) fail(`rendered: unknown key ${k}`);
    if (typeof r?.file !== "string" || typeof r.kustomize !== "string") fail("rendered: each entry needs file and kustomize");
    if (!r.kustomize.split("/").some((seg) => seg.startsWith(".") && seg !== "." && seg !== "..")) {
      fail(`rendered: ${r.kustomize} must sit under a directory whose name starts with a dot, so that -f loads only ${r.file}`);
    }
    if (!statSync(join(root, dir, r.file), { throwIfNoEntry: false })?.isFile()) fail(`rendered: ${r.file} does not exist`);
    if (!statSync(join(root, dir, r.kustomize), { throwIfNoEntry: false })?.isDirectory()) fail(`rendered: ${r.kustomize} is not a directory`);
  }
  const variants = (doc.variants ?? {}) as Record<string, Variant>;
  for (const [name, v] of Object.entries(variants)) {
    for (const k of Object.keys(v)) if (!VARIANT_KEYS.has(k)) fail(`variant ${name}: unknown key ${k}`);
    if (typeof v.description !== "string") fail(`variant ${name}: description is required`);
    if (!v.remove?.length && !v.add?.length) fail(`variant ${name}: needs remove or add`);
    for (const r of v.remove ?? []) if (!/^[A-Za-z]+ ([a-z0-9-]+\/)?[a-z0-9.-]+$/.test(r)) fail(`variant ${name}: remove "${r}" is not "Kind NS/NAME" (or "Kind NAME" without metadata.namespace)`);
  }
  const flows = doc.flows as ExpectedFlow[];
  if (!Array.isArray(flows) || flows.length === 0) fail("flows: at least one flow");
  const names = new Set<string>();
  for (const f of flows) {
    const where = `flow "${f.name}"`;
    for (const k of Object.keys(f)) if (!FLOW_KEYS.has(k)) fail(`${where}: unknown key ${k}`);
    if (!f.name || names.has(f.name)) fail(`${where}: names must be present and unique`);
    names.add(f.name);
    if (typeof f.from !== "string" || typeof f.to !== "string") fail(`${where}: from and to are required`);
    if (f.verdict !== "allowed" && f.verdict !== "denied") fail(`${where}: verdict must be allowed or denied`);
    if (f.verdict === "allowed" && f.blockedBy) fail(`${where}: an allowed flow has no blockedBy`);
    if (f.verdict === "denied" && !f.blockedBy) fail(`${where}: a denied flow says what blocks it (blockedBy)`);
    if (typeof f.why !== "string" || f.why.length < 40) fail(`${where}: why must be a sentence citing the document`);
    if (f.variant !== undefined && !variants[f.variant]) fail(`${where}: unknown variant ${f.variant}`);
    if (f.pending !== undefined && !PENDING.includes(f.pending)) fail(`${where}: pending must be one of ${PENDING.join(", ")}`);
    if ((f.pending === "bug") !== (typeof f.bug === "string")) fail(`${where}: pending: bug goes with bug: DESCRIPTION (and only then)`);
    const b = f.blockedBy;
    if (b) {
      for (const k of Object.keys(b)) if (!BLOCK_KEYS.has(k)) fail(`${where}: blockedBy: unknown key ${k}`);
      if (b.layer !== undefined && !LAYERS.includes(b.layer)) fail(`${where}: blockedBy.layer ${b.layer} is not a contract layer`);
      if (b.observed !== undefined && !OBSERVED.includes(b.observed)) fail(`${where}: blockedBy.observed ${b.observed} is not a contract value`);
      if (b.direction !== undefined && b.direction !== null && b.direction !== "ingress" && b.direction !== "egress") fail(`${where}: blockedBy.direction`);
    }
  }
  for (const name of Object.keys(variants)) if (!flows.some((f) => f.variant === name)) fail(`variant ${name} is used by no flow`);
  const lint = doc.lint === undefined ? undefined : readLintExpectations(doc.lint, variants, fail);
  return { dir, document: doc.document as string, variants, flows, rendered, ...(lint ? { lint } : {}) };
}

function readLintExpectations(value: unknown, variants: Record<string, Variant>, fail: (msg: string) => never): LintExpectations {
  const lint = value as { findings?: unknown; variants?: unknown } | null;
  if (!lint || typeof lint !== "object") fail("lint: {findings: [...], variants: {NAME: [...]}}");
  for (const k of Object.keys(lint!)) if (k !== "findings" && k !== "variants") fail(`lint: unknown key ${k}`);
  const list = (where: string, v: unknown): ExpectedFinding[] => {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) fail(`${where}: a list of {rule, resource, why}`);
    for (const f of v as ExpectedFinding[]) {
      for (const k of Object.keys(f ?? {})) if (!FINDING_KEYS.has(k)) fail(`${where}: unknown key ${k}`);
      if (typeof f?.rule !== "string" || typeof f.resource !== "string") fail(`${where}: each finding needs rule and resource`);
      if (!/^[A-Za-z]+ ([a-z0-9-]+\/)?[a-z0-9.-]+$/.test(f.resource)) fail(`${where}: resource "${f.resource}" is not "Kind NS/NAME" (or "Kind NAME")`);
      if (typeof f.why !== "string" || f.why.length < 30) fail(`${where}: ${f.rule}: why must be a sentence`);
    }
    return v as ExpectedFinding[];
  };
  const byVariant = (lint!.variants ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(byVariant)) if (!variants[name]) fail(`lint.variants: unknown variant ${name}`);
  for (const name of Object.keys(variants)) if (!(name in byVariant)) fail(`lint.variants: variant ${name} is missing (list [] when lint finds nothing)`);
  return {
    findings: list("lint.findings", lint!.findings),
    variants: Object.fromEntries(Object.entries(byVariant).map(([name, v]) => [name, list(`lint.variants.${name}`, v)])),
  };
}

/** Every `examples/seed-*` directory with an expected.yaml. */
export function seedExampleDirs(root: string): string[] {
  return readdirSync(join(root, "examples"), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith("seed-"))
    .map((d) => `examples/${d.name}`)
    .filter((dir) => {
      try {
        return statSync(join(root, dir, "expected.yaml")).isFile();
      } catch {
        return false;
      }
    });
}

function manifestFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) manifestFiles(p, out);
    else if (/\.(ya?ml|json)$/i.test(name) && name !== "expected.yaml") out.push(p);
  }
  return out;
}

const identity = (o: unknown): string | undefined => {
  const m = o as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  if (!m || typeof m.kind !== "string" || typeof m.metadata?.name !== "string") return undefined;
  return `${m.kind} ${typeof m.metadata.namespace === "string" ? `${m.metadata.namespace}/` : ""}${m.metadata.name}`;
};

/**
 * Writes the example with the variant applied into a fresh temporary directory and
 * returns it: files without removed objects are copied verbatim, the others lose the
 * removed documents, and the added objects go to `variant.yaml`.
 */
export function buildVariant(root: string, ex: Expectations, name: string): string {
  const variant = ex.variants[name]!;
  const src = join(root, ex.dir);
  const out = mkdtempSync(join(tmpdir(), `palisade-${ex.dir.replace(/\W+/g, "-")}-${name}-`));
  const toRemove = new Set(variant.remove ?? []);
  const removed = new Set<string>();
  for (const file of manifestFiles(src)) {
    const text = readFileSync(file, "utf8");
    const target = join(out, relative(src, file));
    mkdirSync(dirname(target), { recursive: true });
    const docs = parseAllDocuments(text);
    const list = Array.isArray(docs) ? docs : [docs];
    const ids = list.map((d) => identity(d.toJS()));
    if (!ids.some((id) => id !== undefined && toRemove.has(id))) {
      writeFileSync(target, text);
      continue;
    }
    const kept = list.filter((d, i) => {
      const id = ids[i];
      if (id !== undefined && toRemove.has(id)) {
        removed.add(id);
        return false;
      }
      return true;
    });
    writeFileSync(target, kept.map((d) => d.toString()).join("---\n"));
  }
  for (const r of toRemove) if (!removed.has(r)) throw new Error(`${ex.dir}: variant ${name} removes ${r}, which is not in the example`);
  if (variant.add?.length) writeFileSync(join(out, "variant.yaml"), variant.add.map((m) => stringify(m)).join("---\n"));
  return out;
}
