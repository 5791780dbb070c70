import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/cilium-implicit-namespace-scope.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { exampleFile } from "../helpers/fixtures.js";

const read = (f: string): string => exampleFile("seed-cilium-partner-api", f);
/** The cluster and the other two namespaces' CNPs; the policies under test come first, so their lines are the text's. */
const rest = ["", read("cluster/namespaces.yaml"), read("cluster/workloads.yaml"), read("rendered/global-auth.yaml"), read("rendered/billing-cp.yaml")].join("\n---\n");

/** partner-cp as kustomize renders it: namespace-defaults and the seed's partner-api policy. */
const seedPolicies = read("rendered/partner-cp.yaml");
const findings = async (policies: string) => lint(await scenarioFromYaml(policies + rest), [rule]);

const probe = (peer: string, { kind = "CiliumNetworkPolicy", namespace = "partner-cp" } = {}) => `apiVersion: cilium.io/v2
kind: ${kind}
metadata:
  name: probe
${kind === "CiliumNetworkPolicy" ? `  namespace: ${namespace}\n` : ""}spec:
  endpointSelector:
    matchLabels:
      app.kubernetes.io/name: partner-api
  ingress:
  - fromEndpoints:
    - matchLabels:
${peer}`;

describe("cilium-implicit-namespace-scope", () => {
  it("reports both selectors of the seed's partner-api policy (seed 003)", async () => {
    const found = await findings(seedPolicies);
    expect(found).toHaveLength(2);
    const [egress, ingress] = found;
    expect(egress).toMatchObject({
      rule: "cilium-implicit-namespace-scope",
      severity: "warning",
      resource: { kind: "CiliumNetworkPolicy", namespace: "partner-cp", name: "partner-api" },
      workloads: ["partner-cp/partner-api", "partner-cp/partner-sync"],
      line: lineOf(seedPolicies, "app.kubernetes.io/name: auth") - 1,
    });
    expect(egress!.message).toContain("egress[0]: toEndpoints");
    expect(egress!.message).toContain("confines it to the policy's namespace partner-cp");
    expect(egress!.message).toContain("global-auth/auth");
    expect(egress!.fix).toContain("io.kubernetes.pod.namespace: global-auth");
    expect(ingress).toMatchObject({ line: lineOf(seedPolicies, "app.kubernetes.io/name: billing-backend") - 1 });
    expect(ingress!.message).toContain("billing-cp/billing-backend");
    expect(ingress!.message).toContain("in namespace billing-cp");
    expect(ingress!.fix).toContain("io.kubernetes.pod.namespace: billing-cp");
  });

  it("says that a confined deny rule stops none of the pods it describes", async () => {
    const text = probe("        app.kubernetes.io/name: billing-backend\n").replace("  ingress:\n", "  ingressDeny:\n");
    const found = await findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("ingressDeny[0]: fromEndpoints");
    expect(found[0]!.message).toContain("the deny rule stops none of them");
  });

  it("does not report the corrected policy (the example's corrected-sa-selector variant)", async () => {
    const corrected = seedPolicies
      .replace("        app.kubernetes.io/namespace: global-auth\n", "        io.kubernetes.pod.namespace: global-auth\n")
      .replace("        app.kubernetes.io/namespace: billing-cp\n", "        io.kubernetes.pod.namespace: billing-cp\n");
    expect(corrected).not.toBe(seedPolicies);
    expect(await findings(corrected)).toEqual([]);
  });

  it("does not report a selector written with the k8s: source prefix", async () => {
    expect(await findings(probe("        k8s:io.kubernetes.pod.namespace: billing-cp\n        app.kubernetes.io/name: billing-backend\n"))).toEqual([]);
  });

  it("does not report a selector that matches a pod of the policy's namespace", async () => {
    expect(await findings(probe("        app.kubernetes.io/name: partner-sync\n"))).toEqual([]);
  });

  it("does not report a selector that matches pods of both the own and other namespaces", async () => {
    // Every pod of the example runs as the default account, except CoreDNS.
    expect(await findings(probe("        io.cilium.k8s.policy.serviceaccount: default\n"))).toEqual([]);
  });

  it("reports a selector that matches several other namespaces, and names them in the fix", async () => {
    const text = probe("        io.cilium.k8s.policy.serviceaccount: default\n", { namespace: "kube-system" });
    const found = await findings(text.replace("app.kubernetes.io/name: partner-api", "k8s-app: kube-dns"));
    expect(found).toHaveLength(1);
    expect(found[0]!.workloads).toEqual(["kube-system/coredns"]);
    expect(found[0]!.message).toContain("namespaces billing-cp, global-auth, partner-cp");
    expect(found[0]!.fix).toContain("operator: In");
  });

  it("does not report a selector that matches no pod anywhere", async () => {
    expect(await findings(probe("        app.kubernetes.io/name: nobody\n"))).toEqual([]);
  });

  it("does not report a clusterwide policy, whose selectors span every namespace", async () => {
    expect(await findings(probe("        app.kubernetes.io/name: billing-backend\n", { kind: "CiliumClusterwideNetworkPolicy" }))).toEqual([]);
  });

  it("does not report a selector on namespace labels, which lifts the implicit namespace", async () => {
    const nsLabel = "        io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name: billing-cp\n";
    expect(await findings(probe(nsLabel))).toEqual([]);
  });
});
