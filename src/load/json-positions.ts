import type { FieldPath } from "./types.js";

interface Child {
  /** Offset of the key (objects) or of the value (arrays). */
  key: number;
  /** Offset of the value's first character. */
  value: number;
}

/**
 * Source lines inside a valid JSON text, found by scanning instead of building a
 * syntax tree: `kubectl get -o json` output is one List of tens of megabytes, and
 * every item's line is asked for. Each container on a requested path is scanned
 * once (its children's offsets are cached), values off the path are skipped over.
 * Lines follow the YAML locator's convention: a scalar value's own line, the key's
 * line for an object or array value, the item's line in an array.
 */
export class JsonPositions {
  private readonly children = new Map<number, Map<string | number, Child>>();
  private lineStarts: number[] | undefined;

  /** `firstLine`: the 1-based line of the text's first line in its file. */
  constructor(
    private readonly text: string,
    private readonly firstLine = 1,
  ) {}

  lineOf(path: FieldPath): number {
    let offset = this.skipWs(0);
    let best = this.line(offset);
    for (const step of path) {
      const kids = this.childrenOf(offset);
      const child = kids?.get(step);
      if (!child) break;
      const c = this.text[child.value];
      best = this.line(c === "{" || c === "[" ? child.key : child.value);
      offset = child.value;
    }
    return best;
  }

  private line(offset: number): number {
    if (!this.lineStarts) {
      const starts = [0];
      for (let i = this.text.indexOf("\n"); i >= 0; i = this.text.indexOf("\n", i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + this.firstLine;
  }

  private childrenOf(offset: number): Map<string | number, Child> | undefined {
    const cached = this.children.get(offset);
    if (cached) return cached;
    const open = this.text[offset];
    if (open !== "{" && open !== "[") return undefined;
    const kids = new Map<string | number, Child>();
    const close = open === "{" ? "}" : "]";
    let i = this.skipWs(offset + 1);
    let index = 0;
    while (i < this.text.length && this.text[i] !== close) {
      if (open === "{") {
        const keyStart = i;
        const keyEnd = this.skipString(i);
        const raw = this.text.slice(keyStart, keyEnd);
        const key = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        i = this.skipWs(keyEnd);
        i = this.skipWs(i + 1); // the colon
        // Duplicate keys: the last one wins, as in JSON.parse.
        kids.set(key, { key: keyStart, value: i });
      } else {
        kids.set(index++, { key: i, value: i });
      }
      i = this.skipWs(this.skipValue(i));
      if (this.text[i] === ",") i = this.skipWs(i + 1);
      else break;
    }
    this.children.set(offset, kids);
    return kids;
  }

  private skipWs(i: number): number {
    const t = this.text;
    while (i < t.length && (t[i] === " " || t[i] === "\n" || t[i] === "\r" || t[i] === "\t")) i++;
    return i;
  }

  /** Offset just past the string starting at `i` (a `"`). */
  private skipString(i: number): number {
    const t = this.text;
    for (let j = i + 1; j < t.length; j++) {
      const c = t[j];
      if (c === "\\") j++;
      else if (c === '"') return j + 1;
    }
    return t.length;
  }

  /** Offset just past the value starting at `i`. */
  private skipValue(i: number): number {
    const t = this.text;
    const c = t[i];
    if (c === '"') return this.skipString(i);
    if (c === "{" || c === "[") {
      let depth = 0;
      for (let j = i; j < t.length; j++) {
        const d = t[j];
        if (d === '"') j = this.skipString(j) - 1;
        else if (d === "{" || d === "[") depth++;
        else if (d === "}" || d === "]") {
          depth--;
          if (depth === 0) return j + 1;
        }
      }
      return t.length;
    }
    let j = i;
    while (j < t.length && t[j] !== "," && t[j] !== "}" && t[j] !== "]" && t[j] !== " " && t[j] !== "\n" && t[j] !== "\r" && t[j] !== "\t") j++;
    return j;
  }
}
