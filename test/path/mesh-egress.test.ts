/**
 * A sidecar client's outbound control on the wire path (semantics.md §4.8,
 * §4.9, §8 step 2): outboundTrafficPolicy REGISTRY_ONLY blocks a host no
 * ServiceEntry registers (HTTP 502, TCP reset), ALLOW_ANY passes it, a
 * ServiceEntry registers it, exportTo limits who sees it, and a Sidecar's egress
 * hosts limit scope. The sidecar decides before the CNI sees a packet.
 */
import { describe, expect, it } from "vitest";
import { hop, IP, netpol, reachIn, seq } from "./mesh-fixture.js";

const sidecar = (spec: string, ns = "side", name = "default") => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
`;

const registryOnly = sidecar("  outboundTrafficPolicy: {mode: REGISTRY_ONLY}");

const meshConfig = (mode: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    outboundTrafficPolicy:
      mode: ${mode}
`;

const serviceEntry = (ns: string, extra = "", name = "example-api") => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [api.example.com]
  ports:
  - {number: 443, name: tls, protocol: TLS}
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS
  location: MESH_EXTERNAL
${extra}`;

describe("REGISTRY_ONLY blocks an unregistered host", () => {
  it("TLS/TCP: the connection is reset, and the trace names the Sidecar and the missing ServiceEntry", async () => {
    const r = await reachIn([registryOnly], { from: "side/client", to: "api.example.com:443" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toEqual({
      layer: "istio-egress",
      direction: "egress",
      workload: "side/client",
      port: 443,
      protocol: "TCP",
      observed: "reset",
      policies: [expect.objectContaining({ kind: "Sidecar", namespace: "side", name: "default", file: "mesh.yaml" })],
      reason: expect.stringMatching(/REGISTRY_ONLY/),
    });
    expect(r.blockedBy!.reason).toContain("api.example.com");
    expect(r.blockedBy!.reason).toContain("ServiceEntry");
    const h = hop(r, "mesh-egress", "side/client");
    expect(h).toMatchObject({ enforcer: "istio-egress", proxy: "sidecar", verdict: "deny" });
    expect(h.wire).toEqual({ srcIP: IP["side/client"], dstIP: null, dstHost: "api.example.com", port: 443, protocol: "TCP" });
    expect(h.misses.join("\n")).toMatch(/ServiceEntry.*api\.example\.com/);
    // The sidecar decides first.
    expect(seq(r)[0]).toBe("mesh-egress:istio-egress@side/client:443");
  });

  it("HTTP: the client gets a 502 from the BlackHole route", async () => {
    const r = await reachIn([registryOnly], { from: "side/client", to: "api.example.com:80", method: "GET", path: "/" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", direction: "egress", workload: "side/client", port: 80, protocol: "TCP", observed: "http-502" });
  });

  it("from MeshConfig, the istio ConfigMap is named", async () => {
    const r = await reachIn([meshConfig("REGISTRY_ONLY")], { from: "side/client", to: "api.example.com:443" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", workload: "side/client", observed: "reset" });
    expect(r.blockedBy!.policies.map((p) => `${p.kind} ${p.namespace}/${p.name}`)).toContain("ConfigMap istio-system/istio");
  });

  it("a Sidecar's own ALLOW_ANY overrides MeshConfig REGISTRY_ONLY (§4.8 r26)", async () => {
    const r = await reachIn([meshConfig("REGISTRY_ONLY"), sidecar("  outboundTrafficPolicy: {mode: ALLOW_ANY}")], { from: "side/client", to: "api.example.com:443" });
    expect(r.verdict).toBe("allowed");
  });

  it("an unregistered address is blocked the same way", async () => {
    const r = await reachIn([registryOnly], { from: "side/client", to: "192.0.2.10:5432" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", workload: "side/client", port: 5432, observed: "reset" });
  });

  it("the CNI is still asked, after the sidecar: an egress-isolating NetworkPolicy is not what blocks first", async () => {
    const denyEgress = netpol("side", "deny-egress", "  podSelector: {}\n  policyTypes: [Egress]");
    const r = await reachIn([registryOnly, denyEgress], { from: "side/client", to: "api.example.com:443" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress" });
    expect(hop(r, "egress", "side/client", "networkpolicy").verdict).toBe("deny");
  });
});

describe("ALLOW_ANY passes unregistered hosts (§4.8 r25–r26, §4.12 I20)", () => {
  it("the mesh default", async () => {
    const r = await reachIn([], { from: "side/client", to: "api.example.com:443" });
    expect(r.verdict).toBe("allowed");
    expect(hop(r, "mesh-egress", "side/client")).toMatchObject({ verdict: "allow", enforcer: "istio-egress" });
    expect(hop(r, "mesh-egress", "side/client").reason).toMatch(/ALLOW_ANY/);
  });

  it("then the CNI decides", async () => {
    const denyEgress = netpol("side", "deny-egress", "  podSelector: {}\n  policyTypes: [Egress]");
    const r = await reachIn([denyEgress], { from: "side/client", to: "api.example.com:443" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "egress", workload: "side/client", port: 443, observed: "timeout" });
  });

  it("a Sidecar that does not import a Service only scopes it, it does not block it", async () => {
    const scoped = sidecar("  egress:\n  - hosts: [./*, istio-system/*]");
    const r = await reachIn([scoped], { from: "side/client", to: "svc:plain/server:8080" });
    expect(r.verdict).toBe("allowed");
  });
});

describe("ServiceEntry registration", () => {
  it("registers a host under REGISTRY_ONLY, and the trace names it", async () => {
    const r = await reachIn([registryOnly, serviceEntry("side")], { from: "side/client", to: "api.example.com:443" });
    expect(r.verdict).toBe("allowed");
    const h = hop(r, "mesh-egress", "side/client");
    expect(h.policies.map((p) => `${p.kind} ${p.namespace}/${p.name}`)).toContain("ServiceEntry side/example-api");
  });

  it("registers an HTTP host by its Host header", async () => {
    const r = await reachIn([registryOnly, serviceEntry("side")], { from: "side/client", to: "api.example.com:80", method: "GET" });
    expect(r.verdict).toBe("allowed");
  });

  it("does not register another port", async () => {
    const r = await reachIn([registryOnly, serviceEntry("side")], { from: "side/client", to: "api.example.com:8443" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", port: 8443 });
  });

  it("registers an address with a TCP port", async () => {
    const db = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: side}
spec:
  hosts: [db.internal]
  addresses: [192.0.2.10/32]
  ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.10}]
  location: MESH_EXTERNAL
`;
    expect((await reachIn([registryOnly, db], { from: "side/client", to: "192.0.2.10:5432" })).verdict).toBe("allowed");
    expect((await reachIn([registryOnly, db], { from: "side/client", to: "192.0.2.11:5432" })).blockedBy).toMatchObject({ layer: "istio-egress" });
  });

  it("in another namespace, is visible by default (exportTo *, §4.9 r30)", async () => {
    expect((await reachIn([registryOnly, serviceEntry("plain")], { from: "side/client", to: "api.example.com:443" })).verdict).toBe("allowed");
  });

  it("exportTo: [.] hides it from other namespaces, and the trace says which ServiceEntry is not exported", async () => {
    const r = await reachIn([registryOnly, serviceEntry("plain", "  exportTo: ['.']\n")], { from: "side/client", to: "api.example.com:443" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", direction: "egress", workload: "side/client", port: 443, observed: "reset" });
    const names = r.blockedBy!.policies.map((p) => `${p.kind} ${p.namespace}/${p.name}`);
    expect(names).toContain("ServiceEntry plain/example-api");
    expect(hop(r, "mesh-egress", "side/client").misses.join("\n")).toMatch(/export/i);
  });

  it("exportTo naming the client's namespace makes it visible there only", async () => {
    const se = serviceEntry("plain", "  exportTo: [side]\n");
    expect((await reachIn([registryOnly, se], { from: "side/client", to: "api.example.com:443" })).verdict).toBe("allowed");
    const elsewhere = `apiVersion: v1
kind: Namespace
metadata: {name: side2, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: side2, labels: {app: client}}
spec:
  containers: [{name: main, image: curl}]
---
${sidecar("  outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "side2")}`;
    expect((await reachIn([se, elsewhere], { from: "side2/client", to: "api.example.com:443" })).blockedBy).toMatchObject({ layer: "istio-egress", workload: "side2/client" });
  });
});

