/**
 * Sidecar egress (semantics.md §4.8, §4.9, §4.12 I18–I20): the Sidecar in force
 * (selector > namespace default > root default), egress host imports, exportTo,
 * outboundTrafficPolicy from the Sidecar or MeshConfig, and what the client sees
 * (HTTP 502 / reset). The seed 004 setups (cluster-, namespace- and pod-level egress
 * control, ServiceEntries with DNS, STATIC and NONE addresses, the multi-tenant
 * scenario, NATS) and the seed 000 ambient/sidecar mix are evaluated end to end.
 */
import { describe, expect, it } from "vitest";
import { meshMembership } from "../../../src/layers/istio/membership.js";
import { readMeshConfig } from "../../../src/layers/istio/meshconfig.js";
import { scanServiceEntries, ServiceEntryRegistry, type ClientProtocol } from "../../../src/layers/istio/serviceentry.js";
import { scanSidecars, SidecarEgress, type EgressDestination } from "../../../src/layers/istio/sidecar-egress.js";
import { buildCluster } from "../../../src/model/build.js";
import type { Protocol } from "../../../src/sets/index.js";
import { lineOf, loadYaml } from "../../helpers/cluster.js";

const NS = (name: string, labels: Record<string, string> = { "istio-injection": "enabled" }) =>
  `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: ${JSON.stringify(labels)}}\n`;

