import { describe, expect, it } from "vitest";
import { unifiedDiff } from "../../src/fix/diff.js";
import { applyEdit, documentText, YamlEditError } from "../../src/fix/yaml-edit.js";
import { changedLines } from "./helpers.js";

const file = `# policies of the shop
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated, namespace: shop}
data: {a: "1"}   # keep me
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api   # the API
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: api}
  ingress:
  - from: [{podSelector: {}}]   # same namespace
    ports:
      - port: 80
  # egress is added later
  egress: []
`;
const np = { kind: "NetworkPolicy", namespace: "shop", name: "api" };
const rule = { from: [{ ipBlock: { cidr: "192.0.2.1/32" } }], ports: [{ protocol: "TCP", port: 8080 }] };

describe("editing a manifest file in place", () => {
  it("appends a list item with the list's indentation and adds lines only", () => {
    const after = applyEdit(file, { object: np, path: ["spec", "ingress"], value: rule });
    const { added, removed } = changedLines(unifiedDiff("f.yaml", file, after));
    expect(removed).toEqual([]);
    expect(added).toEqual(["  - from:", "    - ipBlock:", "        cidr: 192.0.2.1/32", "    ports:", "    - protocol: TCP", "      port: 8080"]);
    // The new item comes right after the last one, before the comment that introduces the next key.
    expect(after).toContain("      - port: 80\n  - from:\n");
    expect(after).toContain("  # egress is added later\n  egress: []");
  });

  it("adds a missing key at the end of its map", () => {
    const after = applyEdit(file, { object: np, path: ["spec", "policyTypes"], value: "Ingress" });
    expect(changedLines(unifiedDiff("f.yaml", file, after))).toEqual({ added: ["  policyTypes:", "  - Ingress"], removed: [] });
  });

  it("writes a flow list as a block when it grows, changing only its own line", () => {
    const after = applyEdit(file, { object: np, path: ["spec", "egress"], value: rule });
    const { added, removed } = changedLines(unifiedDiff("f.yaml", file, after));
    expect(removed).toEqual(["  egress: []"]);
    expect(added[0]).toBe("  egress:");
    expect(added).toHaveLength(7);
  });

  it("sets a key in a map, creating the maps on the way", () => {
    const pa = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels:
      app: api
`;
    const after = applyEdit(pa, { object: { kind: "PeerAuthentication", namespace: "shop", name: "api" }, path: ["spec", "portLevelMtls"], key: "8080", value: { mode: "PERMISSIVE" } });
    expect(after).toBe(`${pa}  portLevelMtls:\n    "8080":\n      mode: PERMISSIVE\n`);
  });

  it("finds an object inside a kind: List, and refuses one that is not there", () => {
    const list = `apiVersion: v1
kind: List
items:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: api, namespace: shop}
    spec:
      podSelector: {}
      ingress:
        - {}
`;
    const after = applyEdit(list, { object: np, path: ["spec", "ingress"], value: { ports: [{ port: 80 }] } });
    expect(changedLines(unifiedDiff("l.yaml", list, after)).added).toEqual(["        - ports:", "            - port: 80"]);
    expect(() => applyEdit(list, { object: { ...np, name: "other" }, path: ["spec"], value: 1 })).toThrow(YamlEditError);
  });

  it("shows the edited document whole, with its comments", () => {
    const after = applyEdit(file, { object: np, path: ["spec", "ingress"], value: rule });
    const doc = documentText(after, np)!;
    expect(doc.startsWith("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy")).toBe(true);
    expect(doc).toContain("name: api   # the API");
    expect(doc).not.toContain("ConfigMap");
  });
});

describe("unified diff", () => {
  it("numbers hunks as diff -u does", () => {
    const a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    const b = "1\n2\n3\n4\n5\nnew\n6\n7\n8\n9\n";
    expect(unifiedDiff("x", a, b)).toBe("--- a/x\n+++ b/x\n@@ -3,6 +3,7 @@\n 3\n 4\n 5\n+new\n 6\n 7\n 8\n");
    expect(unifiedDiff("x", a, a)).toBe("");
  });
});

describe("a key written without a value", () => {
  const np = { kind: "NetworkPolicy", namespace: "shop", name: "api" };
  const policy = (ingress: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {}
  ingress:${ingress}
  policyTypes: [Ingress]
`;
  it("gets the list as its block value, not a second key", () => {
    const text = policy("");
    const after = applyEdit(text, { object: np, path: ["spec", "ingress"], value: { ports: [{ port: 80 }] } });
    // No block list in the document to copy the style from: items indented under their key.
    expect(changedLines(unifiedDiff("f", text, after))).toEqual({ added: ["    - ports:", "        - port: 80"], removed: [] });
    expect(after.match(/ingress:/g)).toHaveLength(1);
  });

  it("loses an explicit null, keeping a comment", () => {
    const text = policy(" null  # nothing yet");
    const after = applyEdit(text, { object: np, path: ["spec", "ingress"], value: { ports: [{ port: 80 }] } });
    expect(after).toContain("  ingress:  # nothing yet\n    - ports:\n        - port: 80\n  policyTypes: [Ingress]");
  });
});
