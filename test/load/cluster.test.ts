/**
 * `--cluster [--context NAME]`: objects read through `kubectl get … -o json`. A fake
 * kubectl (a shell script in a temporary directory, chosen with PALISADE_KUBECTL) prints
 * a canned List and records how it was called.
 */
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readCluster } from "../../src/load/cluster.js";
import { palisade, STACK_TRACE, tempDir } from "./helpers.js";

const tmp = tempDir("palisade-cluster-");
const calls = join(tmp.dir, "calls.log");

/** What the API returns for `kubectl get namespaces,pods,…,networkpolicies -A -o json`. */
const CORE = {
  apiVersion: "v1",
  kind: "List",
  items: [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop", labels: { team: "shop" } } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop" },
      spec: { template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", ports: [{ containerPort: 8080 }] }] } } },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "db-0", namespace: "shop", labels: { app: "db" } },
      spec: { containers: [{ name: "db", ports: [{ containerPort: 5432 }] }] },
    },
    { apiVersion: "v1", kind: "Pod", metadata: { name: "debug", namespace: "shop", labels: { app: "debug" } }, spec: { containers: [{ name: "sh" }] } },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "db-from-web", namespace: "shop" },
      spec: {
        podSelector: { matchLabels: { app: "db" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ port: 5432 }] }],
      },
    },
  ],
};

/** A typed list without item kinds, as `kubectl get ciliumnetworkpolicies -A -o json` could print. */
const EMPTY_CNP = { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicyList", items: [] };

function fakeKubectl(name: string, body: string): string {
  const path = tmp.write(name, `#!/bin/sh\necho "$*" >> '${calls}'\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const CANNED = fakeKubectl(
  "kubectl-ok",
  `case "$*" in
  *"--context missing"*) echo 'error: context "missing" does not exist' >&2; exit 1 ;;
  *"get namespaces,pods,"*) cat <<'JSON'
${JSON.stringify(CORE, null, 2)}
JSON
  ;;
  *"get ciliumnetworkpolicies.cilium.io "*) echo '${JSON.stringify(EMPTY_CNP)}' ;;
  *"get authorizationpolicies."*) echo 'Error from server (Forbidden): authorizationpolicies.security.istio.io is forbidden: User "dev" cannot list resource' >&2; exit 1 ;;
  *) echo "error: the server doesn't have a resource type \\"$3\\"" >&2; exit 1 ;;
esac`,
);

const saved = process.env.PALISADE_KUBECTL;
beforeEach(() => {
  process.env.PALISADE_KUBECTL = CANNED;
});
afterEach(() => {
  if (saved === undefined) delete process.env.PALISADE_KUBECTL;
  else process.env.PALISADE_KUBECTL = saved;
});

function lastCalls(n: number): string[] {
  return readFileSync(calls, "utf8").trim().split("\n").slice(-n);
}

describe("--cluster", () => {
  it("analyses the objects kubectl returns", async () => {
    const open = await palisade(["reach", "shop/db-0", "shop/web:8080", "--cluster"]);
    expect(open.stdout).toMatch(/^ALLOWED/);
    const r = await palisade(["reach", "shop/web", "shop/db-0:5432", "--cluster", "-o", "json"]);
    expect(JSON.parse(r.stdout).verdict).toBe("allowed");
    expect(r.code).toBe(0);
    // Only the forbidden optional resource is worth a message; CRDs that are not installed are normal.
    expect(r.stderr).toBe(
      'cluster:1: warning: cannot list authorizationpolicies.security.istio.io: Error from server (Forbidden): authorizationpolicies.security.istio.io is forbidden: User "dev" cannot list resource; analysed without them\n',
    );
    const policyIsolates = await palisade(["reach", "shop/debug", "shop/db-0:5432", "--cluster"]);
    expect(policyIsolates.stdout).toMatch(/^DENIED/);
    expect(policyIsolates.stdout).toContain("isolated by NetworkPolicy shop/db-from-web (cluster:");
    expect(policyIsolates.code).toBe(1);
  });

  it("asks kubectl for JSON from all namespaces, with --context when given", async () => {
    await palisade(["matrix", "--cluster", "--context", "prod-eu"]);
    const first = lastCalls(10)[0]!;
    expect(first).toBe(
      "--context prod-eu get namespaces,pods,deployments,statefulsets,daemonsets,replicasets,replicationcontrollers,jobs,cronjobs,services,networkpolicies --all-namespaces -o json",
    );
    expect(lastCalls(9).every((c) => c.startsWith("--context prod-eu get ") && c.endsWith(" --all-namespaces -o json"))).toBe(true);
  });

  it("combines with -f: local files are added to the cluster's objects", async () => {
    const local = tmp.write(
      "deny.yaml",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n",
    );
    const r = await palisade(["reach", "shop/web", "shop/db-0:5432", "--cluster", "-f", local]);
    expect(r.stdout).toMatch(/^DENIED/);
    expect(r.code).toBe(1);
  });

  it("an unknown context is one clean line and exit code 2", async () => {
    const r = await palisade(["analyze", "--cluster", "--context", "missing"]);
    expect(r.stderr).toBe('palisade: --cluster: kubectl get --context missing failed (exit code 1): error: context "missing" does not exist\n');
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
  });

  it("kubectl missing is one clean line and exit code 2", async () => {
    process.env.PALISADE_KUBECTL = join(tmp.dir, "no-such-kubectl");
    const r = await palisade(["analyze", "--cluster"]);
    expect(r.stderr).toBe(
      `palisade: --cluster: cannot run ${join(tmp.dir, "no-such-kubectl")}: not found or not executable (install kubectl, or set PALISADE_KUBECTL to its path)\n`,
    );
    expect(r.code).toBe(2);
  });

  it("kubectl failing (API server unreachable) is one clean line and exit code 2", async () => {
    process.env.PALISADE_KUBECTL = fakeKubectl(
      "kubectl-down",
      `cat >&2 <<'EOF'
