/**
 * Kubernetes NetworkPolicy, example by example: the edge cases of semantics.md
 * §1.9 (N1–N18), each as a small YAML scenario asked through `reach` (verdict,
 * blockedBy, trace hops), and the scanner's validation of what the API server
 * would reject (located diagnostics; the other policies still apply).
 */
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../../src/analysis/matrix.js";
import { reach, type ReachResult } from "../../../src/analysis/reach.js";
import type { Scenario } from "../../../src/analysis/scenario.js";
import { errors, lineOf, scenarioFromYaml, workload } from "../../helpers/cluster.js";

/**
 * Namespaces prod (team=shop) and ops (team=ops).
 * prod: Deployment web (app=web, 2 replicas, http=8080, metrics=9090), Pod db
 * (app=db, pg=5432, http=9000), Pod client (app=client, 10.1.0.5), Pod
 * fake-monitor (app=monitor); ops: Pod monitor (app=monitor), Pod batch (app=batch).
 * Services: prod/web-svc 80→http, 9090→9090; prod/db-svc 5432→pg.
 */
const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {team: ops}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - {containerPort: 8080, name: http}
        - {containerPort: 9090, name: metrics}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec:
  containers:
  - name: pg
    image: postgres
    ports: [{containerPort: 5432, name: pg}, {containerPort: 9000, name: http}, {containerPort: 53, name: dns, protocol: UDP}]
status: {podIP: 10.1.0.9, hostIP: 192.168.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: prod, labels: {app: client}}
spec:
  containers: [{name: sh, image: busybox}]
status: {podIP: 10.1.0.5, hostIP: 192.168.0.12}
---
apiVersion: v1
kind: Pod
metadata: {name: fake-monitor, namespace: prod, labels: {app: monitor}}
spec:
  containers: [{name: sh, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: monitor, namespace: ops, labels: {app: monitor}}
spec:
  containers: [{name: prom, image: prometheus}]
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: ops, labels: {app: batch}}
spec:
  containers: [{name: job, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: prod}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: metrics, port: 9090, targetPort: 9090}
---
apiVersion: v1
kind: Service
metadata: {name: db-svc, namespace: prod}
spec:
  clusterIP: 10.96.0.20
  selector: {app: db}
  ports:
  - {port: 5432, targetPort: pg}
`;

async function withPolicies(policies: string, cni?: "generic" | "cilium"): Promise<Scenario> {
  const scenario = await scenarioFromYaml(`${CLUSTER}---\n${policies}`, { file: "policies.yaml", ...(cni ? { cni } : {}) });
  expect(errors(scenario)).toEqual([]);
  return scenario;
}

function flow(scenario: Scenario, from: string, to: string, protocol?: string): ReachResult {
  return reach(scenario, { from, to, ...(protocol ? { protocol } : {}) });
}

/** `verdict` plus, for a denial, `direction layer workload policy-names`. */
function summary(r: ReachResult): string {
  if (!r.blockedBy) return r.verdict;
  const b = r.blockedBy;
  return `${r.verdict} ${b.direction} ${b.layer} ${b.workload} ${b.policies.map((p) => p.name).join(",")}`;
}

/** Trace hops as `step@at:verdict` (plus the wire port when asked). */
function hops(r: ReachResult, withPort = false): string[] {
  return r.hops.map((h) => `${h.step}@${h.at}:${h.verdict}${withPort ? `:${h.wire.port}` : ""}`);
}

const WEB_ISOLATE = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-isolate, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
`;

