/**
 * Deliberate semantic differences between Palisade and np-guard/netpol-analyzer,
 * pinned on small inputs. Each one is why some oracle cases are listed as known
 * differences in netpol-analyzer.test.ts; docs/oracle-netpol-analyzer.md explains
 * them. The same inputs, rewritten with the oracle runner's what-if variant,
 * give netpol-analyzer's answer, which shows that the variant isolates exactly
 * this choice.
 */
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../src/analysis/matrix.js";
import { buildScenario } from "../../src/analysis/scenario.js";
import type { LoadResult } from "../../src/load/types.js";
import type { CniName } from "../../src/model/profile.js";
import { applyVariants, VARIANTS } from "../../scripts/oracle/netpol-analyzer.js";
import { loadYaml } from "../helpers/cluster.js";

function variant(id: string) {
  const v = VARIANTS.find((x) => x.id === id);
  if (!v) throw new Error(`no variant ${id}`);
  return v;
}

/** What `from` may open to `to`, as the matrix says. */
function conns(load: LoadResult, from: string, to: string, cni?: CniName): string {
  const m = new ConnectivityMatrix(buildScenario(load, cni ? { cni } : {}));
  const i = m.workloads.findIndex((w) => w.id === from);
  const j = m.workloads.findIndex((w) => w.id === to);
  if (i < 0 || j < 0) throw new Error(`no ${from} or ${to}; have ${m.workloads.map((w) => w.id).join(", ")}`);
  return m.conns(i, j).toString();
}

function externalIngress(load: LoadResult, to: string): string {
  const m = new ConnectivityMatrix(buildScenario(load));
  const j = m.workloads.findIndex((w) => w.id === to);
  return m
    .externalIngress(j)
    .map((a) => `${a.ips.toString()}: ${a.conns.toString()}`)
    .join("; ");
}

describe("hostNetwork pods are node traffic to NetworkPolicy (semantics.md §1.6 r29 (b), §1.9 N20)", () => {
  // `agent` runs in the host network namespace; `api` admits TCP 8080 from app=agent only;
  // `lockdown` selects every pod of the namespace for ingress and allows nothing.
  const yaml = `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: demo}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: agent, image: agent}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: demo}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api, ports: [{containerPort: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-agent, namespace: demo}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: agent}}}]
    ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lockdown, namespace: demo}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;

  it("a podSelector peer does not match a hostNetwork pod", async () => {
    const load = await loadYaml(yaml);
    expect(conns(load, "demo/agent", "demo/api")).toBe("No Connections");
    // netpol-analyzer treats the DaemonSet as an ordinary pod: the rule matches it.
    expect(conns(applyVariants(load, [variant("hostNetwork-as-pod")]), "demo/agent", "demo/api")).toBe("TCP 8080");
  });

  it("a policy's podSelector does not isolate a hostNetwork pod", async () => {
    const load = await loadYaml(yaml);
    expect(conns(load, "demo/api", "demo/agent")).toBe("All Connections");
    expect(externalIngress(load, "demo/agent")).toContain("All Connections");
    const asPod = applyVariants(load, [variant("hostNetwork-as-pod")]);
    expect(conns(asPod, "demo/api", "demo/agent")).toBe("No Connections");
    expect(externalIngress(asPod, "demo/agent")).toBe("");
  });
});

describe("ipBlock matches a pod whose IP the input gives, on the generic profile (semantics.md §1.4 r19-20)", () => {
  // `client` has a known pod IP inside the ipBlock that `server` admits; netpol-analyzer
  // never lets an ipBlock select a pod, Palisade's generic profile does (policy-assistant's
  // reading), the Cilium profile does not.
  const yaml = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.1.0.5, hostIP: 192.168.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: default, labels: {app: server}}
spec: {containers: [{name: s, image: s, ports: [{containerPort: 80}]}]}
status: {podIP: 10.1.0.6, hostIP: 192.168.0.10}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server-from-block, namespace: default}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{ipBlock: {cidr: 10.1.0.0/16}}]
    ports: [{port: 80}]
`;

  it("admits the pod on the generic profile, not on Cilium", async () => {
    const load = await loadYaml(yaml);
    expect(conns(load, "default/client", "default/server")).toBe("TCP 80");
    expect(conns(load, "default/client", "default/server", "cilium")).toBe("No Connections");
  });

  it("without the pod IP (netpol-analyzer's view) the ipBlock cannot match the pod", async () => {
    const load = applyVariants(await loadYaml(yaml), [variant("ipBlock-not-pods")]);
    expect(conns(load, "default/client", "default/server")).toBe("No Connections");
  });
});
