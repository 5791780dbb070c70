/**
 * Health probes and node traffic towards mesh pods (semantics.md §1.6 r27,
 * §4.11 r34, §5.2 r6, §5.3, §5.7 M2): kubelet probes to an ambient pod are
 * SNATed by istio-cni to 169.254.7.127, so an ingress-isolating NetworkPolicy
 * drops them unless it admits that address; probes to a sidecar pod still come
 * from the node, which NetworkPolicy always admits.
 */
import { describe, expect, it } from "vitest";
import { authz, denyIngress, hop, IP, NODE_A, NODE_B, netpol, peerAuthn, reachIn, seq } from "./mesh-fixture.js";

const allowProbeAddress = netpol(
  "amb",
  "allow-kubelet-healthprobes",
  "  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 169.254.7.127/32}}]",
);

/** Everything the ztunnel or sidecar could refuse. */
const meshRefuses = (ns: string) => [peerAuthn(ns, "STRICT"), authz(ns, "deny-all", "  action: DENY\n  rules: [{}]")];

describe("kubelet probes to an ambient pod", () => {
  it("arrive from 169.254.7.127 and are dropped by an ingress-isolating NetworkPolicy (§5.7 M2)", async () => {
    const r = await reachIn([denyIngress("amb")], { from: "kubelet", to: "amb/server:8080" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toEqual({
      layer: "networkpolicy",
      direction: "ingress",
      workload: "amb/server",
      port: 8080,
      protocol: "TCP",
      observed: "timeout",
      policies: [expect.objectContaining({ kind: "NetworkPolicy", namespace: "amb", name: "deny-ingress", file: "mesh.yaml" })],
      reason: expect.stringContaining("169.254.7.127"),
    });
    expect(seq(r)).toEqual(["ingress:networkpolicy@amb/server:8080"]);
    expect(r.hops[0]!.wire).toEqual({ srcIP: "169.254.7.127", dstIP: IP["amb/server"], port: 8080, protocol: "TCP" });
    expect(r.assumptions.some((a) => a.includes("169.254.7.127"))).toBe(true);
  });

  it("pass when the policy admits ipBlock 169.254.7.127/32", async () => {
    const r = await reachIn([denyIngress("amb"), allowProbeAddress], { from: "kubelet", to: "amb/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(hop(r, "ingress", "amb/server").policies.map((p) => p.name)).toEqual(["allow-kubelet-healthprobes"]);
  });

  it("are not admitted by a rule for the node addresses", async () => {
    const nodes = netpol("amb", "allow-nodes", "  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/24}}]");
    const r = await reachIn([nodes], { from: "kubelet", to: "amb/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 8080 });
  });

  it("bypass the ztunnel: neither PeerAuthentication nor AuthorizationPolicy applies (§5.2 r6)", async () => {
    const r = await reachIn([allowProbeAddress, ...meshRefuses("amb")], { from: "kubelet", to: "amb/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual(["ingress:networkpolicy@amb/server:8080"]);
  });

  it("keep the probe port on the wire: no HBONE", async () => {
    const only15008 = netpol("amb", "hbone-only", "  podSelector: {}\n  ingress:\n  - ports: [{port: 15008}]");
    const r = await reachIn([only15008], { from: "kubelet", to: "amb/server:9080" });
    expect(r.blockedBy).toMatchObject({ workload: "amb/server", port: 9080 });
  });

  it("an explicit packet from 169.254.7.127 is judged the same way", async () => {
    const r = await reachIn([denyIngress("amb")], { from: "169.254.7.127", to: "amb/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 8080 });
    expect((await reachIn([denyIngress("amb"), allowProbeAddress], { from: "169.254.7.127", to: "amb/server:8080" })).verdict).toBe("allowed");
  });
});

describe("kubelet probes to a sidecar pod or a pod outside the mesh", () => {
  it("come from the pod's node and are always admitted (§1.6 r27, §4.11 r34)", async () => {
    const r = await reachIn([denyIngress("side"), ...meshRefuses("side")], { from: "kubelet", to: "side/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual(["ingress:networkpolicy@side/server:8080"]);
    expect(r.hops[0]!.wire.srcIP).toBe(NODE_B);
  });

  it("to a pod outside the mesh, likewise", async () => {
    const r = await reachIn([denyIngress("plain")], { from: "kubelet", to: "plain/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(r.hops[0]!.wire.srcIP).toBe(NODE_B);
  });
});

describe("other traffic from a node to an ambient pod", () => {
  it("from the pod's own node, TCP is SNATed to 169.254.7.127 like the probes (§5.3: packets that provably originate from the local node)", async () => {
    const r = await reachIn([denyIngress("amb")], { from: NODE_B, to: "amb/server:8080" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 8080 });
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe("169.254.7.127");
    const allowed = await reachIn([denyIngress("amb"), allowProbeAddress, ...meshRefuses("amb")], { from: NODE_B, to: "amb/server:8080" });
    expect(allowed.verdict).toBe("allowed");
    expect(seq(allowed)).toEqual(["ingress:networkpolicy@amb/server:8080"]);
  });

  it("from the pod's own node, UDP is not SNATed (istio-cni rewrites TCP only) and is node traffic", async () => {
    const r = await reachIn([denyIngress("amb")], { from: NODE_B, to: "amb/server:5353", protocol: "UDP" });
    expect(r.verdict).toBe("allowed");
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe(NODE_B);
  });

  it("from another node, the address is kept and the ztunnel checks it as plaintext", async () => {
    const r = await reachIn([peerAuthn("amb", "STRICT")], { from: NODE_A, to: "amb/server:8080" });
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe(NODE_A);
    expect(r.blockedBy).toMatchObject({ layer: "istio-peerauthentication", workload: "amb/server", port: 8080 });
  });

  const hostNetworkAgent = (hostIP: string) => `apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: plain, labels: {app: agent}}
spec:
  hostNetwork: true
  containers: [{name: agent, image: agent}]
status: {podIP: ${hostIP}, hostIP: ${hostIP}}
`;

  it("from a host-network pod on the same node, TCP is SNATed too: it is the node's own connection", async () => {
    const r = await reachIn([denyIngress("amb"), hostNetworkAgent(NODE_B)], { from: "plain/agent", to: "amb/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 8080 });
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe("169.254.7.127");
    expect(hop(r, "egress", "plain/agent").wire.srcIP).toBe(NODE_B);
    const allowed = await reachIn([denyIngress("amb"), allowProbeAddress, hostNetworkAgent(NODE_B), ...meshRefuses("amb")], { from: "plain/agent", to: "amb/server:8080" });
    expect(allowed.verdict).toBe("allowed");
    expect(allowed.hops.filter((h) => h.step === "authorization" || h.step === "peer-authentication")).toEqual([]);
  });

  it("from a host-network pod on another node, the node's address is kept", async () => {
    const r = await reachIn([peerAuthn("amb", "STRICT"), hostNetworkAgent(NODE_A)], { from: "plain/agent", to: "amb/server:8080" });
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe(NODE_A);
    expect(r.blockedBy).toMatchObject({ layer: "istio-peerauthentication", workload: "amb/server" });
  });
});
