/**
 * Cilium CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy, item by item of
 * semantics.md §3 (and §1.4 r20, §1.6 r27 for NetworkPolicies under Cilium):
 * each case is a small YAML scenario asked through `reach` (verdict, blockedBy,
 * trace), the matrix, or the engine directly for L7 requests; and the
 * scanner's validation of what Cilium or its CRD would reject (located
 * diagnostics; the other policies still apply).
 */
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../../src/analysis/matrix.js";
import { reach, type ReachResult } from "../../../src/analysis/reach.js";
import type { Scenario } from "../../../src/analysis/scenario.js";
import { CiliumLayer, SafeRegex, type L7Request } from "../../../src/layers/cilium/index.js";
import type { Peer } from "../../../src/layers/types.js";
import type { CiliumSwitches } from "../../../src/model/profile.js";
import { errors, lineOf, loadYaml, workload } from "../../helpers/cluster.js";
import { buildScenario } from "../../../src/analysis/scenario.js";

/**
 * Namespaces prod (team=shop), dev (team=dev), ops.
 * prod: Pod web (app=web, http=8080, metrics=9090, node .10), Pod db (app=db, pg=5432,
 * dns=53/UDP, node .11), Pod client (app=client, sa=client-sa, node .12), Pod other
 * (app=other); dev: Pod client (app=client); ops: node-agent (host network, node .10),
 * remote-agent (host network, node .13). Service prod/db-svc 5432→pg, prod/web-svc 80→http.
 */
const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {team: dev}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 8080, name: http}, {containerPort: 9090, name: metrics}]
status: {podIP: 10.1.0.4, hostIP: 192.168.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec:
  containers:
  - name: pg
    image: postgres
    ports: [{containerPort: 5432, name: pg}, {containerPort: 53, name: dns, protocol: UDP}]
status: {podIP: 10.1.0.9, hostIP: 192.168.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: prod, labels: {app: client}}
spec:
  serviceAccountName: client-sa
  containers: [{name: sh, image: busybox}]
status: {podIP: 10.1.0.5, hostIP: 192.168.0.12}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: prod, labels: {app: other}}
spec:
  containers: [{name: sh, image: busybox}]
status: {podIP: 10.1.0.6, hostIP: 192.168.0.12}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: dev, labels: {app: client}}
spec:
  containers: [{name: sh, image: busybox}]
status: {podIP: 10.2.0.5, hostIP: 192.168.0.12}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: ops, labels: {app: agent}}
spec:
  hostNetwork: true
  containers: [{name: a, image: agent, ports: [{containerPort: 9100, name: metrics}]}]
status: {podIP: 192.168.0.10, hostIP: 192.168.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: remote-agent, namespace: ops, labels: {app: agent}}
spec:
  hostNetwork: true
  containers: [{name: a, image: agent}]
status: {podIP: 192.168.0.13, hostIP: 192.168.0.13}
---
apiVersion: v1
kind: Service
metadata: {name: db-svc, namespace: prod, labels: {tier: data}}
spec:
  clusterIP: 10.96.0.20
  selector: {app: db}
  ports:
  - {name: pg, port: 5432, targetPort: pg}
