/**
 * Edits of a user's manifest file that keep everything else as written: the
 * new rule is inserted as text at the end of the list (or map) it joins, with
 * the file's own indentation, so comments, quoting and layout elsewhere stay
 * byte for byte and the diff only adds lines. Only where the container is in
 * flow style (`ingress: []`) is the enclosing document rendered again by the
 * `yaml` library, which keeps comments but may change that document's layout.
 */
import { isMap, isScalar, isSeq, parseAllDocuments, stringify, type Document, type Node as YamlNode, type YAMLMap, type YAMLSeq } from "yaml";

/** Which object of a file an edit applies to. */
export interface ObjectRef {
  kind: string;
  namespace: string | undefined;
  name: string;
}

/**
 * Adds `value` to the object: appended to the list at `path` (relative to the
 * object), or, with `key`, set as that key of the map at `path`. Missing
 * containers on the way are created.
 */
export interface AddEdit {
  object: ObjectRef;
  path: readonly (string | number)[];
  key?: string;
  value: unknown;
}

export class YamlEditError extends Error {}

type FoundObject = { doc: Document.Parsed; node: YAMLMap; path: (string | number)[] };

function scalarOf(map: YAMLMap, key: string): unknown {
  const v = map.get(key, true);
  return isScalar(v) ? v.value : undefined;
}

function matches(node: unknown, ref: ObjectRef): node is YAMLMap {
  if (!isMap(node)) return false;
  if (scalarOf(node, "kind") !== ref.kind) return false;
  const meta = node.get("metadata", true);
  if (!isMap(meta)) return false;
  const ns = scalarOf(meta, "namespace");
  return scalarOf(meta, "name") === ref.name && (ns === undefined || ns === null ? ref.namespace === undefined : ns === ref.namespace);
}

/** The object's map node: a top-level document or an item of a `kind: List`. */
function findObject(docs: Document.Parsed[], ref: ObjectRef): FoundObject | undefined {
  for (const doc of docs) {
    const root = doc.contents;
    if (matches(root, ref)) return { doc, node: root, path: [] };
    if (isMap(root)) {
      const items = root.get("items", true);
      if (isSeq(items)) {
        const i = items.items.findIndex((it) => matches(it, ref));
        if (i >= 0) return { doc, node: items.items[i] as YAMLMap, path: ["items", i] };
      }
    }
  }
  return undefined;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** The offset just after the line that holds `offset - 1` (where a new line can start). */
function afterLine(text: string, offset: number): number {
  const nl = text.indexOf("\n", Math.max(0, offset - 1));
  return nl < 0 ? text.length : nl + 1;
}

function indent(block: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return block
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => (l === "" ? l : pad + l))
    .join("\n")
    .concat("\n");
}

/** Whether the file writes block lists indented under their key (`key:\n  - a`) or level with it. */
function indentsSequences(text: string, docs: Document.Parsed[]): boolean {
  let verdict: boolean | undefined;
  const visit = (n: unknown): void => {
    if (verdict !== undefined) return;
    if (isMap(n)) {
      for (const pair of n.items) {
        const v = pair.value;
        if (isSeq(v) && !v.flow && v.range && isScalar(pair.key) && pair.key.range) {
          const keyCol = pair.key.range[0] - lineStart(text, pair.key.range[0]);
          const dashCol = v.range[0] - lineStart(text, v.range[0]);
          verdict = dashCol > keyCol;
          return;
        }
        visit(v);
      }
    } else if (isSeq(n)) n.items.forEach(visit);
  };
  for (const d of docs) visit(d.contents);
  return verdict ?? true;
}

function render(value: unknown, indentSeq: boolean): string {
  return stringify(value, { indentSeq, lineWidth: 0 });
}

/**
 * Applies one edit to the text of a file and returns the new text. Throws
 * YamlEditError when the object is not in the file or the path runs through
 * something that is not a map.
 */