describe("isolation and the default of policyTypes (§1.1)", () => {
  it("N1: no policy selects the pods: allowed, and the trace shows both enforcement points", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: other-pods, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
`);
    const r = flow(s, "prod/client", "prod/web:8080");
    expect(r.verdict).toBe("allowed");
    expect(r.blockedBy).toBeNull();
    expect(hops(r)).toEqual(["egress@prod/client:allow", "ingress@prod/web:allow"]);
    expect(r.hops.every((h) => h.enforcer === "networkpolicy")).toBe(true);
  });

  it("N2: a policy with only a podSelector isolates ingress, not egress", async () => {
    const s = await withPolicies(WEB_ISOLATE);
    const r = flow(s, "prod/client", "prod/web:8080");
    expect(summary(r)).toBe("denied ingress networkpolicy prod/web web-isolate");
    // The policy is named with the file and line of its first line.
    const text = `${CLUSTER}---\n${WEB_ISOLATE}`;
    expect(r.blockedBy!.policies).toEqual([
      { kind: "NetworkPolicy", namespace: "prod", name: "web-isolate", rule: null, file: "policies.yaml", line: lineOf(text, "apiVersion: networking.k8s.io/v1") },
    ]);
    expect(r.blockedBy!.observed).toBe("timeout");
    expect(r.blockedBy!.port).toBe(8080);
    expect(hops(r)).toEqual(["egress@prod/client:allow", "ingress@prod/web:deny"]);
    // Egress of web is not isolated.
    expect(flow(s, "prod/web", "ops/monitor:9100").verdict).toBe("allowed");
  });

  it("N2: `egress: []` without policyTypes does not isolate egress", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: empty-egress, namespace: prod}
spec:
  podSelector: {}
  ingress: [{}]
  egress: []
`);
    expect(flow(s, "prod/client", "ops/monitor:9100").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "203.0.113.9:443").verdict).toBe("allowed");
    expect(s.layers[0]!.isolates(workload(s, "prod/client"), "egress")).toBe(false);
    expect(s.layers[0]!.isolates(workload(s, "prod/client"), "ingress")).toBe(true);
  });

  it("an explicit `policyTypes: []` is defaulted like an absent one (Egress because egress rules exist)", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: empty-types, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: []
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
`);
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/client", "prod/web:8080"))).toBe("denied egress networkpolicy prod/client empty-types");
    // Ingress is isolated too (always defaulted), with no ingress rules.
    expect(summary(flow(s, "ops/monitor", "prod/client:8080"))).toBe("denied ingress networkpolicy prod/client empty-types");
  });

  it("N3: policyTypes [Egress] without egress rules denies all egress of the selected pods, nothing else", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-no-egress, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  ingress:
  - {}
`);
    const r = flow(s, "prod/client", "prod/web:8080");
    expect(summary(r)).toBe("denied egress networkpolicy prod/client client-no-egress");
    expect(hops(r)).toEqual(["egress@prod/client:deny", "ingress@prod/web:allow"]);
    expect(summary(flow(s, "prod/client", "8.8.8.8:53", "UDP"))).toBe("denied egress networkpolicy prod/client client-no-egress");
    // The ingress list of an Egress-only policy is not consulted: ingress stays open.
    expect(flow(s, "ops/batch", "prod/client:8080").verdict).toBe("allowed");
    expect(s.layers[0]!.isolates(workload(s, "prod/client"), "ingress")).toBe(false);
  });

  it("policies are namespaced: a policy in ops never selects pods in prod", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: ops}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`);
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/client", "ops/monitor:9100"))).toBe("denied ingress networkpolicy ops/monitor deny-all");
  });

  it("allows are the union over every policy selecting the pod; a denial names all of them", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-http, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-metrics, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]
    ports: [{port: metrics}]
`);
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "ops/monitor", "prod/web:9090").verdict).toBe("allowed");
    const r = flow(s, "prod/client", "prod/web:9090");
    expect(summary(r)).toBe("denied ingress networkpolicy prod/web web-http,web-metrics");
    // The allowing rule is named with its index and line.
    const ok = flow(s, "ops/monitor", "prod/web:9090");
    const ingressHop = ok.hops.find((h) => h.step === "ingress")!;
    expect(ingressHop.policies.map((p) => `${p.name}[${p.rule}]`)).toEqual(["web-metrics[0]"]);
  });
});