const DEPLOY = (ns: string, name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: ${JSON.stringify({ app: name, ...labels })}
      annotations: ${JSON.stringify(annotations)}
    spec:
      containers: [{name: app, image: app, ports: [{containerPort: 8080}]}]
`;

const SVC = (ns: string, name: string, port: number, portName: string, extra = "") => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}${extra}}
spec:
  selector: {app: ${name}}
  clusterIP: 10.96.${ns.length}.${port % 250}
  ports: [{name: ${portName}, port: ${port}, targetPort: 8080}]
`;

const SE = (ns: string, name: string, spec: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;

const SIDECAR = (ns: string, name: string, spec: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: ${name}
  namespace: ${ns}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;

const ZENQUOTES = (ns: string, exportTo = "") =>
  SE(ns, "zenquotes-external", `hosts: [zenquotes.io]\nports: [{number: 443, name: https, protocol: HTTPS}]\nlocation: MESH_EXTERNAL\nresolution: DNS${exportTo}`);

/** The garden namespace of seed 004, with jaeger, and the Kyma NATS service. */
const GARDEN = [
  NS("garden"),
  NS("kyma-system"),
  NS("istio-system", {}),
  DEPLOY("garden", "beautiful-garden", { "app.kubernetes.io/name": "beautiful-garden" }),
  DEPLOY("garden", "other"),
  DEPLOY("garden", "jaeger-query"),
  SVC("garden", "jaeger-query", 16686, "http-query"),
  DEPLOY("kyma-system", "eventing-nats"),
  SVC("kyma-system", "eventing-nats", 4222, "tcp-client"),
  // Every Istio install has it; its HTTP port 80 gives sidecars a 0.0.0.0:80 HTTP listener.
  `apiVersion: v1\nkind: Service\nmetadata: {name: istio-ingressgateway, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  ports: [{name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]\n`,
];

interface Ask {
  from: string;
  to: EgressDestination | { svc: string; port: number };
  protocol?: Protocol;
  app?: ClientProtocol;
}

async function world(docs: string[]) {
  const text = docs.join("---\n");
  const load = await loadYaml(text, "egress.yaml");
  expect(load.diagnostics).toEqual([]);
  const built = buildCluster(load.manifests);
  const meshRead = readMeshConfig(load.manifests);
  const se = scanServiceEntries(load.manifests, { defaultExportTo: meshRead.mesh.defaultServiceExportTo });
  const sc = scanSidecars(load.manifests);
  const diagnostics = [...built.diagnostics, ...meshRead.diagnostics, ...se.diagnostics, ...sc.diagnostics];
  const egress = new SidecarEgress({ mesh: meshRead.mesh, sidecars: sc.sidecars, registry: ServiceEntryRegistry.fromScan(se), services: built.cluster.services });
  const ask = (a: Ask) => {
    const w = built.cluster.workloads.find((x) => x.id === a.from)!;
    expect(w, a.from).toBeDefined();
    const m = meshMembership(w, built.cluster.namespaces.get(w.namespace));
    const to = "svc" in a.to ? { kind: "service" as const, service: built.cluster.services.find((s) => s.id === (a.to as { svc: string }).svc)!, port: a.to.port } : a.to;
    return egress.evaluate({ source: w, sourceMode: m.mode, destination: to, protocol: a.protocol ?? "TCP", ...(a.app ? { app: a.app } : {}) });
  };
  return { text, ask, diagnostics, egress, cluster: built.cluster, sidecars: sc.sidecars };
}

const ext = (host: string | undefined, port: number, ip?: string): EgressDestination => ({ kind: "external", ...(host ? { host } : {}), ...(ip ? { ip } : {}), port });

describe("seed 004 §4.3: cluster-wide egress (root-namespace Sidecar, REGISTRY_ONLY, */*)", () => {
  const docs = [
    ...GARDEN,
    ZENQUOTES("istio-system", `\nexportTo: ["*"]`),
    SE("istio-system", "kubernetes-api-external", `hosts: [api.c-XXXXX.kyma.ondemand.com]\nports: [{number: 443, name: https, protocol: TLS}]\nlocation: MESH_EXTERNAL\nresolution: DNS\nexportTo: ["*"]`),
    SIDECAR("istio-system", "cluster-egress-policy", `outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\negress:\n  - hosts:\n      - "*/*"`),
  ];

  it("zenquotes.io:443 is registered by the istio-system ServiceEntry: allowed, naming the Sidecar and the entry", async () => {
    const { ask, text, diagnostics } = await world(docs);
    expect(diagnostics).toEqual([]);
    const d = ask({ from: "garden/beautiful-garden", to: ext("zenquotes.io", 443) });
    expect(d).toMatchObject({ verdict: "allow", applies: true, route: "serviceentry", observed: null, missing: null });
    expect(d.sidecar).toMatchObject({ level: "root", sidecar: { namespace: "istio-system", name: "cluster-egress-policy" } });
    expect(d.outboundTrafficPolicy).toMatchObject({ mode: "REGISTRY_ONLY", source: "Sidecar" });
    expect(d.policies).toEqual([
      { kind: "Sidecar", namespace: "istio-system", name: "cluster-egress-policy", rule: 0, file: "egress.yaml", line: lineOf(text, "- hosts:") },
      { kind: "ServiceEntry", namespace: "istio-system", name: "zenquotes-external", rule: null, file: "egress.yaml", line: lineOf(text, "kind: ServiceEntry") - 1 },
    ]);
    expect(d.reason).toMatch(/ServiceEntry istio-system\/zenquotes-external registers SNI zenquotes.io/);
  });

  it("I18: HTTP to google.com is blocked with a 502, naming the missing ServiceEntry", async () => {
    const { ask } = await world(docs);
    const d = ask({ from: "garden/beautiful-garden", to: ext("google.com", 80), app: "http" });
    expect(d).toMatchObject({ verdict: "deny", route: "blackhole", observed: "http-502" });
    expect(d.reason).toMatch(/^outboundTrafficPolicy REGISTRY_ONLY \(Sidecar istio-system\/cluster-egress-policy\) blocks google.com:80: no ServiceEntry visible to namespace garden registers google.com on port 80; the client gets HTTP 502$/);
    expect(d.missing).toMatchObject({ kind: "ServiceEntry", namespace: "garden", name: null, host: "google.com", port: 80 });
    expect(d.missing!.suggestion).toMatch(/hosts: \[google.com\].*number: 80.*protocol: HTTP/);
    expect(d.policies.map((p) => `${p.kind} ${p.namespace}/${p.name}`)).toEqual(["Sidecar istio-system/cluster-egress-policy"]);
  });

  it("I19: TLS to google.com:443 is reset; a known host on a port the entry does not declare is named as a near miss", async () => {
    const { ask } = await world(docs);
    const tls = ask({ from: "garden/beautiful-garden", to: ext("google.com", 443), app: "tls" });
    expect(tls).toMatchObject({ verdict: "deny", observed: "reset" });
    const port = ask({ from: "garden/beautiful-garden", to: ext("zenquotes.io", 80), app: "http" });
    expect(port).toMatchObject({ verdict: "deny", observed: "http-502" });
    expect(port.reason).toMatch(/registers zenquotes.io but not port 80/);
  });

  it("in-mesh Services stay reachable (*/* imports every exported service)", async () => {
    const { ask } = await world(docs);
    const d = ask({ from: "garden/beautiful-garden", to: { svc: "garden/jaeger-query", port: 16686 } });
    expect(d).toMatchObject({ verdict: "allow", route: "service", matched: { kind: "Service" } });
    expect(d.reason).toMatch(/jaeger-query.garden.svc.cluster.local.*imports \*\/\*/);
    // A Service's DNS name given as an external host is recognised as that Service.
    expect(ask({ from: "garden/beautiful-garden", to: ext("jaeger-query.garden.svc.cluster.local", 16686) })).toMatchObject({ verdict: "allow", route: "service" });
    expect(ask({ from: "garden/beautiful-garden", to: ext("jaeger-query", 16686) })).toMatchObject({ verdict: "allow", route: "service" });
  });

  it("the ambient and out-of-mesh pods are not governed by Sidecar resources", async () => {
    const { ask } = await world([...docs, NS("amb", { "istio.io/dataplane-mode": "ambient" }), DEPLOY("amb", "client"), NS("plain", {}), DEPLOY("plain", "client")]);
    expect(ask({ from: "amb/client", to: ext("google.com", 80), app: "http" })).toMatchObject({ verdict: "allow", applies: false, route: "not-captured" });
    expect(ask({ from: "plain/client", to: ext("google.com", 80), app: "http" })).toMatchObject({ verdict: "allow", applies: false });
  });
});

describe("seed 004 §4.4: namespace-level egress", () => {
  const docs = [
    ...GARDEN,
    NS("elsewhere"),
    DEPLOY("elsewhere", "client"),
    ZENQUOTES("garden"),
    SIDECAR("garden", "restrict-egress-namespace", `outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\negress:\n  - hosts:\n      - "garden/*"\n      - "istio-system/*"\n      - "kube-system/*"`),
  ];

  it("the garden ServiceEntry is imported by garden/*; every pod of garden is covered", async () => {
    const { ask, diagnostics } = await world(docs);
    expect(diagnostics).toEqual([]);
    for (const from of ["garden/beautiful-garden", "garden/other"]) {
      const d = ask({ from, to: ext("zenquotes.io", 443) });
      expect(d).toMatchObject({ verdict: "allow", route: "serviceentry", sidecar: { level: "namespace" } });
      expect(d.reason).toMatch(/imports it \(garden\/\*\)/);
    }
  });

  it("NATS in kyma-system is not imported: blocked, and the missing egress host is named with its Sidecar line", async () => {
    const { ask, text } = await world(docs);
    const d = ask({ from: "garden/beautiful-garden", to: { svc: "kyma-system/eventing-nats", port: 4222 } });
    expect(d).toMatchObject({ verdict: "deny", observed: "reset" });
    expect(d.reason).toMatch(/Sidecar garden\/restrict-egress-namespace egress\[0\] does not import kyma-system\/eventing-nats.kyma-system.svc.cluster.local/);
    expect(d.missing).toMatchObject({
      kind: "SidecarEgressHost",
      namespace: "garden",
      name: "restrict-egress-namespace",
      host: "kyma-system/eventing-nats.kyma-system.svc.cluster.local",
      line: lineOf(text, "- hosts:"),
    });
  });

  it("another namespace keeps the mesh default ALLOW_ANY: passthrough", async () => {
    const { ask } = await world(docs);
    const d = ask({ from: "elsewhere/client", to: ext("google.com", 443), app: "tls" });
    expect(d).toMatchObject({ verdict: "allow", applies: true, route: "passthrough", outboundTrafficPolicy: { mode: "ALLOW_ANY", source: "default" } });
    expect(d.reason).toMatch(/passes it through/);
  });
});

describe("seed 004 §4.5 and §6.3: pod-level egress, two selector Sidecars", () => {
  const podLevel = SIDECAR(
    "garden",
    "restrict-egress-pod",
    `workloadSelector:\n  labels:\n    app.kubernetes.io/name: beautiful-garden\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\negress:\n  - hosts:\n      - "garden/*"\n      - "istio-system/*"\n      - "kube-system/*"`,
  );
  const nats = SIDECAR(
    "garden",
    "allow-nats-egress",
    `workloadSelector:\n  labels:\n    app.kubernetes.io/name: beautiful-garden\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\negress:\n  - hosts:\n      - "garden/*"\n      - "istio-system/*"\n      - "kube-system/*"\n      - "kyma-system/*"`,
  );

  it("only the selected pod is restricted", async () => {
    const { ask } = await world([...GARDEN, ZENQUOTES("garden"), podLevel]);
    const sel = ask({ from: "garden/beautiful-garden", to: ext("google.com", 80), app: "http" });
    expect(sel).toMatchObject({ verdict: "deny", observed: "http-502", sidecar: { level: "workload" } });
    expect(sel.sidecar.reason).toMatch(/selects garden\/beautiful-garden \(workloadSelector app.kubernetes.io\/name=beautiful-garden\)/);
    expect(ask({ from: "garden/other", to: ext("google.com", 80), app: "http" })).toMatchObject({ verdict: "allow", route: "passthrough" });
    expect(ask({ from: "garden/beautiful-garden", to: ext("zenquotes.io", 443) })).toMatchObject({ verdict: "allow" });
  });

  it("with both selector Sidecars the oldest wins and the other is reported as ignored (undefined in Istio)", async () => {
    const older = (s: string, ts: string) => s.replace("metadata:\n", `metadata:\n  creationTimestamp: "${ts}"\n`);
    const { ask } = await world([...GARDEN, older(podLevel, "2024-05-02T00:00:00Z"), older(nats, "2024-05-01T00:00:00Z")]);
    const d = ask({ from: "garden/beautiful-garden", to: { svc: "kyma-system/eventing-nats", port: 4222 } });
    expect(d.sidecar.sidecar!.name).toBe("allow-nats-egress");
    expect(d.sidecar.ignored.map((s) => s.name)).toEqual(["restrict-egress-pod"]);
    expect(d.sidecar.reason).toMatch(/also select it and is ignored/);
    expect(d.verdict).toBe("allow");
    // Without timestamps the first one in the input is taken: the pod-level one, which does not import kyma-system.
    const { ask: ask2 } = await world([...GARDEN, podLevel, nats]);
    expect(ask2({ from: "garden/beautiful-garden", to: { svc: "kyma-system/eventing-nats", port: 4222 } }).verdict).toBe("deny");
  });
});

describe("seed 004 scenario 3: multi-tenant namespaces", () => {
  const tenant = (t: string, api: string) => [
    NS(t),
    DEPLOY(t, "app"),
    SE(t, api.split(".")[0]!, `hosts: [${api}]\nports: [{number: 443, name: https, protocol: HTTPS}]\nlocation: MESH_EXTERNAL\nresolution: DNS`),
    SIDECAR(t, `${t}-egress`, `outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\negress:\n  - hosts:\n      - "${t}/*"\n      - "istio-system/*"\n      - "kube-system/*"`),
  ];
  const docs = [...tenant("team-a", "payments-api.com"), ...tenant("team-b", "analytics-api.com")];

  it("each team reaches its own API and not the other's, although that entry is exported everywhere", async () => {
    const { ask } = await world(docs);
    expect(ask({ from: "team-a/app", to: ext("payments-api.com", 443) })).toMatchObject({ verdict: "allow", route: "serviceentry" });
    expect(ask({ from: "team-b/app", to: ext("analytics-api.com", 443) })).toMatchObject({ verdict: "allow" });
    const d = ask({ from: "team-a/app", to: ext("analytics-api.com", 443) });
    expect(d).toMatchObject({ verdict: "deny", observed: "reset" });
    expect(d.reason).toMatch(/ServiceEntry team-b\/analytics-api registers SNI analytics-api.com .*, but Sidecar team-a\/team-a-egress egress\[0\] does not import team-b\/analytics-api.com/);
    expect(d.missing).toMatchObject({ kind: "SidecarEgressHost", namespace: "team-a", name: "team-a-egress", host: "team-b/analytics-api.com" });
    expect(d.policies.map((p) => `${p.kind} ${p.namespace}/${p.name}`)).toEqual(["Sidecar team-a/team-a-egress", "ServiceEntry team-b/analytics-api"]);
  });
});

describe("seed 004 §4.7: ServiceEntries with IP addresses (STATIC and NONE)", () => {
  const docs = [
    ...GARDEN,
    SIDECAR("istio-system", "production-egress-policy", `outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\negress:\n  - hosts: ["*/*"]`),
    SE("istio-system", "external-database", `hosts: [external-db.internal]\naddresses: [203.0.113.50/32]\nports: [{number: 5432, name: postgres, protocol: TCP}]\nlocation: MESH_EXTERNAL\nresolution: STATIC\nendpoints: [{address: 203.0.113.50}]\nexportTo: ["*"]`),
    SE("istio-system", "corporate-network", `hosts: ["*.corp.internal"]\naddresses: [10.100.0.0/16]\nports:\n- {number: 443, name: https, protocol: HTTPS}\n- {number: 80, name: http, protocol: HTTP}\nlocation: MESH_EXTERNAL\nresolution: NONE\nexportTo: ["*"]`),
  ];

  it("STATIC: the database address passes, another address on the same port is reset with a STATIC suggestion", async () => {
    const { ask } = await world(docs);
    expect(ask({ from: "garden/beautiful-garden", to: ext(undefined, 5432, "203.0.113.50") })).toMatchObject({ verdict: "allow", matched: { kind: "ServiceEntry", entry: { name: "external-database" } } });
    const d = ask({ from: "garden/beautiful-garden", to: ext(undefined, 5432, "203.0.113.99") });
    expect(d).toMatchObject({ verdict: "deny", observed: "reset" });
    expect(d.reason).toMatch(/no ServiceEntry visible to namespace garden registers 203.0.113.99 on port 5432/);
    expect(d.missing!.suggestion).toMatch(/addresses: \[203.0.113.99\].*STATIC/);
  });

  it("NONE with a CIDR: TLS to any address of the range passes; plain HTTP by address does not (routed by Host)", async () => {
    const { ask } = await world(docs);
    expect(ask({ from: "garden/beautiful-garden", to: ext(undefined, 443, "10.100.3.3"), app: "tls" })).toMatchObject({ verdict: "allow" });
    expect(ask({ from: "garden/beautiful-garden", to: ext("intranet.corp.internal", 80), app: "http" })).toMatchObject({ verdict: "allow" });
    const d = ask({ from: "garden/beautiful-garden", to: ext(undefined, 80, "10.100.3.3"), app: "http" });
    expect(d).toMatchObject({ verdict: "deny", observed: "http-502" });
    expect(d.reason).toMatch(/HTTP is routed by Host header/);
  });
});

describe("outboundTrafficPolicy from MeshConfig and scoping without blocking (§4.8 r25–r26, I20)", () => {
  const meshCm = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |-\n    outboundTrafficPolicy:\n      mode: REGISTRY_ONLY\n`;

  it("mesh-wide REGISTRY_ONLY without any Sidecar: the ConfigMap line is the deciding reference", async () => {
    const { ask, text } = await world([...GARDEN, meshCm, ZENQUOTES("istio-system")]);
    const d = ask({ from: "garden/other", to: ext("example.org", 80), app: "http" });
    expect(d).toMatchObject({ verdict: "deny", observed: "http-502", outboundTrafficPolicy: { mode: "REGISTRY_ONLY", source: "MeshConfig" }, sidecar: { level: "none" } });
    expect(d.policies).toEqual([{ kind: "ConfigMap", namespace: "istio-system", name: "istio", rule: null, file: "egress.yaml", line: lineOf(text, "mode: REGISTRY_ONLY") }]);
    expect(ask({ from: "garden/other", to: ext("zenquotes.io", 443) })).toMatchObject({ verdict: "allow" });
  });

  it("I18 needs an HTTP listener on the port: without an HTTP service there, HTTP is reset, not answered with 502", async () => {
    const scoped = `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["./*"]}]`;
    const { ask } = await world([...GARDEN, SIDECAR("garden", "scoped", scoped)]);
    const d = ask({ from: "garden/other", to: ext("example.org", 80), app: "http" });
    expect(d).toMatchObject({ verdict: "deny", observed: "reset" });
    expect(d.notes.join(" ")).toMatch(/BlackHoleCluster/);
    // An egress listener declared for HTTP on that port creates it.
    const withPort = `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress:\n- port: {number: 80, protocol: HTTP, name: http}\n  hosts: ["./*"]\n- hosts: ["./*"]`;
    const { ask: ask2 } = await world([...GARDEN, SIDECAR("garden", "scoped", withPort)]);
    expect(ask2({ from: "garden/other", to: ext("example.org", 80), app: "http" })).toMatchObject({ verdict: "deny", observed: "http-502" });
  });

  it("a Sidecar ALLOW_ANY overrides a mesh REGISTRY_ONLY", async () => {
    const { ask } = await world([...GARDEN, meshCm, SIDECAR("garden", "open", `outboundTrafficPolicy: {mode: ALLOW_ANY}\negress: [{hosts: ["./*"]}]`)]);
    expect(ask({ from: "garden/other", to: ext("example.org", 80), app: "http" })).toMatchObject({ verdict: "allow", route: "passthrough", outboundTrafficPolicy: { source: "Sidecar" } });
  });

  it("I20: egress hosts that leave a Service out do not block it under ALLOW_ANY; it is passed through without mTLS", async () => {
    const { ask } = await world([...GARDEN, SIDECAR("garden", "scope", `egress: [{hosts: ["./*"]}]`)]);
    const d = ask({ from: "garden/other", to: { svc: "kyma-system/eventing-nats", port: 4222 } });
    expect(d).toMatchObject({ verdict: "allow", route: "passthrough" });
    expect(d.notes.join(" ")).toMatch(/no mTLS origination/);
    expect(d.missing).toMatchObject({ kind: "SidecarEgressHost" });
  });
});

describe("egress listeners, `.`, exclusions and exportTo (§4.8 r24, §4.9 r30)", () => {
  it("a listener with a port takes that port; other ports use the catch-all listener", async () => {
    const { ask } = await world([
      ...GARDEN,
      SVC("garden", "reviews", 9080, "http"),
      DEPLOY("garden", "reviews"),
      SVC("garden", "ratings", 8081, "http"),
      DEPLOY("garden", "ratings"),
      SIDECAR("garden", "ports", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress:\n- port: {number: 9080, protocol: HTTP, name: http}\n  hosts: ["./*"]\n- hosts: ["istio-system/*"]`),
    ]);
    expect(ask({ from: "garden/other", to: { svc: "garden/reviews", port: 9080 } })).toMatchObject({ verdict: "allow", policies: [{ kind: "Sidecar", rule: 0 }] });
    const d = ask({ from: "garden/other", to: { svc: "garden/ratings", port: 8081 } });
    // HTTP, but nothing in scope makes an HTTP listener on 8081: the catch-all TCP chain resets it.
    expect(d).toMatchObject({ verdict: "deny", observed: "reset" });
    expect(d.reason).toMatch(/egress\[1\] does not import garden\/ratings/);
    expect(d.notes.join(" ")).toMatch(/no HTTP service on port 8081 is in scope/);
  });

  it("`.` in a root-namespace Sidecar means the workload's own namespace", async () => {
    const { ask } = await world([...GARDEN, SIDECAR("istio-system", "root", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["./*"]}]`)]);
    expect(ask({ from: "garden/other", to: { svc: "garden/jaeger-query", port: 16686 } })).toMatchObject({ verdict: "allow" });
    expect(ask({ from: "garden/other", to: { svc: "kyma-system/eventing-nats", port: 4222 } })).toMatchObject({ verdict: "deny" });
  });

  it("a selector Sidecar in the root namespace is not mesh-wide", async () => {
    const { ask } = await world([...GARDEN, SIDECAR("istio-system", "root-sel", `workloadSelector: {labels: {app: other}}\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["./*"]}]`)]);
    expect(ask({ from: "garden/other", to: ext("example.org", 80), app: "http" })).toMatchObject({ verdict: "allow", sidecar: { level: "none" } });
  });

  it("`~namespace/host` excludes from what `*/*` imports (Istio HEAD)", async () => {
    const { ask } = await world([...GARDEN, SIDECAR("garden", "ex", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["*/*", "~kyma-system/*"]}]`)]);
    expect(ask({ from: "garden/other", to: { svc: "garden/jaeger-query", port: 16686 } }).verdict).toBe("allow");
    const d = ask({ from: "garden/other", to: { svc: "kyma-system/eventing-nats", port: 4222 } });
    expect(d.verdict).toBe("deny");
    expect(d.reason).toMatch(/excludes it \(~kyma-system\/\*\)/);
  });

  it("a Service exported only to its own namespace is not in other namespaces' registry", async () => {
    const { ask } = await world([
      ...GARDEN.filter((d) => !d.includes("name: eventing-nats, namespace: kyma-system}\nspec:\n  selector")),
      SVC("kyma-system", "private-nats", 4222, "tcp", ", annotations: {networking.istio.io/exportTo: '.'}"),
      SIDECAR("istio-system", "root", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["*/*"]}]`),
    ]);
    const d = ask({ from: "garden/other", to: { svc: "kyma-system/private-nats", port: 4222 } });
    expect(d).toMatchObject({ verdict: "deny", missing: { kind: "ExportTo", namespace: "kyma-system", name: "private-nats" } });
    expect(d.reason).toMatch(/not exported to namespace garden/);
  });

  it("a ServiceEntry exported elsewhere: blocked, with the exportTo fix", async () => {
    const { ask } = await world([...GARDEN, ZENQUOTES("istio-system", `\nexportTo: ["kyma-system"]`), SIDECAR("istio-system", "root", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["*/*"]}]`)]);
    const d = ask({ from: "garden/other", to: ext("zenquotes.io", 443) });
    expect(d).toMatchObject({ verdict: "deny", observed: "reset", missing: { kind: "ExportTo", namespace: "istio-system", name: "zenquotes-external" } });
    expect(d.reason).toMatch(/exported only to kyma-system, not to namespace garden/);
  });
});

describe("traffic the sidecar does not handle", () => {
  const docs = [...GARDEN, SIDECAR("istio-system", "root", `outboundTrafficPolicy: {mode: REGISTRY_ONLY}\negress: [{hosts: ["./*"]}]`)];

  it("UDP (DNS) is not captured", async () => {
    const { ask } = await world(docs);
    expect(ask({ from: "garden/other", to: ext(undefined, 53, "10.96.0.10"), protocol: "UDP" })).toMatchObject({ verdict: "allow", applies: false, route: "not-captured" });
  });

  it("capture exclusions by port and by IP range bypass the sidecar", async () => {
    const { ask } = await world([
      ...docs,
      DEPLOY("garden", "legacy", {}, { "traffic.sidecar.istio.io/excludeOutboundPorts": "5432,6379", "traffic.sidecar.istio.io/excludeOutboundIPRanges": "192.0.2.0/24" }),
      DEPLOY("garden", "narrow", {}, { "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12" }),
    ]);
    expect(ask({ from: "garden/legacy", to: ext(undefined, 5432, "198.51.100.1") })).toMatchObject({ verdict: "allow", applies: false });
    expect(ask({ from: "garden/legacy", to: ext(undefined, 443, "192.0.2.7") })).toMatchObject({ verdict: "allow", applies: false });
    expect(ask({ from: "garden/legacy", to: ext(undefined, 443, "198.51.100.1") })).toMatchObject({ verdict: "deny" });
    expect(ask({ from: "garden/narrow", to: ext(undefined, 443, "198.51.100.1") })).toMatchObject({ verdict: "allow", applies: false });
  });

  it("a pod addressed directly: headless Service endpoints are in the registry, other pod IPs are not", async () => {
    const { ask, cluster } = await world([
      ...docs,
      `apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: garden}\nspec: {clusterIP: None, selector: {app: db}, ports: [{name: tcp, port: 5432}]}\n`,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: db-0, namespace: garden, labels: {app: db}}\nspec: {containers: [{name: pg, image: pg}]}\nstatus: {podIP: 10.1.2.3}\n`,
    ]);
    const db = cluster.workloads.find((w) => w.id === "garden/db-0")!;
    const jaeger = cluster.workloads.find((w) => w.id === "garden/jaeger-query")!;
    expect(ask({ from: "garden/other", to: { kind: "workload", workload: db, port: 5432 } })).toMatchObject({ verdict: "allow", route: "service" });
    const d = ask({ from: "garden/other", to: { kind: "workload", workload: jaeger, ip: "10.1.9.9", port: 8080 } });
    expect(d).toMatchObject({ verdict: "deny" });
    expect(d.notes.join(" ")).toMatch(/directly to a pod IP/);
  });

  it("seed 000: the sidecar-app has no Sidecar resource; the ambient client is not governed at all", async () => {
    const { ask } = await world([
      NS("ambient-app", { "istio.io/dataplane-mode": "ambient" }),
      NS("sidecar-app"),
      DEPLOY("ambient-app", "ambient-app"),
      DEPLOY("sidecar-app", "sidecar-app"),
      SVC("sidecar-app", "sidecar-app", 8080, "http"),
      SVC("ambient-app", "ambient-app", 8080, "http"),
    ]);
    expect(ask({ from: "ambient-app/ambient-app", to: { svc: "sidecar-app/sidecar-app", port: 8080 } })).toMatchObject({ verdict: "allow", applies: false });
    expect(ask({ from: "sidecar-app/sidecar-app", to: { svc: "ambient-app/ambient-app", port: 8080 } })).toMatchObject({ verdict: "allow", applies: true, route: "service", sidecar: { level: "none" } });
  });
});

