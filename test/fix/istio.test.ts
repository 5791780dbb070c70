import { describe, expect, it } from "vitest";
import { AMB_OTHER, authz, meshText, WAYPOINT } from "../path/mesh-fixture.js";
import { changedLines, deployment, fixYaml, namespace } from "./helpers.js";

const injected = { "istio-injection": "enabled" };
const mesh =
  namespace("shop", injected) +
  namespace("front", injected) +
  deployment("shop", "api", { port: 8080, sa: "api" }) +
  deployment("shop", "worker", { port: 9000, sa: "worker" }) +
  deployment("front", "web", { sa: "web" }) +
  `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
`;

const allowGateway = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api-allow
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  action: ALLOW
  rules:
  # only the ingress gateway
  - from:
    - source:
        principals: ["cluster.local/ns/istio-system/sa/istio-ingressgateway"]
`;

describe("fix at an AuthorizationPolicy", () => {
  it("adds an ALLOW rule for the client's principal and port (and the request's method and path) to the destination's policy", async () => {
    const text = mesh + allowGateway;
    const r = await fixYaml(text, { from: "front/web", to: "svc:shop/api:80", method: "POST", path: "/orders" });
    expect(r.blockedBefore).toMatchObject({ layer: "istio-authorization", workload: "shop/api", port: 8080 });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ layer: "istio-authorization", enforcer: "sidecar", direction: "ingress", action: "edit", kind: "AuthorizationPolicy", name: "api-allow" });
    const { added, removed } = changedLines(c.diff!);
    expect(removed).toEqual([]);
    const rule = added.join("\n");
    expect(rule).toContain("- cluster.local/ns/front/sa/web");
    expect(rule).toContain('- "8080"');
    expect(rule).toContain("- POST");
    expect(rule).toContain("- /orders");
    expect(c.yaml).toContain("# only the ingress gateway");
    expect(r.diffLimits).toEqual(["the matrix evaluates AuthorizationPolicy without an HTTP request: the rule's methods and paths are not part of its tuples"]);
  });

  it("leaves a root-namespace policy alone when it applies to workloads of other namespaces too", async () => {
    const rootPolicy = allowGateway.replace("namespace: shop", "namespace: istio-system");
    const text = mesh + namespace("other", injected) + deployment("other", "api", { port: 8080 }) + rootPolicy;
    const r = await fixYaml(text, { from: "front/web", to: "svc:shop/api:80" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({ action: "create", kind: "AuthorizationPolicy", namespace: "shop" });
    expect(r.opened.filter((o) => o.to === "other/api")).toEqual([]);
  });

  it("names a DENY policy that matches instead of adding an ALLOW it would not override", async () => {
    const deny = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-front, namespace: shop}
spec:
  action: DENY
  rules:
  - from:
    - source:
        namespaces: [front]
`;
    const r = await fixYaml(mesh + deny, { from: "front/web", to: "svc:shop/api:80" });
    expect(r.verdictAfter).toBe("denied");
    expect(r.changes).toEqual([]);
    expect(r.noFix).toMatchObject({ layer: "istio-authorization", workload: "shop/api" });
    expect(r.noFix!.reason).toContain("DENY policy shop/no-front");
    expect(r.noFix!.reason).toContain("narrow");
  });
});