describe("rules and peers (§1.2, §1.3)", () => {
  it("N4: `ingress: [{}]` allows every source, port and protocol", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}]
`);
    expect(flow(s, "ops/batch", "prod/db:53", "UDP").verdict).toBe("allowed");
    expect(flow(s, "ops/batch", "prod/db:31000", "SCTP").verdict).toBe("allowed");
    expect(flow(s, "198.51.100.7", "prod/web:8080").verdict).toBe("allowed");
  });

  it("N5/N6: `from: []` means every source; ports without from admit any source on those ports only", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-pg, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: []
    ports: [{port: 5432}]
  - ports: [{port: dns, protocol: UDP}]
`);
    expect(flow(s, "ops/batch", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "198.51.100.7", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "ops/batch", "prod/db:53", "UDP").verdict).toBe("allowed");
    expect(summary(flow(s, "ops/batch", "prod/db:53", "TCP"))).toBe("denied ingress networkpolicy prod/db db-pg");
    expect(summary(flow(s, "ops/batch", "prod/db:9000"))).toBe("denied ingress networkpolicy prod/db db-pg");
  });

  const AND_PEER = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-ops-monitor, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
      podSelector: {matchLabels: {app: monitor}}
`;
  const OR_PEERS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-ops-or-monitor, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
    - podSelector: {matchLabels: {app: monitor}}
`;

  it("N7: namespaceSelector and podSelector in one peer are ANDed", async () => {
    const s = await withPolicies(AND_PEER);
    expect(flow(s, "ops/monitor", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "ops/batch", "prod/web:8080"))).toBe("denied ingress networkpolicy prod/web from-ops-monitor");
    expect(summary(flow(s, "prod/fake-monitor", "prod/web:8080"))).toBe("denied ingress networkpolicy prod/web from-ops-monitor");
  });

  it("N7: as two peers they are ORed, and a bare podSelector means the policy's namespace", async () => {
    const s = await withPolicies(OR_PEERS);
    expect(flow(s, "ops/monitor", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "ops/batch", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/fake-monitor", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/client", "prod/web:8080"))).toBe("denied ingress networkpolicy prod/web from-ops-or-monitor");
  });

  it("N8: `namespaceSelector: {}` selects every pod of every namespace, not external addresses", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: any-pod, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {}}]
`);
    expect(flow(s, "ops/batch", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "198.51.100.7", "prod/web:8080"))).toBe("denied ingress networkpolicy prod/web any-pod");
  });

  it("namespaces are matched by kubernetes.io/metadata.name even when not declared", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-ops-by-name, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: stray, namespace: undeclared, labels: {app: monitor}}
spec:
  containers: [{name: sh, image: busybox}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-undeclared, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [undeclared]}]}}]
`);
    expect(flow(s, "ops/batch", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "undeclared/stray", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "ops/batch", "prod/db:5432").verdict).toBe("denied");
  });
});

describe("ports (§1.5)", () => {
  it("N14: a named port in an egress rule is resolved on the destination pod", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress-http, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: http}]
`);
    // web names 8080 "http", db names 9000 "http".
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/client", "prod/web:8081"))).toBe("denied egress networkpolicy prod/client client-egress-http");
    expect(flow(s, "prod/client", "prod/db:9000").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:8080").verdict).toBe("denied");
    // Towards an address outside the cluster there is no pod to resolve the name on.
    expect(summary(flow(s, "prod/client", "203.0.113.9:8080"))).toBe("denied egress networkpolicy prod/client client-egress-http");
    // The same name with another protocol does not match.
    expect(flow(s, "prod/client", "prod/web:8080", "UDP").verdict).toBe("denied");
  });

  it("endPort is an inclusive range of its protocol only", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-range, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8000, endPort: 8080}, {protocol: UDP, port: 53}]
`);
    for (const port of [8000, 8001, 8079, 8080]) expect(flow(s, "prod/client", `prod/web:${port}`).verdict, String(port)).toBe("allowed");
    for (const port of [7999, 8081, 9090]) expect(flow(s, "prod/client", `prod/web:${port}`).verdict, String(port)).toBe("denied");
    expect(flow(s, "prod/client", "prod/web:8080", "UDP").verdict).toBe("denied");
    expect(flow(s, "prod/client", "prod/web:53", "UDP").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:53", "TCP").verdict).toBe("denied");
    // The matrix agrees at both edges.
    const m = new ConnectivityMatrix(s, { ports: [7999, 8000, 8080, 8081] });
    const i = m.workloads.indexOf(workload(s, "prod/client"));
    const j = m.workloads.indexOf(workload(s, "prod/web"));
    expect([7999, 8000, 8080, 8081].map((p) => m.conns(i, j).contains("TCP", p))).toEqual([false, true, true, false]);
  });

  it("a port item without port admits every port of its protocol (TCP by default)", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-sctp-and-tcp, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{protocol: SCTP}, {}]
