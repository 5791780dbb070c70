import { describe, expect, it } from "vitest";
import { lineOf } from "../helpers/cluster.js";
import { changedLines, deployment, fixYaml, namespace } from "./helpers.js";

const workloads =
  namespace("shop") +
  namespace("front") +
  deployment("shop", "api", { port: 8080, labels: { app: "api", tier: "backend" } }) +
  deployment("shop", "worker", { port: 9000, labels: { app: "worker", tier: "backend" } }) +
  deployment("front", "web", { labels: { app: "web" } });

const apiIngress = `# The API only takes traffic from the gateway.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: api}
  ingress:
    - from:   # the gateway
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: gateway}
      ports:
        - {port: 8080, protocol: TCP}
`;

describe("fix at a NetworkPolicy", () => {
  it("adds one ingress rule to the policy that selects only the destination, keeping the file as written", async () => {
    const text = workloads + apiIngress;
    const r = await fixYaml(text, { from: "front/web", to: "shop/api:8080" });
    expect(r.verdictBefore).toBe("denied");
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "shop/api", action: "edit", kind: "NetworkPolicy", namespace: "shop", name: "api-ingress", file: "policies.yaml" });
    expect(c.blockedBy[0]).toMatchObject({ name: "api-ingress", line: lineOf(text, "kind: NetworkPolicy") - 1 });
    const { added, removed } = changedLines(c.diff!);
    expect(removed).toEqual([]);
    expect(added.join("\n")).toContain("kubernetes.io/metadata.name: front");
    expect(added.join("\n")).toContain("app: web");
    expect(added.join("\n")).toContain("port: 8080");
    // The controller's selector identifies the peer, not the hash of one rollout.
    expect(added.join("\n")).not.toContain("pod-template-hash");
    // The file's own style: list items indented under their key.
    expect(added[0]).toBe("    - from:");
    expect(c.yaml).toContain("# the gateway");
    expect(r.opened).toEqual([{ from: "front/web", to: "shop/api", port: 8080, protocol: "TCP", requested: true }]);
    expect(r.closed).toEqual([]);
  });

  it("creates a policy selecting only the destination when the isolating policy selects more", async () => {
    const defaultDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;
    const r = await fixYaml(workloads + defaultDeny, { from: "front/web", to: "shop/api:8080" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ action: "create", kind: "NetworkPolicy", namespace: "shop", name: "allow-web-to-api" });
    expect(c.diff).toBeUndefined();
    expect(c.yaml).toContain("policyTypes:\n    - Ingress");
    expect(c.yaml).toMatch(/podSelector:\n\s+matchLabels:\n\s+app: api\n\s+tier: backend/);
    // The worker, selected by the same default deny, stays closed.
    expect(r.opened).toEqual([{ from: "front/web", to: "shop/api", port: 8080, protocol: "TCP", requested: true }]);
    expect(r.closed).toEqual([]);
  });

  it("allows an outside address on the source's egress with an ipBlock of that one address", async () => {
    const webEgress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
  namespace: front
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes:
  - Egress
  egress:
  - ports:
    - port: 53
      protocol: UDP
`;
    const text = workloads + webEgress;
    const r = await fixYaml(text, { from: "front/web", to: "203.0.113.7:443" });
    expect(r.verdictAfter).toBe("allowed");
    const c = r.changes[0]!;
    expect(c).toMatchObject({ direction: "egress", workload: "front/web", action: "edit", name: "web-egress" });
    const { added, removed } = changedLines(c.diff!);
    expect(removed).toEqual([]);
    expect(added).toContain("  - to:");
    expect(added.join("\n")).toContain("cidr: 203.0.113.7/32");
    expect(added.join("\n")).toContain("port: 443");
  });

  it("opens HBONE (15008) at an ambient destination, and says what else that opens", async () => {
    const text =
      namespace("shop", { "istio.io/dataplane-mode": "ambient" }) +
      namespace("front", { "istio.io/dataplane-mode": "ambient" }) +
      deployment("shop", "api", { port: 8080 }) +
      deployment("front", "web") +
      apiIngress;
    const r = await fixYaml(text, { from: "front/web", to: "shop/api:8080" });
    expect(r.blockedBefore).toMatchObject({ layer: "networkpolicy", port: 15008 });
    expect(r.verdictAfter).toBe("allowed");
    expect(changedLines(r.changes[0]!.diff!).added.join("\n")).toContain("port: 15008");
  });

  it("has no change for a DNS name a NetworkPolicy cannot match, and says why", async () => {
    const webEgress = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: front}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
`;
    const r = await fixYaml(workloads + webEgress, { from: "front/web", to: "api.example.com:443" });
    expect(r.verdictAfter).toBe("denied");
    expect(r.changes).toEqual([]);
    expect(r.noFix).toMatchObject({ layer: "networkpolicy", direction: "egress", workload: "front/web" });
    expect(r.noFix!.reason).toContain("cannot match the DNS name api.example.com");
  });

  it("says so when the peer has no labels of its own, and lists the other pods the rule admits", async () => {
    const pods = ["debug", "other"].map((n) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${n}, namespace: front}\nspec:\n  containers: [{name: c, image: c}]\n---\n`).join("");
    const r = await fixYaml(workloads + pods + apiIngress, { from: "front/debug", to: "shop/api:8080" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes[0]!.summary).toContain("the rule admits every pod of namespace front");
    expect(r.opened.filter((o) => !o.requested).map((o) => o.from).sort()).toEqual(["front/other", "front/web"]);
  });

  it("changes nothing for a flow that is already allowed", async () => {
    const r = await fixYaml(workloads + apiIngress, { from: "front/web", to: "shop/worker:9000" });
    expect(r).toMatchObject({ verdictBefore: "allowed", verdictAfter: "allowed", changes: [], opened: [], closed: [] });
  });
});

describe("fix with several blocking points", () => {
  it("changes each point in the order the packets meet them, and stops with the reason at the limit", async () => {
    const both = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: front}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
`;
    const text = namespace("shop") + namespace("front") + deployment("shop", "api", { port: 8080 }) + deployment("front", "web") + both;
    const r = await fixYaml(text, { from: "front/web", to: "shop/api:8080" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes.map((c) => `${c.direction} ${c.workload} ${c.name}`)).toEqual(["egress front/web web-egress", "ingress shop/api api-ingress"]);
    expect(r.opened).toEqual([{ from: "front/web", to: "shop/api", port: 8080, protocol: "TCP", requested: true }]);

    const limited = await fixYaml(text, { from: "front/web", to: "shop/api:8080" }, { maxSteps: 1 });
    expect(limited.verdictAfter).toBe("denied");
    expect(limited.changes).toHaveLength(1);
    expect(limited.noFix).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "shop/api" });
    expect(limited.noFix!.reason).toContain("still blocked after 1 change,");
  });
});
