/**
 * reach through the Cilium layer: HTTP attributes reach its L7 rules (a miss is
 * Envoy's 403), and a DNS-name destination is matched by toFQDNs only when a DNS
 * rule lets the pod resolve the name (semantics.md §3.6, §3.9).
 */
import { describe, expect, it } from "vitest";
import { reach } from "../../src/analysis/reach.js";
import { scenarioFromYaml } from "../helpers/cluster.js";

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{containerPort: 8080}]}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-l7, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/public/.*"}]
`;

const FQDN = (withDns: boolean) => `
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
${
  withDns
    ? `  - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, "k8s:k8s-app": kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: ANY}]
      rules:
        dns: [{matchPattern: "*"}]`
    : `  - toEntities: [cluster]`
}
`;

describe("reach through the Cilium layer", () => {
  it("passes --method/--path to L7 rules: a miss is HTTP 403 at the destination", async () => {
    const s = await scenarioFromYaml(CLUSTER);
    const ok = reach(s, { from: "shop/web", to: "shop/api:8080", method: "GET", path: "/public/x" });
    expect(ok.verdict).toBe("allowed");
    const denied = reach(s, { from: "shop/web", to: "shop/api:8080", method: "POST", path: "/admin" });
    expect(denied.verdict).toBe("denied");
    expect(denied.blockedBy).toMatchObject({ layer: "cilium", direction: "ingress", workload: "shop/api", port: 8080, observed: "http-403" });
    expect(denied.blockedBy!.policies.map((p) => p.name)).toEqual(["api-l7"]);
  });

  it("matches a DNS name with toFQDNs only when a DNS rule lets the pod resolve it", async () => {
    const resolvable = await scenarioFromYaml(CLUSTER + FQDN(true));
    expect(reach(resolvable, { from: "shop/web", to: "api.example.com:443" }).verdict).toBe("allowed");
    expect(reach(resolvable, { from: "shop/web", to: "other.example.com:443" }).verdict).toBe("denied");
    const noDns = await scenarioFromYaml(CLUSTER + FQDN(false));
    const r = reach(noDns, { from: "shop/web", to: "api.example.com:443" });
    expect(r.verdict).toBe("denied");
    expect(r.blockedBy).toMatchObject({ layer: "cilium", direction: "egress", workload: "shop/web" });
  });
});
