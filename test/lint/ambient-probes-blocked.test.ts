import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import rule from "../../src/lint/rules/ambient-probes-blocked.js";
import { scenarioFromYaml } from "../helpers/cluster.js";

const base = (nsLabel: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels:
    ${nsLabel}
---
apiVersion: v1
kind: Pod
metadata:
  name: server
  namespace: app
  labels: {app: server}
spec:
  containers:
  - name: s
    image: s
    ports:
    - containerPort: 8080
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: server-in
  namespace: app
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {}
`;

describe("ambient-probes-blocked", () => {
  it("reports an ambient pod isolated for ingress without 169.254.7.127", async () => {
    const findings = lint(await scenarioFromYaml(base("istio.io/dataplane-mode: ambient")), [rule]);
    expect(findings).toHaveLength(1);
    // A generic CNI: Istio documents that the probes may be blocked, depending on the CNI.
    expect(findings[0]).toMatchObject({ rule: "ambient-probes-blocked", severity: "warning", workloads: ["app/server"], resource: { name: "server-in" } });
    expect(findings[0]!.message).toContain("169.254.7.127");
    expect(findings[0]!.fix).toContain("ipBlock");
  });

  it("is an error under Cilium, with a fromCIDR fix for a Cilium policy", async () => {
    const cnp = `${base("istio.io/dataplane-mode: ambient").split("---\napiVersion: networking.k8s.io/v1")[0]}---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: server-in
  namespace: app
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints:
    - {}
`;
    const findings = lint(await scenarioFromYaml(cnp), [rule]);
    expect(findings.map((f) => [f.severity, f.resource.kind, f.fix])).toEqual([["error", "CiliumNetworkPolicy", "ingress:\n- fromCIDR:\n  - 169.254.7.127/32\n"]]);
    // The same NetworkPolicy under Cilium is an error too: Cilium drops the SNATed probes for certain.
    const np = lint(await scenarioFromYaml(base("istio.io/dataplane-mode: ambient"), { cni: "cilium" }), [rule]);
    expect(np.map((f) => f.severity)).toEqual(["error"]);
  });

  it("does not report when the probe address is admitted", async () => {
    const text = `${base("istio.io/dataplane-mode: ambient")}    - ipBlock:\n        cidr: 169.254.7.127/32\n`;
    expect(lint(await scenarioFromYaml(text), [rule])).toEqual([]);
  });

  it("does not report a pod outside the ambient mesh", async () => {
    expect(lint(await scenarioFromYaml(base("team: a")), [rule])).toEqual([]);
  });
});

describe("ambient-probes-blocked probe ports", () => {
  const withProbe = (spec: string) =>
    base("istio.io/dataplane-mode: ambient")
      .replace("    - containerPort: 8080\n", "    - containerPort: 8080\n    - containerPort: 9901\n      name: admin\n    readinessProbe:\n      httpGet: {path: /ready, port: admin}\n")
      .replace("  ingress:\n  - from:\n    - podSelector: {}\n", spec);

  it("uses the probe's named port", async () => {
    const findings = lint(await scenarioFromYaml(withProbe("  ingress:\n  - ports:\n    - port: 8080\n")), [rule]);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain("TCP 9901");
  });

  it("does not report when the probed port is open to every source", async () => {
    expect(lint(await scenarioFromYaml(withProbe("  ingress:\n  - ports:\n    - port: 9901\n")), [rule])).toEqual([]);
  });
});
