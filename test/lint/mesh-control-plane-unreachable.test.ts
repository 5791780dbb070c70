import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/mesh-control-plane-unreachable.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";
import { ambientMode, deployment, exampleFile, istioInstallation, namespace, networkPolicy, sidecarInjection, type Labels } from "../helpers/fixtures.js";

const istiod = istioInstallation();

/** shop/web (8080) in namespace shop labelled `nsLabels`. */
const app = (nsLabels: Labels) => namespace("shop", nsLabels) + deployment("shop", "web", { ports: [8080] });

const denyEgress = networkPolicy("shop", "deny-egress", {}, "  policyTypes: [Egress]\n");

const allowIstiod = (port: number) => networkPolicy("shop", "allow-istiod", {}, `  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: istio-system
    ports:
    - protocol: TCP
      port: ${port}
`);

describe("mesh-control-plane-unreachable", () => {
  it("reports a sidecar workload whose egress does not reach istiod on 15012", async () => {
    const text = istiod + app(sidecarInjection) + denyEgress;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "mesh-control-plane-unreachable",
      severity: "error",
      resource: { kind: "NetworkPolicy", namespace: "shop", name: "deny-egress" },
      workloads: ["shop/web"],
      file: "test.yaml",
    });
    expect(findings[0]!.line).toBe(lineOf(text, "kind: NetworkPolicy") - 1);
    expect(findings[0]!.message).toContain("Service istio-system/istiod");
    expect(findings[0]!.message).toContain("15012");
    expect(findings[0]!.message).toContain("sidecar");
    expect(findings[0]!.fix).toContain("port: 15012");
    expect(findings[0]!.fix).toContain("kubernetes.io/metadata.name: istio-system");
  });

  it("does not report once 15012 to istio-system is admitted", async () => {
    expect(lint(await scenarioFromYaml(istiod + app(sidecarInjection) + denyEgress + allowIstiod(15012)), [rule])).toEqual([]);
  });

  it("still reports when only 15010 (plaintext xDS) is admitted", async () => {
    const findings = lint(await scenarioFromYaml(istiod + app(sidecarInjection) + denyEgress + allowIstiod(15010)), [rule]);
    expect(findings.map((f) => f.workloads)).toEqual([["shop/web"]]);
  });

  it("does not report ambient pods: ztunnel talks to istiod for them", async () => {
    expect(lint(await scenarioFromYaml(istiod + app(ambientMode) + denyEgress), [rule])).toEqual([]);
  });

  it("does not report pods outside the mesh", async () => {
    expect(lint(await scenarioFromYaml(istiod + app({ team: "a" }) + denyEgress), [rule])).toEqual([]);
  });

  it("reports a gateway proxy cut off from istiod", async () => {
    const gateway = deployment("shop", "ingress", { labels: { app: "ingress", "sidecar.istio.io/inject": "false" }, container: "istio-proxy", image: "proxyv2", args: ["proxy", "router"] });
    const findings = lint(await scenarioFromYaml(istiod + app({ team: "a" }) + gateway + denyEgress), [rule]);
    expect(findings.map((f) => f.workloads)).toEqual([["shop/ingress"]]);
    expect(findings[0]!.message).toContain("gateway proxy");
  });

  it("reports istiod's ingress policy, once for every proxy it cuts off", async () => {
    const denyIngress = networkPolicy("istio-system", "istiod-ingress", { app: "istiod" }, `  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: other
`);
    const text = istiod + app(sidecarInjection) + denyIngress;
    const findings = lint(await scenarioFromYaml(text), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ resource: { kind: "NetworkPolicy", namespace: "istio-system", name: "istiod-ingress" }, workloads: ["shop/web"] });
    expect(findings[0]!.line).toBe(lineOf(text, "name: istiod-ingress") - 3);
    expect(findings[0]!.message).toContain("istiod's ingress");
    expect(findings[0]!.fix).toContain("kubernetes.io/metadata.name: shop");
  });

  it("decides nothing when the input has no istiod", async () => {
    const text = app(sidecarInjection) + denyEgress;
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  describe("on seed-ambient-sidecar", () => {
    const read = (f: string): string => exampleFile("seed-ambient-sidecar", f);
    const sidecarPolicies = read("sidecar-app-network-policies.yaml");
    const setup = (sidecarApp: string) =>
      `${read("namespaces.yaml")}\n---\n${read("workloads.yaml")}\n---\n${read("ambient-app-network-policies.yaml")}\n---\n${sidecarApp}`;

    it("finds nothing as written (both namespaces open istio-system)", async () => {
      expect(lint(await scenarioFromYaml(setup(sidecarPolicies)), [rule])).toEqual([]);
    });

    it("finds the sidecar cut off from istiod without allow-istio-system-egress (variant without-sidecar-istiod-egress)", async () => {
      const withoutEgress = sidecarPolicies.slice(0, sidecarPolicies.indexOf("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-istio-system-egress"));
      const text = setup(withoutEgress);
      const findings = lint(await scenarioFromYaml(text), [rule]);
      expect(findings).toHaveLength(1);
      expect(findings[0]).toMatchObject({ resource: { namespace: "sidecar-app", name: "default-deny-all" }, workloads: ["sidecar-app/sidecar-app"] });
      expect(findings[0]!.line).toBe(lineOf(text, "name: default-deny-all", 2) - 3);
      // No istiod Service in this example: its pods are the target.
      expect(findings[0]!.message).toContain("istio-system/istiod on TCP 15012");
    });
  });
});
