/**
 * An outside client through the ingress gateway's LoadBalancer Service
 * (semantics.md §6 r1–r3, §4.5 r17/r17a): with externalTrafficPolicy Local the
 * gateway sees the client's address, with Cluster a node address, and that is
 * what an AuthorizationPolicy ipBlocks allow-list (or a NetworkPolicy ipBlock)
 * is matched against. The gateway enforces on its container port.
 */
import { describe, expect, it } from "vitest";
import { authz, gatewayService, hop, IP, NODE_A, NODE_B, netpol, peerAuthn, reachIn, seq } from "./mesh-fixture.js";

const GW = "istio-system/istio-ingressgateway";
const OFFICE = "203.0.113.5";
const STRANGER = "198.51.100.7";

const allowList = (field: "ipBlocks" | "remoteIpBlocks", cidr = "203.0.113.0/24") =>
  authz("istio-system", "gateway-allow-list", `  selector: {matchLabels: {app: istio-ingressgateway}}\n  action: ALLOW\n  rules:\n  - from:\n    - source: {${field}: [${cidr}]}`);

describe("externalTrafficPolicy Local keeps the client's address", () => {
  it("an allow-listed client passes, with the wire tuple on every hop", async () => {
    const r = await reachIn([gatewayService("Local"), allowList("ipBlocks")], { from: OFFICE, to: `svc:${GW}:80` });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual([`service:service@${GW}:80`, `ingress:networkpolicy@${GW}:8080`, `authorization:istio-authorization@${GW}:8080`]);
    expect(r.hops[0]!.wire).toEqual({ srcIP: OFFICE, dstIP: "10.96.4.1", port: 80, protocol: "TCP" });
    expect(r.hops[1]!.wire).toEqual({ srcIP: OFFICE, dstIP: IP[GW], port: 8080, protocol: "TCP" });
    expect(r.hops[2]!.policies.map((p) => p.name)).toEqual(["gateway-allow-list"]);
    expect(r.hops[2]!.proxy).toBe("gateway");
    expect(r.assumptions.some((a) => a.includes("externalTrafficPolicy Local"))).toBe(true);
  });

  it("any other client gets a 403 from the gateway, on the container port", async () => {
    const r = await reachIn([gatewayService("Local"), allowList("ipBlocks")], { from: STRANGER, to: `svc:${GW}:80` });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toEqual({
      layer: "istio-authorization",
      direction: "ingress",
      workload: GW,
      port: 8080,
      protocol: "TCP",
      observed: "http-403",
      policies: [expect.objectContaining({ kind: "AuthorizationPolicy", namespace: "istio-system", name: "gateway-allow-list", rule: null, file: "mesh.yaml" })],
      reason: expect.any(String),
    });
  });

  it("HTTPS terminated at the gateway is refused with a 403 on 8443", async () => {
    const r = await reachIn([gatewayService("Local"), allowList("ipBlocks")], { from: STRANGER, to: `svc:${GW}:443` });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: GW, port: 8443, observed: "http-403" });
  });

  it("a TCP server of the gateway closes the connection", async () => {
    const r = await reachIn([gatewayService("Local"), allowList("ipBlocks")], { from: STRANGER, to: `svc:${GW}:5432` });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: GW, port: 8081, observed: "reset" });
  });

  it("remoteIpBlocks behind an L4 load balancer see the same address (§4.5 r17a)", async () => {
    expect((await reachIn([gatewayService("Local"), allowList("remoteIpBlocks")], { from: OFFICE, to: `svc:${GW}:80` })).verdict).toBe("allowed");
    expect((await reachIn([gatewayService("Local"), allowList("remoteIpBlocks")], { from: STRANGER, to: `svc:${GW}:80` })).blockedBy).toMatchObject({
      layer: "istio-authorization",
      observed: "http-403",
    });
  });

  it("a NetworkPolicy ipBlock at the gateway sees the client's address", async () => {
    const np = netpol("istio-system", "gateway-from-office", "  podSelector: {matchLabels: {app: istio-ingressgateway}}\n  ingress:\n  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]");
    expect((await reachIn([gatewayService("Local"), np], { from: OFFICE, to: `svc:${GW}:80` })).verdict).toBe("allowed");
    const r = await reachIn([gatewayService("Local"), np], { from: STRANGER, to: `svc:${GW}:80` });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: GW, port: 8080, observed: "timeout" });
  });
});

