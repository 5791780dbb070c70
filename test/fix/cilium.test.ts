import { describe, expect, it } from "vitest";
import { lineOf } from "../helpers/cluster.js";
import { changedLines, deployment, fixYaml, namespace } from "./helpers.js";

const workloads = namespace("shop") + namespace("front") + deployment("shop", "api", { port: 8080 }) + deployment("front", "web");

const apiPolicy = (extra = "") => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  endpointSelector:
    matchLabels:
      app: api
  ingress:
    - fromEndpoints:
        - matchLabels:
            k8s:io.kubernetes.pod.namespace: gateway
      toPorts:
        - ports:
            - port: "8080"
              protocol: TCP
${extra}`;

describe("fix at a CiliumNetworkPolicy", () => {
  it("adds a fromEndpoints rule with the peer's namespace and labels to the policy of the destination", async () => {
    const text = workloads + apiPolicy();
    const r = await fixYaml(text, { from: "front/web", to: "shop/api:8080" });
    expect(r.blockedBefore).toMatchObject({ layer: "cilium", direction: "ingress", workload: "shop/api" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ layer: "cilium", action: "edit", kind: "CiliumNetworkPolicy", name: "api" });
    expect(c.blockedBy[0]!.line).toBe(lineOf(text, "kind: CiliumNetworkPolicy") - 1);
    const { added, removed } = changedLines(c.diff!);
    expect(removed).toEqual([]);
    expect(added).toEqual([
      "    - fromEndpoints:",
      "        - matchLabels:",
      "            k8s:io.kubernetes.pod.namespace: front",
      "            app: web",
      "      toPorts:",
      "        - ports:",
      '            - port: "8080"',
      "              protocol: TCP",
    ]);
    expect(r.opened).toEqual([{ from: "front/web", to: "shop/api", port: 8080, protocol: "TCP", requested: true }]);
  });

  it("names a matching deny rule instead of adding an allow it would override", async () => {
    const deny = `  ingressDeny:
    - fromEndpoints:
        - matchLabels:
            k8s:io.kubernetes.pod.namespace: front
`;
    const text = workloads + apiPolicy(deny);
    const r = await fixYaml(text, { from: "front/web", to: "shop/api:8080" });
    expect(r.verdictAfter).toBe("denied");
    expect(r.changes).toEqual([]);
    expect(r.noFix).toMatchObject({ layer: "cilium", direction: "ingress", workload: "shop/api" });
    expect(r.noFix!.reason).toContain("CiliumNetworkPolicy shop/api");
    expect(r.noFix!.reason).toContain("deny rule takes precedence");
  });

  it("creates a CiliumNetworkPolicy for the source's egress when its isolating policy selects the whole namespace", async () => {
    const frontEgress = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: front-egress, namespace: front}
spec:
  endpointSelector: {}
  egress:
    - toEntities: [kube-apiserver]
`;
    const text = workloads + deployment("front", "admin") + frontEgress;
    const r = await fixYaml(text, { from: "front/web", to: "shop/api:8080" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ action: "create", kind: "CiliumNetworkPolicy", namespace: "front", name: "allow-web-to-api-egress", direction: "egress" });
    expect(c.yaml).toContain("endpointSelector:\n    matchLabels:\n      app: web");
    expect(c.yaml).toContain("k8s:io.kubernetes.pod.namespace: shop");
    expect(r.opened.filter((o) => !o.requested)).toEqual([]);
  });
});

describe("fix at Cilium towards a DNS name", () => {
  const webEgress = (rules: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web-egress
  namespace: front
spec:
  endpointSelector:
    matchLabels:
      app: web
  egress:
${rules}`;
  const dnsRule = `    - toEndpoints:
        - matchLabels:
            k8s:io.kubernetes.pod.namespace: kube-system
            k8s:k8s-app: kube-dns
      toPorts:
        - ports:
            - port: "53"
              protocol: ANY
          rules:
            dns:
              - matchPattern: "*"
`;

  it("adds a toFQDNs rule where a DNS rule already lets the name be learned", async () => {
    const r = await fixYaml(workloads + webEgress(dnsRule), { from: "front/web", to: "api.example.com:443" }, { cni: "cilium" });
    expect(r.blockedBefore).toMatchObject({ layer: "cilium", direction: "egress", workload: "front/web" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({ action: "edit", name: "web-egress" });
    const { added, removed } = changedLines(r.changes[0]!.diff!);
    expect(removed).toEqual([]);
    expect(added.slice(0, 2)).toEqual(["    - toFQDNs:", "        - matchName: api.example.com"]);
  });

  it("adds the DNS rule too where the name would never be learned", async () => {
    const r = await fixYaml(workloads + webEgress("    - toEntities: [kube-apiserver]\n"), { from: "front/web", to: "api.example.com:443" }, { cni: "cilium" });
    expect(r.verdictAfter).toBe("allowed");
    expect(r.changes).toHaveLength(1);
    const c = r.changes[0]!;
    expect(c).toMatchObject({ action: "create", kind: "CiliumNetworkPolicy", name: "allow-web-to-api-example-com-egress" });
    expect(c.yaml).toContain("matchPattern: \"*\"");
    expect(c.yaml).toContain("matchName: api.example.com");
    expect(c.summary).toContain("DNS rule");
  });
});