`);
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:9999", "SCTP").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:53", "UDP").verdict).toBe("denied");
  });
});

describe("node, self and Services (§1.6, §1.7)", () => {
  it("N15: the kubelet of the pod's node is always allowed in", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`);
    const r = flow(s, "kubelet", "prod/web:8080");
    expect(r.verdict).toBe("allowed");
    expect(hops(r)).toEqual(["ingress@prod/web:allow"]);
    expect(flow(s, "kubelet", "prod/db:5432").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/client", "prod/db:5432"))).toBe("denied egress networkpolicy prod/client deny-all");
  });

  it("N17: a bare pod reaching itself is allowed; two replicas of one Deployment are subject to policy", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`);
    const self = flow(s, "prod/db", "prod/db:5432");
    expect(self.verdict).toBe("allowed");
    expect(self.hops).toEqual([]);
    const replicas = flow(s, "prod/web", "prod/web:8080");
    expect(summary(replicas)).toBe("denied egress networkpolicy prod/web deny-all");
    expect(hops(replicas)).toEqual(["egress@prod/web:deny", "ingress@prod/web:deny"]);
    // The matrix says the same.
    const m = new ConnectivityMatrix(s, { ports: [5432, 8080] });
    const db = m.workloads.indexOf(workload(s, "prod/db"));
    const web = m.workloads.indexOf(workload(s, "prod/web"));
    expect(m.conns(db, db).contains("TCP", 5432)).toBe(true);
    expect(m.conns(web, web).contains("TCP", 8080)).toBe(false);
  });

  it("ipBlock with except, for addresses outside the cluster, both directions", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-partners, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25, 203.0.113.64/32]}}]
    ports: [{port: 8080}]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 169.254.169.254/32]}}]
`);
    expect(flow(s, "203.0.113.5", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "203.0.113.200", "prod/web:8080"))).toBe("denied ingress networkpolicy prod/web web-from-partners");
    expect(flow(s, "203.0.113.64", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "203.0.113.65", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "198.51.100.1", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "203.0.113.5", "prod/web:9090").verdict).toBe("denied");
    const ext = flow(s, "203.0.113.5", "prod/web:8080");
    expect(hops(ext)).toEqual(["ingress@prod/web:allow"]);

    expect(flow(s, "prod/web", "93.184.216.34:443").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/web", "169.254.169.254:80"))).toBe("denied egress networkpolicy prod/web web-from-partners");
    expect(flow(s, "prod/web", "10.200.0.1:443").verdict).toBe("denied");
    expect(hops(flow(s, "prod/web", "93.184.216.34:443"))).toEqual(["egress@prod/web:allow"]);
    // A pod without an ipBlock match: web's pods have no known IP, so the block cannot match them.
    expect(flow(s, "prod/web", "prod/db:5432").verdict).toBe("denied");
  });

  it("ipBlock matches a known pod IP with the generic CNI but never with Cilium (§1.4 r20)", async () => {
    const policy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-block, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 10.1.0.0/24}}]
