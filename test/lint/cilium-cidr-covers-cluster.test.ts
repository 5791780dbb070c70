import { describe, expect, it } from "vitest";
import { buildScenario } from "../../src/analysis/scenario.js";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-cidr-covers-cluster.js";
import type { CiliumSwitches } from "../../src/model/profile.js";
import { lineOf, loadYaml } from "../helpers/cluster.js";
import { ciliumNetworkPolicy, node, pod, service } from "../helpers/fixtures.js";

/** shop/web and db/postgres (5432) with their addresses, Service db/postgres, and the node of shop/web; appended after a policy. */
const cluster =
  "---\n" +
  pod("shop", "web", { status: { podIP: "10.0.1.5", hostIP: "192.168.1.10" } }) +
  pod("db", "postgres", { ports: [5432], status: { podIP: "10.0.2.7", hostIP: "192.168.1.11" } }) +
  service("db", "postgres", [{ port: 5432 }], { clusterIP: "10.96.40.4" }) +
  node("node-1", "192.168.1.10");

const web = (egress: string) => ciliumNetworkPolicy("shop", "web-out", { app: "web" }, `  egress:
${egress}`);

const toCidr = (cidr: string, port = "5432") => `  - toCIDR:
    - ${cidr}
    toPorts:
    - ports:
      - port: "${port}"
        protocol: TCP
`;

const findings = async (text: string, cilium: Partial<CiliumSwitches> = {}) => lint(buildScenario(await loadYaml(text + cluster), { cni: "cilium", cilium }), [rule]);

describe("cilium-cidr-covers-cluster", () => {
  it("reports a toCIDR naming a pod address, with toEndpoints as the fix", async () => {
    const text = web(toCidr("10.0.2.7/32"));
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      rule: "cilium-cidr-covers-cluster",
      severity: "warning",
      resource: { kind: "CiliumNetworkPolicy", namespace: "shop", name: "web-out" },
      workloads: ["shop/web"],
      line: lineOf(text, "- 10.0.2.7/32"),
    });
    expect(found[0]!.message).toContain("covers pod db/postgres (10.0.2.7)");
    expect(found[0]!.message).toContain("never matches pods by CIDR");
    expect(found[0]!.message).toContain("shop/web still cannot reach them (egress)");
    expect(found[0]!.fix).toContain("io.kubernetes.pod.namespace: db");
  });

  it("reports a range that covers the Service's ClusterIP and its pod, with toServices in the fix", async () => {
    const found = await findings(web(toCidr("10.0.0.0/8")));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("pod db/postgres (10.0.2.7) and Service db/postgres (ClusterIP 10.96.40.4)");
    expect(found[0]!.fix).toContain("serviceName: postgres");
  });

  it("does not report when another rule admits the pods anyway", async () => {
    const text = web(`${toCidr("10.0.0.0/8")}  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: db
        app: postgres
`);
    expect(await findings(text)).toEqual([]);
  });

  it("does not report a range outside the cluster's addresses", async () => {
    expect(await findings(web(toCidr("198.51.100.0/24", "443")))).toEqual([]);
  });

  it("does not report a range written as every address", async () => {
    expect(await findings(web(toCidr("0.0.0.0/0")))).toEqual([]);
    expect(await findings(web("  - toCIDRSet:\n    - cidr: 0.0.0.0/0\n      except:\n      - 10.0.0.0/8\n"))).toEqual([]);
  });

  it("reports a node address, unless policy-cidr-match-mode is nodes", async () => {
    const text = web(toCidr("192.168.1.0/24", "10250"));
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("node 192.168.1.10");
    expect(found[0]!.fix).toContain("remote-node");
    expect(await findings(text, { policyCidrMatchMode: "nodes" })).toEqual([]);
  });

  it("does not report ingress from the endpoint's own node, which Cilium always admits", async () => {
    const text = web("  - toEntities:\n    - world\n").replace("  egress:\n", "  ingress:\n").replace("toEntities:\n    - world", "fromCIDR:\n    - 192.168.1.10/32");
    expect(text).toContain("fromCIDR");
    expect(await findings(text)).toEqual([]);
  });

  it("reports a deny rule on a pod address that does not stop the pod", async () => {
    const text = web(`  - toEntities:
    - cluster
  egressDeny:
  - toCIDRSet:
    - cidr: 10.0.2.7/32
`);
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("this deny rule does not stop shop/web");
    expect(found[0]).toMatchObject({ line: lineOf(text, "- cidr: 10.0.2.7/32") });
    expect(found[0]!.fix).toBeUndefined();
  });
});
