import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import jsYaml from "js-yaml";
import { LineCounter, parseDocument, isMap, isSeq, type Node as YamlNode } from "yaml";
import { InputDiagnostic, formatFieldPath, type FieldPath, type LoadOptions, type LoadResult, type Manifest } from "./types.js";

export * from "./types.js";

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

interface RawDoc {
  text: string;
  /** 1-based line of the document's first line in the file. */
  startLine: number;
}

/** Splits a YAML stream at `---` markers, keeping each document's first line. */
function splitDocuments(text: string): RawDoc[] {
  const lines = text.split(/\r?\n/);
  const docs: RawDoc[] = [];
  let start = 0;
  let buf: string[] = [];
  const flush = () => {
    docs.push({ text: buf.join("\n"), startLine: start + 1 });
    buf = [];
  };
  lines.forEach((line, i) => {
    if (line === "---" || line.startsWith("--- ") || line === "...") {
      flush();
      start = i + 1;
      if (line.startsWith("--- ")) buf.push(line.slice(4));
      return;
    }
    buf.push(line);
  });
  flush();
  return docs;
}

/** First line of content (not blank, not a comment), relative to the document. */
function firstContentLine(text: string): number {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
  return i < 0 ? 0 : i;
}

class LazyPositions {
  private root: YamlNode | null | undefined;
  private counter = new LineCounter();
  constructor(private readonly doc: RawDoc) {}

  lineOf(path: FieldPath): number {
    if (this.root === undefined) {
      try {
        this.root = parseDocument(this.doc.text, { lineCounter: this.counter }).contents as YamlNode | null;
      } catch {
        this.root = null;
      }
    }
    let node: YamlNode | null | undefined = this.root;
    let best = this.doc.startLine + firstContentLine(this.doc.text);
    const lineAt = (n: YamlNode | null | undefined, keyNode?: YamlNode | null): number | undefined => {
      const range = (keyNode ?? n)?.range;
      return range ? this.counter.linePos(range[0]).line + this.doc.startLine - 1 : undefined;
    };
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === step);
        if (!pair) break;
        best = lineAt(pair.value as YamlNode, pair.key as YamlNode) ?? best;
        const v = pair.value as YamlNode | null;
        // Point at the value when it starts on a later line (nested blocks), else at the key.
        best = (v && !isMap(v) && !isSeq(v) ? lineAt(v) : lineAt(null, pair.key as YamlNode)) ?? best;
        node = v;
      } else if (isSeq(node) && typeof step === "number") {
        const item = node.items[step] as YamlNode | undefined;
        if (!item) break;
        best = lineAt(item) ?? best;
        node = item;
      } else break;
    }
    return best;
  }
}

function countNodes(v: unknown, seen: Map<object, number>, budget: { left: number }): number {
  if (v === null || typeof v !== "object") return 1;
  const cached = seen.get(v);
  if (cached !== undefined) {
    budget.left -= cached;
    return cached;
  }
  let n = 1;
  for (const child of Object.values(v)) {
    n += countNodes(child, seen, budget);
    if (budget.left < 0) return n;
  }
  budget.left -= 1;
  seen.set(v, n);
  return n;
}

function makeManifest(obj: Record<string, unknown>, file: string, line: () => number, lineOf: (p: FieldPath) => number): Manifest {
  const meta = (obj.metadata ?? {}) as Record<string, unknown>;
  return {
    apiVersion: obj.apiVersion as string,
    kind: obj.kind as string,
    name: typeof meta.name === "string" ? meta.name : "",
    namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
    raw: obj,
    get source() {
      return { file, line: line() };
    },
    lineOf,
  } as Manifest;
}

