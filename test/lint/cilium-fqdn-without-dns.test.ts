import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-fqdn-without-dns.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, pod } from "../helpers/fixtures.js";

const policy = (dnsPorts: string, extra = "") => ciliumNetworkPolicy("shop", "payments-out", { app: "payments" }, `  egress:
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s:k8s-app: kube-dns
    toPorts:
${dnsPorts}
  - toFQDNs:
    - matchName: api.stripe.com
    - matchPattern: "*.paypal.com"
    toPorts:
    - ports:
      - port: "443"
        protocol: TCP
${extra}`);

/** shop/payments, shop/cart and kube-system/coredns; appended after a policy. */
const cluster = "---\n" + pod("shop", "payments") + pod("shop", "cart") + pod("kube-system", "coredns", { labels: { "k8s-app": "kube-dns" } });

const l4Only = `    - ports:
      - port: "53"
        protocol: ANY`;
const withProxy = (pattern: string) => `${l4Only}
      rules:
        dns:
        - matchPattern: "${pattern}"`;

const findings = async (text: string) => lint(await scenarioFromYaml(text + cluster), [rule]);

describe("cilium-fqdn-without-dns", () => {
  it("reports toFQDNs when DNS is allowed at L4 only", async () => {
    const text = policy(l4Only);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "cilium-fqdn-without-dns",
      severity: "error",
      resource: { kind: "CiliumNetworkPolicy", namespace: "shop", name: "payments-out" },
      workloads: ["shop/payments"],
      line: lineOf(text, "toFQDNs:"),
    });
    expect(found[0]!.message).toContain("egress[1]: toFQDNs matchName api.stripe.com never matches for shop/payments");
    expect(found[0]!.message).toContain("DNS proxy");
    expect(found[0]!.message).toContain("TCP/443");
    expect(found[0]!.fix).toContain("matchPattern: \"*\"");
  });

  it("does not report when every lookup goes through the DNS proxy", async () => {
    expect(await findings(policy(withProxy("*")))).toEqual([]);
  });

  it("reports when the DNS rule lets only other names through", async () => {
    const found = await findings(policy(withProxy("*.internal.example")));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("api.stripe.com");
  });

  it("reports the pattern when the DNS rule covers the exact name only", async () => {
    const found = await findings(policy(withProxy("api.stripe.com")));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("matchPattern *.paypal.com");
    expect(found[0]!.message).toContain("x.paypal.com");
  });

  it("does not report when another rule already opens the port to the world", async () => {
    const world = `  - toEntities:
    - world
    toPorts:
    - ports:
      - port: "443"
        protocol: TCP
`;
    expect(await findings(policy(l4Only, world))).toEqual([]);
  });

  it("does not report when the DNS proxy rule is in another policy selecting the endpoint", async () => {
    const other = `---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: dns-visibility
spec:
  endpointSelector: {}
  egress:
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s:k8s-app: kube-dns
    toPorts:
${withProxy("*")}
`;
    expect(await findings(policy(l4Only) + other)).toEqual([]);
  });
});