export function applyEdit(text: string, edit: AddEdit): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new YamlEditError("not a YAML stream");
  const found = findObject(docs, edit.object);
  if (!found) throw new YamlEditError(`${edit.object.kind} ${edit.object.namespace ? `${edit.object.namespace}/` : ""}${edit.object.name} is not in the file`);
  // The edited document's own style first, else the file's.
  const indentSeq = indentsSequences(text, [found.doc, ...docs.filter((d) => d !== found.doc)]);

  // The deepest container that exists on the path, and the key that holds it.
  let node: YamlNode = found.node;
  let holder: { map: YAMLMap; key: YamlNode } | undefined;
  let depth = 0;
  for (; depth < edit.path.length; depth++) {
    const step = edit.path[depth]!;
    if (typeof step === "number") {
      if (!isSeq(node) || !node.items[step]) throw new YamlEditError(`${edit.path.slice(0, depth + 1).join(".")} does not exist`);
      node = node.items[step] as YamlNode;
      holder = undefined;
      continue;
    }
    if (!isMap(node)) throw new YamlEditError(`${edit.path.slice(0, depth).join(".")} is not a map`);
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === step);
    const next = pair?.value as YamlNode | undefined | null;
    if (pair && !node.flow && (next === undefined || next === null || (isScalar(next) && next.value === null))) {
      return fillEmptyKey(text, pair.key as YamlNode, next ?? null, edit, depth, indentSeq);
    }
    if (!pair || next === undefined || next === null) break;
    holder = { map: node, key: pair.key as YamlNode };
    node = next;
  }
  // A flow collection under a block key (`ingress: []`) is written again as a block with the addition.
  if ((isSeq(node) || isMap(node)) && node.flow && holder && !holder.map.flow && depth === edit.path.length && node.range && holder.key.range) {
    const current = node.toJSON() as unknown;
    const merged = isSeq(node) ? [...(current as unknown[]), ...(edit.key === undefined ? [edit.value] : [])] : { ...(current as object), ...(edit.key !== undefined ? { [edit.key]: edit.value } : {}) };
    if ((isSeq(node) && edit.key === undefined) || (isMap(node) && edit.key !== undefined)) {
      const keyCol = holder.key.range[0] - lineStart(text, holder.key.range[0]);
      const block = indent(render(merged, indentSeq), isSeq(node) && !indentSeq ? keyCol : keyCol + 2);
      const lineEnd = afterLine(text, node.range[1]);
      // Whatever follows the flow value on its line (a comment) stays on the key's line.
      const rest = text.slice(node.range[1], lineEnd).replace(/\n$/, "");
      return `${text.slice(0, node.range[0]).replace(/[ \t]+$/, "")}${rest}\n${block}${text.slice(lineEnd)}`;
    }
  }
  const missing = edit.path.slice(depth);
  // What is added to `node`: the item itself, or a key holding the rest of the path.
  let added: unknown;
  if (missing.length === 0) {
    if (edit.key === undefined) {
      if (!isSeq(node)) throw new YamlEditError(`${edit.path.join(".")} is not a list`);
      return insertSeqItem(text, found, node, edit, indentSeq);
    }
    if (!isMap(node)) throw new YamlEditError(`${edit.path.join(".")} is not a map`);
    return insertMapKey(text, found, node, edit.key, edit.value, edit, indentSeq);
  }
  added = edit.key === undefined ? [edit.value] : { [edit.key]: edit.value };
  if (missing.some((m) => typeof m === "number")) throw new YamlEditError(`${edit.path.join(".")} does not exist`);
  for (let i = missing.length - 1; i >= 1; i--) added = { [missing[i]!]: added };
  if (!isMap(node)) throw new YamlEditError(`${edit.path.slice(0, depth).join(".")} is not a map`);
  return insertMapKey(text, found, node, String(missing[0]), added, edit, indentSeq);
}

/**
 * A key written without a value (`ingress:` or `ingress: null`) receives the
 * rest of the path as its block value, on the lines after it; an explicit null
 * is removed from the key's line.
 */
