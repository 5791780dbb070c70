/**
 * AuthorizationPolicy where the wire path meets it (semantics.md §4.2–§4.6,
 * §5.4): a sidecar evaluates HTTP attributes (--method, --path) and refuses with
 * HTTP 403; on a TCP port it drops ALLOW rules that need HTTP and widens DENY
 * rules; the ztunnel is L4 only — an ALLOW rule with HTTP attributes is dropped,
 * so the policy denies everything (§5.7 M3), and a DENY left empty does nothing
 * (M4). The port is always the container port.
 */
import { describe, expect, it } from "vitest";
import { authz, hop, reachIn } from "./mesh-fixture.js";

const getApi = (ns: string, extra = "") =>
  authz(ns, "get-api", `  selector: {matchLabels: {app: server}}\n  action: ALLOW\n  rules:\n  - to:\n    - operation: {methods: [GET], paths: ['/api/*']${extra}}`);

const denyPost = (ns: string, extra = "") => authz(ns, "deny-post", `  selector: {matchLabels: {app: server}}\n  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [POST]${extra}}`);

describe("at a sidecar: L7", () => {
  it("--method POST is refused with a 403 on the container port", async () => {
    const r = await reachIn([getApi("side")], { from: "side/client", to: "svc:side/server:80", method: "POST", path: "/api/orders" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toEqual({
      layer: "istio-authorization",
      direction: "ingress",
      workload: "side/server",
      port: 9080,
      protocol: "TCP",
      observed: "http-403",
      policies: [expect.objectContaining({ kind: "AuthorizationPolicy", namespace: "side", name: "get-api", file: "mesh.yaml" })],
      reason: expect.any(String),
    });
  });

  it("--method GET --path /api/… is allowed, the query string is not matched (§4.4 r15)", async () => {
    expect((await reachIn([getApi("side")], { from: "side/client", to: "svc:side/server:80", method: "GET", path: "/api/orders" })).verdict).toBe("allowed");
    expect((await reachIn([getApi("side")], { from: "side/client", to: "svc:side/server:80", method: "GET", path: "/api/orders?page=2" })).verdict).toBe("allowed");
  });

  it("--path outside the allowed prefix is a 403", async () => {
    const r = await reachIn([getApi("side")], { from: "side/client", to: "svc:side/server:80", method: "GET", path: "/admin" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "side/server", observed: "http-403" });
  });

  it("an HTTP port without flags is evaluated as GET / and says so", async () => {
    const r = await reachIn([getApi("side")], { from: "side/client", to: "svc:side/server:80" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", observed: "http-403" });
    expect(r.assumptions.some((a) => a.includes("GET /"))).toBe(true);
  });

  it("the same request from an ambient client is judged the same way: the sidecar is L7", async () => {
    const r = await reachIn([getApi("side")], { from: "amb/client", to: "svc:side/server:80", method: "POST", path: "/api/orders" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "side/server", port: 9080, observed: "http-403" });
    expect((await reachIn([getApi("side")], { from: "amb/client", to: "svc:side/server:80", method: "GET", path: "/api/orders" })).verdict).toBe("allowed");
  });

  it("on a TCP port an ALLOW rule with HTTP attributes is dropped: the connection is closed (§4.12 I9)", async () => {
    const r = await reachIn([getApi("side")], { from: "side/client", to: "side/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "side/server", port: 8080, observed: "reset" });
  });

  it("on a TCP port a DENY of POST denies all TCP traffic (§4.12 I10)", async () => {
    const r = await reachIn([denyPost("side")], { from: "side/client", to: "side/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "side/server", port: 8080, observed: "reset" });
    // On the HTTP port the method is known and GET passes.
    expect((await reachIn([denyPost("side")], { from: "side/client", to: "side/server:9080", method: "GET" })).verdict).toBe("allowed");
    const post = await reachIn([denyPost("side")], { from: "side/client", to: "side/server:9080", method: "POST" });
    expect(post.blockedBy).toMatchObject({ workload: "side/server", port: 9080, observed: "http-403" });
  });

  it("ports are container ports: the Service port never matches (§4.12 I14)", async () => {
    const byPort = (port: string) => authz("side", "by-port", `  selector: {matchLabels: {app: server}}\n  action: ALLOW\n  rules:\n  - to:\n    - operation: {ports: ['${port}']}`);
    expect((await reachIn([byPort("9080")], { from: "side/client", to: "svc:side/server:80" })).verdict).toBe("allowed");
    const r = await reachIn([byPort("80")], { from: "side/client", to: "svc:side/server:80" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "side/server", port: 9080 });
  });

  it("policies on the client do not restrict its outbound calls (§4.1 r5)", async () => {
    const clientDeny = authz("side", "client-deny", "  selector: {matchLabels: {app: client}}\n  action: DENY\n  rules: [{}]");
    expect((await reachIn([clientDeny], { from: "side/client", to: "side/server:8080" })).verdict).toBe("allowed");
  });

  it("a targetRefs policy is ignored by a sidecar (§4.12 I15)", async () => {
    const refs = authz("side", "refs", "  targetRefs: [{kind: Service, group: '', name: server}]\n  action: DENY\n  rules: [{}]");
    expect((await reachIn([refs], { from: "side/client", to: "svc:side/server:80" })).verdict).toBe("allowed");
  });
});

describe("at the destination ztunnel: L4 only", () => {
  it("an ALLOW with only HTTP attributes is dropped, so everything is denied, even a matching GET (§5.7 M3)", async () => {
    const r = await reachIn([getApi("amb")], { from: "amb/client", to: "svc:amb/server:80", method: "GET", path: "/api/orders" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({
      layer: "istio-authorization",
      direction: "ingress",
      workload: "amb/server",
      port: 9080,
      protocol: "TCP",
      observed: "reset",
      policies: [{ kind: "AuthorizationPolicy", namespace: "amb", name: "get-api" }],
    });
    expect(hop(r, "authorization", "amb/server").proxy).toBe("ztunnel");
  });

  it("a DENY with only HTTP attributes has no effect (§5.7 M4)", async () => {
    expect((await reachIn([denyPost("amb")], { from: "amb/client", to: "amb/server:9080", method: "POST" })).verdict).toBe("allowed");
  });

  it("a DENY of POST on a port denies all of that port (§5.7 M5)", async () => {
    const r = await reachIn([denyPost("amb", ", ports: ['9080']")], { from: "amb/client", to: "amb/server:9080", method: "GET" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/server", port: 9080, observed: "reset" });
    expect((await reachIn([denyPost("amb", ", ports: ['9080']")], { from: "amb/client", to: "amb/server:8080" })).verdict).toBe("allowed");
  });

  it("sees the application port inside the tunnel, where NetworkPolicy sees 15008", async () => {
    const only8080 = authz("amb", "only-8080", "  selector: {matchLabels: {app: server}}\n  action: ALLOW\n  rules:\n  - to:\n    - operation: {ports: ['8080']}");
    const ok = await reachIn([only8080], { from: "amb/client", to: "amb/server:8080" });
    expect(ok.verdict).toBe("allowed");
    expect(hop(ok, "ingress", "amb/server").wire.port).toBe(15008);
    expect(hop(ok, "authorization", "amb/server").wire.port).toBe(8080);
    expect((await reachIn([only8080], { from: "amb/client", to: "amb/server:9080" })).blockedBy).toMatchObject({ layer: "istio-authorization", port: 9080 });
  });

  it("principals and namespaces match the client's identity carried by HBONE", async () => {
    const fromSide = authz("amb", "from-side", "  action: ALLOW\n  rules:\n  - from:\n    - source: {namespaces: [side]}");
    expect((await reachIn([fromSide], { from: "side/client", to: "amb/server:8080" })).verdict).toBe("allowed");
    expect((await reachIn([fromSide], { from: "amb/client", to: "amb/server:8080" })).blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/server" });
  });

  it("spec: {} denies everything in the namespace (§4.3 r10)", async () => {
    const nothing = authz("amb", "allow-nothing", "  {}");
    const r = await reachIn([nothing], { from: "amb/client", to: "amb/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", workload: "amb/server", port: 8080, observed: "reset" });
  });
});