`;
    const generic = await withPolicies(policy);
    expect(flow(generic, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(generic, "prod/fake-monitor", "prod/db:5432").verdict).toBe("denied"); // IP unknown
    const cilium = await withPolicies(policy, "cilium");
    expect(summary(flow(cilium, "prod/client", "prod/db:5432"))).toBe("denied ingress networkpolicy prod/db db-from-block");
    expect(flow(cilium, "10.1.0.77", "prod/db:5432").verdict).toBe("allowed");
  });

  it("N18: a Service destination is evaluated on the backend pod and its (named) targetPort", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-http-only, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8080}]
`);
    const r = flow(s, "prod/client", "svc:prod/web-svc:80");
    expect(r.verdict).toBe("allowed");
    expect(r.port).toBe(80);
    expect(hops(r, true)).toEqual(["service@prod/web-svc:allow:80", "egress@prod/client:allow:8080", "ingress@prod/web:allow:8080"]);
    expect(r.hops[0]!.wire.dstIP).toBe("10.96.0.10");

    const metrics = flow(s, "prod/client", "svc:prod/web-svc:9090");
    expect(summary(metrics)).toBe("denied ingress networkpolicy prod/web web-http-only");
    expect(metrics.blockedBy!.port).toBe(9090);
    expect(hops(metrics, true)).toEqual(["service@prod/web-svc:allow:9090", "egress@prod/client:allow:9090", "ingress@prod/web:deny:9090"]);
  });

  it("N18: a policy written for the Service port, not the targetPort, does not admit Service traffic", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-port-80, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 80}]
`);
    const r = flow(s, "prod/client", "svc:prod/web-svc:80");
    expect(summary(r)).toBe("denied ingress networkpolicy prod/web web-port-80");
    expect(r.blockedBy!.port).toBe(8080);
  });

  it("N18: egress to a Service must allow the backend pods, not the ClusterIP (§1.7 r33)", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-to-cluster-ips, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.96.0.0/12}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-to-db-pods, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: pg}]
`);
    expect(summary(flow(s, "prod/client", "svc:prod/web-svc:80"))).toBe(
      "denied egress networkpolicy prod/client client-to-cluster-ips,client-to-db-pods",
    );
    // db-svc's named targetPort `pg` resolves to 5432 on db, which the named policy port admits.
    const db = flow(s, "prod/client", "svc:prod/db-svc:5432");
    expect(db.verdict).toBe("allowed");
    expect(hops(db, true)).toEqual(["service@prod/db-svc:allow:5432", "egress@prod/client:allow:5432", "ingress@prod/db:allow:5432"]);
  });
});