E0101 00:00:00.000000   12345 memcache.go:265] couldn't get current server API group list: Get "https://10.0.0.1:6443/api?timeout=32s": dial tcp 10.0.0.1:6443: connect: connection refused
E0101 00:00:00.000000   12345 memcache.go:265] couldn't get current server API group list: Get "https://10.0.0.1:6443/api?timeout=32s": dial tcp 10.0.0.1:6443: connect: connection refused
The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?
EOF
exit 1`,
    );
    const r = await palisade(["matrix", "--cluster"]);
    expect(r.stderr).toBe(
      "palisade: --cluster: kubectl get failed (exit code 1): The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?\n",
    );
    expect(r.code).toBe(2);
  });

  it("output that is not JSON is a located error, not a crash", async () => {
    process.env.PALISADE_KUBECTL = fakeKubectl(
      "kubectl-garbage",
      `case "$*" in
  *"get namespaces,"*) printf '{"kind": "List",\\n "items": [ oops' ;;
  *) echo "error: the server doesn't have a resource type" >&2; exit 1 ;;
esac`,
    );
    const r = await palisade(["matrix", "--cluster", "--context", "lab"]);
    expect(r.stderr).toBe('cluster:lab:2: error: malformed JSON: the "[" on this line is never closed (the document ends first)\n');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(2);
  });

  it("--context without --cluster, and no input at all, are usage errors", async () => {
    const ctx = await palisade(["matrix", "--context", "prod", "-f", "x.yaml"]);
    expect(ctx.stderr).toBe("palisade: --context selects the kubeconfig context of --cluster: add --cluster\n");
    expect(ctx.code).toBe(2);
    const none = await palisade(["matrix"]);
    expect(none.stderr).toBe("palisade: no input: pass manifests with -f FILE|DIR|- (repeatable), or --cluster [--context NAME]\n");
    expect(none.code).toBe(2);
  });

  it("readCluster returns the documents with display names and never throws", async () => {
    const snap = await readCluster("dev");
    expect(snap.error).toBeUndefined();
    expect(snap.documents.map((d) => d.name)).toEqual(["cluster:dev", "cluster:dev/ciliumnetworkpolicies"]);
    process.env.PALISADE_KUBECTL = join(tmp.dir, "absent");
    const failed = await readCluster(undefined);
    expect(failed.documents).toEqual([]);
    expect(failed.error).toMatch(/^cannot run .+absent: not found or not executable/);
  });
});
