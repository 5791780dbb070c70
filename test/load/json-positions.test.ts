/**
 * JSON documents are located by a scanner (src/load/json-positions.ts) rather than by
 * the YAML parser: it must give the same lines as the YAML locator for every path.
 * The same text read as YAML (after a `---` line, so one line lower) is the reference.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadText, type FieldPath } from "../../src/load/index.js";

/** Every path into `v`, plus a few that do not exist (the locator falls back to the nearest ancestor). */
function paths(v: unknown, prefix: FieldPath = [], out: FieldPath[] = []): FieldPath[] {
  out.push(prefix);
  if (Array.isArray(v)) {
    v.forEach((x, i) => paths(x, [...prefix, i], out));
    out.push([...prefix, v.length], [...prefix, "x"]);
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
    out.push([...prefix, "no-such-key"], [...prefix, 0]);
  }
  return out;
}

function compare(text: string): void {
  const asJson = loadText(text, "a.json");
  const asYaml = loadText(`---\n${text}`, "a.yaml");
  expect(asJson.diagnostics.map((d) => d.format())).toEqual([]);
  expect(asYaml.manifests).toHaveLength(asJson.manifests.length);
  asJson.manifests.forEach((m, i) => {
    const y = asYaml.manifests[i]!;
    expect(m.source.line, "source").toBe(y.source.line - 1);
    for (const p of paths(m.raw)) expect(m.lineOf(p), JSON.stringify(p)).toBe(y.lineOf(p) - 1);
  });
}

const k8sObject = fc.record({
  apiVersion: fc.constant("v1"),
  kind: fc.constantFrom("Pod", "Service", "ConfigMap"),
  metadata: fc.record({ name: fc.string({ minLength: 1, maxLength: 8 }), labels: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }) }),
  spec: fc.jsonValue({ maxDepth: 4 }),
});

describe("JSON positions", () => {
  it("agree with the YAML locator on a kubectl List, pretty-printed", () => {
    const list = {
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "v1", kind: "Pod", metadata: { name: "a", labels: { "app.kubernetes.io/name": "a\"b", "\u00e9": "x" } }, spec: { containers: [{ name: "c", ports: [{ containerPort: 80 }, { containerPort: 81 }] }], empty: {}, none: [], n: null } },
        { apiVersion: "v1", kind: "Service", metadata: { name: "s\\\\" }, spec: { ports: [{ port: 1.5e3, targetPort: "http" }] } },
      ],
    };
    compare(JSON.stringify(list, null, 2));
    compare(JSON.stringify(list, null, "\t"));
    compare(JSON.stringify(list));
  });

  it("agree with the YAML locator when values start on the line after their key", () => {
    const text = `{"apiVersion":
  "v1", "kind": "Pod",
 "metadata": {
   "name":
      "x", "labels": {"a":
   "b"}},
 "spec": {"containers": [
   {"name": "c"}, {"name":
   "d", "ports":
   [ 80,
     81 ]}], "x": {}
 }
}`;
    compare(text);
    const m = loadText(text, "odd.json").manifests[0]!;
    expect(m.lineOf(["metadata", "name"])).toBe(5);
    expect(m.lineOf(["spec", "containers", 1, "ports", 1])).toBe(11);
    expect(m.lineOf(["spec", "containers", 1, "ports"])).toBe(9);
  });

  it("agree with the YAML locator on random objects and lists", () => {
    fc.assert(
      fc.property(fc.array(k8sObject, { minLength: 1, maxLength: 3 }), fc.constantFrom(0, 1, 2, 4), (items, indent) => {
        const list = { apiVersion: "v1", kind: "List", items };
        compare(JSON.stringify(list, null, indent));
        compare(JSON.stringify(items[0], null, indent));
      }),
      { numRuns: 150 },
    );
  });
});
