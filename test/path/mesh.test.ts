/**
 * The mesh-aware wire path, pair by pair: for every (client data plane ×
 * server data plane) the port NetworkPolicy sees, whether the server's proxy
 * sees a peer identity, what PeerAuthentication does with plaintext, and that
 * UDP is never captured. Expectations come from semantics.md §4.11, §5.2–§5.6
 * and §8, and the `reach -o json` contract of design.md.
 */
import { describe, expect, it } from "vitest";
import { reach } from "../../src/analysis/reach.js";
import { scenarioFromYaml } from "../helpers/cluster.js";
import { authz, denyIngress, hop, IP, meshText, netpol, peerAuthn, reachIn, seq } from "./mesh-fixture.js";

type Mode = "ambient" | "sidecar" | "none" | "gateway";

const CLIENT: Record<Mode, string> = {
  ambient: "amb/client",
  sidecar: "side/client",
  none: "plain/client",
  gateway: "istio-system/istio-ingressgateway",
};

/** The server of each mode and the TCP port it listens on (8081 is the gateways' plain TCP server). */
function serverFor(src: Mode, dst: Mode): { id: string; port: number } {
  if (dst === "gateway") return { id: src === "gateway" ? "istio-system/istio-egressgateway" : "istio-system/istio-ingressgateway", port: 8081 };
  return { id: { ambient: "amb/server", sidecar: "side/server", none: "plain/server" }[dst], port: 8080 };
}

/**
 * §5.3 (ambient and sidecar/gateway clients towards ambient pods, ambient clients towards
 * anything with an Istio proxy) and §4.11 r33 (sidecar to sidecar keeps the app port);
 * a pod outside the mesh at either end means plaintext on the application port.
 */
const HBONE: Record<Mode, Record<Mode, boolean>> = {
  ambient: { ambient: true, sidecar: true, none: false, gateway: true },
  sidecar: { ambient: true, sidecar: false, none: false, gateway: false },
  none: { ambient: false, sidecar: false, none: false, gateway: false },
  gateway: { ambient: true, sidecar: false, none: false, gateway: false },
};

const MODES: Mode[] = ["ambient", "sidecar", "none", "gateway"];
const PAIRS = MODES.flatMap((src) => MODES.map((dst) => ({ src, dst })));