describe("fix at PeerAuthentication STRICT", () => {
  it("lets a plaintext client in with the change that opens least, measured, and shows the other", async () => {
    const strict = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec:
  mtls: {mode: STRICT}
`;
    const services = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports:
  - {port: 8080}
---
`;
    const text =
      namespace("shop", injected) + namespace("legacy") + deployment("shop", "api", { port: 8080 }) + deployment("shop", "worker", { port: 9000 }) + deployment("legacy", "batch") + services + strict;
    const r = await fixYaml(text, { from: "legacy/batch", to: "svc:shop/api:8080" });
    expect(r.blockedBefore).toMatchObject({ layer: "istio-peerauthentication", workload: "shop/api" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    // Enrolling legacy would also open batch → worker; a PERMISSIVE port on api only opens api:8080.
    expect(r.changes[0]).toMatchObject({ action: "create", kind: "PeerAuthentication", name: "api-permissive-8080" });
    expect(r.changes[0]!.yaml).toContain('"8080":\n      mode: PERMISSIVE');
    expect(r.alternatives).toHaveLength(1);
    expect(r.alternatives[0]).toContain("enrol namespace legacy");
    expect(r.opened.some((o) => o.from === "legacy/batch" && o.to === "shop/api" && o.requested)).toBe(true);
    expect(r.opened.some((o) => o.to === "shop/worker")).toBe(false);
  });
});

describe("fix at a sidecar's outbound control", () => {
  const registryOnly = (hosts: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: front
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
  egress:
  - hosts:
${hosts}`;

  it("registers an outside host with a ServiceEntry in the client's namespace", async () => {
    const r = await fixYaml(mesh + registryOnly(`    - "./*"\n`), { from: "front/web", to: "api.example.com:443" });
    expect(r.blockedBefore).toMatchObject({ layer: "istio-egress", direction: "egress", workload: "front/web" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ action: "create", kind: "ServiceEntry", namespace: "front", name: "api-example-com" });
    expect(c.yaml).toContain("hosts:\n    - api.example.com");
    expect(c.yaml).toContain("number: 443");
    expect(c.yaml).toContain("resolution: DNS");
    // The matrix has no sidecar outbound control: the diff says so rather than showing nothing silently.
    expect(r.opened).toEqual([]);
    expect(r.diffLimits.join("\n")).toContain("outbound control");
  });

  it("adds the Service's host to the Sidecar's egress hosts", async () => {
    const text = mesh + registryOnly(`    - "./*"\n    - "istio-system/*"\n`);
    const r = await fixYaml(text, { from: "front/web", to: "svc:shop/api:80" });
    expect(r.verdictAfter).toBe("allowed");
    const c = r.changes[0]!;
    expect(c).toMatchObject({ layer: "istio-egress", action: "edit", kind: "Sidecar", name: "default" });
    expect(changedLines(c.diff!)).toEqual({ added: ["    - shop/api.shop.svc.cluster.local"], removed: [] });
  });
});

describe("fix at a waypoint", () => {
  it("adds the client's principal to the targetRefs policy of the Service, enforced with the client's identity", async () => {
    const onlyClient = authz("amb", "reviews-clients", "  targetRefs: [{kind: Service, group: '', name: reviews}]\n  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/amb/sa/client]}");
    const text = meshText(WAYPOINT, AMB_OTHER, onlyClient);
    const r = await fixYaml(text, { from: "amb/other", to: "svc:amb/reviews:80" });
    expect(r.blockedBefore).toMatchObject({ layer: "istio-authorization", workload: "amb/waypoint" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({ action: "edit", enforcer: "waypoint", kind: "AuthorizationPolicy", name: "reviews-clients", workload: "amb/waypoint" });
    const { added, removed } = changedLines(r.changes[0]!.diff!);
    expect(removed).toEqual([]);
    expect(added.join("\n")).toContain("cluster.local/ns/amb/sa/other");
    expect(r.diffLimits.join("\n")).toContain("leaves out waypoints");
  });

  it("creates a policy attached to the Service when the waypoint's policy applies to the whole Gateway", async () => {
    const gatewayWide = authz("amb", "waypoint-clients", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/amb/sa/client]}");
    const r = await fixYaml(meshText(WAYPOINT, AMB_OTHER, gatewayWide), { from: "amb/other", to: "svc:amb/reviews:80" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes[0]).toMatchObject({ action: "create", kind: "AuthorizationPolicy", namespace: "amb" });
    expect(r.changes[0]!.yaml).toContain("targetRefs:\n    - kind: Service\n      group: \"\"\n      name: reviews");
  });
});