/** Reads one file's content: multi-document YAML or JSON, `kind: List` flattened. */
export function loadText(text: string, file: string): LoadResult {
  const manifests: Manifest[] = [];
  const diagnostics: InputDiagnostic[] = [];
  if (text.includes("\u0000")) {
    diagnostics.push(new InputDiagnostic("error", "binary content (NUL bytes): not a YAML or JSON file", { file, line: 1 }));
    return { manifests, diagnostics };
  }
  const trimmed = text.trimStart();
  const docs: RawDoc[] = trimmed.startsWith("{") || trimmed.startsWith("[") ? [{ text, startLine: 1 }] : splitDocuments(text);
  for (const doc of docs) {
    let value: unknown;
    const docLine = doc.startLine + firstContentLine(doc.text);
    try {
      value = jsYaml.load(doc.text, { json: true });
    } catch (e) {
      const mark = (e as { mark?: { line?: number } }).mark;
      const reason = (e as { reason?: string }).reason ?? (e instanceof Error ? e.message.split("\n")[0] : String(e));
      diagnostics.push(new InputDiagnostic("error", `malformed YAML: ${reason}`, { file, line: doc.startLine + (mark?.line ?? 0) }));
      continue;
    }
    if (value === null || value === undefined) continue;
    if (/(^|[\s[{,:-])[&*][A-Za-z0-9_-]/.test(doc.text)) {
      const budget = { left: 1_000_000 };
      countNodes(value, new Map(), budget);
      if (budget.left < 0) {
        diagnostics.push(new InputDiagnostic("error", "too many YAML alias expansions (possible alias bomb): document skipped", { file, line: docLine }));
        continue;
      }
    }
    const positions = new LazyPositions(doc);
    /** `list`: the enclosing list, for the items of a typed list (`PodList` items are Pods). */
    const add = (obj: unknown, prefix: FieldPath, list?: { kind: string; apiVersion: string }) => {
      const lineOf = (p: FieldPath) => positions.lineOf([...prefix, ...p]);
      const line = () => (prefix.length ? positions.lineOf(prefix) : docLine);
      const where = formatFieldPath(prefix);
      const at = (field: string) => (where ? `${where}.${field}` : field);
      if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
        diagnostics.push(
          new InputDiagnostic("error", "expected a Kubernetes object (a mapping with apiVersion and kind)", { file, line: line(), ...(where ? { field: where } : {}) }),
        );
        return;
      }
      let o = obj as Record<string, unknown>;
      const itemKind = list && list.kind !== "List" ? list.kind.slice(0, -"List".length) : undefined;
      const absent = (v: unknown) => v === undefined || v === null || v === "";
      if (itemKind && (absent(o.kind) || (o.kind === itemKind && absent(o.apiVersion)))) {
        // The API omits kind and apiVersion in the items of a typed list: they are the list's.
        const { kind: _k, apiVersion, ...rest } = o;
        o = { apiVersion: absent(apiVersion) ? list!.apiVersion : apiVersion, kind: itemKind, ...rest };
      }
      if (typeof o.kind !== "string" || o.kind === "") {
        const hint = list ? ` (items of kind: ${list.kind} need their own kind)` : "";
        diagnostics.push(new InputDiagnostic("error", `missing kind${hint}`, { file, line: line(), field: at("kind") }));
        return;
      }
      if (typeof o.apiVersion !== "string" || o.apiVersion === "") {
        diagnostics.push(new InputDiagnostic("error", "missing apiVersion", { file, line: line(), field: at("apiVersion") }));
        return;
      }
      if (o.kind.endsWith("List") && Array.isArray(o.items)) {
        const self = { kind: o.kind, apiVersion: o.apiVersion };
        o.items.forEach((item, i) => add(item, [...prefix, "items", i], self));
        return;
      }
      manifests.push(makeManifest(o, file, line, lineOf));
    };
    add(value, []);
  }
  return { manifests, diagnostics };
}

function collectFiles(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".") || name === "node_modules") continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) collectFiles(p, out);
    else if (/\.(ya?ml|json)$/i.test(name)) out.push(p);
  }
}

/** Reads files, directories (recursively) and `-` (stdin); never throws for bad input. */
export async function loadInputs(paths: string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const manifests: Manifest[] = [];
  const diagnostics: InputDiagnostic[] = [];
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_BYTES;
  const take = (r: LoadResult) => {
    manifests.push(...r.manifests);
    diagnostics.push(...r.diagnostics);
  };
  for (const path of paths) {
    if (path === "-") {
      take(loadText(opts.readStdin ? await opts.readStdin() : "", "<stdin>"));
      continue;
    }
    let files: string[] = [];
    try {
      const st = statSync(path);
      if (st.isDirectory()) collectFiles(path, files);
      else files = [path];
    } catch {
      diagnostics.push(new InputDiagnostic("error", "no such file or directory", { file: path, line: 1 }));
      continue;
    }
    for (const f of files) {
      try {
        const size = statSync(f).size;
        if (size > maxBytes) {
          const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
          diagnostics.push(
            new InputDiagnostic("error", `file is ${mb(size)} MB, larger than the ${mb(maxBytes)} MB limit (raise it with --max-file-size)`, { file: f, line: 1 }),
          );
          continue;
        }
        take(loadText(readFileSync(f, "utf8"), f));
      } catch (e) {
        diagnostics.push(new InputDiagnostic("error", `cannot read: ${e instanceof Error ? e.message : String(e)}`, { file: f, line: 1 }));
      }
    }
  }
  return { manifests, diagnostics };
}
