/**
 * How `reach` reads what users type, as `kubectl get -o yaml` output gives it to
 * them: pod IPs and node IPs (status.podIP / status.hostIP), the names of pods
 * that the model collapsed into their controller, DNS names, and a bare `:PORT`
 * whose protocol must be chosen the same way for a workload and a Service.
 */
import { describe, expect, it } from "vitest";
import { lineOf } from "../helpers/cluster.js";
import { fixture, palisade, reachJson } from "./helpers.js";

/**
 * shop: Deployment web (in the input) with two pods from ReplicaSet web-7d9f8c
 * (10.1.0.11 on node 192.168.0.1, 10.1.0.12 on node 192.168.0.2); pods
 * api-5f6b7c8d9e-xk2lp / -q8w7z (10.1.0.21, 10.1.0.22, both on node
 * 192.168.0.1) whose Deployment is not in the input; StatefulSet db (pod db-0,
 * 10.1.0.31); Deployment syslog (514/UDP only) behind Service syslog.
 * ops: Pod debug (10.1.0.41). kube-system: coredns (53/UDP, 53/TCP) behind
 * Service kube-dns, whose UDP port is listed first.
 * Policies: api only from app=web on 9090; web's egress: DNS, 443 to
 * 0.0.0.0/0 except 10.0.0.0/8, and api; api's egress: DNS, and 443 to anywhere; db's
 * egress: 443 to 0.0.0.0/0.
 */
const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080, name: http}]}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f8c-abcde
  namespace: shop
  labels: {app: web, pod-template-hash: 7d9f8c}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8c, controller: true, uid: u1}]
spec:
  containers: [{name: web, image: nginx, ports: [{containerPort: 8080, name: http}]}]
status: {podIP: 10.1.0.11, hostIP: 192.168.0.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f8c-fghij
  namespace: shop
  labels: {app: web, pod-template-hash: 7d9f8c}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8c, controller: true, uid: u1}]
spec:
  containers: [{name: web, image: nginx, ports: [{containerPort: 8080, name: http}]}]
status: {podIP: 10.1.0.12, hostIP: 192.168.0.2}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-5f6b7c8d9e-xk2lp
  namespace: shop
  labels: {app: api, pod-template-hash: 5f6b7c8d9e}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-5f6b7c8d9e, controller: true, uid: u2}]
spec:
  containers: [{name: api, image: api, ports: [{containerPort: 9090, name: grpc}]}]
status: {podIP: 10.1.0.21, hostIP: 192.168.0.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-5f6b7c8d9e-q8w7z
  namespace: shop
  labels: {app: api, pod-template-hash: 5f6b7c8d9e}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-5f6b7c8d9e, controller: true, uid: u2}]
spec:
  containers: [{name: api, image: api, ports: [{containerPort: 9090, name: grpc}]}]
status: {podIP: 10.1.0.22, hostIP: 192.168.0.1}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: pg, image: postgres, ports: [{containerPort: 5432, name: pg}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: syslog, namespace: shop}
spec:
  selector: {matchLabels: {app: syslog}}
  template:
    metadata: {labels: {app: syslog}}
    spec:
      containers: [{name: syslog, image: syslog, ports: [{containerPort: 514, name: syslog, protocol: UDP}]}]
