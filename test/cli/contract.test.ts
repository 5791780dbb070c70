import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/cli.js";

/** Runs the CLI in-process and captures what it prints. */
async function palisade(args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    readStdin: async () => stdin,
  });
  return { code, stdout, stderr };
}

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 8080, name: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: api
        ports: [{containerPort: 9090, name: grpc}, {containerPort: 9100, name: metrics}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: ops, labels: {app: debug}}
spec:
  containers: [{name: sh, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: grpc, port: 80, targetPort: grpc}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    ports:
    - port: grpc
`;

function fixture(text = CLUSTER): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-cli-"));
  const file = join(dir, "cluster.yaml");
  writeFileSync(file, text);
  return file;
}

describe("reach", () => {
  const file = fixture();

  it("exits 0 for an allowed flow and names the admitting rule", async () => {
    const r = await palisade(["reach", "shop/web", "shop/api:9090", "-f", file, "-o", "json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verdict: "allowed", from: "shop/web", to: "shop/api", port: 9090, protocol: "TCP", blockedBy: null });
    const ingress = out.hops.find((h: { step: string }) => h.step === "ingress");
    expect(ingress.policies).toEqual([expect.objectContaining({ kind: "NetworkPolicy", namespace: "shop", name: "api-ingress", rule: 0, file })]);
    expect(Array.isArray(out.assumptions)).toBe(true);
  });

  it("exits 1 for a denied flow with blockedBy naming layer, direction, workload, policy and line", async () => {
    const r = await palisade(["reach", "ops/debug", "shop/api:9090", "-f", file, "-o", "json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.verdict).toBe("denied");
    expect(out.blockedBy).toMatchObject({
      layer: "networkpolicy",
      direction: "ingress",
      workload: "shop/api",
      port: 9090,
      protocol: "TCP",
      observed: "timeout",
      policies: [{ kind: "NetworkPolicy", namespace: "shop", name: "api-ingress", rule: null, file, line: expect.any(Number) }],
    });
    // The line is the policy's first line in the file.
    const lines = CLUSTER.split("\n");
    const meta = lines.findIndex((l) => l.includes("name: api-ingress"));
    const apiVersion = lines.slice(0, meta).map((l) => l.startsWith("apiVersion")).lastIndexOf(true);
    expect(out.blockedBy.policies[0].line).toBe(apiVersion + 1);
  });

  it("denies a port the rule does not list, even from an allowed peer", async () => {
    const r = await palisade(["reach", "shop/web", "shop/api:metrics", "-f", file, "-o", "json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).port).toBe(9100);
  });

  it("follows a Service to its backend and named targetPort", async () => {
    const r = await palisade(["reach", "shop/web", "svc:shop/api:80", "-f", file, "-o", "json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.hops[0]).toMatchObject({ step: "service", verdict: "allow" });
    expect(out.hops.find((h: { step: string }) => h.step === "ingress").wire.port).toBe(9090);
  });

  it("prints a readable trace in text mode", async () => {
    const r = await palisade(["reach", "ops/debug", "shop/api:9090", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^DENIED {2}ops\/debug → shop\/api TCP\/9090/);
    expect(r.stdout).toContain("api-ingress");
    expect(r.stdout).toContain(`${file}:`);
  });

  it("kubelet probes are always allowed by NetworkPolicy", async () => {
    const r = await palisade(["reach", "kubelet", "shop/api:metrics", "-f", file, "-o", "json"]);
    expect(r.code).toBe(0);
  });

  it("reads stdin with -f -", async () => {
    const r = await palisade(["reach", "shop/web", "shop/api:9090", "-f", "-", "-o", "json"], CLUSTER);
    expect(r.code).toBe(0);
  });

  it.each([
    [["reach", "shop/nope", "shop/api:9090"], /no workload shop\/nope/],
    [["reach", "shop/web", "shop/api"], /declares ports/],
    [["reach", "shop/web", "shop/api:99999"], /out of range/],
    [["reach", "shop/web", "shop/api:9090", "--protocol", "ICMP"], /unknown protocol/],
    [["reach", "shop/web"], /missing required argument/],
  ])("usage error %j exits 2 with a one-line message", async (args, message) => {
    const r = await palisade([...args, "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 2 without input", async () => {
    const r = await palisade(["reach", "a/b", "c/d:80"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no input/);
  });
});

describe("matrix", () => {
  const file = fixture();

  it("lists every evaluated tuple in json", async () => {
    const r = await palisade(["matrix", "-f", file, "-o", "json", "--no-external"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.workloads).toEqual(["ops/debug", "shop/api", "shop/web"]);
    const to = (from: string, dst: string, port: number) =>
      out.connections.find((c: { from: string; to: string; port: number }) => c.from === from && c.to === dst && c.port === port);
    expect(to("shop/web", "shop/api", 9090)).toEqual({ from: "shop/web", to: "shop/api", port: 9090, protocol: "TCP", allowed: true });
    expect(to("shop/web", "shop/api", 9100).allowed).toBe(false);
    expect(to("ops/debug", "shop/api", 9090).allowed).toBe(false);
    expect(to("shop/api", "shop/web", 8080).allowed).toBe(true);
  });

  it("evaluates --ports and --protocols for every destination", async () => {
    const r = await palisade(["matrix", "-f", file, "-o", "json", "--no-external", "--ports", "80,9090", "--protocols", "TCP,UDP"]);
    const out = JSON.parse(r.stdout);
    expect(out.connections).toHaveLength(3 * 3 * 4);
    expect(out.connections.filter((c: { to: string; allowed: boolean }) => c.to === "shop/api" && c.allowed)).toEqual([
      { from: "shop/web", to: "shop/api", port: 9090, protocol: "TCP", allowed: true },
    ]);
  });

  it("includes the external world unless --no-external", async () => {
    const r = await palisade(["matrix", "-f", file, "-o", "json", "--ports", "9090"]);
    const out = JSON.parse(r.stdout);
    expect(out.connections.some((c: { from: string }) => c.from === "external")).toBe(true);
    expect(out.connections.find((c: { from: string; to: string }) => c.from === "external" && c.to === "shop/api").allowed).toBe(false);
    expect(out.connections.find((c: { from: string; to: string }) => c.from === "external" && c.to === "shop/web").allowed).toBe(true);
  });

  it.each(["text", "csv", "md", "dot"])("renders -o %s", async (format) => {
    const r = await palisade(["matrix", "-f", file, "-o", format]);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(20);
    if (format === "csv") expect(r.stdout.split("\n")[0]).toBe("from,to,port,protocol,allowed");
    if (format === "dot") expect(r.stdout).toMatch(/^digraph palisade \{[\s\S]*\}\n$/);
    if (format === "md") expect(r.stdout).toMatch(/^\| from \| to \| allowed \| denied \|/);
  });

  it("rejects an unknown output format", async () => {
    const r = await palisade(["matrix", "-f", file, "-o", "xml"]);
    expect(r.code).toBe(2);
  });
});

describe("bad input", () => {
  it("reports located errors, still analyses the rest, and exits 2", async () => {
    const file = fixture(
      `${CLUSTER}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: shop}
spec:
  podSelector: {}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/33}
`,
    );
    const r = await palisade(["reach", "ops/debug", "shop/api:9090", "-f", file, "-o", "json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: error: spec\\.egress\\[0\\]\\.to\\[0\\]\\.ipBlock\\.cidr: .*10\\.0\\.0\\.0/33`));
    // The valid policy is still in force.
    expect(JSON.parse(r.stdout).verdict).toBe("denied");
  });
});