describe("TCP between data planes: the port NetworkPolicy sees", () => {
  it.each(PAIRS)("$src → $dst", async ({ src, dst }) => {
    const from = CLIENT[src];
    const to = serverFor(src, dst);
    const r = await reachIn([], { from, to: `${to.id}:${to.port}` });
    expect(r.verdict).toBe("allowed");
    const wirePort = HBONE[src][dst] ? 15008 : to.port;
    const ingress = hop(r, "ingress", to.id, "networkpolicy");
    expect(ingress.wire).toEqual({ srcIP: IP[from as keyof typeof IP], dstIP: IP[to.id as keyof typeof IP], port: wirePort, protocol: "TCP" });
    expect(hop(r, "egress", from, "networkpolicy").wire.port).toBe(wirePort);
    // A tunnel hop announces HBONE, and only HBONE.
    const tunnels = r.hops.filter((h) => h.step === "tunnel");
    if (HBONE[src][dst]) {
      expect(tunnels).toHaveLength(1);
      expect(tunnels[0]!).toMatchObject({ at: from, verdict: "allow", wire: { port: 15008, protocol: "TCP" } });
      expect(tunnels[0]!.enforcer).toBe({ ambient: "ztunnel", sidecar: "sidecar", gateway: "gateway", none: "?" }[src]);
    } else {
      expect(tunnels).toEqual([]);
    }
    // The destination's proxy (if any) is asked about the application port, never 15008.
    const authzHops = r.hops.filter((h) => h.step === "authorization");
    if (dst === "none") expect(authzHops).toEqual([]);
    else {
      expect(authzHops).toHaveLength(1);
      expect(authzHops[0]!).toMatchObject({ at: to.id, enforcer: "istio-authorization", direction: "ingress" });
      expect(authzHops[0]!.wire.port).toBe(to.port);
    }
  });

  it("an ambient client's NetworkPolicy must open 15008, not the app port, towards an ambient server (§5.7 M1)", async () => {
    const onlyApp = netpol("amb", "server-app-port", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: 8080}]");
    const denied = await reachIn([onlyApp], { from: "amb/client", to: "amb/server:8080" });
    expect(denied.verdict).toBe("denied");
    expect(denied.blockedBy).toMatchObject({
      layer: "networkpolicy",
      direction: "ingress",
      workload: "amb/server",
      port: 15008,
      protocol: "TCP",
      observed: "timeout",
      policies: [{ kind: "NetworkPolicy", namespace: "amb", name: "server-app-port" }],
    });
    const hbone = netpol("amb", "server-hbone", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: 15008}]");
    expect((await reachIn([hbone], { from: "amb/client", to: "amb/server:8080" })).verdict).toBe("allowed");
    // The same 15008 rule admits every tunnelled application port (§5.3 r7) …
    expect((await reachIn([hbone], { from: "amb/client", to: "amb/server:9080" })).verdict).toBe("allowed");
    // … but not a plaintext client, which arrives on the application port.
    const plain = await reachIn([hbone], { from: "plain/client", to: "amb/server:8080" });
    expect(plain.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 8080 });
  });

  it("under Cilium a Kubernetes NetworkPolicy sees the same wire, and the layer is still networkpolicy", async () => {
    const onlyApp = netpol("amb", "server-app-port", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: 8080}]");
    const s = await scenarioFromYaml(meshText(onlyApp), { file: "mesh.yaml", cni: "cilium" });
    const r = reach(s, { from: "amb/client", to: "amb/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 15008 });
  });

  it("the client's egress NetworkPolicy is checked on 15008 too, at the client", async () => {
    const egressApp = netpol("amb", "client-egress", "  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 8080}]");
    const r = await reachIn([egressApp], { from: "amb/client", to: "side/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "egress", workload: "amb/client", port: 15008, observed: "timeout" });
  });

  it("a sidecar server behind an app-port-only NetworkPolicy admits sidecar clients but not ambient ones", async () => {
    const onlyApp = netpol("side", "server-app-port", "  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - ports: [{port: 8080}]");
    expect((await reachIn([onlyApp], { from: "side/client", to: "side/server:8080" })).verdict).toBe("allowed");
    const amb = await reachIn([onlyApp], { from: "amb/client", to: "side/server:8080" });
    expect(amb.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "side/server", port: 15008 });
  });

  it("through a Service, the DNAT comes first and the tunnel carries the targetPort", async () => {
    const r = await reachIn([], { from: "amb/client", to: "svc:side/server:80" });
    expect(r.verdict).toBe("allowed");
    expect(r.port).toBe(80);
    expect(seq(r)).toEqual([
      "service:service@side/server:80",
      "tunnel:ztunnel@amb/client:15008",
      "egress:networkpolicy@amb/client:15008",
      "ingress:networkpolicy@side/server:15008",
      "authorization:istio-authorization@side/server:9080",
    ]);
    expect(r.hops[0]!.wire).toEqual({ srcIP: IP["amb/client"], dstIP: "10.96.2.1", port: 80, protocol: "TCP" });
  });
});

describe("identity at the destination", () => {
  /** Namespace-wide ALLOW for any authenticated peer (§4.4 r12: `*` is presence; §4.5 r18: plaintext has none). */
  const requireIdentity = [
    authz("amb", "require-identity", "  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: ['*']}"),
    authz("side", "require-identity", "  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: ['*']}"),
  ];

  const cases = (["ambient", "sidecar", "none", "gateway"] as Mode[]).flatMap((src) =>
    (["ambient", "sidecar"] as Mode[]).map((dst) => ({ src, dst, mtls: src !== "none" })),
  );

  it.each(cases)("$src → $dst carries an identity: $mtls", async ({ src, dst, mtls }) => {
    const to = serverFor(src, dst);
    const r = await reachIn(requireIdentity, { from: CLIENT[src], to: `${to.id}:${to.port}` });
    if (mtls) {
      expect(r.verdict).toBe("allowed");
      expect(hop(r, "authorization", to.id).policies.map((p) => p.name)).toEqual(["require-identity"]);
    } else {
      expect(r.verdict).toBe("denied");
      expect(r.blockedBy).toMatchObject({
        layer: "istio-authorization",
        direction: "ingress",
        workload: to.id,
        port: 8080,
        protocol: "TCP",
        observed: "reset",
        policies: [{ kind: "AuthorizationPolicy", namespace: to.id.split("/")[0], name: "require-identity" }],
      });
    }
  });

  it("the server's proxy sees the client's own principal, whatever the tunnel", async () => {
    const only = (ns: string, principal: string) =>
      authz(ns, "only-one", `  selector: {matchLabels: {app: server}}\n  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [${principal}]}`);
    for (const [from, to, principal] of [
      ["amb/client", "side/server", "cluster.local/ns/amb/sa/client"],
      ["side/client", "amb/server", "cluster.local/ns/side/sa/client"],
      ["istio-system/istio-ingressgateway", "amb/server", "cluster.local/ns/istio-system/sa/istio-ingressgateway"],
      ["istio-system/istio-ingressgateway", "side/server", "cluster.local/ns/istio-system/sa/istio-ingressgateway"],
    ] as const) {
      const ns = to.split("/")[0]!;
      expect((await reachIn([only(ns, principal)], { from, to: `${to}:8080` })).verdict, `${from} → ${to} as ${principal}`).toBe("allowed");
      const other = await reachIn([only(ns, "cluster.local/ns/elsewhere/sa/someone")], { from, to: `${to}:8080` });
      expect(other.blockedBy, `${from} → ${to}`).toMatchObject({ layer: "istio-authorization", workload: to, port: 8080 });
    }
  });

  it("namespaces and notNamespaces on a plaintext client (§4.5 r18, §4.12 I7/I8)", async () => {
    const nsOnly = authz("side", "from-plain", "  action: ALLOW\n  rules:\n  - from:\n    - source: {namespaces: [plain]}");
    expect((await reachIn([nsOnly], { from: "plain/client", to: "side/server:8080" })).blockedBy).toMatchObject({ layer: "istio-authorization", workload: "side/server" });
    const notNs = authz("side", "not-plain", "  action: ALLOW\n  rules:\n  - from:\n    - source: {notNamespaces: [plain]}");
    expect((await reachIn([notNs], { from: "plain/client", to: "side/server:8080" })).verdict).toBe("allowed");
  });
});