describe("in-cluster destinations under REGISTRY_ONLY", () => {
  it("a Kubernetes Service is registered: allowed, and the sidecar sees the VIP and Service port", async () => {
    const r = await reachIn([registryOnly], { from: "side/client", to: "svc:plain/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(hop(r, "mesh-egress", "side/client").wire).toEqual({ srcIP: IP["side/client"], dstIP: "10.96.3.1", port: 8080, protocol: "TCP" });
    expect(hop(r, "egress", "side/client", "networkpolicy").wire).toEqual({ srcIP: IP["side/client"], dstIP: IP["plain/server"], port: 8080, protocol: "TCP" });
  });

  it("a Service exported only to its own namespace is unknown to the client", async () => {
    const hidden = `apiVersion: v1
kind: Service
metadata: {name: hidden, namespace: plain, annotations: {networking.istio.io/exportTo: "."}}
spec:
  selector: {app: server}
  ports: [{name: tcp, port: 8080, targetPort: 8080}]
`;
    const r = await reachIn([registryOnly, hidden], { from: "side/client", to: "svc:plain/hidden:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", direction: "egress", workload: "side/client", port: 8080, observed: "reset" });
  });

  it("a Service outside the Sidecar's egress hosts is blocked, and the trace names the missing host", async () => {
    const scoped = sidecar("  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n  egress:\n  - hosts: [./*, istio-system/*]");
    const r = await reachIn([scoped], { from: "side/client", to: "svc:plain/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-egress", workload: "side/client", port: 8080, policies: [{ kind: "Sidecar", namespace: "side", name: "default" }] });
    expect(hop(r, "mesh-egress", "side/client").misses.join("\n")).toContain("plain/server.plain.svc.cluster.local");
    expect((await reachIn([scoped], { from: "side/client", to: "svc:side/server:8080" })).verdict).toBe("allowed");
  });
});

describe("clients without a sidecar have no outbound control", () => {
  it.each(["amb/client", "plain/client"])("%s under a mesh-wide REGISTRY_ONLY", async (from) => {
    const r = await reachIn([meshConfig("REGISTRY_ONLY"), sidecar("  outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "istio-system")], { from, to: "api.example.com:443" });
    expect(r.verdict).toBe("allowed");
    expect(r.hops.filter((h) => h.step === "mesh-egress")).toEqual([]);
  });

  it("the ingress gateway is not subject to Sidecar resources (§4.8 r23)", async () => {
    const r = await reachIn([sidecar("  outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "istio-system")], { from: "istio-system/istio-ingressgateway", to: "api.example.com:443" });
    expect(r.hops.filter((h) => h.step === "mesh-egress")).toEqual([]);
  });
});