describe("hostNetwork pods are node traffic (§1.6 r27, r29 b)", () => {
  const HOSTNET = `
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: ops, labels: {app: monitor}}
spec:
  hostNetwork: true
  containers: [{name: agent, image: agent}]
status: {podIP: 192.168.0.11, hostIP: 192.168.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: remote-agent, namespace: ops, labels: {app: monitor}}
spec:
  hostNetwork: true
  containers: [{name: agent, image: agent}]
status: {podIP: 192.168.0.50, hostIP: 192.168.0.50}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-monitors, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: monitor}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-from-nodes, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  ingress:
  - from: [{ipBlock: {cidr: 192.168.0.0/24}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ops, namespace: ops}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`;

  it("selectors never match a hostNetwork pod, and policies never isolate it", async () => {
    const s = await withPolicies(HOSTNET);
    // remote-agent runs on another node than db (192.168.0.11): a pod selector cannot admit it.
    expect(summary(flow(s, "ops/remote-agent", "prod/db:5432"))).toBe("denied ingress networkpolicy prod/db db-from-monitors");
    // deny-all-ops selects every pod in ops (monitor: its egress is denied), but not the host-network ones.
    expect(summary(flow(s, "ops/monitor", "prod/db:5432"))).toBe("denied egress networkpolicy ops/monitor deny-all-ops");
    expect(flow(s, "ops/remote-agent", "8.8.8.8:53").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "ops/remote-agent:9100").verdict).toBe("allowed");
  });

  it("an ipBlock holding the node address admits a hostNetwork pod of another node (generic CNI)", async () => {
    const s = await withPolicies(HOSTNET);
    // client runs on 192.168.0.12; remote-agent is node 192.168.0.50's traffic.
    expect(flow(s, "ops/remote-agent", "prod/client:8080").verdict).toBe("allowed");
  });

  it("the matrix tells apart hostNetwork pods that differ only by node (equivalence classes)", async () => {
    const s = await withPolicies(`
apiVersion: v1
kind: Pod
metadata: {name: agent-a, namespace: ops}
spec: {hostNetwork: true, containers: [{name: agent, image: agent}]}
status: {hostIP: 192.168.0.50}
---
apiVersion: v1
kind: Pod
metadata: {name: agent-b, namespace: ops}
spec: {hostNetwork: true, containers: [{name: agent, image: agent}]}
status: {hostIP: 192.168.0.60}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-from-node-50, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  ingress:
  - from: [{ipBlock: {cidr: 192.168.0.48/29}}]
`);
    const m = new ConnectivityMatrix(s, { ports: [8080] });
    const at = (id: string) => m.workloads.indexOf(workload(s, id));
    for (const agent of ["ops/agent-a", "ops/agent-b"]) {
      const traced = flow(s, agent, "prod/client:8080").verdict === "allowed";
      expect(m.conns(at(agent), at("prod/client")).contains("TCP", 8080), agent).toBe(traced);
    }
    expect(flow(s, "ops/agent-a", "prod/client:8080").verdict).toBe("allowed");
    expect(flow(s, "ops/agent-b", "prod/client:8080").verdict).toBe("denied");
  });

  // With Cilium, CIDR rules match neither pods nor nodes by default (semantics.md §1.4 r20,
  // §9 "Cilium CIDR vs host"): the profile's ipBlockMatchesNodes is off.
  it("with Cilium an ipBlock does not match node addresses either (§1.4 r20)", async () => {
    const s = await withPolicies(HOSTNET, "cilium");
    expect(summary(flow(s, "ops/remote-agent", "prod/client:8080"))).toBe("denied ingress networkpolicy prod/client client-from-nodes");
    const m = new ConnectivityMatrix(s, { ports: [8080] });
    const at = (id: string) => m.workloads.indexOf(workload(s, id));
    expect(m.conns(at("ops/remote-agent"), at("prod/client")).contains("TCP", 8080)).toBe(false);
  });

  // A hostNetwork pod on the destination's own node is traffic from the local node,
  // always allowed in (§1.6 r27 with r29 b, N15), in traces and in the matrix alike.
  it("a hostNetwork pod on the destination's own node is local node traffic: always allowed (§1.6 r27)", async () => {
    const s = await withPolicies(HOSTNET);
    // node-agent and db share node 192.168.0.11.
    expect(flow(s, "ops/node-agent", "prod/db:5432").verdict).toBe("allowed");
    const m = new ConnectivityMatrix(s, { ports: [5432] });
    const at = (id: string) => m.workloads.indexOf(workload(s, id));
    expect(m.conns(at("ops/node-agent"), at("prod/db")).contains("TCP", 5432)).toBe(true);
    expect(m.conns(at("ops/remote-agent"), at("prod/db")).contains("TCP", 5432)).toBe(false);
  });
});

