import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/egress-without-dns.js";
import { scenarioFromYaml } from "../helpers/cluster.js";

const dns = `apiVersion: v1
kind: Pod
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  containers:
  - name: d
    image: d
    ports:
    - containerPort: 53
      protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
spec:
  selector: {k8s-app: kube-dns}
  ports:
  - name: dns
    port: 53
    protocol: UDP
---
`;

const app = (egress: string) => `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: app
  labels: {app: web}
spec:
  containers:
  - name: w
    image: w
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-out
  namespace: app
spec:
  podSelector: {}
  policyTypes: [Egress]
${egress}`;

const dnsRule = `  egress:
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kube-system}
      podSelector:
        matchLabels: {k8s-app: kube-dns}
    ports:
    - protocol: UDP
      port: 53
`;

describe("egress-without-dns", () => {
  it("reports a default-deny egress without DNS", async () => {
    const findings = lint(await scenarioFromYaml(dns + app("")), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: "egress-without-dns", workloads: ["app/web"], resource: { kind: "NetworkPolicy", name: "web-out" } });
    expect(findings[0]!.message).toContain("kube-system/kube-dns");
  });

  it("does not report when DNS is admitted", async () => {
    expect(lint(await scenarioFromYaml(dns + app(dnsRule)), [rule])).toEqual([]);
  });

  it("reports DNS to the wrong port without a kube-dns in the input", async () => {
    const findings = lint(await scenarioFromYaml(app(dnsRule.replace("port: 53", "port: 5353").replace(/    - namespaceSelector[\s\S]*kube-dns}\n/, "    - ipBlock:\n        cidr: 0.0.0.0/0\n"))), [rule]);
    expect(findings).toHaveLength(1);
  });

  it("does not report when any address is allowed on UDP 53 and there is no kube-dns", async () => {
    const text = app("  egress:\n  - ports:\n    - protocol: UDP\n      port: 53\n");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report workloads not isolated for egress", async () => {
    const text = dns + app("").replace("podSelector: {}", "podSelector:\n    matchLabels: {app: other}");
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });
});

describe("egress-without-dns without kube-dns in the input", () => {
  it("does not report a rule to the kube-dns pods on UDP 53", async () => {
    expect(lint(await scenarioFromYaml(app(dnsRule)), [rule])).toEqual([]);
  });

  it("reports a rule to pods on TCP 53 only", async () => {
    expect(lint(await scenarioFromYaml(app(dnsRule.replace("protocol: UDP", "protocol: TCP"))), [rule])).toHaveLength(1);
  });
});

describe("egress-without-dns with a cluster-wide policy", () => {
  it("names the policy without a namespace", async () => {
    const text = `${dns}apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec: {containers: [{name: w, image: w}]}
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: web-egress
spec:
  endpointSelector:
    matchLabels: {app: web}
  egress:
  - toEntities: [world]
`;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings.map((f) => f.message)).toEqual([
      "app/web is isolated for egress by CiliumClusterwideNetworkPolicy web-egress, which does not let it reach Service kube-system/kube-dns on UDP 53: name resolution fails",
    ]);
    expect(findings[0]!.resource).toEqual({ kind: "CiliumClusterwideNetworkPolicy", namespace: null, name: "web-egress" });
  });
});

describe("egress-without-dns groups and sides", () => {
  const twoPods = dns + app("") + `---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: app, labels: {app: api}}
spec: {containers: [{name: a, image: a}]}
`;

  it("gives one finding per blocking policy, listing every workload it cuts off", async () => {
    const findings = lint(await scenarioFromYaml(twoPods), [rule]);
    expect(findings.map((f) => [f.resource.name, f.workloads])).toEqual([["web-out", ["app/api", "app/web"]]]);
    expect(findings[0]!.message).toBe(
      "app/api and app/web are isolated for egress by NetworkPolicy app/web-out, which does not let them reach Service kube-system/kube-dns on UDP 53: name resolution fails",
    );
  });

  it("blames the DNS server's ingress when the egress admits DNS but kube-dns does not", async () => {
    const closedDns = `${dns + app(dnsRule)}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-closed, namespace: kube-system}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;
    const findings = lint(await scenarioFromYaml(closedDns), [rule]);
    expect(findings.map((f) => [f.resource.name, f.workloads, f.fix])).toEqual([["dns-closed", ["app/web"], undefined]]);
    expect(findings[0]!.message).toContain("but NetworkPolicy kube-system/dns-closed denies it at the DNS server's ingress");
  });
});

describe("egress-without-dns with the tcp option", () => {
  const withTcp = dns.replace("    port: 53\n    protocol: UDP\n---", "    port: 53\n    protocol: UDP\n  - name: dns-tcp\n    port: 53\n    protocol: TCP\n---");

  it("reports, as info, a workload whose egress admits UDP 53 but not TCP 53", async () => {
    const scenario = await scenarioFromYaml(withTcp + app(dnsRule));
    expect(rule.run(scenario)).toEqual([]);
    const findings = rule.run(scenario, { tcp: true });
    expect(findings.map((f) => [f.severity, f.resource.name, f.workloads])).toEqual([["info", "web-out", ["app/web"]]]);
    expect(findings[0]!.message).toContain("blocks TCP 53: answers too large for UDP");
  });

  it("does not report when TCP 53 is admitted too", async () => {
    const both = dnsRule.replace("    - protocol: UDP\n      port: 53\n", "    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n");
    expect(rule.run(await scenarioFromYaml(withTcp + app(both)), { tcp: true })).toEqual([]);
  });
});