---
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: prod}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`;

async function withPolicies(policies: string, cilium: Partial<CiliumSwitches> = {}): Promise<Scenario> {
  const s = await scenario(policies, cilium);
  expect(errors(s)).toEqual([]);
  return s;
}

async function scenario(policies: string, cilium: Partial<CiliumSwitches> = {}): Promise<Scenario> {
  const load = await loadYaml(`${CLUSTER}---\n${policies}`, "policies.yaml");
  return buildScenario(load, { cni: "cilium", cilium });
}

function flow(s: Scenario, from: string, to: string, protocol?: string): ReachResult {
  return reach(s, { from, to, ...(protocol ? { protocol } : {}) });
}

/** `verdict` plus, for a denial, `direction layer workload policy-names observed`. */
function summary(r: ReachResult): string {
  if (!r.blockedBy) return r.verdict;
  const b = r.blockedBy;
  return `${r.verdict} ${b.direction} ${b.layer} ${b.workload} ${b.policies.map((p) => p.name).join(",")}`;
}

function engineOf(s: Scenario): CiliumLayer {
  const layer = s.layers.find((l) => l instanceof CiliumLayer) as CiliumLayer | undefined;
  if (!layer) throw new Error("no Cilium layer");
  return new CiliumLayer(layer.engine);
}

/** One L7 request through the engine (the path does not carry HTTP to the CNI yet). */
function l7(s: Scenario, from: string, to: string, port: number, req: L7Request) {
  const peer: Peer = { kind: "workload", workload: workload(s, from) };
  return engineOf(s).evaluate(workload(s, to), "ingress", peer, { protocol: "TCP", port }, req);
}

const cnp = (name: string, ns: string, spec: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
`;
const ccnp = (name: string, spec: string) => `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: ${name}}
spec:
${spec}
`;
const np = (name: string, ns: string, spec: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
`;

const WEB_FROM_CLIENT = cnp(
  "web-from-client",
  "prod",
  `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]`,
);

describe("enforcement mode and default deny (§3.1)", () => {
  it("C1: no policy selects an endpoint: everything is allowed", async () => {
    const s = await withPolicies(WEB_FROM_CLIENT);
    expect(flow(s, "prod/web", "prod/db:5432").verdict).toBe("allowed");
  });

  it("r1: a selected direction goes to default deny; C2: the other direction stays open", async () => {
    const s = await withPolicies(WEB_FROM_CLIENT);
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(summary(flow(s, "prod/other", "prod/web:8080"))).toBe("denied ingress cilium prod/web web-from-client");
    expect(summary(flow(s, "prod/client", "prod/web:9090"))).toBe("denied ingress cilium prod/web web-from-client");
    expect(flow(s, "prod/web", "8.8.8.8:443").verdict).toBe("allowed");
  });

  it("r3/C3: `egress: [{}]` is default deny with nothing allowed — the opposite of a NetworkPolicy's `ingress: [{}]`", async () => {
    const s = await withPolicies(`${cnp("deny-egress", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - {}")}---\n${np("allow-all", "prod", "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - {}")}`);
    expect(summary(flow(s, "prod/client", "8.8.8.8:443"))).toBe("denied egress cilium prod/client deny-egress");
    expect(summary(flow(s, "prod/client", "prod/db:5432"))).toBe("denied egress cilium prod/client deny-egress");
    expect(flow(s, "prod/other", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "8.8.8.8", "prod/db:5432").verdict).toBe("allowed");
  });

  it("r3: a rule with no non-empty section is rejected (Cilium's Sanitize), with its line; `egress:` null is such a rule", async () => {
    const text = cnp("nothing", "prod", "  endpointSelector: {}\n  egress:");
    const s = await scenario(`${text}---\n${WEB_FROM_CLIENT}`);
    expect(errors(s)).toEqual([`policies.yaml:${lineOf(`${CLUSTER}---\n${text}`, "metadata: {name: nothing") + 1}: error: spec: rule must have at least one of ingress, ingressDeny, egress, egressDeny (write \`ingress: [{}]\` for a default-deny rule)`]);
    // The other policy still applies.
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("denied");
  });

  it("r2: enableDefaultDeny.ingress false keeps the endpoint open; allow rules then add nothing", async () => {
    const policy = cnp(
      "web-audit",
      "prod",
      `  endpointSelector: {matchLabels: {app: web}}
  enableDefaultDeny: {ingress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]`,
    );
    const s = await withPolicies(policy);
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("allowed");
    // With enable-non-default-deny-policies off, every selecting rule is default deny, both ways.
    const strict = await withPolicies(policy, { enableNonDefaultDenyPolicies: false });
    expect(summary(flow(strict, "prod/other", "prod/web:8080"))).toBe("denied ingress cilium prod/web web-audit");
    expect(summary(flow(strict, "prod/web", "8.8.8.8:443"))).toBe("denied egress cilium prod/web web-audit");
  });

  it("r2: default deny is on if any selecting rule requests it", async () => {
    const s = await withPolicies(
      `${cnp("open", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  enableDefaultDeny: {ingress: false}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: other}}]")}---\n${WEB_FROM_CLIENT}`,
    );
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("denied");
  });

  it("r1: policyEnforcementMode always isolates every endpoint; never allows everything", async () => {
    const always = await withPolicies("", { policyEnforcementMode: "always" });
    const r = flow(always, "prod/web", "prod/db:5432");
    expect(r.blockedBy).toMatchObject({ layer: "cilium", direction: "egress", workload: "prod/web", policies: [] });
    // kubelet probes still come from the local host (allow-localhost).
    expect(flow(always, "kubelet", "prod/db:5432").verdict).toBe("allowed");
    const never = await withPolicies(WEB_FROM_CLIENT, { policyEnforcementMode: "never" });
    expect(flow(never, "prod/other", "prod/web:8080").verdict).toBe("allowed");
  });

  it("r5/C9: the sender's egress and the receiver's ingress must both allow", async () => {
    const s = await withPolicies(
      `${WEB_FROM_CLIENT}---\n${cnp("client-egress", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: db}}]")}`,
    );
    expect(summary(flow(s, "prod/client", "prod/web:8080"))).toBe("denied egress cilium prod/client client-egress");
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
  });

  it("r6/C15: a deny rule wins over every allow, from a CNP, a CCNP or a NetworkPolicy", async () => {
    const s = await withPolicies(
      `${WEB_FROM_CLIENT}---\n${np("web-all", "prod", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - {}")}---\n${ccnp(
        "no-client-8080",
        `  endpointSelector: {}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]`,
      )}`,
    );
    const r = flow(s, "prod/client", "prod/web:8080");
    expect(summary(r)).toBe("denied ingress cilium prod/web no-client-8080");
    expect(r.blockedBy!.policies[0]).toMatchObject({ kind: "CiliumClusterwideNetworkPolicy", namespace: null, rule: 0 });
    // The deny matrix of deny.rst: an L4 deny on one port leaves the others to the allows.
    expect(flow(s, "prod/client", "prod/web:9090").verdict).toBe("allowed");
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("allowed");
  });

  it("r6: a deny rule alone puts the endpoint in default deny for that direction", async () => {
    const s = await withPolicies(cnp("deny-world", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  egressDeny:\n  - toEntities: [world]"));
    expect(flow(s, "prod/web", "8.8.8.8:443").verdict).toBe("denied");
    expect(flow(s, "prod/web", "prod/db:5432").verdict).toBe("denied");
  });

  it("r7: an L3/L4 drop is a timeout", async () => {
    const s = await withPolicies(WEB_FROM_CLIENT);
    expect(flow(s, "prod/other", "prod/web:8080").blockedBy?.observed).toBe("timeout");
  });
});