describe("externalTrafficPolicy Cluster replaces it with a node address", () => {
  it("the allow-listed client is refused: the gateway sees a node", async () => {
    const r = await reachIn([gatewayService("Cluster"), allowList("ipBlocks")], { from: OFFICE, to: `svc:${GW}:80` });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", direction: "ingress", workload: GW, port: 8080, observed: "http-403" });
    const seen = hop(r, "authorization", GW).wire.srcIP;
    expect([NODE_A, NODE_B]).toContain(seen);
    expect(r.assumptions.some((a) => a.includes("externalTrafficPolicy Cluster") && a.includes("SNAT"))).toBe(true);
  });

  it("remoteIpBlocks do not recover it without a trusted proxy", async () => {
    const r = await reachIn([gatewayService("Cluster"), allowList("remoteIpBlocks")], { from: OFFICE, to: `svc:${GW}:80` });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: GW });
  });

  it("an allow-list of the node addresses lets every client in", async () => {
    const nodes = allowList("ipBlocks", "10.0.0.0/24");
    expect((await reachIn([gatewayService("Cluster"), nodes], { from: STRANGER, to: `svc:${GW}:80` })).verdict).toBe("allowed");
    expect((await reachIn([gatewayService("Local"), nodes], { from: STRANGER, to: `svc:${GW}:80` })).verdict).toBe("denied");
  });

  it("a NetworkPolicy ipBlock for the client no longer matches", async () => {
    const np = netpol("istio-system", "gateway-from-office", "  podSelector: {matchLabels: {app: istio-ingressgateway}}\n  ingress:\n  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]");
    const r = await reachIn([gatewayService("Cluster"), np], { from: OFFICE, to: `svc:${GW}:80` });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: GW, port: 8080 });
  });

  it("the address of a pod in the cluster is kept: in-cluster clients are not SNATed", async () => {
    const podAllow = allowList("ipBlocks", "10.3.0.0/16");
    const r = await reachIn([gatewayService("Cluster"), podAllow], { from: "plain/client", to: `svc:${GW}:80` });
    expect(r.verdict).toBe("allowed");
    expect(hop(r, "authorization", GW).wire.srcIP).toBe(IP["plain/client"]);
  });
});

describe("outside clients of mesh workloads", () => {
  const lb = (ns: string, policy: "Local" | "Cluster") => `apiVersion: v1
kind: Service
metadata: {name: server-lb, namespace: ${ns}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: ${policy}
  selector: {app: server}
  ports: [{name: tcp, port: 8080, targetPort: 8080}]
`;

  it("are plaintext: STRICT mTLS on an ambient or sidecar backend refuses them", async () => {
    for (const ns of ["amb", "side"]) {
      const r = await reachIn([lb(ns, "Local"), peerAuthn(ns, "STRICT")], { from: OFFICE, to: `svc:${ns}/server-lb:8080` });
      expect(r.blockedBy, ns).toMatchObject({ layer: "istio-peerauthentication", direction: "ingress", workload: `${ns}/server`, port: 8080, observed: "reset" });
    }
  });

  it("reach an ambient backend on the application port, not 15008", async () => {
    const r = await reachIn([lb("amb", "Local")], { from: OFFICE, to: "svc:amb/server-lb:8080" });
    expect(seq(r)).toEqual(["service:service@amb/server-lb:8080", "ingress:networkpolicy@amb/server:8080", "authorization:istio-authorization@amb/server:8080"]);
    expect(r.hops[1]!.wire.srcIP).toBe(OFFICE);
  });

  it("are matched by the ztunnel's ipBlocks on the address the Service policy leaves", async () => {
    const ztunnelAllow = authz("amb", "office", "  selector: {matchLabels: {app: server}}\n  action: ALLOW\n  rules:\n  - from:\n    - source: {ipBlocks: [203.0.113.0/24]}");
    expect((await reachIn([lb("amb", "Local"), ztunnelAllow], { from: OFFICE, to: "svc:amb/server-lb:8080" })).verdict).toBe("allowed");
    const r = await reachIn([lb("amb", "Cluster"), ztunnelAllow], { from: OFFICE, to: "svc:amb/server-lb:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/server", port: 8080, observed: "reset" });
  });
});
