/**
 * Egress to a DNS name (its addresses are unknown offline), traced hop by hop:
 * allowed only when the port is open to every address (every IPv4 address,
 * with an assumption), undecidable — and so denied, saying why — when only some
 * ipBlocks open it, denied outright when none does.
 */
import { describe, expect, it } from "vitest";
import { describeAddresses, traceFlow, type WirePath } from "../../src/path/index.js";
import { IPSet } from "../../src/sets/index.js";
import { scenarioFromYaml, workload } from "../helpers/cluster.js";

function policy(name: string, app: string, egress: string): string {
  return `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ns}
spec:
  podSelector: {matchLabels: {app: ${app}}}
  policyTypes: [Egress]
  egress:
${egress}
`;
}

function pod(name: string, extra = ""): string {
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ns, labels: {app: ${name}}}
spec:
  containers: [{name: c, image: i}]${extra}
`;
}

const TEXT = [
  "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n",
  pod("open"),
  pod("hostnet", "\n  hostNetwork: true"),
  pod("dual"),
  pod("halves"),
  pod("split"),
  pod("named"),
  policy("dual", "dual", "  - to: [{ipBlock: {cidr: 0.0.0.0/0}}, {ipBlock: {cidr: '::/0'}}]\n    ports: [{port: 443}]"),
  policy("low-half", "halves", "  - to: [{ipBlock: {cidr: 0.0.0.0/1}}]\n    ports: [{port: 443}]"),
  policy("high-half", "halves", "  - to: [{ipBlock: {cidr: 128.0.0.0/1}}]\n    ports: [{port: 443}]"),
  policy("split", "split", "  - to: [{ipBlock: {cidr: 198.51.100.0/24}}]\n    ports: [{port: 443}]\n  - to: [{ipBlock: {cidr: '2001:db8::/32'}}]"),
  policy("named", "named", "  - ports: [{port: https}]"),
].join("");

async function trace(from: string, host: string, port = 443): Promise<WirePath> {
  const s = await scenarioFromYaml(TEXT);
  const paths = traceFlow(s, { kind: "workload", workload: workload(s, from) }, { kind: "external", host }, { protocol: "TCP", port });
  expect(paths).toHaveLength(1);
  return paths[0]!;
}

describe("egress to a DNS name", () => {
  it("carries the name on the wire", async () => {
    const p = await trace("ns/open", "example.com");
    expect(p.verdict).toBe("allowed");
    expect(p.hops[0]!.wire).toEqual({ srcIP: null, dstIP: null, dstHost: "example.com", port: 443, protocol: "TCP" });
    expect(p.assumptions[0]).toMatch(/^example\.com is a DNS name: its addresses are unknown offline/);
  });

  it("from a hostNetwork pod is node traffic, whatever the name", async () => {
    const p = await trace("ns/hostnet", "example.com");
    expect(p.verdict).toBe("allowed");
    expect(p.hops[0]!.reason).toMatch(/host network/);
  });

  it("is allowed without an IPv4 assumption when both families are open", async () => {
    const p = await trace("ns/dual", "example.com");
    expect(p.verdict).toBe("allowed");
    expect(p.hops[0]!.reason).toBe("allowed by ns/dual[0]: TCP/443 is allowed to every address, whatever example.com resolves to");
    expect(p.assumptions.join("\n")).not.toMatch(/IPv4/);
  });

  it("is allowed when several rules together open every IPv4 address, naming all of them", async () => {
    const p = await trace("ns/halves", "example.com");
    expect(p.verdict).toBe("allowed");
    expect(p.hops[0]!.policies.map((r) => `${r.name}[${r.rule}]`).sort()).toEqual(["high-half[0]", "low-half[0]"]);
    expect(p.assumptions).toContain("example.com is assumed to resolve to IPv4 addresses: ns/halves may open TCP/443 to every IPv4 address, not to every IPv6 one");
  });

  it("is undecidable when some ipBlocks open the port: denied, listing each with its rule", async () => {
    const p = await trace("ns/split", "api.example.com");
    expect(p.verdict).toBe("denied");
    expect(p.blocked).toMatchObject({ step: "egress", verdict: "deny", policies: [expect.objectContaining({ name: "split", rule: null })] });
    expect(p.blocked!.misses).toEqual([
      "would be allowed if api.example.com resolves into 198.51.100.0/24 (ns/split[0])",
      "would be allowed if api.example.com resolves into 2001:db8::/32 (ns/split[1])",
      "no rule allows TCP/443 to every address",
    ]);
    expect(p.assumptions.find((a) => a.startsWith("undecidable offline"))).toContain("palisade reach ns/split ADDRESS:443");
  });

  it("counts only the rules that open the port", async () => {
    // split[1] has no port list: every port, but only to 2001:db8::/32.
    const p = await trace("ns/split", "api.example.com", 80);
    expect(p.verdict).toBe("denied");
    expect(p.blocked!.misses).toEqual(["would be allowed if api.example.com resolves into 2001:db8::/32 (ns/split[1])", "no rule allows TCP/80 to every address"]);
  });

  it("a named port never matches a DNS name (it resolves on destination pods only)", async () => {
    const p = await trace("ns/named", "example.com");
    expect(p.verdict).toBe("denied");
    expect(p.blocked!.reason).toBe("ns/named is isolated for egress by ns/named and no rule allows TCP/443 to any address outside the cluster, so not to example.com either");
    expect(p.blocked!.reason + p.blocked!.misses.join("\n")).not.toMatch(/ {2}|destination {2}/);
  });
});

describe("describeAddresses", () => {
  it.each([
    [IPSet.fromCidr("0.0.0.0/0").subtract(IPSet.fromCidr("10.0.0.0/8")), "0.0.0.0/0 except 10.0.0.0/8"],
    [
      IPSet.fromCidr("0.0.0.0/0").subtract(IPSet.fromCidr("10.0.0.0/8")).subtract(IPSet.fromCidr("172.16.0.0/12")).subtract(IPSet.fromCidr("192.168.0.0/16")),
      "0.0.0.0/0 except 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
    ],
    [IPSet.fromCidr("203.0.113.0/24").subtract(IPSet.fromCidr("203.0.113.128/25")), "203.0.113.0/25"],
    [IPSet.fromCidr("10.0.0.0/8").union(IPSet.fromCidr("fd00::/8")), "10.0.0.0/8 and fd00::/8"],
    [IPSet.none(), "no addresses"],
  ])("%#: %s", (ips, text) => {
    expect(describeAddresses(ips)).toBe(text);
  });
});