---
apiVersion: v1
kind: Service
metadata: {name: syslog, namespace: shop}
spec:
  selector: {app: syslog}
  ports: [{name: syslog, port: 514, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: ops, labels: {app: debug}}
spec:
  containers: [{name: sh, image: busybox}]
status: {podIP: 10.1.0.41, hostIP: 192.168.0.2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      containers:
      - name: coredns
        image: coredns
        ports: [{containerPort: 53, name: dns, protocol: UDP}, {containerPort: 53, name: dns-tcp, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 9090}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
    ports: [{port: 443}]
  - to: [{podSelector: {matchLabels: {app: api}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}]
  - ports: [{port: 443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 443}]
`;

const file = fixture(CLUSTER);

describe("reach: pod and node IPs from the input", () => {
  it("a pod IP as FROM is that pod's workload, on the wire with that IP", async () => {
    const { code, json } = await reachJson(file, "10.1.0.12", "shop/api:9090");
    expect(code).toBe(0);
    expect(json).toMatchObject({ verdict: "allowed", from: "10.1.0.12", to: "shop/api", blockedBy: null });
    expect(json.hops.map((h) => `${h.step} ${h.at} ${h.verdict}`)).toEqual(["egress shop/web allow", "ingress shop/api allow"]);
    expect(json.hops[1]!.policies).toEqual([expect.objectContaining({ name: "api-ingress", rule: 0 })]);
    expect(json.hops[1]!.wire).toMatchObject({ srcIP: "10.1.0.12", dstIP: "10.1.0.21" });
    expect(json.assumptions[0]).toMatch(/^10\.1\.0\.12 is a pod IP of Deployment shop\/web \(status\.podIP/);
  });

  it("a pod IP that is not allowed is denied by the rule that names its workload", async () => {
    const { code, json } = await reachJson(file, "10.1.0.41", "shop/api:9090");
    expect(code).toBe(1);
    expect(json.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "shop/api" });
    expect(json.hops.find((h) => h.step === "ingress")!.misses.join("\n")).toContain("source ops/debug is not among pods {app=web}");
  });

  it("a pod IP as TO is that workload: its ingress policy applies", async () => {
    const { code, json } = await reachJson(file, "ops/debug", "10.1.0.22:9090");
    expect(code).toBe(1);
    expect(json).toMatchObject({ verdict: "denied", to: "10.1.0.22" });
    expect(json.blockedBy).toMatchObject({ direction: "ingress", workload: "shop/api", policies: [expect.objectContaining({ name: "api-ingress" })] });
    expect(json.hops.at(-1)!.wire).toMatchObject({ srcIP: "10.1.0.41", dstIP: "10.1.0.22" });
    expect(json.assumptions).toContainEqual(expect.stringMatching(/^10\.1\.0\.22 is a pod IP of Deployment shop\/api/));
  });

  it("a node IP as FROM is node traffic: local to the node the pods run on, always admitted", async () => {
    const { code, json } = await reachJson(file, "192.168.0.1", "shop/api:9090");
    expect(code).toBe(0);
    expect(json.hops).toHaveLength(1);
    expect(json.hops[0]).toMatchObject({ step: "ingress", at: "shop/api", verdict: "allow", wire: { srcIP: "192.168.0.1" } });
    expect(json.hops[0]!.reason).toMatch(/own node/);
    expect(json.assumptions[0]).toMatch(/^192\.168\.0\.1 is a node address .*read as node traffic/);
  });

  it("a node IP as FROM towards pods on other nodes is remote node traffic, subject to the rules", async () => {
    const r = await palisade(["reach", "192.168.0.2", "shop/api:9090", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("no rule allows TCP/9090 from node 192.168.0.2");
    expect(r.stdout).toMatch(/Assumptions:\n {2}- 192\.168\.0\.2 is a node address/);
  });

  it("an address that is neither a pod's nor a node's is still external", async () => {
    const { code, json } = await reachJson(file, "203.0.113.9", "shop/api:9090");
    expect(code).toBe(1);
    expect(json.hops[0]!.reason).toContain("from 203.0.113.9");
    expect(json.assumptions.join("\n")).not.toMatch(/pod IP|node address/);
  });
});

describe("reach: the name of a pod collapsed into its controller", () => {
  it("NS/POD resolves to the Deployment and says so", async () => {
    const r = await palisade(["reach", "shop/web-7d9f8c-abcde", "shop/api:9090", "-f", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ALLOWED {2}shop\/web-7d9f8c-abcde → shop\/api TCP\/9090\n {2}✓ egress at shop\/web /);
    expect(r.stdout).toContain("  - pod shop/web-7d9f8c-abcde is read as a pod of Deployment shop/web");
  });

  it("pod:NS/POD works too, for a Deployment that is only known from its pods", async () => {
    for (const pod of ["api-5f6b7c8d9e-xk2lp", "api-5f6b7c8d9e-q8w7z"]) {
      const { code, json } = await reachJson(file, "ops/debug", `pod:shop/${pod}:9090`);
      expect(code, pod).toBe(1);
      expect(json.blockedBy, pod).toMatchObject({ workload: "shop/api", direction: "ingress" });
      expect(json.assumptions[0], pod).toBe(
        `pod shop/${pod} is read as a pod of Deployment shop/api (its name is that of a Deployment's pod; pods are collapsed into their controller, so the answer holds for every pod of shop/api)`,
      );
    }
  });

  it("a StatefulSet's pod by ordinal", async () => {
    const { json } = await reachJson(file, "shop/db-0", "8.8.8.8:443");
    expect(json.hops[0]!.at).toBe("shop/db");
    expect(json.assumptions[0]).toMatch(/^pod shop\/db-0 is read as a pod of StatefulSet shop\/db/);
  });

  it("a name that fits no controller is still an error", async () => {
    const r = await palisade(["reach", "shop/web-nothing", "shop/api:9090", "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no workload shop\/web-nothing/);
  });
});

describe("reach: a DNS name as destination", () => {
  it("prints the name in the trace and allows it when nothing restricts egress", async () => {
    const r = await palisade(["reach", "ops/debug", "example.com:443", "-f", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("✓ egress at ops/debug [networkpolicy] TCP/443 10.1.0.41 → example.com");
    const { json } = await reachJson(file, "ops/debug", "example.com:443");
    expect(json.hops[0]!.wire).toEqual({ srcIP: "10.1.0.41", dstIP: null, dstHost: "example.com", port: 443, protocol: "TCP" });
    expect(json.assumptions[0]).toMatch(/^example\.com is a DNS name: its addresses are unknown offline/);
  });

  it("is undecidable offline when only some ipBlocks allow the port and the name may be private: denied, saying which ipBlocks would allow it", async () => {
    const r = await palisade(["reach", "shop/web", "db.corp.internal:443", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ egress at shop/web [networkpolicy] TCP/443 10.1.0.11 → db.corp.internal");
    expect(r.stdout).toContain("db.corp.internal's addresses are unknown offline, so the flow cannot be shown to be allowed");
    expect(r.stdout).toContain("- would be allowed if db.corp.internal resolves into 0.0.0.0/0 except 10.0.0.0/8 (shop/web-egress[1])");
    expect(r.stdout).not.toMatch(/ {2}(to|destination) {2}|No Connections/);

    const { json } = await reachJson(file, "shop/web", "db.corp.internal:443");
    expect(json).toMatchObject({ verdict: "denied", to: "db.corp.internal", port: 443, protocol: "TCP" });
    expect(json.blockedBy).toMatchObject({ layer: "networkpolicy", direction: "egress", workload: "shop/web", port: 443, observed: "timeout" });
    expect(json.blockedBy!.policies.map((p) => p.name)).toEqual(["web-egress"]);
    const undecidable = json.assumptions.find((a) => a.startsWith("undecidable offline"));
    expect(undecidable).toBe(
      "undecidable offline: db.corp.internal counts as denied because its addresses are unknown; shop/web may open TCP/443 only to 0.0.0.0/0 except 10.0.0.0/8 (shop/web-egress[1]). To decide, give the address: palisade reach shop/web ADDRESS:443",
    );
  });

  it("a public name under an 'Internet except private ranges' rule is allowed, assuming it resolves to public addresses", async () => {
    const { code, json } = await reachJson(file, "shop/web", "api.example.com:443");
    expect(code).toBe(0);
    expect(json.hops[0]!.policies).toEqual([expect.objectContaining({ name: "web-egress", rule: 1 })]);
    expect(json.assumptions).toContain(
      "api.example.com is assumed to resolve to public IPv4 addresses (not private, loopback, link-local or shared ranges): shop/web may open TCP/443 to all of them, not to the private ranges",
    );
  });

  it("is allowed when a rule allows the port to every address", async () => {
    const { code, json } = await reachJson(file, "shop/api", "api.example.com:443");
    expect(code).toBe(0);
    expect(json.hops[0]!.policies).toEqual([expect.objectContaining({ name: "api-egress", rule: 1 })]);
    expect(json.hops[0]!.reason).toBe("allowed by shop/api-egress[1]: TCP/443 is allowed to every address, whatever api.example.com resolves to");
  });

  it("is allowed, assuming IPv4, when a rule allows the port to 0.0.0.0/0", async () => {
    const { code, json } = await reachJson(file, "shop/db", "api.example.com:443");
    expect(code).toBe(0);
    expect(json.hops[0]!.policies).toEqual([expect.objectContaining({ name: "db-egress", rule: 0 })]);
    expect(json.assumptions).toContain("api.example.com is assumed to resolve to IPv4 addresses: shop/db may open TCP/443 to every IPv4 address, not to every IPv6 one");
  });

  it("is denied outright when no rule allows the port to any address outside the cluster", async () => {
    const { code, json } = await reachJson(file, "shop/api", "api.example.com:80");
    expect(code).toBe(1);
    expect(json.blockedBy!.policies.map((p) => p.name)).toEqual(["api-egress"]);
    expect(json.hops[0]!.reason).toBe("shop/api is isolated for egress by shop/api-egress and no rule allows TCP/80 to any address outside the cluster, so not to api.example.com either");
    expect(json.hops[0]!.misses.join("\n")).toContain("destination api.example.com is not among pods {k8s-app=kube-dns}");
    expect(json.assumptions.some((a) => a.startsWith("undecidable"))).toBe(false);
  });
});

describe("reach: the protocol of :PORT without --protocol", () => {
  it("is TCP for a Service port that exists for TCP and UDP, as for its backend workload", async () => {
    const svc = await reachJson(file, "ops/debug", "svc:kube-system/kube-dns:53");
    const pod = await reachJson(file, "ops/debug", "kube-system/coredns:53");
    expect(svc.json.protocol).toBe("TCP");
    expect(pod.json.protocol).toBe("TCP");
    expect(svc.json.hops[0]).toMatchObject({ step: "service", wire: { port: 53, protocol: "TCP" } });
    expect(svc.json.hops.find((h) => h.step === "ingress")!.wire).toMatchObject({ port: 53, protocol: "TCP" });
    expect(svc.json.assumptions.join("\n")).not.toMatch(/--protocol/);
  });

  it("is the declared protocol, stated as an assumption, when the port exists only for another one", async () => {
    const svc = await reachJson(file, "ops/debug", "svc:shop/syslog:514");
    const pod = await reachJson(file, "ops/debug", "deploy:shop/syslog:514");
    expect(svc.json.protocol).toBe("UDP");
    expect(pod.json.protocol).toBe("UDP");
    expect(svc.json.assumptions[0]).toBe("no --protocol given: Service shop/syslog has port 514 only for UDP, so UDP is used (TCP otherwise)");
    expect(pod.json.assumptions[0]).toBe("no --protocol given: deploy:shop/syslog has port 514 only for UDP, so UDP is used (TCP otherwise)");
  });

  it("--protocol still wins", async () => {
    expect((await reachJson(file, "ops/debug", "svc:kube-system/kube-dns:53", "--protocol", "UDP")).json.protocol).toBe("UDP");
    const r = await palisade(["reach", "ops/debug", "svc:shop/syslog:514", "--protocol", "TCP", "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Service shop\/syslog has no port 514\/TCP/);
  });

  it("is TCP for a port nothing declares", async () => {
    const { json } = await reachJson(file, "ops/debug", "shop/db:6000");
    expect(json.protocol).toBe("TCP");
  });
});

describe("Service targetPort given as a quoted number", () => {
  const text = `${CLUSTER}---
apiVersion: v1
kind: Service
metadata: {name: quoted, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: "8080"
`;
  const bad = fixture(text, "quoted.yaml");

  it("is reported at file:line:field, the Service is left out and the run exits 2", async () => {
    const r = await palisade(["reach", "ops/debug", "shop/web:8080", "-f", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:${lineOf(text, 'targetPort: "8080"')}: error: spec.ports[0].targetPort: "8080" is a string, not a number`);
    // The rest is still analysed.
    expect(r.stdout).toMatch(/^ALLOWED/);
    const svc = await palisade(["reach", "ops/debug", "svc:shop/quoted:80", "-f", bad]);
    expect(svc.code).toBe(2);
    expect(svc.stderr).toContain("no Service shop/quoted in the input");
  });

  it("an invalid name is rejected the same way; a valid name is kept", async () => {
    const named = fixture(text.replace('targetPort: "8080"', "targetPort: Http"), "named.yaml");
    const r = await palisade(["reach", "ops/debug", "shop/web:8080", "-f", named]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/spec\.ports\[0\]\.targetPort: "Http" is neither a port number nor a valid port name/);
    const good = fixture(text.replace('targetPort: "8080"', "targetPort: http"), "good.yaml");
    const ok = await reachJson(good, "ops/debug", "svc:shop/quoted:80");
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe("");
    expect(ok.json.hops.find((h) => h.step === "ingress")!.wire.port).toBe(8080);
  });
});
