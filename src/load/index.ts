import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import jsYaml from "js-yaml";
import { LineCounter, Parser, parseDocument, isMap, isSeq, type Node as YamlNode } from "yaml";
import { JsonPositions } from "./json-positions.js";
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
    if (/^---(\s|$)/.test(line)) {
      flush();
      // `--- # comment` or `--- {inline: doc}`: the rest of the marker line is the document's first line.
      const rest = line.slice(3);
      if (rest.trim() !== "") {
        start = i;
        buf.push(rest);
      } else start = i + 1;
      return;
    }
    if (/^\.\.\.(\s|$)/.test(line)) {
      flush();
      start = i + 1;
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
  /** The document's first content line; asked for once per object, so it is computed once. */
  constructor(
    private readonly doc: RawDoc,
    private readonly firstLine: number,
  ) {}

  lineOf(path: FieldPath): number {
    if (this.root === undefined) {
      try {
        this.root = parseDocument(this.doc.text, { lineCounter: this.counter }).contents as YamlNode | null;
      } catch {
        this.root = null;
      }
    }
    let node: YamlNode | null | undefined = this.root;
    let best = this.firstLine;
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

/**
 * Counts the nodes that a document's aliases add when expanded (a repeated reference
 * costs its whole subtree again; a first visit costs nothing, so a large document
 * without aliases is never refused). Stops as soon as the budget is spent. Returns false
 * for a recursive alias (a node that contains itself), which has no finite expansion.
 */
function countNodes(v: unknown, seen: Map<object, number>, active: Set<object>, budget: { left: number }): number | false {
  if (v === null || typeof v !== "object") return 1;
  const cached = seen.get(v);
  if (cached !== undefined) {
    budget.left -= cached;
    return cached;
  }
  if (active.has(v)) return false;
  active.add(v);
  let n = 1;
  for (const child of Object.values(v)) {
    const c = countNodes(child, seen, active, budget);
    if (c === false) return false;
    n += c;
    if (budget.left < 0) return n;
  }
  active.delete(v);
  seen.set(v, n);
  return n;
}

/** The most nodes a document's aliases may add when expanded. */
const MAX_ALIAS_EXPANSION = 1_000_000;

/** 1-based line of `offset` in `text`. */
function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * Where a YAML syntax error really is, relative to the document (1-based). A parser
 * notices an unclosed quote or bracket only where it gives up, often at the end of the
 * document: point at the opening instead. A key spanning lines is reported where it starts.
 */
function locateSyntaxError(text: string, reason: string, parserLine: number, firstLine: number): { line: number; note?: string } {
  try {
    return locateOpening(text, reason, parserLine, firstLine);
  } catch {
    // Too deeply nested to walk: the parser's own position is the best there is.
    return { line: parserLine };
  }
}

function locateOpening(text: string, reason: string, parserLine: number, firstLine: number): { line: number; note?: string } {
  const parsed = (() => {
    try {
      return [...new Parser().parse(text)];
    } catch {
      return [];
    }
  })();
  let opening: { offset: number; what: string } | undefined;
  const visit = (tok: unknown): void => {
    if (!tok || typeof tok !== "object") return;
    if (Array.isArray(tok)) return tok.forEach(visit);
    const t = tok as { type?: string; offset?: number; source?: string; start?: { source?: string }; end?: { type?: string }[] };
    if (typeof t.offset === "number") {
      let what: string | undefined;
      if (t.type === "flow-collection" && !(t.end ?? []).some((e) => e.type === "flow-map-end" || e.type === "flow-seq-end")) {
        what = `"${t.start?.source ?? "{"}"`;
      } else if (t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar") {
        const q = t.type === "double-quoted-scalar" ? '"' : "'";
        const src = t.source ?? "";
        const closed = src.length > 1 && src.endsWith(q) && (q === "'" || !/(^|[^\\])(\\\\)*\\"$/.test(src));
        if (!closed) what = `quote ${q}`;
      }
      // The innermost opening (the last one before where the parser gave up) is the likely mistake:
      // an unclosed bracket leaves the brackets around it unclosed too.
      if (what && (!opening || t.offset > opening.offset) && lineAtOffset(text, t.offset) < parserLine) opening = { offset: t.offset, what };
    }
    for (const [k, v] of Object.entries(t)) if (k !== "source" && v && typeof v === "object") visit(v);
  };
  visit(parsed);
  if (opening) {
    const line = lineAtOffset(text, opening.offset);
    const stop = /end of the stream/.test(reason) ? "the document ends first" : `the parser gave up at line ${parserLine + firstLine - 1}: ${reason}`;
    return { line, note: `the ${opening.what} on this line is never closed (${stop})` };
  }
  if (/multiline key/.test(reason)) {
    // The key that lacks its `:` starts on an earlier line; the `yaml` parser reports that line.
    const err = parseDocument(text, { lineCounter: new LineCounter(), uniqueKeys: false }).errors.find((e) => e.code === "MULTILINE_IMPLICIT_KEY");
    const line = err?.linePos?.[0].line;
    if (line !== undefined && line < parserLine) return { line, note: `${reason} (a key on this line is not followed by ":")` };
  }
  return { line: parserLine };
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

function typeName(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v === "object" ? "a mapping" : `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * JSON is parsed natively (much faster) and located by scanning; what JSON.parse rejects
 * gets the YAML parser's verdict and position.
 */
function parseJson(text: string): { value: unknown; native: boolean } {
  try {
    return { value: JSON.parse(text), native: true };
  } catch {
    return { value: jsYaml.load(text, { json: true }), native: false };
  }
}

/** Reads one file's content: multi-document YAML or JSON, `kind: List` flattened. */
export function loadText(text: string, file: string): LoadResult {
  const manifests: Manifest[] = [];
  const diagnostics: InputDiagnostic[] = [];
  if (text.includes("\u0000")) {
    diagnostics.push(new InputDiagnostic("error", "binary content (NUL bytes): not a YAML or JSON file", { file, line: 1 }));
    return { manifests, diagnostics };
  }
  text = text.replace(/^\uFEFF/, "");
  const trimmed = text.trimStart();
  // JSON is one document; flow-style YAML documents separated by `---` are not JSON.
  const json = (trimmed.startsWith("{") || trimmed.startsWith("[")) && !/^---(\s|$)/m.test(text);
  const docs: RawDoc[] = json ? [{ text, startLine: 1 }] : splitDocuments(text);
  for (const doc of docs) {
    let value: unknown;
    let native = false;
    const docLine = doc.startLine + firstContentLine(doc.text);
    try {
      if (json) ({ value, native } = parseJson(doc.text));
      else value = jsYaml.load(doc.text, { json: true });
    } catch (e) {
      const mark = (e as { mark?: { line?: number } }).mark;
      const reason = (e as { reason?: string }).reason ?? (e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e));
      const where = locateSyntaxError(doc.text, reason, (mark?.line ?? 0) + 1, doc.startLine);
      diagnostics.push(
        new InputDiagnostic("error", `malformed ${json ? "JSON" : "YAML"}: ${where.note ?? reason}`, { file, line: doc.startLine + where.line - 1 }),
      );
      continue;
    }
    if (value === null || value === undefined) continue;
    if (/[&*][^\s,[\]{}]/.test(doc.text)) {
      const budget = { left: MAX_ALIAS_EXPANSION };
      let count: number | false;
      try {
        count = countNodes(value, new Map(), new Set(), budget);
      } catch {
        diagnostics.push(new InputDiagnostic("error", "document nested too deeply: skipped", { file, line: docLine }));
        continue;
      }
      if (count === false) {
        diagnostics.push(new InputDiagnostic("error", "recursive YAML alias (a node that contains itself): document skipped", { file, line: docLine }));
        continue;
      }
      if (budget.left < 0) {
        diagnostics.push(
          new InputDiagnostic(
            "error",
            `YAML aliases expand to more than ${MAX_ALIAS_EXPANSION.toLocaleString("en-US")} extra nodes (an alias bomb?): document skipped`,
            { file, line: docLine },
          ),
        );
        continue;
      }
    }
    const positions = native ? new JsonPositions(doc.text, doc.startLine) : new LazyPositions(doc, docLine);
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
        const message = absent(o.kind) ? `missing kind${hint}` : `expected a string, got ${typeName(o.kind)}`;
        diagnostics.push(new InputDiagnostic("error", message, { file, line: absent(o.kind) ? line() : lineOf(["kind"]), field: at("kind") }));
        return;
      }
      if (typeof o.apiVersion !== "string" || o.apiVersion === "") {
        const message = absent(o.apiVersion) ? `missing apiVersion (kind ${o.kind})` : `expected a string, got ${typeName(o.apiVersion)}`;
        diagnostics.push(new InputDiagnostic("error", message, { file, line: absent(o.apiVersion) ? line() : lineOf(["apiVersion"]), field: at("apiVersion") }));
        return;
      }
      if (o.kind.endsWith("List") && Array.isArray(o.items)) {
        const self = { kind: o.kind, apiVersion: o.apiVersion };
        o.items.forEach((item, i) => add(item, [...prefix, "items", i], self));
        return;
      }
      if (o.kind === "List" && !absent(o.items)) {
        diagnostics.push(new InputDiagnostic("error", `expected a list, got ${typeName(o.items)}`, { file, line: lineOf(["items"]), field: at("items") }));
        return;
      }
      manifests.push(makeManifest(o, file, line, lineOf));
    };
    add(value, []);
  }
  return { manifests, diagnostics };
}

/**
 * The `*.yaml|*.yml|*.json` files under `dir`, recursively and sorted; hidden entries and
 * node_modules are left out. An unreadable entry is reported and the walk goes on; a
 * directory reached again through a symbolic link is read once.
 */
function collectFiles(dir: string, out: string[], diagnostics: InputDiagnostic[], visited: Set<string>): void {
  let real: string;
  let names: string[];
  try {
    real = realpathSync(dir);
    if (visited.has(real)) return;
    visited.add(real);
    names = readdirSync(dir).sort();
  } catch (e) {
    diagnostics.push(new InputDiagnostic("error", `cannot read directory: ${errorText(e)}`, { file: dir, line: 1 }));
    return;
  }
  for (const name of names) {
    if (name.startsWith(".") || name === "node_modules") continue;
    const p = join(dir, name);
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      // A dangling symbolic link, or no permission: say so only for files that would be read.
      if (/\.(ya?ml|json)$/i.test(name)) diagnostics.push(new InputDiagnostic("error", `cannot read: ${errorText(e)}`, { file: p, line: 1 }));
      continue;
    }
    if (isDir) collectFiles(p, out, diagnostics, visited);
    else if (/\.(ya?ml|json)$/i.test(name)) out.push(p);
  }
}

/** A file-system error as users read it: `ENOENT: no such file or directory` without the repeated path. */
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
  return code && m ? `${m[1]} (${code})` : e.message;
}

function tooLarge(size: number, maxBytes: number, file: string): InputDiagnostic {
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  return new InputDiagnostic("error", `file is ${mb(size)} MB, larger than the ${mb(maxBytes)} MB limit (raise it with --max-file-size)`, {
    file,
    line: 1,
  });
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
  let stdinRead = false;
  for (const path of paths) {
    if (path === "-") {
      if (stdinRead) continue;
      stdinRead = true;
      let text: string;
      try {
        text = opts.readStdin ? await opts.readStdin() : "";
      } catch (e) {
        diagnostics.push(new InputDiagnostic("error", `cannot read standard input: ${errorText(e)}`, { file: "<stdin>", line: 1 }));
        continue;
      }
      const size = Buffer.byteLength(text, "utf8");
      if (size > maxBytes) diagnostics.push(tooLarge(size, maxBytes, "<stdin>"));
      else take(loadText(text, "<stdin>"));
      continue;
    }
    let files: string[] = [];
    try {
      const st = statSync(path);
      if (st.isDirectory()) collectFiles(path, files, diagnostics, new Set());
      else files = [path];
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      diagnostics.push(
        new InputDiagnostic("error", code === "ENOENT" ? "no such file or directory" : `cannot read: ${errorText(e)}`, { file: path, line: 1 }),
      );
      continue;
    }
    for (const f of files) {
      let text: string;
      try {
        const size = statSync(f).size;
        if (size > maxBytes) {
          diagnostics.push(tooLarge(size, maxBytes, f));
          continue;
        }
        text = readFileSync(f, "utf8");
      } catch (e) {
        diagnostics.push(new InputDiagnostic("error", `cannot read: ${errorText(e)}`, { file: f, line: 1 }));
        continue;
      }
      take(loadText(text, f));
    }
  }
  return { manifests, diagnostics };
}
