/**
 * What users see of the mesh-aware wire path through the command line
 * (design.md, `palisade reach`): the JSON object with `blockedBy` and `hops`,
 * the exit codes, and the text trace naming the HBONE hop and port 15008.
 */
import { describe, expect, it } from "vitest";
import { fixture, palisade, reachJson } from "../cli/helpers.js";
import { authz, denyIngress, IP, meshText, netpol, WAYPOINT, WAYPOINT_IP } from "./mesh-fixture.js";

/** 1-based line where the document holding `needle` starts (its apiVersion line): where a policy is reported. */
function documentLine(text: string, needle: string): number {
  const lines = text.split("\n");
  let i = lines.findIndex((l) => l.includes(needle));
  while (i > 0 && !lines[i]!.startsWith("apiVersion:")) i--;
  return i + 1;
}

const sidecarAllowsHbone = netpol("side", "server-hbone", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: 15008}]");

describe("reach -o text", () => {
  it("an ambient → sidecar flow shows the HBONE tunnel hop and port 15008", async () => {
    const file = fixture(meshText(sidecarAllowsHbone));
    const r = await palisade(["reach", "amb/client", "side/server:8080", "-f", file]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("ALLOWED  amb/client → side/server TCP/8080");
    const tunnel = lines.findIndex((l) => l.includes("tunnel at amb/client"));
    expect(tunnel).toBeGreaterThan(0);
    expect(lines[tunnel]).toBe(`  ✓ tunnel at amb/client [ztunnel] TCP/15008 ${IP["amb/client"]} → ${IP["side/server"]}`);
    expect(lines[tunnel + 1]).toMatch(/HBONE/);
    expect(lines[tunnel + 1]).toMatch(/15008/);
    expect(r.stdout).toContain(`✓ ingress at side/server [networkpolicy] TCP/15008 ${IP["amb/client"]} → ${IP["side/server"]}`);
    expect(r.stdout).toContain("by NetworkPolicy side/server-hbone");
    expect(r.stdout).toContain(`✓ authorization at side/server [istio-authorization] TCP/8080`);
  });

  it("the denial line names the layer, the enforcer, the wire port and what the client sees", async () => {
    const file = fixture(meshText(denyIngress("side")));
    const r = await palisade(["reach", "amb/client", "side/server:8080", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ ingress at side/server [networkpolicy] TCP/15008`);
    expect(r.stdout).toContain("Blocked by networkpolicy (ingress at side/server) on TCP/15008; the client sees: timeout.");
  });

  it("a kubelet probe to an ambient pod shows 169.254.7.127 on the wire", async () => {
    const file = fixture(meshText(denyIngress("amb")));
    const r = await palisade(["reach", "kubelet", "amb/server:8080", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ ingress at amb/server [networkpolicy] TCP/8080 169.254.7.127 → ${IP["amb/server"]}`);
  });
});

describe("reach -o json", () => {
  it("a waypoint flow: both legs and both authorization points, in order", async () => {
    const file = fixture(meshText(WAYPOINT));
    const { code, json } = await reachJson(file, "amb/client", "svc:amb/reviews:80");
    expect(code).toBe(0);
    expect(json).toMatchObject({ verdict: "allowed", from: "amb/client", to: "svc:amb/reviews", port: 80, protocol: "TCP", blockedBy: null });
    expect(json.hops.map((h) => [h.step, h.enforcer, h.at, h.wire.port])).toEqual([
      ["service", "service", "amb/reviews", 80],
      ["tunnel", "ztunnel", "amb/client", 15008],
      ["egress", "networkpolicy", "amb/client", 15008],
      ["ingress", "networkpolicy", "amb/waypoint", 15008],
      ["authorization", "istio-authorization", "amb/waypoint", 9080],
      ["tunnel", "waypoint", "amb/waypoint", 15008],
      ["egress", "networkpolicy", "amb/waypoint", 15008],
      ["ingress", "networkpolicy", "amb/server", 15008],
      ["authorization", "istio-authorization", "amb/server", 9080],
    ]);
    expect(json.hops[3]!.wire).toEqual({ srcIP: IP["amb/client"], dstIP: WAYPOINT_IP, port: 15008, protocol: "TCP" });
    expect(json.hops[7]!.wire).toEqual({ srcIP: WAYPOINT_IP, dstIP: IP["amb/server"], port: 15008, protocol: "TCP" });
    for (const h of json.hops) expect(h.verdict).toBe("allow");
  });

  it("a denial at the waypoint: blockedBy as the contract spells it, exit code 1", async () => {
    const policy = authz("amb", "reviews-get", "  targetRefs: [{kind: Service, group: '', name: reviews}]\n  action: ALLOW\n  rules:\n  - to:\n    - operation: {methods: [GET]}");
    const text = meshText(WAYPOINT, policy);
    const file = fixture(text);
    const { code, json } = await reachJson(file, "amb/client", "svc:amb/reviews:80", "--method", "DELETE");
    expect(code).toBe(1);
    expect(json.verdict).toBe("denied");
    const line = documentLine(text, "name: reviews-get");
    expect(json.blockedBy).toEqual({
      layer: "istio-authorization",
      direction: "ingress",
      workload: "amb/waypoint",
      port: 9080,
      protocol: "TCP",
      policies: [{ kind: "AuthorizationPolicy", namespace: "amb", name: "reviews-get", rule: null, file, line }],
      observed: "http-403",
      reason: expect.any(String),
    });
  });

  it("a sidecar's REGISTRY_ONLY: blockedBy istio-egress at the client, with the Sidecar's file and line", async () => {
    const sidecar = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: side}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
    const text = meshText(sidecar);
    const file = fixture(text);
    const { code, json } = await reachJson(file, "side/client", "api.example.com:443");
    expect(code).toBe(1);
    expect(json.blockedBy).toMatchObject({ layer: "istio-egress", direction: "egress", workload: "side/client", port: 443, protocol: "TCP", observed: "reset" });
    expect(json.blockedBy!.policies).toEqual([
      { kind: "Sidecar", namespace: "side", name: "default", rule: null, file, line: documentLine(text, "kind: Sidecar") },
    ]);
    expect(json.hops[0]).toMatchObject({ step: "mesh-egress", enforcer: "istio-egress", at: "side/client", verdict: "deny" });
    expect(json.hops[0]!.wire).toEqual({ srcIP: IP["side/client"], dstIP: null, dstHost: "api.example.com", port: 443, protocol: "TCP" });
  });

  it("an ambient client blocked by the server's app-port-only policy: the wire port 15008", async () => {
    const onlyApp = netpol("amb", "server-app-port", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: 8080}]");
    const file = fixture(meshText(onlyApp));
    const { code, json } = await reachJson(file, "amb/client", "amb/server:8080");
    expect(code).toBe(1);
    expect(json.port).toBe(8080);
    expect(json.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 15008, protocol: "TCP", observed: "timeout" });
  });
});