describe("scanner validation: located errors, the other policies still apply", () => {
  const VALID = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-deny-all, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`;
  /** Each would isolate web for ingress if it were applied. */
  const INVALID: { name: string; body: string; field: string; needle: string; message: RegExp }[] = [
    {
      name: "selector-as-string",
      body: `  podSelector: "app=web"\n  ingress: [{}]`,
      field: "spec.podSelector",
      needle: `podSelector: "app=web"`,
      message: /expected a mapping/,
    },
    {
      name: "bad-cidr",
      body: `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/33`,
      field: "spec.ingress[0].from[0].ipBlock.cidr",
      needle: "cidr: 10.0.0.0/33",
      message: /10\.0\.0\.0\/33/,
    },
    {
      name: "except-outside",
      body: `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except:\n        - 10.1.0.0/24`,
      field: "spec.ingress[0].from[0].ipBlock.except[0]",
      needle: "- 10.1.0.0/24",
      message: /strict subset/,
    },
    {
      name: "except-equal",
      body: `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.2.0.0/16\n        except: [10.2.0.0/24, 10.2.0.0/16]`,
      field: "spec.ingress[0].from[0].ipBlock.except[1]",
      needle: "except: [10.2.0.0/24, 10.2.0.0/16]",
      message: /strict subset/,
    },
    {
      name: "icmp",
      body: `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - ports:\n    - protocol: ICMP`,
      field: "spec.ingress[0].ports[0].protocol",
      needle: "protocol: ICMP",
      message: /ICMP/,
    },
    {
      name: "named-port-range",
      body: `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - ports:\n    - port: http\n      endPort: 8090`,
      field: "spec.ingress[0].ports[0].endPort",
      needle: "endPort: 8090",
      message: /numeric port/,
    },
    {
      name: "ipblock-and-selector",
      body: `  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      podSelector: {}`,
      field: "spec.ingress[0].from[0]",
      needle: "- ipBlock: {cidr: 10.0.0.0/8}",
      message: /cannot be combined/,
    },
    {
      name: "empty-peer",
      body: `  podSelector: {matchLabels: {app: web}}\n  egress:\n  - to:\n    - {}`,
      field: "spec.egress[0].to[0]",
      needle: "    - {}",
      message: /must specify/,
    },
  ];
  const TEXT = [
    CLUSTER,
    VALID,
    ...INVALID.map((c) => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${c.name}, namespace: prod}\nspec:\n${c.body}\n`),
  ].join("---\n");

  it("reports each rejected policy at its file, line and field", async () => {
    const s = await scenarioFromYaml(TEXT, { file: "bad.yaml" });
    const errs = s.diagnostics.filter((d) => d.severity === "error");
    for (const c of INVALID) {
      const found = errs.filter((d) => d.location.field === c.field && d.location.line === lineOf(TEXT, c.needle));
      expect(found.map((d) => d.format()), `${c.name}: ${errs.map((d) => d.format()).join("\n")}`).toHaveLength(1);
      expect(found[0]!.location.file).toBe("bad.yaml");
      expect(found[0]!.message).toMatch(c.message);
    }
    expect(errs).toHaveLength(INVALID.length);
  });

  it("leaves the rejected policies out and still applies the valid one", async () => {
    const s = await scenarioFromYaml(TEXT, { file: "bad.yaml" });
    expect(s.layers[0]!.policyCount).toBe(1);
    expect(summary(flow(s, "prod/client", "prod/db:5432"))).toBe("denied ingress networkpolicy prod/db db-deny-all");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/web", "8.8.8.8:53", "UDP").verdict).toBe("allowed");
  });

  it("rejects port names the API server rejects (IsValidPortName: a letter, no '--', at most 15)", async () => {
    for (const name of ["a--b", "123-456", "-http", "a-very-long-port-name"]) {
      const text = `${CLUSTER}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad-name, namespace: prod}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: "${name}"\n`;
      const s = await scenarioFromYaml(text, { file: "names.yaml" });
      const errs = s.diagnostics.filter((d) => d.severity === "error");
      expect(errs.map((d) => `${d.location.line} ${d.location.field}`), name).toEqual([`${lineOf(text, `port: "${name}"`)} spec.ingress[0].ports[0].port`]);
      expect(s.layers[0]!.policyCount, name).toBe(0);
    }
  });

  // The API server keeps a quoted value as a string and IsValidPortName rejects it
  // ("must contain at least one letter (a-z)"), so the policy cannot exist in a cluster.
  it('rejects a quoted number as a port (`port: "80"` is an invalid port name, not 80)', async () => {
    const text = `${CLUSTER}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: quoted-port, namespace: prod}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: "80"\n`;
    const s = await scenarioFromYaml(text, { file: "quoted.yaml" });
    const errs = s.diagnostics.filter((d) => d.severity === "error");
    expect(errs.map((d) => d.location.field)).toEqual(["spec.ingress[0].ports[0].port"]);
    expect(errs[0]!.format()).toMatch(new RegExp(`^quoted\\.yaml:${lineOf(text, 'port: "80"')}: error: spec\\.ingress\\[0\\]\\.ports\\[0\\]\\.port: "80" is a string, not a number`));
    // Left out: nothing isolates prod/db for ingress.
    expect(s.layers[0]!.policyCount).toBe(0);
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
  });

  it("accepts overlapping excepts (each is checked against cidr only, as ValidateIPBlock does)", async () => {
    const s = await withPolicies(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: overlapping-excepts, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/16, 10.0.1.0/24]}}]
`);
    expect(flow(s, "10.2.0.1", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "10.0.1.1", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "10.0.2.1", "prod/web:8080").verdict).toBe("denied");
  });
});
