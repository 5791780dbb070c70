/**
 * Waypoints on the wire path (semantics.md §5.1 r3–r4, §5.3, §5.4 r15, §5.5,
 * §5.7 M6–M8): an ambient client's connection to a Service labelled
 * istio.io/use-waypoint goes client → waypoint:15008 → backend:15008;
 * targetRefs policies are enforced at the waypoint with the client's identity,
 * selector policies at the destination ztunnel with the waypoint's; clients
 * outside the mesh and sidecars bypass the waypoint.
 */
import { describe, expect, it } from "vitest";
import { AMB_OTHER, authz, denyIngress, hop, IP, mesh, netpol, reachIn, seq, WAYPOINT, WAYPOINT_IP } from "./mesh-fixture.js";
import { reach } from "../../src/analysis/reach.js";
import { scenarioFromYaml } from "../helpers/cluster.js";
import { BASE } from "./mesh-fixture.js";

const targetRefs = (name: string, rules: string, action = "ALLOW", ref = "{kind: Service, group: '', name: reviews}") =>
  authz("amb", name, `  targetRefs: [${ref}]\n  action: ${action}\n  rules:\n${rules}`);

const onlyClient = targetRefs("reviews-clients", "  - from:\n    - source: {principals: [cluster.local/ns/amb/sa/client]}");

const serverSelector = (name: string, principal: string) =>
  authz("amb", name, `  selector: {matchLabels: {app: server}}\n  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [${principal}]}`);

