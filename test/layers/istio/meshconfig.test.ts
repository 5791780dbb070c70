/**
 * MeshConfig from the `istio` ConfigMap (semantics.md §4.8 r26, §8 "MeshConfig"):
 * defaults as istiod's `DefaultMeshConfig`, values read from `data.mesh` with located
 * diagnostics, a rejected document meaning "defaults" (as istiod does), and the
 * detection of Istio in the input.
 */
import { describe, expect, it } from "vitest";
import { detectIstio, readMeshConfig } from "../../../src/layers/istio/meshconfig.js";
import { lineOf, loadYaml } from "../../helpers/cluster.js";

async function mesh(text: string, options = {}) {
  const load = await loadYaml(text, "mesh.yaml");
  expect(load.diagnostics).toEqual([]);
  return readMeshConfig(load.manifests, options);
}

const CM = (body: string, ns = "istio-system", name = "istio") => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: ${ns}
data:
  mesh: |-
${body
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
`;

describe("MeshConfig defaults (§4.8 r26: mesh default ALLOW_ANY)", () => {
  it("without an istio ConfigMap: ALLOW_ANY, root namespace istio-system, trust domain cluster.local, exportTo *", async () => {
    const { mesh: m, diagnostics } = await mesh("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    expect(diagnostics).toEqual([]);
    expect(m.outboundTrafficPolicy).toEqual({ mode: "ALLOW_ANY", ref: null });
    expect(m.rootNamespace).toBe("istio-system");
    expect(m.trustDomain).toBe("cluster.local");
    expect(m.defaultServiceExportTo).toEqual(["*"]);
    expect(m.enableAutoMtls).toBe(true);
    expect(m.source).toBeNull();
    expect(m.assumptions.join(" ")).toMatch(/no ConfigMap istio-system\/istio .*defaults assumed/);
  });

  it("an empty mesh document keeps every default", async () => {
    const { mesh: m, diagnostics } = await mesh(CM("# nothing set"));
    expect(diagnostics).toEqual([]);
    expect(m.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(m.source).toMatchObject({ namespace: "istio-system", name: "istio", file: "mesh.yaml", line: 1 });
  });
});

describe("values from data.mesh", () => {
  it("REGISTRY_ONLY, root namespace, trust domain, exportTo, DNS capture; the mode carries the line that set it", async () => {
    const text = CM(`rootNamespace: mesh-root
trustDomain: example.org
trustDomainAliases: [old.example.org]
defaultServiceExportTo: ["."]
outboundTrafficPolicy:
  mode: REGISTRY_ONLY
defaultConfig:
  proxyMetadata:
    ISTIO_META_DNS_CAPTURE: "true"`);
    const { mesh: m, diagnostics } = await mesh(text);
    expect(diagnostics).toEqual([]);
    expect(m.rootNamespace).toBe("mesh-root");
    expect(m.trustDomain).toBe("example.org");
    expect(m.trustDomainAliases).toEqual(["old.example.org"]);
    expect(m.defaultServiceExportTo).toEqual(["."]);
    expect(m.dnsCapture).toBe(true);
    expect(m.outboundTrafficPolicy).toEqual({
      mode: "REGISTRY_ONLY",
      ref: { kind: "ConfigMap", namespace: "istio-system", name: "istio", rule: null, file: "mesh.yaml", line: lineOf(text, "mode: REGISTRY_ONLY") },
    });
  });

  it("proto field names (snake_case) are accepted as jsonpb does", async () => {
    const { mesh: m } = await mesh(CM("outbound_traffic_policy:\n  mode: REGISTRY_ONLY\nroot_namespace: other"));
    expect(m.outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    expect(m.rootNamespace).toBe("other");
  });

  it("`outboundTrafficPolicy: {}` is REGISTRY_ONLY (the enum's zero value), with a warning", async () => {
    const text = CM("outboundTrafficPolicy: {}");
    const { mesh: m, diagnostics } = await mesh(text);
    expect(m.outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    expect(diagnostics.map((d) => [d.severity, d.location.line])).toEqual([["warning", lineOf(text, "outboundTrafficPolicy")]]);
  });

  it("the ConfigMap of another namespace is used when istio-system has none, and a revision reads istio-<rev>", async () => {
    const other = await mesh(CM("outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "istio-control"));
    expect(other.mesh.outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    expect(other.mesh.assumptions.join(" ")).toMatch(/istio-control\/istio/);
    const rev = await mesh(CM("outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "istio-system", "istio-canary"), { revision: "canary" });
    expect(rev.mesh.outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    const norev = await mesh(CM("outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "istio-system", "istio-canary"));
    expect(norev.mesh.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
  });
});

describe("bad values: located errors, and istiod's fallback to the defaults", () => {
  it("an unknown mode rejects the whole document: defaults (even for valid fields), error at the mode line", async () => {
    const text = CM("rootNamespace: mesh-root\noutboundTrafficPolicy:\n  mode: BLOCK_ALL");
    const { mesh: m, diagnostics } = await mesh(text);
    expect(m.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(m.rootNamespace).toBe("istio-system");
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.severity).toBe("error");
    expect(diagnostics[0]!.location).toEqual({ file: "mesh.yaml", line: lineOf(text, "BLOCK_ALL"), field: "data.mesh: outboundTrafficPolicy.mode" });
    expect(diagnostics[0]!.message).toMatch(/BLOCK_ALL.*istiod rejects the whole MeshConfig/);
    expect(m.assumptions.join(" ")).toMatch(/invalid/);
  });

  it("wrong types and invalid trust domains are errors at their lines", async () => {
    const text = CM("trustDomain: bad_domain!\nenableAutoMtls: sometimes\ntrustDomainAliases: [ok.example, 'x y']");
    const { diagnostics } = await mesh(text);
    expect(diagnostics.map((d) => [d.severity, d.location.line, d.location.field])).toEqual([
      ["error", lineOf(text, "trustDomain: bad"), "data.mesh: trustDomain"],
      ["error", lineOf(text, "trustDomainAliases"), "data.mesh: trustDomainAliases[1]"],
      ["error", lineOf(text, "enableAutoMtls"), "data.mesh: enableAutoMtls"],
    ]);
  });

  it("malformed YAML inside data.mesh is located inside the block", async () => {
    const text = CM("outboundTrafficPolicy:\n  mode: [REGISTRY_ONLY\nrootNamespace: x");
    const { mesh: m, diagnostics } = await mesh(text);
    expect(m.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(diagnostics[0]!.severity).toBe("error");
    expect(diagnostics[0]!.message).toMatch(/malformed MeshConfig YAML/);
    expect(diagnostics[0]!.location.line).toBeGreaterThanOrEqual(lineOf(text, "outboundTrafficPolicy"));
  });

  it("in JSON input (kubectl get -o json) the document is one string: errors point at its key", async () => {
    const text = `{
  "apiVersion": "v1",
  "kind": "ConfigMap",
  "metadata": {"name": "istio", "namespace": "istio-system"},
  "data": {
    "mesh": "rootNamespace: x\\noutboundTrafficPolicy:\\n  mode: NOPE\\n"
  }
}`;
    const load = await loadYaml(text, "cm.json");
    const { mesh: m, diagnostics } = readMeshConfig(load.manifests);
    expect(m.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(diagnostics.map((d) => [d.location.file, d.location.line, d.location.field])).toEqual([["cm.json", lineOf(text, '"mesh"'), "data.mesh: outboundTrafficPolicy.mode"]]);
  });

  it("a misspelt field is ignored by istiod: warning, default kept", async () => {
    const text = CM("OutboundTrafficPolicy:\n  mode: REGISTRY_ONLY");
    const { mesh: m, diagnostics } = await mesh(text);
    expect(m.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(diagnostics.map((d) => [d.severity, d.location.line])).toEqual([["warning", lineOf(text, "OutboundTrafficPolicy")]]);
    expect(diagnostics[0]!.message).toMatch(/did you mean "outboundTrafficPolicy"/);
  });

  it("data.mesh that is not a string, and a ConfigMap without data.mesh", async () => {
    const text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}\n";
    const { mesh: m, diagnostics } = await mesh(text);
    expect(m.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(diagnostics.map((d) => [d.severity, d.location.line, d.location.field])).toEqual([["error", 5, "data.mesh"]]);
    const none = await mesh("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  meshNetworks: 'networks: {}'\n");
    expect(none.diagnostics.map((d) => d.severity)).toEqual(["warning"]);
    expect(none.mesh.outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
  });
});

describe("detectIstio (design.md: Istio labels, CRDs or the istio ConfigMap present → Istio)", () => {
  it("plain Kubernetes: not present", async () => {
    const load = await loadYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n");
    expect(detectIstio(load.manifests)).toEqual({ present: false, evidence: [] });
  });

  it.each([
    ["an Istio API object", "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: a}\nspec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}\n", /Sidecar \(networking\.istio\.io\)/],
    ["the istio ConfigMap", CM("{}"), /ConfigMap istio-system\/istio/],
    ["a namespace injection label", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {istio-injection: enabled}}\n", /namespace label istio-injection/],
    ["an ambient namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {istio.io/dataplane-mode: ambient}}\n", /istio.io\/dataplane-mode/],
    ["a pod label", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {sidecar.istio.io/inject: 'true'}}\nspec: {containers: [{name: c, image: x}]}\n", /pod label sidecar.istio.io\/inject/],
    ["an injected pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: x}, {name: istio-proxy, image: proxyv2}]}\n", /istio-proxy containers/],
    ["an Istio CRD", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: sidecars.networking.istio.io}\nspec: {group: networking.istio.io}\n", /CRD sidecars/],
    ["a waypoint", "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: a}\nspec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}\n", /istio-waypoint/],
  ])("present with %s", async (_what, text, evidence) => {
    const load = await loadYaml(text);
    const d = detectIstio(load.manifests);
    expect(d.present).toBe(true);
    expect(d.evidence.join("; ")).toMatch(evidence);
  });
});