function fillEmptyKey(text: string, key: YamlNode, value: YamlNode | null, edit: AddEdit, depth: number, indentSeq: boolean): string {
  if (!key.range) throw new YamlEditError(`${edit.path.slice(0, depth + 1).join(".")} has no position`);
  const rest = edit.path.slice(depth + 1);
  if (rest.some((m) => typeof m === "number")) throw new YamlEditError(`${edit.path.join(".")} does not exist`);
  let added: unknown = edit.key === undefined ? [edit.value] : { [edit.key]: edit.value };
  for (let i = rest.length - 1; i >= 0; i--) added = { [rest[i]!]: added };
  const keyCol = key.range[0] - lineStart(text, key.range[0]);
  const block = indent(render(added, indentSeq), Array.isArray(added) && !indentSeq ? keyCol : keyCol + 2);
  let out = text;
  let lineEndFrom = key.range[1];
  if (value?.range && value.range[1] > value.range[0]) {
    out = `${text.slice(0, value.range[0]).replace(/[ \t]+$/, "")}${text.slice(value.range[1])}`;
    lineEndFrom = value.range[0];
  }
  return splice(out, afterLine(out, lineEndFrom), block);
}

function insertSeqItem(text: string, found: FoundObject, seq: YAMLSeq, edit: AddEdit, indentSeq: boolean): string {
  if (seq.flow || !seq.range || seq.items.length === 0) return rerender(text, found, edit);
  const col = seq.range[0] - lineStart(text, seq.range[0]);
  const at = afterLine(text, seq.range[1]);
  const block = indent(render([edit.value], indentSeq), col);
  return splice(text, at, block);
}

function insertMapKey(text: string, found: FoundObject, map: YAMLMap, key: string, value: unknown, edit: AddEdit, indentSeq: boolean): string {
  const first = map.items[0]?.key as YamlNode | undefined;
  if (map.flow || !map.range || !first?.range) return rerender(text, found, edit);
  const col = first.range[0] - lineStart(text, first.range[0]);
  const at = afterLine(text, map.range[1]);
  const block = indent(render({ [key]: value }, indentSeq), col);
  return splice(text, at, block);
}

function splice(text: string, at: number, block: string): string {
  const before = text.slice(0, at);
  return `${before}${before.endsWith("\n") || before === "" ? "" : "\n"}${block}${text.slice(at)}`;
}

/** The whole document rendered again with the edit: for flow-style containers, where text insertion cannot keep the layout. */
function rerender(text: string, found: FoundObject, edit: AddEdit): string {
  const { doc } = found;
  const full = [...found.path, ...edit.path];
  if (edit.key === undefined) {
    const seq = doc.getIn(full, true);
    if (isSeq(seq)) {
      seq.flow = false;
      seq.items.push(doc.createNode(edit.value));
    } else doc.setIn(full, doc.createNode([edit.value]));
  } else {
    const map = doc.getIn(full, true);
    if (isMap(map)) {
      map.flow = false;
      map.set(edit.key, doc.createNode(edit.value));
    } else doc.setIn(full, doc.createNode({ [edit.key]: edit.value }));
  }
  const contents = doc.contents as YamlNode;
  const [start, , end] = contents.range!;
  const rendered = stringify(contents, { lineWidth: 0 });
  const tail = text.slice(end);
  return `${text.slice(0, start)}${rendered}${tail.startsWith("\n") && rendered.endsWith("\n") ? tail.slice(1) : tail}`;
}

/** The document of the object, as it reads in `text` (for showing the edited policy whole). */
export function documentText(text: string, ref: ObjectRef): string | undefined {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return undefined;
  const found = findObject(docs, ref);
  if (!found) return undefined;
  const r = found.node.range;
  if (!r) return undefined;
  const start = lineStart(text, r[0]);
  return `${text.slice(start, r[1]).replace(/\s+$/, "")}\n`;
}