describe("PeerAuthentication at the destination", () => {
  for (const [dst, proxy] of [
    ["amb/server", "ztunnel"],
    ["side/server", "sidecar"],
  ] as const) {
    const ns = dst.split("/")[0]!;

    it(`STRICT: ${dst} (${proxy}) refuses a plaintext client before any AuthorizationPolicy`, async () => {
      const allowAll = authz(ns, "allow-all", "  action: ALLOW\n  rules: [{}]");
      const r = await reachIn([peerAuthn(ns, "STRICT"), allowAll], { from: "plain/client", to: `${dst}:8080` });
      expect(r.verdict).toBe("denied");
      expect(r.blockedBy).toEqual({
        layer: "istio-peerauthentication",
        direction: "ingress",
        workload: dst,
        port: 8080,
        protocol: "TCP",
        observed: "reset",
        policies: [expect.objectContaining({ kind: "PeerAuthentication", namespace: ns, name: "default", file: "mesh.yaml" })],
        reason: expect.any(String),
      });
      // CNI first, then mTLS, then authorization (§8 steps 4–5).
      expect(seq(r)).toEqual([
        "egress:networkpolicy@plain/client:8080",
        `ingress:networkpolicy@${dst}:8080`,
        `peer-authentication:istio-peerauthentication@${dst}:8080`,
        `authorization:istio-authorization@${dst}:8080`,
      ]);
    });

    it(`STRICT: ${dst} refuses a client outside the cluster too`, async () => {
      const r = await reachIn([peerAuthn(ns, "STRICT")], { from: "203.0.113.9", to: `${dst}:8080` });
      expect(r.blockedBy).toMatchObject({ layer: "istio-peerauthentication", workload: dst, port: 8080, observed: "reset" });
    });

    it(`STRICT: ${dst} accepts every mesh client`, async () => {
      for (const from of ["amb/client", "side/client", "istio-system/istio-ingressgateway"]) {
        const r = await reachIn([peerAuthn(ns, "STRICT")], { from, to: `${dst}:8080` });
        expect(r.verdict, from).toBe("allowed");
        expect(hop(r, "peer-authentication", dst).verdict).toBe("allow");
      }
    });

    it(`PERMISSIVE: ${dst} accepts plaintext (without an identity)`, async () => {
      const r = await reachIn([peerAuthn(ns, "PERMISSIVE")], { from: "plain/client", to: `${dst}:8080` });
      expect(r.verdict).toBe("allowed");
      const withIdentity = authz(ns, "require-identity", "  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: ['*']}");
      const r2 = await reachIn([peerAuthn(ns, "PERMISSIVE"), withIdentity], { from: "plain/client", to: `${dst}:8080` });
      expect(r2.blockedBy).toMatchObject({ layer: "istio-authorization", workload: dst });
    });
  }

  it("no PeerAuthentication means PERMISSIVE (§4.7 r21)", async () => {
    expect((await reachIn([], { from: "plain/client", to: "side/server:8080" })).verdict).toBe("allowed");
    expect((await reachIn([], { from: "plain/client", to: "amb/server:8080" })).verdict).toBe("allowed");
  });

  it("a mesh-wide STRICT policy in the root namespace applies everywhere", async () => {
    const r = await reachIn([peerAuthn("istio-system", "STRICT")], { from: "plain/client", to: "side/server:8080" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-peerauthentication", workload: "side/server", policies: [{ namespace: "istio-system", name: "default" }] });
  });

  it("portLevelMtls is keyed by the container port, not the Service port (§4.4 r16)", async () => {
    const pa = (port: number) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: server, namespace: side}
spec:
  selector: {matchLabels: {app: server}}
  mtls: {mode: STRICT}
  portLevelMtls:
    ${port}: {mode: PERMISSIVE}
`;
    // Service port 80 → container port 9080.
    expect((await reachIn([pa(9080)], { from: "plain/client", to: "svc:side/server:80" })).verdict).toBe("allowed");
    const r = await reachIn([pa(80)], { from: "plain/client", to: "svc:side/server:80" });
    expect(r.blockedBy).toMatchObject({ layer: "istio-peerauthentication", workload: "side/server", port: 9080 });
  });

  it("a STRICT server is not checked for a client outside the mesh's TCP capture (UDP)", async () => {
    const r = await reachIn([peerAuthn("side", "STRICT")], { from: "plain/client", to: "side/server:5353", protocol: "UDP" });
    expect(r.verdict).toBe("allowed");
  });

  it("a gateway's listeners are not subject to PeerAuthentication", async () => {
    const r = await reachIn([peerAuthn("istio-system", "STRICT")], { from: "203.0.113.9", to: "istio-system/istio-ingressgateway:8081" });
    expect(r.verdict).toBe("allowed");
    expect(r.hops.filter((h) => h.step === "peer-authentication")).toEqual([]);
  });
});

describe("UDP is never captured (§5.2 r5, §5.7 M10)", () => {
  // Everything Istio could enforce is set to refuse; only the CNI decides UDP.
  const hostile = [
    peerAuthn("amb", "STRICT"),
    peerAuthn("side", "STRICT"),
    authz("amb", "deny-all", "  action: DENY\n  rules: [{}]"),
    authz("side", "deny-all", "  action: DENY\n  rules: [{}]"),
    `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: side}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`,
  ];

  it.each(PAIRS.filter((p) => p.dst !== "gateway" && p.src !== "gateway"))("$src → $dst: plain UDP on the application port", async ({ src, dst }) => {
    const to = serverFor(src, dst);
    const r = await reachIn(hostile, { from: CLIENT[src], to: `${to.id}:5353`, protocol: "UDP" });
    expect(r.verdict).toBe("allowed");
    expect(r.protocol).toBe("UDP");
    expect(seq(r)).toEqual([`egress:networkpolicy@${CLIENT[src]}:5353`, `ingress:networkpolicy@${to.id}:5353`]);
    for (const h of r.hops) expect(h.wire.protocol).toBe("UDP");
  });

  it("the CNI still decides UDP", async () => {
    const r = await reachIn([denyIngress("amb")], { from: "amb/client", to: "amb/server:5353", protocol: "UDP" });
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "amb/server", port: 5353, protocol: "UDP", observed: "timeout" });
  });

  it("a Service's UDP port is not tunnelled either", async () => {
    const svc = `apiVersion: v1
kind: Service
metadata: {name: dns, namespace: amb}
spec:
  selector: {app: server}
  ports: [{name: dns, port: 53, targetPort: 5353, protocol: UDP}]
`;
    const r = await reachIn([svc], { from: "amb/client", to: "svc:amb/dns:53" });
    expect(r.protocol).toBe("UDP");
    expect(seq(r)).toEqual(["service:service@amb/dns:53", "egress:networkpolicy@amb/client:5353", "ingress:networkpolicy@amb/server:5353"]);
  });
});

describe("ambient clients and servers outside the mesh", () => {
  it("ambient → non-mesh pod is a plaintext passthrough: no tunnel, no Istio check at the server (§5.3)", async () => {
    const r = await reachIn([peerAuthn("plain", "STRICT")], { from: "amb/client", to: "plain/server:8080" });
    expect(r.verdict).toBe("allowed");
    expect(seq(r)).toEqual(["egress:networkpolicy@amb/client:8080", "ingress:networkpolicy@plain/server:8080"]);
  });

  it("a non-mesh client reaching an ambient pod is checked by the destination ztunnel on the app port (§5.3)", async () => {
    const r = await reachIn([authz("amb", "deny-plain", "  action: DENY\n  rules:\n  - from:\n    - source: {ipBlocks: [10.3.0.0/16]}")], {
      from: "plain/client",
      to: "amb/server:8080",
    });
    expect(r.blockedBy).toMatchObject({ layer: "istio-authorization", direction: "ingress", workload: "amb/server", port: 8080, observed: "reset" });
    expect(hop(r, "ingress", "amb/server").wire.srcIP).toBe(IP["plain/client"]);
  });
});