describe("rule structure and validation (§3.2)", () => {
  it("r9: endpointSelector and nodeSelector together, or nodeSelector in a namespaced policy, are rejected", async () => {
    const both = await scenario(ccnp("both", "  endpointSelector: {}\n  nodeSelector: {}\n  ingress: [{}]"));
    expect(errors(both)).toEqual([expect.stringContaining("spec.nodeSelector: rule cannot have both endpointSelector and nodeSelector")]);
    const neither = await scenario(ccnp("neither", "  ingress: [{}]"));
    expect(errors(neither)).toEqual([expect.stringContaining("rule must have one of endpointSelector or nodeSelector")]);
    const ns = await scenario(cnp("host", "prod", "  nodeSelector: {}\n  ingress: [{}]"));
    expect(errors(ns)).toEqual([expect.stringContaining("only allowed in a CiliumClusterwideNetworkPolicy")]);
  });

  it("r11/C8: two L3 members in one rule are rejected, naming the second", async () => {
    const text = cnp("two", "prod", "  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{}]\n    fromCIDR: [10.0.0.0/8]");
    const s = await scenario(text);
    expect(errors(s)).toEqual([`policies.yaml:${lineOf(`${CLUSTER}---\n${text}`, "fromCIDR")}: error: spec.ingress[0].fromCIDR: combining fromEndpoints and fromCIDR in one rule is not supported by Cilium: write two rules`]);
  });

  it("r13/C6: `fromEndpoints: []` selects nothing; C7: a rule with only toPorts admits every peer, world included", async () => {
    const s = await withPolicies(
      `${cnp("empty", "prod", "  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEndpoints: []\n    toPorts: [{ports: [{port: \"5432\"}]}]")}---\n${cnp(
        "port-only",
        "prod",
        "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]",
      )}`,
    );
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("denied");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "203.0.113.7", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "ops/remote-agent", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "203.0.113.7", "prod/web:9090").verdict).toBe("denied");
  });

  it("r14: icmps with toPorts is rejected; an icmps-only rule admits no TCP/UDP/SCTP", async () => {
    const bad = await scenario(cnp("icmp", "prod", "  endpointSelector: {}\n  ingress:\n  - icmps: [{fields: [{type: 8, family: IPv4}]}]\n    toPorts: [{ports: [{port: \"80\"}]}]"));
    expect(errors(bad)).toEqual([expect.stringContaining("icmps may only be present without toPorts")]);
    const ping = await withPolicies(cnp("ping", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEntities: [all]\n    icmps: [{fields: [{type: 8, family: IPv4}]}]"));
    expect(flow(ping, "prod/client", "prod/web:8080").verdict).toBe("denied");
  });

  it("r15/C16: fromRequires is rejected (removed in 1.19)", async () => {
    const s = await scenario(cnp("req", "prod", "  endpointSelector: {}\n  ingress:\n  - fromRequires: [{matchLabels: {env: prod}}]"));
    expect(errors(s)).toEqual([expect.stringContaining("fromRequires was removed in Cilium 1.19")]);
  });

  it("r12: toServices with toPorts is accepted by v1.19.4 and rejected by older releases (VERSION switch)", async () => {
    const policy = cnp(
      "to-db",
      "prod",
      "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toServices: [{k8sService: {serviceName: db-svc}}]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]",
    );
    const s = await withPolicies(policy);
    expect(flow(s, "prod/client", "svc:prod/db-svc:5432").verdict).toBe("allowed");
    const old = await scenario(policy, { toServicesWithToPorts: false });
    expect(errors(old)).toEqual([expect.stringContaining("combining toServices and toPorts is not supported by this Cilium version")]);
  });

  it("unknown fields are rejected with their location, and the rest of the input is analysed", async () => {
    const text = cnp("typo", "prod", "  endpointSelector: {}\n  ingress:\n  - fromEndpoint: [{}]");
    const s = await scenario(`${text}---\n${WEB_FROM_CLIENT}`);
    expect(errors(s)).toEqual([`policies.yaml:${lineOf(`${CLUSTER}---\n${text}`, "fromEndpoint:")}: error: spec.ingress[0].fromEndpoint: unknown field "fromEndpoint" in an ingress rule`]);
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "prod/other", "prod/db:5432").verdict).toBe("allowed");
  });

  it("`specs` holds several rules; each is read and reported with its own lines", async () => {
    const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: multi, namespace: prod}
specs:
- endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
- endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
`;
    const s = await withPolicies(text);
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    const r = flow(s, "prod/web", "prod/db:5432");
    expect(r.verdict).toBe("allowed");
    const hop = r.hops.find((h) => h.step === "ingress" && h.enforcer === "cilium")!;
    expect(hop.policies).toEqual([
      { kind: "CiliumNetworkPolicy", namespace: "prod", name: "multi", rule: 0, file: "policies.yaml", line: lineOf(`${CLUSTER}---\n${text}`, "fromEndpoints: [{matchLabels: {app: web}}]") },
    ]);
    expect(hop.reason).toContain("CNP prod/multi[0]");
  });
});

describe("labels and implicit scoping (§3.3)", () => {
  it("C4: `fromEndpoints: [{}]` in a CNP means every pod of the policy's namespace", async () => {
    const s = await withPolicies(cnp("ns-only", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{}]"));
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "8.8.8.8", "prod/web:8080").verdict).toBe("denied");
  });

  it("C5: `fromEndpoints: [{}]` in a CCNP means every pod of every namespace, not host or world", async () => {
    const s = await withPolicies(ccnp("pods", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{}]"));
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "8.8.8.8", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "ops/remote-agent", "prod/web:8080").verdict).toBe("denied");
  });

  it("C5: a CCNP endpointSelector is not namespaced: `{}` selects every pod", async () => {
    const s = await withPolicies(ccnp("all-egress", "  endpointSelector: {}\n  egress:\n  - toEntities: [world]"));
    expect(summary(flow(s, "dev/client", "prod/web:8080"))).toBe("denied egress cilium dev/client all-egress");
    expect(flow(s, "dev/client", "8.8.8.8:443").verdict).toBe("allowed");
  });

  it("r20: a namespace key in from/toEndpoints escapes the implicit namespace", async () => {
    const s = await withPolicies(
      cnp("cross", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: dev, app: client}}]"),
    );
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("denied");
    const any = await withPolicies(
      cnp("any-ns", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchExpressions: [{key: io.kubernetes.pod.namespace, operator: Exists}]}]"),
    );
    expect(flow(any, "dev/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(any, "8.8.8.8", "prod/web:8080").verdict).toBe("denied");
  });

  it("r20 CONFLICT: a namespace-label key selects across namespaces in v1.19.4, stays in the policy's namespace in the 2023 reading", async () => {
    const policy = cnp("ns-labels", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {k8s:io.cilium.k8s.namespace.labels.team: dev}}]");
    const current = await withPolicies(policy);
    expect(flow(current, "dev/client", "prod/web:8080").verdict).toBe("allowed");
    const old = await withPolicies(policy, { namespaceLabelsInCnp: "namespace" });
    expect(flow(old, "dev/client", "prod/web:8080").verdict).toBe("denied");
  });

  it("r18: pods carry their service account and namespace labels as identity labels", async () => {
    const s = await withPolicies(
      ccnp(
        "by-sa",
        "  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {io.cilium.k8s.policy.serviceaccount: client-sa, io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name: prod}}]",
      ),
    );
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "prod/other", "prod/db:5432").verdict).toBe("denied");
    expect(flow(s, "dev/client", "prod/db:5432").verdict).toBe("denied");
  });

  it("r17: a key's source prefix must match (`k8s:` pod labels; `reserved:` identities)", async () => {
    const s = await withPolicies(
      `${cnp("k8s-src", "prod", "  endpointSelector: {matchLabels: {k8s:app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {k8s:app: client}}]")}---\n${cnp(
        "wrong-src",
        "prod",
        "  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {reserved:app: client}}]",
      )}`,
    );
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("denied");
  });

  it("r19: a CNP endpointSelector naming another namespace still applies in its own (warning)", async () => {
    const s = await scenario(cnp("elsewhere", "prod", "  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: dev}}\n  egress:\n  - {}"));
    expect(errors(s)).toEqual([]);
    expect(s.diagnostics.map((d) => d.message)).toContainEqual(expect.stringContaining("always applies in its own namespace prod"));
    expect(flow(s, "prod/web", "8.8.8.8:80").verdict).toBe("denied");
    expect(flow(s, "dev/client", "8.8.8.8:80").verdict).toBe("allowed");
  });
});

describe("entities (§3.4)", () => {
  const entity = (e: string) => cnp(`from-${e}`, "prod", `  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEntities: [${e}]`);

  it("world: addresses outside the cluster, never pods or nodes", async () => {
    const s = await withPolicies(entity("world"));
    expect(flow(s, "8.8.8.8", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "2001:db8::1", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("denied");
    expect(flow(s, "ops/remote-agent", "prod/web:8080").verdict).toBe("denied");
  });

  it("cluster: every pod, the host and remote nodes, not world", async () => {
    const s = await withPolicies(entity("cluster"));
    expect(flow(s, "dev/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "ops/remote-agent", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "8.8.8.8", "prod/web:8080").verdict).toBe("denied");
  });

  it("remote-node: host-network pods (and nodes) other than the endpoint's own node", async () => {
    const s = await withPolicies(entity("remote-node"));
    expect(flow(s, "ops/remote-agent", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("denied");
  });

  it("host: the local node, which allow-localhost admits anyway; with allow-localhost=policy only the entity does (C17)", async () => {
    const none = await withPolicies(WEB_FROM_CLIENT, { allowLocalhost: "policy" });
    expect(summary(flow(none, "kubelet", "prod/web:8080"))).toBe("denied ingress cilium prod/web web-from-client");
    expect(summary(flow(none, "ops/node-agent", "prod/web:8080"))).toBe("denied ingress cilium prod/web web-from-client");
    const host = await withPolicies(`${WEB_FROM_CLIENT}---\n${entity("host")}`, { allowLocalhost: "policy" });
    expect(flow(host, "kubelet", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(host, "ops/node-agent", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(host, "ops/remote-agent", "prod/web:8080").verdict).toBe("denied");
    const auto = await withPolicies(WEB_FROM_CLIENT);
    expect(flow(auto, "kubelet", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(auto, "ops/node-agent", "prod/web:8080").verdict).toBe("allowed");
  });

  it("reserved:host in fromEndpoints selects the host identity, without a namespace added", async () => {
    const s = await withPolicies(cnp("host-sel", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {reserved:host: \"\"}}]"), { allowLocalhost: "policy" });
    expect(flow(s, "kubelet", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("denied");
  });

  it("all: every peer; none: no peer", async () => {
    const all = await withPolicies(entity("all"));
    for (const from of ["8.8.8.8", "prod/client", "ops/remote-agent"]) expect(flow(all, from, "prod/web:8080").verdict).toBe("allowed");
    const none = await withPolicies(entity("none"));
    for (const from of ["8.8.8.8", "prod/client", "ops/remote-agent"]) expect(flow(none, from, "prod/web:8080").verdict).toBe("denied");
  });

  it("kube-apiserver: the profile's API server addresses", async () => {
    const policy = cnp("api", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toEntities: [kube-apiserver]");
    const s = await withPolicies(policy, { kubeApiserverIPs: ["172.20.0.1"] });
    expect(flow(s, "prod/client", "172.20.0.1:443").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "172.20.0.2:443").verdict).toBe("denied");
    const m = new ConnectivityMatrix(s, { ports: [443] });
    const i = m.workloads.indexOf(workload(s, "prod/client"));
    expect(m.externalEgress(i).map((a) => a.ips.toString())).toEqual(["172.20.0.1/32"]);
  });

  it("world-ipv4/world-ipv6 are not in the v1.19.4 CRD enum (switch), and unknown entities are rejected", async () => {
    const v4 = cnp("v4", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEntities: [world-ipv4]");
    expect(errors(await scenario(v4))).toEqual([expect.stringContaining("entity world-ipv4 is not in the CiliumNetworkPolicy CRD's enum")]);
    const ok = await withPolicies(v4, { worldFamilyEntities: true });
    expect(flow(ok, "8.8.8.8", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(ok, "2001:db8::1", "prod/web:8080").verdict).toBe("denied");
    expect(errors(await scenario(entity("internet")))).toEqual([expect.stringContaining('unsupported entity the string "internet"')]);
  });
});

describe("CIDR rules (§3.5)", () => {
  it("C10: a CIDR covering pod addresses does not select pods", async () => {
    const s = await withPolicies(cnp("to-net", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toCIDR: [10.0.0.0/8]"));
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("denied");
    expect(flow(s, "prod/client", "10.200.0.1:443").verdict).toBe("allowed");
  });

  it("r24: CIDRSet with except; the except must lie in the cidr", async () => {
    const s = await withPolicies(cnp("set", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]"));
    expect(flow(s, "prod/client", "8.8.8.8:53").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "10.200.0.1:53").verdict).toBe("denied");
    const bad = await scenario(cnp("bad", "prod", "  endpointSelector: {}\n  egress:\n  - toCIDRSet: [{cidr: 10.0.0.0/16, except: [192.168.0.0/24]}]"));
    expect(errors(bad)).toEqual([expect.stringContaining("allow CIDR prefix 10.0.0.0/16 does not contain exclude CIDR prefix 192.168.0.0/24")]);
  });

  it("r25: node addresses are matched only with policy-cidr-match-mode=nodes; a NetworkPolicy ipBlock likewise (§1.4 r20)", async () => {
    const policies = `${cnp("from-nodes", "prod", "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromCIDR: [192.168.0.0/24]")}---\n${np(
      "db-nodes",
      "prod",
      "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{ipBlock: {cidr: 192.168.0.0/24}}]",
    )}`;
    const s = await withPolicies(policies);
    expect(flow(s, "ops/remote-agent", "prod/web:8080").verdict).toBe("denied");
    expect(summary(flow(s, "ops/remote-agent", "prod/db:5432"))).toBe("denied ingress networkpolicy prod/db db-nodes");
    const nodes = await withPolicies(policies, { policyCidrMatchMode: "nodes" });
    expect(flow(nodes, "ops/remote-agent", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(nodes, "ops/remote-agent", "prod/db:5432").verdict).toBe("allowed");
    // Pods stay out of reach of CIDR rules in every mode.
    expect(flow(nodes, "prod/client", "prod/web:8080").verdict).toBe("denied");
  });
});

describe("toFQDNs and toServices (§3.6, §3.7)", () => {
  it("C11: toFQDNs cannot be shown to admit an address (IPs are learned from DNS at run time)", async () => {
    const s = await withPolicies(
      cnp(
        "fqdn",
        "prod",
        `  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: prod, app: db}}]
    toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "*"}]}}]
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]`,
      ),
    );
    const r = flow(s, "prod/client", "93.184.216.34:443");
    expect(r.verdict).toBe("denied");
    expect(r.hops.find((h) => h.enforcer === "cilium")!.misses.join("\n")).toContain("addresses learned from DNS answers at run time");
    expect(flow(s, "prod/client", "prod/db:53", "UDP").verdict).toBe("allowed");
  });

  it("r31: toFQDNs in egressDeny is rejected", async () => {
    const s = await scenario(cnp("fqdn-deny", "prod", "  endpointSelector: {}\n  egressDeny:\n  - toFQDNs: [{matchName: example.com}]"));
    expect(errors(s)).toEqual([expect.stringContaining('unknown field "toFQDNs" in an egressDeny rule (deny rules have no toFQDNs')]);
  });

  it("r32: toServices selects the Service's backend pods, by name or by label", async () => {
    const byName = await withPolicies(cnp("svc", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toServices: [{k8sService: {serviceName: db-svc, namespace: prod}}]"));
    expect(flow(byName, "prod/client", "svc:prod/db-svc:5432").verdict).toBe("allowed");
    expect(flow(byName, "prod/client", "prod/web:8080").verdict).toBe("denied");
    const byLabel = await withPolicies(cnp("svc-sel", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toServices: [{k8sServiceSelector: {selector: {matchLabels: {tier: data}}}}]"));
    expect(flow(byLabel, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(byLabel, "prod/client", "prod/web:8080").verdict).toBe("denied");
    const old = await withPolicies(cnp("svc", "prod", "  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toServices: [{k8sService: {serviceName: db-svc}}]"), { toServicesScope: "endpoints" });
    expect(flow(old, "prod/client", "prod/db:5432").verdict).toBe("denied");
  });
});

describe("toPorts (§3.8)", () => {
  const ports = (spec: string) => withPolicies(cnp("ports", "prod", `  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - toPorts: [{ports: [${spec}]}]`));

  it("r33: protocol ANY (or omitted) covers TCP, UDP and SCTP", async () => {
    const s = await ports('{port: "53"}');
    expect(flow(s, "prod/client", "prod/db:53", "UDP").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:53", "TCP").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:53", "SCTP").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("denied");
  });

  it("r34: endPort ranges; port 0 is every port", async () => {
    const s = await ports('{port: "5000", endPort: 5500, protocol: TCP}');
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:5501").verdict).toBe("denied");
    const zero = await ports('{port: "0", protocol: UDP}');
    expect(flow(zero, "prod/client", "prod/db:53", "UDP").verdict).toBe("allowed");
    expect(flow(zero, "prod/client", "prod/db:5432").verdict).toBe("denied");
  });

  it("r35: a named port resolves on the destination pod (also for egress)", async () => {
    const s = await ports('{port: "PG"}');
    expect(flow(s, "prod/client", "prod/db:5432").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/db:53", "UDP").verdict).toBe("denied");
    const egress = await withPolicies(cnp("eg", "prod", '  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toPorts: [{ports: [{port: "http", protocol: TCP}]}]'));
    expect(flow(egress, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(egress, "prod/client", "prod/db:5432").verdict).toBe("denied");
    expect(flow(egress, "prod/client", "8.8.8.8:8080").verdict).toBe("denied");
  });

  it("C19: protocol ICMP is not a toPorts protocol; an unquoted port number is rejected by the CRD", async () => {
    expect(errors(await scenario(cnp("icmp", "prod", '  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: "0", protocol: ICMP}]}]')))).toEqual([
      expect.stringContaining("ICMP is not a toPorts protocol: use icmps"),
    ]);
    expect(errors(await scenario(cnp("num", "prod", "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: 80}]}]")))).toEqual([
      expect.stringContaining('the CRD declares port a string: quote it ("80")'),
    ]);
  });

  it("r36: ports are the backend's, after Service translation", async () => {
    const s = await ports('{port: "5432", protocol: TCP}');
    expect(flow(s, "prod/client", "svc:prod/db-svc:5432").verdict).toBe("allowed");
    const web = await withPolicies(cnp("web", "prod", '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - toPorts: [{ports: [{port: "80", protocol: TCP}]}]'));
    expect(flow(web, "prod/client", "svc:prod/web-svc:80").verdict).toBe("denied");
  });
});

describe("L7 rules (§3.9)", () => {
  const HTTP = cnp(
    "web-l7",
    "prod",
    `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http:
        - {method: GET, path: "/public"}
        - {method: "POST|PUT", path: "/api/v[0-9]+/.*", headers: ["X-Team: shop"]}`,
  );

  it("r42–43: method and path are RE2 full matches; headers are required; a miss is HTTP 403 (r44)", async () => {
    const s = await withPolicies(HTTP);
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "GET", path: "/public" }).verdict).toBe("allow");
    // C13: `/public` does not match `/public/x` or `/public?x=1`.
    const sub = l7(s, "prod/client", "prod/web", 8080, { method: "GET", path: "/public/x" });
    expect(sub).toMatchObject({ verdict: "deny", observed: "http-403", layer: "cilium" });
    expect(sub.misses[0]).toContain("path /public/x does not fully match /public");
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "GET", path: "/public?x=1" }).verdict).toBe("deny");
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "PUT", path: "/api/v2/items", headers: { "x-team": "shop" } }).verdict).toBe("allow");
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "PUT", path: "/api/v2/items" }).verdict).toBe("deny");
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "DELETE", path: "/api/v2/items", headers: { "X-Team": "shop" } }).verdict).toBe("deny");
    // Without request attributes the port is allowed, and the reason says L7 applies.
    const r = flow(s, "prod/client", "prod/web:8080");
    expect(r.verdict).toBe("allowed");
    expect(r.hops.find((h) => h.enforcer === "cilium" && h.step === "ingress")!.reason).toContain("Cilium's L7 proxy");
    // L3/L4 still decide first: another source is dropped.
    expect(flow(s, "prod/other", "prod/web:8080").blockedBy?.observed).toBe("timeout");
  });

  it("r43: host is a regex on the raw value: an unescaped dot matches any character", async () => {
    const s = await withPolicies(cnp("host", "prod", '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{host: "foo.bar.com"}]}}]'));
    expect(l7(s, "prod/client", "prod/web", 8080, { host: "fooXbar.com" }).verdict).toBe("allow");
    expect(l7(s, "prod/client", "prod/web", 8080, { host: "foo.bar.com.evil" }).verdict).toBe("deny");
  });

  it("r41/C14: an L4-only rule on the same port makes the L7 rules moot", async () => {
    const s = await withPolicies(`${HTTP}---\n${cnp("web-l4", "prod", '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{}]\n    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]')}`);
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "DELETE", path: "/admin" }).verdict).toBe("allow");
  });

  it("r40: an empty HTTP rule allows every request", async () => {
    const s = await withPolicies(cnp("any", "prod", '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{}]}}]'));
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "DELETE", path: "/x" }).verdict).toBe("allow");
  });

  it("C20: enableDefaultDeny false does not relax L7: a request matching no HTTP rule is still refused", async () => {
    const s = await withPolicies(
      cnp("l7-open", "prod", '  endpointSelector: {matchLabels: {app: web}}\n  enableDefaultDeny: {ingress: false}\n  ingress:\n  - toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET}]}}]'),
    );
    expect(l7(s, "prod/client", "prod/web", 8080, { method: "POST", path: "/" }).verdict).toBe("deny");
    expect(l7(s, "prod/client", "prod/web", 9090, { method: "POST", path: "/" }).verdict).toBe("allow");
  });

  it("r38–39: one L7 type per port rule, HTTP only on TCP, DNS only on egress and with port 53; invalid regexes are rejected", async () => {
    const bad = async (rules: string, dir = "ingress", port = '{port: "80", protocol: TCP}') =>
      errors(await scenario(cnp("bad", "prod", `  endpointSelector: {}\n  ${dir}:\n  - toPorts: [{ports: [${port}], rules: ${rules}}]`)));
    expect(await bad('{http: [{}], dns: [{matchName: "a.com"}]}', "egress")).toEqual([expect.stringContaining("multiple L7 protocol rule types")]);
    expect(await bad("{http: [{}]}", "ingress", '{port: "80", protocol: UDP}')).toEqual([expect.stringContaining("L7 rules can only apply to TCP (not UDP)")]);
    expect(await bad('{dns: [{matchName: "a.com"}]}', "ingress", '{port: "53", protocol: UDP}')).toEqual([expect.stringContaining("DNS rules are not allowed on ingress")]);
    expect(await bad('{http: [{path: "/a(b"}]}')).toEqual([expect.stringContaining("invalid regular expression")]);
    expect(await bad('{http: [{path: "(a)\\\\1"}]}')).toEqual([expect.stringContaining("RE2 has no backreferences")]);
    expect(await bad('{http: [{path: "api"}]}')).toEqual([expect.stringContaining("must begin with '/'")]);
    expect(await bad("{http: [{}]}", "ingress", '{port: "0", protocol: TCP}')).toEqual([expect.stringContaining("L7 rules can not be used when a port is 0")]);
  });

  it("user regexes cannot hang the tool: matching is linear in the input", () => {
    const re = SafeRegex.compile("/(a+)+$");
    const started = Date.now();
    expect(re.test(`/${"a".repeat(50_000)}!`)).toBe(false);
    expect(re.test(`/${"a".repeat(50_000)}`)).toBe(true);
    expect(SafeRegex.compile("(x+x+)+y").test("x".repeat(20_000))).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("RE2 syntax: classes, anchors, counted repetition, case-insensitive flag, and what RE2 rejects", () => {
    const ok: [string, string, boolean][] = [
      ["/api/v[0-9]{1,3}/[^/]+", "/api/v12/items", true],
      ["/api/v[0-9]{1,3}/[^/]+", "/api/v1234/items", false],
      ["(?i)get|head", "GET", true],
      ["^/a$", "/a", true],
      ["\\d+\\.\\d+", "1.25", true],
      ["[[:alpha:]]+", "abc", true],
      ["", "", true],
      [".*", "anything at all", true],
    ];
    for (const [p, s, want] of ok) expect(SafeRegex.compile(p).test(s), `${p} on ${s}`).toBe(want);
    for (const p of ["(?=a)", "a**", "a{1001}", "[b-a]", "(a", "[a-\\", "\\"]) expect(() => SafeRegex.compile(p), p).toThrow();
  });
});

describe("host policies (§3.10)", () => {
  const HOST_POLICY = ccnp(
    "host-fw",
    `  nodeSelector: {}
  ingress:
  - fromEntities: [remote-node]
    toPorts: [{ports: [{port: "9100", protocol: TCP}]}]`,
  );

  it("r48: without hostFirewall, host-network pods are not Cilium endpoints and host policies do nothing", async () => {
    const s = await withPolicies(HOST_POLICY);
    expect(flow(s, "prod/client", "ops/node-agent:9100").verdict).toBe("allowed");
  });

  it("r48: with hostFirewall, a host policy governs traffic from pods to host-network pods", async () => {
    const s = await withPolicies(HOST_POLICY, { hostFirewall: true });
    expect(summary(flow(s, "prod/client", "ops/node-agent:9100"))).toBe("denied ingress cilium ops/node-agent host-fw");
    expect(flow(s, "ops/remote-agent", "ops/node-agent:9100").verdict).toBe("allowed");
  });

  it("r39: host policies take no HTTP rules", async () => {
    const s = await scenario(ccnp("host-l7", '  nodeSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{}]}}]'));
    expect(errors(s)).toEqual([expect.stringContaining("host policies support only DNS L7 rules")]);
  });
});

describe("which layer blocks (design.md contract)", () => {
  it("an endpoint only NetworkPolicies select is blocked by `networkpolicy`, one a Cilium policy selects by `cilium`, per direction", async () => {
    const s = await withPolicies(
      `${np("db-in", "prod", "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]")}---\n${cnp(
        "db-out",
        "prod",
        "  endpointSelector: {matchLabels: {app: db}}\n  egress:\n  - toEntities: [world]",
      )}---\n${WEB_FROM_CLIENT}---\n${np("web-in", "prod", "  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: other}}}]")}`,
    );
    // db: ingress only by a NetworkPolicy, egress by a CNP.
    const r = flow(s, "prod/client", "prod/db:5432");
    expect(r.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "prod/db", policies: [{ kind: "NetworkPolicy", name: "db-in", rule: null }] });
    expect(summary(flow(s, "prod/db", "prod/web:8080"))).toBe("denied egress cilium prod/db db-out");
    // web: a NetworkPolicy and a CNP together: one policy, the union of both, reported as cilium.
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("allowed");
    expect(flow(s, "prod/client", "prod/web:8080").verdict).toBe("allowed");
    const web = flow(s, "dev/client", "prod/web:8080");
    expect(web.blockedBy?.layer).toBe("cilium");
    expect(web.blockedBy?.policies.map((p) => `${p.kind}/${p.name}`).sort()).toEqual(["CiliumNetworkPolicy/web-from-client", "NetworkPolicy/web-in"]);
  });

  it("without Cilium policies the scenario holds one layer, `networkpolicy`, with Cilium's reading of ipBlock", async () => {
    const s = await withPolicies(np("db-block", "prod", "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.1.0.0/24}}]"));
    expect(s.layers.map((l) => l.id)).toEqual(["networkpolicy"]);
    expect(summary(flow(s, "prod/client", "prod/db:5432"))).toBe("denied ingress networkpolicy prod/db db-block");
    expect(flow(s, "10.1.0.77", "prod/db:5432").verdict).toBe("allowed");
  });

  it("with --cni generic, Cilium policies are not evaluated and a note says so", async () => {
    const load = await loadYaml(`${CLUSTER}---\n${WEB_FROM_CLIENT}`, "policies.yaml");
    const s = buildScenario(load, { cni: "generic" });
    expect(s.notes).toContainEqual("1 CiliumNetworkPolicy object not evaluated: the CNI is generic (pass --cni cilium)");
    expect(flow(s, "prod/other", "prod/web:8080").verdict).toBe("allowed");
  });
});

describe("the matrix agrees with reach", () => {
  it("on every pair and port of a mixed CNP/CCNP/NetworkPolicy scenario", async () => {
    const s = await withPolicies(
      `${WEB_FROM_CLIENT}---\n${ccnp("deny-dev", "  endpointSelector: {}\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: dev}}]")}---\n${np(
        "db",
        "prod",
        "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{namespaceSelector: {}}]\n    ports: [{port: pg}]",
      )}---\n${cnp("client-out", "prod", '  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toEndpoints: [{}]\n    toPorts: [{ports: [{port: "http"}, {port: "5432"}]}]')}`,
    );
    const ports = [53, 5432, 8080, 9090, 9100];
    const m = new ConnectivityMatrix(s, { ports, protocols: ["TCP", "UDP"] });
    for (const [i, a] of m.workloads.entries()) {
      for (const [j, b] of m.workloads.entries()) {
        for (const protocol of ["TCP", "UDP"] as const) {
          for (const port of ports) {
            if (a === b) continue;
            const r = reach(s, { from: a.id, to: `${b.id}:${port}`, protocol });
            expect(m.conns(i, j).contains(protocol, port), `${a.id} → ${b.id} ${protocol}/${port}`).toBe(r.verdict === "allowed");
          }
        }
      }
    }
  });
});

describe("toFQDNs towards DNS names (§3.6)", () => {
  const FQDN = cnp(
    "fqdn",
    "prod",
    `  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEndpoints: [{matchLabels: {app: db}}]
    toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*.example.com"}]}}]
  - toFQDNs: [{matchPattern: "*.example.com"}, {matchName: api.partner.io}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]`,
  );

  it("r27/r29: a matching toFQDNs rule admits the name when a DNS rule lets the pod resolve it", async () => {
    const s = await withPolicies(FQDN);
    const layer = engineOf(s);
    const client = workload(s, "prod/client");
    expect(layer.evaluateName(client, "www.example.com", { protocol: "TCP", port: 443 }).verdict).toBe("allow");
    expect(layer.evaluateName(client, "WWW.Example.COM.", { protocol: "TCP", port: 443 }).verdict).toBe("allow");
    expect(layer.evaluateName(client, "www.example.com", { protocol: "TCP", port: 80 }).verdict).toBe("deny");
    // `*` stays within one label; the apex is not `*.example.com`.
    expect(layer.evaluateName(client, "a.b.example.com", { protocol: "TCP", port: 443 }).verdict).toBe("deny");
    expect(layer.evaluateName(client, "example.com", { protocol: "TCP", port: 443 }).verdict).toBe("deny");
    // C11: api.partner.io matches a toFQDNs selector but no DNS rule lets the pod resolve it.
    const partner = layer.evaluateName(client, "api.partner.io", { protocol: "TCP", port: 443 });
    expect(partner.verdict).toBe("deny");
    expect(partner.misses.join("\n")).toContain("no DNS rule");
  });

  it("r29: pattern forms — `**.` is any number of labels, a leftmost `*` also matches the apex", async () => {
    const { fqdnMatches } = await import("../../../src/layers/cilium/evaluate.js");
    expect(fqdnMatches(undefined, "**.cilium.io", "a.b.cilium.io")).toBe(true);
    expect(fqdnMatches(undefined, "**.cilium.io", "cilium.io")).toBe(false);
    expect(fqdnMatches(undefined, "*cilium.io", "cilium.io")).toBe(true);
    expect(fqdnMatches(undefined, "*cilium.io", "subcilium.io")).toBe(true);
    expect(fqdnMatches(undefined, "*cilium.io", "www.cilium.io")).toBe(false);
    expect(fqdnMatches(undefined, "*", "anything.at.all")).toBe(true);
    expect(fqdnMatches("cilium.io.", undefined, "cilium.io")).toBe(true);
  });
});
