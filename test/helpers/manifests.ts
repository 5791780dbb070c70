/**
 * Manifest objects built directly from YAML text with the `yaml` package, with
 * positions taken from the YAML nodes. `loadYaml` (cluster.ts) uses this only
 * while `src/load/index.ts` does not exist; it is not a second loader.
 */
import { isMap, isSeq, LineCounter, parseAllDocuments, type Node } from "yaml";
import type { FieldPath, LoadResult, Manifest } from "../../src/load/types.js";

export function manifestsFromYaml(text: string, file = "test.yaml"): LoadResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  const manifests: Manifest[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const raw = doc.toJS() as Record<string, unknown> | null;
    if (!raw || typeof raw !== "object") continue;
    const root = doc.contents as Node | null;
    const lineAt = (node: Node | null | undefined): number | undefined =>
      node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
    const meta = (raw.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    manifests.push({
      apiVersion: String(raw.apiVersion ?? ""),
      kind: String(raw.kind ?? ""),
      name: typeof meta.name === "string" ? meta.name : "",
      namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
      raw,
      source: { file, line: lineAt(root) ?? 1 },
      lineOf(path: FieldPath): number {
        let node: Node | null | undefined = root;
        let line = lineAt(root) ?? 1;
        for (const key of path) {
          if (isMap(node)) node = node.get(key, true) as Node | undefined;
          else if (isSeq(node) && typeof key === "number") node = node.get(key, true) as Node | undefined;
          else break;
          const l = lineAt(node);
          if (l === undefined) break;
          line = l;
        }
        return line;
      },
    });
  }
  return { manifests, diagnostics: [] };
}