describe("Sidecar validation (istiod ValidateSidecar): located errors, invalid ones left out", () => {
  const bad: [string, string, string, string][] = [
    ["an empty spec", `workloadSelector: {labels: {app: a}}`, "spec:", "spec"],
    ["a host without namespace", `egress: [{hosts: ["zenquotes.io"]}]`, "egress:", "spec.egress[0].hosts[0]"],
    ["a short name", `egress: [{hosts: ["garden/jaeger"]}]`, "egress:", "spec.egress[0].hosts[0]"],
    ["a partial wildcard", `egress: [{hosts: ["garden/*foo.com"]}]`, "egress:", "spec.egress[0].hosts[0]"],
    ["an invalid namespace", `egress: [{hosts: ["Team_A/*"]}]`, "egress:", "spec.egress[0].hosts[0]"],
    ["a listener without hosts", `egress: [{hosts: []}]`, "egress:", "spec.egress[0].hosts"],
    ["a catch-all listener that is not last", `egress:\n- hosts: ["./*"]\n- port: {number: 80, protocol: HTTP, name: http}\n  hosts: ["./*"]`, "- hosts:", "spec.egress[0]"],
    ["two listeners on one port", `egress:\n- port: {number: 80, protocol: HTTP, name: http}\n  hosts: ["./*"]\n- port: {number: 80, protocol: HTTP, name: web}\n  hosts: ["./*"]`, "name: web", "spec.egress[1].port.number"],
    ["ALLOW_ANY_DYNAMIC_DNS", `outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}`, "outboundTrafficPolicy", "spec.outboundTrafficPolicy.mode"],
    ["an unknown mode", `outboundTrafficPolicy:\n  mode: DENY`, "mode: DENY", "spec.outboundTrafficPolicy.mode"],
    ["egressProxy with REGISTRY_ONLY", `outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n  egressProxy: {host: proxy.example.com, port: {number: 3128}}`, "egressProxy", "spec.outboundTrafficPolicy.egressProxy"],
    ["a wildcard in the selector", `workloadSelector: {labels: {app: "web*"}}\negress: [{hosts: ["./*"]}]`, "workloadSelector", "spec.workloadSelector.labels.app"],
    ["an unknown field", `egres: [{hosts: ["./*"]}]`, "egres:", "spec.egres"],
  ];
  it.each(bad)("rejects %s", async (_what, spec, needle, field) => {
    const text = SIDECAR("garden", "bad", spec) + "---\n" + SIDECAR("garden", "good", `egress: [{hosts: ["./*"]}]`);
    const load = await loadYaml(text, "sc.yaml");
    const s = scanSidecars(load.manifests);
    const errs = s.diagnostics.filter((d) => d.severity === "error");
    expect(errs.map((d) => d.location.field), errs.map((d) => d.format()).join("\n")).toContain(field);
    expect(errs.find((d) => d.location.field === field)!.location.line).toBe(lineOf(text, needle));
    expect(s.sidecars.map((x) => x.name)).toEqual(["good"]);
  });

  it("warnings keep the Sidecar: empty selector, duplicated host, */* with others, outboundTrafficPolicy without mode", async () => {
    const text = [
      SIDECAR("garden", "a", `workloadSelector: {labels: {}}\negress: [{hosts: ["./*", "garden/*"]}]`),
      SIDECAR("garden", "b", `egress: [{hosts: ["*/*", "garden/*"]}]`),
      SIDECAR("garden", "c", `outboundTrafficPolicy: {}`),
    ].join("---\n");
    const load = await loadYaml(text, "sc.yaml");
    const s = scanSidecars(load.manifests);
    expect(s.diagnostics.every((d) => d.severity === "warning")).toBe(true);
    expect(s.diagnostics.map((d) => d.location.field)).toEqual(["spec.workloadSelector", "spec.egress[0].hosts[1]", "spec.egress[0].hosts", "spec.outboundTrafficPolicy"]);
    expect(s.sidecars.map((x) => x.name)).toEqual(["a", "b", "c"]);
    expect(s.sidecars[2]!.outboundTrafficPolicy!.mode).toBe("REGISTRY_ONLY");
  });
});