describe("an ambient client through a waypoint", () => {
  it("travels in two HBONE legs, both on 15008, with authorization at the waypoint and at the destination ztunnel", async () => {
    const r = await reachIn([WAYPOINT], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.verdict).toBe("allowed");
    expect(r.blockedBy).toBeNull();
    expect(seq(r)).toEqual([
      "service:service@amb/reviews:80",
      "tunnel:ztunnel@amb/client:15008",
      "egress:networkpolicy@amb/client:15008",
      "ingress:networkpolicy@amb/waypoint:15008",
      "authorization:istio-authorization@amb/waypoint:9080",
      "tunnel:waypoint@amb/waypoint:15008",
      "egress:networkpolicy@amb/waypoint:15008",
      "ingress:networkpolicy@amb/server:15008",
      "authorization:istio-authorization@amb/server:9080",
    ]);
    const wire = (i: number) => r.hops[i]!.wire;
    expect(wire(2)).toEqual({ srcIP: IP["amb/client"], dstIP: WAYPOINT_IP, port: 15008, protocol: "TCP" });
    expect(wire(3)).toEqual(wire(2));
    expect(wire(6)).toEqual({ srcIP: WAYPOINT_IP, dstIP: IP["amb/server"], port: 15008, protocol: "TCP" });
    expect(wire(7)).toEqual(wire(6));
    expect(r.hops[4]!).toMatchObject({ proxy: "waypoint", direction: "ingress" });
    expect(r.hops[8]!).toMatchObject({ proxy: "ztunnel", direction: "ingress" });
  });

  it("the backend's NetworkPolicy must admit 15008 from the waypoint pods, not from the client", async () => {
    const fromClient = netpol("amb", "server-from-client", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: client}}}]\n    ports: [{port: 15008}]");
    const r = await reachIn([WAYPOINT, fromClient], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({
      layer: "networkpolicy",
      direction: "ingress",
      workload: "amb/server",
      port: 15008,
      protocol: "TCP",
      observed: "timeout",
      policies: [{ kind: "NetworkPolicy", namespace: "amb", name: "server-from-client" }],
    });
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe(WAYPOINT_IP);

    const fromWaypoint = netpol(
      "amb",
      "server-from-waypoint",
      "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {gateway.networking.k8s.io/gateway-name: waypoint}}}]\n    ports: [{port: 15008}]",
    );
    expect((await reachIn([WAYPOINT, fromWaypoint], { from: "amb/client", to: "svc:amb/reviews:80" })).verdict).toBe("allowed");
    // The same policy admits no application port from the waypoint: the second leg is HBONE too.
    const appPort = netpol(
      "amb",
      "server-app-from-waypoint",
      "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {gateway.networking.k8s.io/gateway-name: waypoint}}}]\n    ports: [{port: 9080}]",
    );
    expect((await reachIn([WAYPOINT, appPort], { from: "amb/client", to: "svc:amb/reviews:80" })).blockedBy).toMatchObject({ workload: "amb/server", port: 15008 });
  });

  it("the client's egress NetworkPolicy must admit 15008 to the waypoint", async () => {
    const toServerOnly = netpol("amb", "client-egress", "  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {app: server}}}]\n    ports: [{port: 15008}]");
    const r = await reachIn([WAYPOINT, toServerOnly], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "egress", workload: "amb/client", port: 15008 });
    expect(hop(r, "egress", "amb/client").wire.dstIP).toBe(WAYPOINT_IP);
  });

  it("an ingress-isolated waypoint stops the flow at its own ingress", async () => {
    const r = await reachIn([WAYPOINT, denyIngress("amb")], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/waypoint", port: 15008 });
  });

  it("a targetRefs policy is enforced at the waypoint with the client's identity", async () => {
    const ok = await reachIn([WAYPOINT, AMB_OTHER, onlyClient], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(ok.verdict).toBe("allowed");
    expect(hop(ok, "authorization", "amb/waypoint").policies.map((p) => p.name)).toEqual(["reviews-clients"]);

    const r = await reachIn([WAYPOINT, AMB_OTHER, onlyClient], { from: "amb/other", to: "svc:amb/reviews:80" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({
      layer: "istio-authorization",
      direction: "ingress",
      workload: "amb/waypoint",
      port: 9080,
      protocol: "TCP",
      observed: "http-403",
      policies: [{ kind: "AuthorizationPolicy", namespace: "amb", name: "reviews-clients" }],
    });
  });

  it("a waypoint refusing a plain TCP port closes the connection", async () => {
    const r = await reachIn([WAYPOINT, AMB_OTHER, onlyClient], { from: "amb/other", to: "svc:amb/reviews:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/waypoint", port: 8080, observed: "reset" });
  });

  it("the waypoint enforces HTTP attributes (--method, --path) with a 403", async () => {
    const getApi = targetRefs("reviews-get", "  - to:\n    - operation: {methods: [GET], paths: [/api/*]}");
    const post = await reachIn([WAYPOINT, getApi], { from: "amb/client", to: "svc:amb/reviews:80", method: "POST", path: "/api/x" });
    expect(post.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/waypoint", port: 9080, observed: "http-403" });
    expect((await reachIn([WAYPOINT, getApi], { from: "amb/client", to: "svc:amb/reviews:80", method: "GET", path: "/api/x" })).verdict).toBe("allowed");
    const other = await reachIn([WAYPOINT, getApi], { from: "amb/client", to: "svc:amb/reviews:80", method: "GET", path: "/admin" });
    expect(other.blockedBy).toMatchObject({ workload: "amb/waypoint", observed: "http-403" });
  });

  it("a policy targeting the waypoint Gateway itself is enforced there too", async () => {
    const gw = targetRefs("waypoint-deny", "  - from:\n    - source: {principals: [cluster.local/ns/amb/sa/other]}", "DENY", "{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}");
    const r = await reachIn([WAYPOINT, AMB_OTHER, gw], { from: "amb/other", to: "svc:amb/reviews:80" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/waypoint", observed: "http-403", policies: [{ name: "waypoint-deny" }] });
    expect((await reachIn([WAYPOINT, AMB_OTHER, gw], { from: "amb/client", to: "svc:amb/reviews:80" })).verdict).toBe("allowed");
  });

  it("a selector policy at the destination sees the waypoint's identity, not the client's (§5.4 r15, §5.7 M6)", async () => {
    const r = await reachIn([WAYPOINT, serverSelector("server-clients", "cluster.local/ns/amb/sa/client")], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({
      layer: "istio-authorization",
      direction: "ingress",
      workload: "amb/server",
      port: 9080,
      protocol: "TCP",
      policies: [{ kind: "AuthorizationPolicy", namespace: "amb", name: "server-clients" }],
    });
    // Waypoints ignore selector policies (§5.5 r16): the waypoint itself let the request through.
    expect(hop(r, "authorization", "amb/waypoint").verdict).toBe("allow");

    const viaWaypoint = await reachIn([WAYPOINT, serverSelector("server-waypoint", "cluster.local/ns/amb/sa/waypoint")], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(viaWaypoint.verdict).toBe("allowed");
    expect(hop(viaWaypoint, "authorization", "amb/server").policies.map((p) => p.name)).toEqual(["server-waypoint"]);
  });

  it("a targetRefs policy is never sent to the destination ztunnel", async () => {
    const denyAll = targetRefs("reviews-deny-all", "  - {}", "DENY");
    const r = await reachIn([WAYPOINT, denyAll], { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.blockedBy).toMatchObject({ workload: "amb/waypoint", policies: [{ name: "reviews-deny-all" }] });
    expect(hop(r, "authorization", "amb/server").verdict).toBe("allow");
  });

  it("traffic addressed to the pod does not use the Service's waypoint", async () => {
    const r = await reachIn([WAYPOINT, targetRefs("reviews-deny-all", "  - {}", "DENY")], { from: "amb/client", to: "amb/server:9080" });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual([
      "tunnel:ztunnel@amb/client:15008",
      "egress:networkpolicy@amb/client:15008",
      "ingress:networkpolicy@amb/server:15008",
      "authorization:istio-authorization@amb/server:9080",
    ]);
  });

  it("UDP to a waypoint-bound Service is not captured: no waypoint", async () => {
    const udp = `apiVersion: v1
kind: Service
metadata: {name: reviews-dns, namespace: amb, labels: {istio.io/use-waypoint: waypoint}}
spec:
  selector: {app: server}
  ports: [{name: dns, port: 53, targetPort: 5353, protocol: UDP}]
`;
    const r = await reachIn([WAYPOINT, udp], { from: "amb/client", to: "svc:amb/reviews-dns:53" });
    expect(seq(r)).toEqual(["service:service@amb/reviews-dns:53", "egress:networkpolicy@amb/client:5353", "ingress:networkpolicy@amb/server:5353"]);
  });

  it("a targetRefs policy for a Service without a waypoint is enforced nowhere (§5.7 M7)", async () => {
    const noWaypoint = authz("amb", "server-deny-all", "  targetRefs: [{kind: Service, group: '', name: server}]\n  action: DENY\n  rules: [{}]");
    const r = await reachIn([noWaypoint], { from: "amb/client", to: "svc:amb/server:80" });
    expect(r.verdict).toBe("allowed");
    expect(r.hops.some((h) => h.at === "amb/waypoint")).toBe(false);
  });
});

describe("clients that bypass the waypoint", () => {
  it("a client outside the mesh goes straight to the backend in plaintext (§5.5 r18, §5.7 M8)", async () => {
    const r = await reachIn([WAYPOINT, targetRefs("reviews-deny-all", "  - {}", "DENY")], { from: "plain/client", to: "svc:amb/reviews:80" });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual([
      "service:service@amb/reviews:80",
      "egress:networkpolicy@plain/client:9080",
      "ingress:networkpolicy@amb/server:9080",
      "authorization:istio-authorization@amb/server:9080",
    ]);
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe(IP["plain/client"]);
  });

  it("a client outside the mesh meets only the destination ztunnel's L4 policy, without an identity", async () => {
    const r = await reachIn([WAYPOINT, serverSelector("server-waypoint", "cluster.local/ns/amb/sa/waypoint")], { from: "plain/client", to: "svc:amb/reviews:80" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/server", port: 9080, observed: "reset" });
  });

  it("a sidecar client tunnels straight to the backend and shows its own identity there", async () => {
    const r = await reachIn([WAYPOINT, targetRefs("reviews-deny-all", "  - {}", "DENY"), serverSelector("server-side", "cluster.local/ns/side/sa/client")], {
      from: "side/client",
      to: "svc:amb/reviews:80",
    });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual([
      "service:service@amb/reviews:80",
      "mesh-egress:istio-egress@side/client:80",
      "tunnel:sidecar@side/client:15008",
      "egress:networkpolicy@side/client:15008",
      "ingress:networkpolicy@amb/server:15008",
      "authorization:istio-authorization@amb/server:9080",
    ]);
    expect(hop(r, "ingress", "amb/server").wire).toEqual({ srcIP: IP["side/client"], dstIP: IP["amb/server"], port: 15008, protocol: "TCP" });
  });

  it("an outside client through a LoadBalancer bypasses it as well", async () => {
    const lb = `apiVersion: v1
kind: Service
metadata: {name: reviews-lb, namespace: amb, labels: {istio.io/use-waypoint: waypoint}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: 9080}]
`;
    const r = await reachIn([WAYPOINT, lb, targetRefs("reviews-deny-all", "  - {}", "DENY", "{kind: Service, group: '', name: reviews-lb}")], {
      from: "203.0.113.7",
      to: "svc:amb/reviews-lb:80",
    });
    expect(r.verdict).toBe("allowed");
    expect(r.hops.some((h) => h.at === "amb/waypoint")).toBe(false);
  });
});

describe("a waypoint without a Deployment in the input", () => {
  const gatewayOnly = WAYPOINT.split("---\n").filter((d) => !/kind: Pod/.test(d)).join("---\n");

  it("is assumed to run as istiod deploys it, and the path still has two legs", async () => {
    const s = await scenarioFromYaml([...BASE, gatewayOnly].join("---\n"), { file: "mesh.yaml" });
    const r = reach(s, { from: "amb/client", to: "svc:amb/reviews:80" });
    expect(r.verdict).toBe("allowed");
    expect(r.assumptions.some((a) => a.includes("waypoint amb/waypoint") && a.includes("no Deployment"))).toBe(true);
    expect(seq(r)).toContain("ingress:networkpolicy@amb/waypoint:15008");
    expect(seq(r)).toContain("ingress:networkpolicy@amb/server:15008");
  });

  it("its pods carry the gateway-name label a NetworkPolicy can select", async () => {
    const fromWaypoint = netpol(
      "amb",
      "server-from-waypoint",
      "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {gateway.networking.k8s.io/gateway-name: waypoint}}}]\n    ports: [{port: 15008}]",
    );
    const s = await mesh(gatewayOnly, fromWaypoint);
    expect(reach(s, { from: "amb/client", to: "svc:amb/reviews:80" }).verdict).toBe("allowed");
    const direct = reach(s, { from: "amb/client", to: "amb/server:9080" });
    expect(direct.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 15008 });
  });
});
