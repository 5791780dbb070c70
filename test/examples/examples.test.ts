/**
 * The example clusters under examples/, run through the real command line
 * (`node bin/palisade.js`), checked against what each example's README promises.
 *
 * README convention: inside fenced code blocks, every line that starts with
 * `palisade ` is a command run from the repository root and must end with a
 * comment `# exit N` giving its exit code. The last test below runs every such
 * line, so a README cannot drift away from what the CLI does.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "bin", "palisade.js");
const EXAMPLES = join(ROOT, "examples");

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `palisade ARGS...` from the repository root; `input` is written to its stdin. */
function palisade(args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PALISADE_DEBUG: "" } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? "");
  });
}

interface PolicyRefJson {
  kind: string;
  namespace: string | null;
  name: string;
  rule: number | null;
  file: string;
  line: number;
}

interface ReachJson {
  verdict: "allowed" | "denied";
  from: string;
  to: string;
  port: number;
  protocol: string;
  blockedBy: {
    layer: string;
    direction: "ingress" | "egress" | null;
    workload: string;
    port: number;
    protocol: string;
    policies: PolicyRefJson[];
    observed: string;
  } | null;
  hops: { step: string; enforcer: string; verdict: string; wire: { srcIP: string | null; dstIP: string | null; port: number; protocol: string }; policies: PolicyRefJson[] }[];
  assumptions: string[];
}

interface MatrixJson {
  workloads: string[];
  connections: { from: string; to: string; port: number | null; protocol: string | null; allowed: boolean }[];
}

async function reachJson(args: readonly string[]): Promise<{ run: RunResult; json: ReachJson }> {
  const run = await palisade(["reach", ...args, "-o", "json"]);
  let json: ReachJson;
  try {
    json = JSON.parse(run.stdout) as ReachJson;
  } catch {
    throw new Error(`reach ${args.join(" ")} did not print JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { run, json };
}

async function matrixJson(args: readonly string[]): Promise<MatrixJson> {
  const run = await palisade(["matrix", ...args, "-o", "json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as MatrixJson;
}

/** One `reach` the README promises, with the verdict and, when denied, what blocks it. */
interface ReachCase {
  args: string[];
  verdict: "allowed" | "denied";
  blockedBy?: { layer: string; direction: "ingress" | "egress" | null; workload: string; policies: string[] };
  /** The port the enforcer saw, when it differs from the one asked (Service targetPort). */
  wirePort?: number;
}

function reachCases(input: string[], cases: ReachCase[]): void {
  for (const c of cases) {
    it(`reach ${c.args.join(" ")} → ${c.verdict}`, async () => {
      const { run, json } = await reachJson([...c.args, ...input]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(c.verdict === "allowed" ? 0 : 1);
      expect(json.verdict).toBe(c.verdict);
      if (c.verdict === "allowed") expect(json.blockedBy).toBeNull();
      if (c.blockedBy) {
        expect(json.blockedBy).not.toBeNull();
        const b = json.blockedBy!;
        expect({ layer: b.layer, direction: b.direction, workload: b.workload }).toEqual({
          layer: c.blockedBy.layer,
          direction: c.blockedBy.direction,
          workload: c.blockedBy.workload,
        });
        expect(b.policies.map((p) => p.name).sort()).toEqual([...c.blockedBy.policies].sort());
        for (const p of b.policies) {
          expect(p.file).toMatch(/\.ya?ml$/);
          expect(p.line).toBeGreaterThan(0);
        }
      }
      if (c.wirePort !== undefined) {
        const ports = json.hops.filter((h) => h.step !== "service").map((h) => h.wire.port);
        expect(ports.length).toBeGreaterThan(0);
        for (const p of ports) expect(p).toBe(c.wirePort);
      }
    });
  }
}

/** `analyze` (text and json) succeeds and names every expected workload. */
function analyzeRuns(input: string[], workloads: string[]): void {
  it("analyze runs with exit 0 and reports every workload", async () => {
    const text = await palisade(["analyze", ...input]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Palisade analysis: /);
    for (const w of workloads) expect(text.stdout).toContain(w);

    const json = await palisade(["analyze", ...input, "-o", "json"]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { isolation: { workload: string }[]; summary: { workloads: number } };
    expect(report.isolation.map((i) => i.workload).sort()).toEqual([...workloads].sort());
    expect(report.summary.workloads).toBe(workloads.length);
  });
}

/** The matrix in every format: the JSON shape, and well-formed csv, md, dot and text. */
function matrixFormats(input: string[], workloads: string[]): void {
  it("matrix -o json lists the workloads and well-formed connections", async () => {
    const m = await matrixJson(input);
    expect(m.workloads).toEqual([...workloads].sort());
    expect(m.connections.length).toBeGreaterThan(0);
    const peers = new Set([...workloads, "external"]);
    for (const c of m.connections) {
      expect(Object.keys(c).sort()).toEqual(["allowed", "from", "port", "protocol", "to"]);
      expect(peers.has(c.from) && peers.has(c.to)).toBe(true);
      expect(typeof c.allowed).toBe("boolean");
      if (c.port !== null) expect(Number.isInteger(c.port) && c.port >= 1 && c.port <= 65535).toBe(true);
      if (c.protocol !== null) expect(["TCP", "UDP", "SCTP"]).toContain(c.protocol);
    }
  });

  it("matrix --ports/--protocols --no-external evaluates every listed tuple for every pair", async () => {
    const m = await matrixJson([...input, "--ports", "80,81", "--protocols", "TCP,UDP", "--no-external"]);
    const n = workloads.length;
    expect(m.connections).toHaveLength(n * n * 2 * 2);
    const seen = new Set(m.connections.map((c) => `${c.from}|${c.to}|${c.port}|${c.protocol}`));
    expect(seen.size).toBe(m.connections.length);
    for (const c of m.connections) {
      expect(c.from).not.toBe("external");
      expect(c.to).not.toBe("external");
      expect([80, 81]).toContain(c.port);
      expect(["TCP", "UDP"]).toContain(c.protocol);
    }
  });

  it("matrix -o csv is a well-formed table", async () => {
    const run = await palisade(["matrix", ...input, "-o", "csv"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("from,to,port,protocol,allowed");
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) {
      const cells = line.split(",");
      expect(cells, line).toHaveLength(5);
      expect(cells[2], line).toMatch(/^(\d+|\*)$/);
      expect(cells[3], line).toMatch(/^(TCP|UDP|SCTP|\*)$/);
      expect(cells[4], line).toMatch(/^(true|false)$/);
    }
  });

  it("matrix -o md is a well-formed Markdown table", async () => {
    const run = await palisade(["matrix", ...input, "-o", "md"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("| from | to | allowed | denied |");
    expect(lines[1]).toBe("| --- | --- | --- | --- |");
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line, line).toMatch(/^\|( [^|]+ \|){4}$/);
  });

  it("matrix -o dot is a well-formed graph naming every workload", async () => {
    const run = await palisade(["matrix", ...input, "-o", "dot"]);
    expect(run.code).toBe(0);
    const dot = run.stdout.trim();
    expect(dot.startsWith("digraph ")).toBe(true);
    expect(dot.endsWith("}")).toBe(true);
    expect(dot.split("{").length).toBe(dot.split("}").length);
    for (const w of workloads) expect(dot).toContain(JSON.stringify(w));
    for (const edge of dot.split("\n").filter((l) => l.includes("->"))) {
      expect(edge).toMatch(/^ {2}"[^"]+" -> "[^"]+" \[label="[^"]*"\];$/);
    }
  });

  it("matrix -o text is a non-empty report", async () => {
    const run = await palisade(["matrix", ...input]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Connectivity of ${workloads.length} workloads`));
  });
}

const connection = (m: MatrixJson, from: string, to: string, port: number, protocol = "TCP") =>
  m.connections.find((c) => c.from === from && c.to === to && c.port === port && c.protocol === protocol);

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "cli", "cli.js"))) {
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  }
}, 180_000);

describe("examples/shop", () => {
  const input = ["-f", "examples/shop"];
  const workloads = [
    "ingress-nginx/ingress-nginx-controller",
    "kube-system/kube-dns",
    "monitoring/prometheus",
    "payments/payment-gateway",
    "shop/api",
    "shop/postgres",
    "shop/redis",
    "shop/web",
    "shop/worker",
  ];

  analyzeRuns(input, workloads);

  it("is what npm start runs", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain("analyze -f examples/shop");
  });

  reachCases(input, [
    { args: ["ingress-nginx/ingress-nginx-controller", "shop/web:8080"], verdict: "allowed" },
    { args: ["ingress-nginx/ingress-nginx-controller", "svc:shop/web:80"], verdict: "allowed", wirePort: 8080 },
    { args: ["shop/web", "shop/api:http"], verdict: "allowed" },
    { args: ["shop/web", "svc:shop/api:80"], verdict: "allowed", wirePort: 3000 },
    { args: ["shop/api", "shop/postgres:5432"], verdict: "allowed" },
    { args: ["shop/api", "shop/redis:6379"], verdict: "allowed" },
    { args: ["shop/api", "payments/payment-gateway:8443"], verdict: "allowed" },
    { args: ["monitoring/prometheus", "shop/postgres:metrics"], verdict: "allowed", wirePort: 9187 },
    { args: ["monitoring/prometheus", "payments/payment-gateway:metrics"], verdict: "allowed", wirePort: 9090 },
    { args: ["shop/web", "kube-system/kube-dns:53", "--protocol", "UDP"], verdict: "allowed" },
    { args: ["payments/payment-gateway", "203.0.113.10:443"], verdict: "allowed" },
    { args: ["198.51.100.7", "ingress-nginx/ingress-nginx-controller:443"], verdict: "allowed" },
    {
      args: ["shop/worker", "shop/redis:6379"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "shop/worker", policies: ["default-deny-all", "allow-dns"] },
    },
    {
      args: ["shop/web", "shop/postgres:5432"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "shop/web", policies: ["default-deny-all", "allow-dns", "web"] },
    },
    {
      args: ["ingress-nginx/ingress-nginx-controller", "shop/api:http"],
      verdict: "denied",
      blockedBy: {
        layer: "networkpolicy",
        direction: "egress",
        workload: "ingress-nginx/ingress-nginx-controller",
        policies: ["default-deny-all", "allow-dns", "controller-egress"],
      },
    },
    {
      args: ["monitoring/prometheus", "shop/api:http"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "monitoring/prometheus", policies: ["default-deny-all", "allow-dns", "prometheus-scrape"] },
    },
    {
      args: ["payments/payment-gateway", "203.0.113.200:443"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "payments/payment-gateway", policies: ["default-deny-all", "allow-dns", "payment-gateway"] },
    },
    {
      args: ["shop/worker", "payments/payment-gateway:8443"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "shop/worker", policies: ["default-deny-all", "allow-dns"] },
    },
  ]);

  matrixFormats(input, workloads);

  it("matrix shows the missing worker → redis egress and the allowed api → redis", async () => {
    const m = await matrixJson(input);
    expect(connection(m, "shop/worker", "shop/redis", 6379)?.allowed).toBe(false);
    expect(connection(m, "shop/api", "shop/redis", 6379)?.allowed).toBe(true);
    // Named ports resolve per destination pod: "metrics" is 9187 on postgres, 9121 on redis.
    expect(connection(m, "monitoring/prometheus", "shop/postgres", 9187)?.allowed).toBe(true);
    expect(connection(m, "monitoring/prometheus", "shop/redis", 9121)?.allowed).toBe(true);
    expect(connection(m, "monitoring/prometheus", "shop/redis", 6379)?.allowed).toBe(false);
  });
});

describe("examples/kubectl-export", () => {
  const input = ["-f", "examples/kubectl-export"];
  // Pods owned by ReplicaSets (not in the export) collapse into their Deployments; the bare pod stays a Pod.
  const workloads = ["kube-system/coredns", "shop/api", "shop/debug", "shop/redis", "shop/web"];

  it("is a kind: List as kubectl prints it", () => {
    const text = readFileSync(join(EXAMPLES, "kubectl-export", "cluster.yaml"), "utf8");
    expect(text).toMatch(/^apiVersion: v1\nitems:\n/);
    expect(text).toMatch(/\nkind: List\nmetadata:\n {2}resourceVersion: ""\n$/);
    for (const s of ["managedFields:", "ownerReferences:", "pod-template-hash:", "podIP:", "hostIP:", "status:"]) expect(text).toContain(s);
  });

  analyzeRuns(input, workloads);
  matrixFormats(input, workloads);

  reachCases(input, [
    { args: ["shop/web", "shop/api:http"], verdict: "allowed" },
    { args: ["shop/web", "svc:shop/api:80"], verdict: "allowed", wirePort: 3000 },
    { args: ["shop/api", "shop/redis:6379"], verdict: "allowed" },
    { args: ["deploy:shop/web", "kube-system/coredns:53", "--protocol", "UDP"], verdict: "allowed" },
    { args: ["203.0.113.50", "shop/web:8080"], verdict: "allowed" },
    {
      args: ["shop/debug", "shop/api:3000"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "ingress", workload: "shop/api", policies: ["default-deny-ingress", "api-from-web"] },
    },
    {
      args: ["shop/web", "shop/redis:6379"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "ingress", workload: "shop/redis", policies: ["default-deny-ingress", "redis-from-api"] },
    },
  ]);

  it("keeps the pods' addresses on the collapsed Deployment", async () => {
    const { json } = await reachJson(["shop/web", "shop/api:3000", ...input]);
    const ingress = json.hops.find((h) => h.step === "ingress");
    expect(["10.244.1.12", "10.244.2.9"]).toContain(ingress?.wire.srcIP);
    expect(["10.244.1.13", "10.244.2.10"]).toContain(ingress?.wire.dstIP);
  });
});

describe("examples/kustomize", () => {
  const rendered = join(EXAMPLES, "kustomize", "rendered-production.yaml");
  const input = ["-f", "examples/kustomize/rendered-production.yaml", "-f", "examples/kustomize/platform"];
  const workloads = [
    "catalog-production/backend",
    "catalog-production/frontend",
    "ingress-nginx/ingress-nginx-controller",
    "kube-system/kube-dns",
    "monitoring/prometheus",
    "qa/e2e-runner",
  ];
  const kubectl = (() => {
    try {
      execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  const render = (overlay: string): string => execFileSync("kubectl", ["kustomize", join(EXAMPLES, "kustomize", "overlays", overlay)], { encoding: "utf8" });

  it.skipIf(!kubectl)("rendered-production.yaml is exactly what kubectl kustomize prints", () => {
    expect(render("production")).toBe(readFileSync(rendered, "utf8"));
  });

  analyzeRuns(input, workloads);
  matrixFormats(input, workloads);

  reachCases(input, [
    { args: ["catalog-production/frontend", "catalog-production/backend:grpc"], verdict: "allowed" },
    { args: ["ingress-nginx/ingress-nginx-controller", "svc:catalog-production/frontend:80"], verdict: "allowed", wirePort: 8080 },
    {
      // includeSelectors: true also rewrote the kube-dns peer selector: DNS is broken in production.
      args: ["catalog-production/frontend", "kube-system/kube-dns:53", "--protocol", "UDP"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "catalog-production/frontend", policies: ["default-deny-all", "allow-dns", "frontend"] },
    },
    {
      args: ["monitoring/prometheus", "catalog-production/backend:metrics"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "ingress", workload: "catalog-production/backend", policies: ["default-deny-all", "backend", "backend-metrics"] },
    },
  ]);

  it.skipIf(!kubectl)("the staging overlay, rendered and piped in with -f -, keeps DNS and admits QA", async () => {
    const staging = render("staging");
    const dns = await palisade(["reach", "catalog-staging/frontend", "kube-system/kube-dns:53", "--protocol", "UDP", "-f", "-", "-f", "examples/kustomize/platform", "-o", "json"], staging);
    expect(dns.stderr).toBe("");
    expect(dns.code).toBe(0);
    expect((JSON.parse(dns.stdout) as ReachJson).verdict).toBe("allowed");
    const qa = await palisade(["reach", "qa/e2e-runner", "catalog-staging/backend:grpc", "-f", "-", "-f", "examples/kustomize/platform"], staging);
    expect(qa.code).toBe(0);
  });
});

describe("examples/seed-ambient-sidecar", () => {
  const input = ["-f", "examples/seed-ambient-sidecar"];
  const workloads = ["ambient-app/ambient-app", "istio-system/istiod", "kube-system/kube-dns", "sidecar-app/sidecar-app"];
  const ambientEgress = ["default-deny-all", "allow-to-sidecar-app", "allow-istio-system-egress"];

  it("carries every NetworkPolicy of the seed document verbatim", () => {
    const seedDir = join(ROOT, "..", "shared", "seeds");
    const seed = existsSync(seedDir) ? readdirSync(seedDir).find((f) => f.startsWith("000_")) : undefined;
    const dir = join(EXAMPLES, "seed-ambient-sidecar");
    const ours = ["ambient-app-network-policies.yaml", "sidecar-app-network-policies.yaml"].map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    if (!seed) return; // the seed documents live outside the repository
    const text = readFileSync(join(seedDir, seed), "utf8");
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks).toHaveLength(6);
    for (const b of blocks) expect(ours).toContain(b.trim());
  });

  analyzeRuns(input, workloads);
  matrixFormats(input, workloads);

  // ambient → sidecar travels as HBONE: both NetworkPolicies see TCP/15008, which the seed opens.
  reachCases(input, [
    { args: ["ambient-app/ambient-app", "sidecar-app/sidecar-app:8080"], verdict: "allowed" },
    { args: ["ambient-app/ambient-app", "svc:sidecar-app/sidecar-service:8080"], verdict: "allowed" },
    {
      args: ["kubelet", "ambient-app/ambient-app:8080"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "ingress", workload: "ambient-app/ambient-app", policies: ["default-deny-all"] },
    },
    { args: ["kubelet", "sidecar-app/sidecar-app:8080"], verdict: "allowed" },
    { args: ["ambient-app/ambient-app", "sidecar-app/sidecar-app:15008"], verdict: "allowed" },
    { args: ["ambient-app/ambient-app", "istio-system/istiod:15012"], verdict: "allowed" },
    { args: ["sidecar-app/sidecar-app", "istio-system/istiod:15012"], verdict: "allowed" },
    { args: ["ambient-app/ambient-app", "kube-system/kube-dns:53", "--protocol", "UDP"], verdict: "allowed" },
    {
      args: ["ambient-app/ambient-app", "kube-system/kube-dns:53", "--protocol", "TCP"],
      verdict: "denied",
      blockedBy: { layer: "networkpolicy", direction: "egress", workload: "ambient-app/ambient-app", policies: ambientEgress },
    },
    {
      args: ["sidecar-app/sidecar-app", "ambient-app/ambient-app:15008"],
      verdict: "denied",
      blockedBy: {
        layer: "networkpolicy",
        direction: "egress",
        workload: "sidecar-app/sidecar-app",
        policies: ["default-deny-all", "allow-istio-system-egress"],
      },
    },
  ]);
});

describe("examples/broken-input", () => {
  const input = ["-f", "examples/broken-input"];

  const expectedDiagnostics: RegExp[] = [
    /^examples\/broken-input\/malformed\.yaml:[89]: error: .+/m,
    /^examples\/broken-input\/wrong-type\.yaml:13: error: spec\.ingress: .*list.*/m,
    /^examples\/broken-input\/invalid-cidr\.yaml:16: error: spec\.egress\[0\]\.to\[0\]\.ipBlock\.cidr: .*198\.51\.100\.0\/33.*/m,
    /^examples\/broken-input\/except-outside-cidr\.yaml:19: error: spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[1\]: except 10\.1\.0\.0\/24 must be a strict subset of cidr 10\.0\.0\.0\/16$/m,
    /^examples\/broken-input\/unknown-kind\.yaml:3: warning: kind: unknown kind NetworkPolcy .+/m,
  ];

  it("analyze locates every problem, analyses the rest and exits 2", async () => {
    const run = await palisade(["analyze", ...input]);
    expect(run.code).toBe(2);
    for (const re of expectedDiagnostics) expect(run.stderr).toMatch(re);
    for (const line of run.stderr.trimEnd().split("\n")) {
      expect(line).toMatch(/^examples\/broken-input\/[a-z-]+\.yaml:\d+: (error|warning): /);
    }
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain("internal error");
    // The good file is still analysed.
    expect(run.stdout).toMatch(/^Palisade analysis: /);
    expect(run.stdout).toContain("demo/web");
    expect(run.stdout).toContain("demo/api");
  });

  it("reach still answers from the valid documents, with exit 2", async () => {
    const { run, json } = await reachJson(["demo/web", "demo/api:http", ...input]);
    expect(run.code).toBe(2);
    expect(json.verdict).toBe("allowed");
    // The two policies that would have isolated web are rejected, so web is open.
    const open = await reachJson(["demo/api", "demo/web:http", ...input]);
    expect(open.run.code).toBe(2);
    expect(open.json.verdict).toBe("allowed");
  });

  it("the good file alone is clean", async () => {
    const run = await palisade(["analyze", "-f", "examples/broken-input/good.yaml"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  it("matrix -o json prints the matrix of the valid documents, with exit 2", async () => {
    const run = await palisade(["matrix", ...input, "-o", "json"]);
    expect(run.code).toBe(2);
    const m = JSON.parse(run.stdout) as MatrixJson;
    expect(m.workloads).toEqual(["demo/api", "demo/web"]);
  });
});

/** Splits a README command line like a POSIX shell would, for the quoting READMEs use. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | null = null;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced quote in: ${line}`);
  if (inWord) words.push(cur);
  return words;
}

interface ReadmeCommand {
  readme: string;
  line: string;
  args: string[];
  exit: number;
}

function readmeCommands(): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  for (const dir of readdirSync(EXAMPLES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const readme = join("examples", dir.name, "README.md");
    if (!existsSync(join(ROOT, readme))) continue;
    let inCode = false;
    for (const raw of readFileSync(join(ROOT, readme), "utf8").split("\n")) {
      if (/^\s*```/.test(raw)) {
        inCode = !inCode;
        continue;
      }
      const line = raw.trim();
      if (!inCode || !line.startsWith("palisade ")) continue;
      const m = /^(.*?)\s+#\s*exit\s+(\d+)\b.*$/.exec(line);
      if (!m) throw new Error(`${readme}: command without "# exit N": ${line}`);
      out.push({ readme, line: m[1]!.replace(/\s+/g, " "), args: shellWords(m[1]!).slice(1), exit: Number(m[2]) });
    }
  }
  return out;
}

describe("README commands", () => {
  const commands = readmeCommands();

  it("every example has a README with commands", () => {
    const dirs = readdirSync(EXAMPLES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `examples/${d.name}/README.md`);
    for (const d of dirs) expect(commands.some((c) => c.readme === d), d).toBe(true);
  });

  for (const c of commands) {
    it(`${c.readme}: ${c.line}  # exit ${c.exit}`, async () => {
      const run = await palisade(c.args);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(c.exit);
      expect(run.stdout.length).toBeGreaterThan(0);
      expect(run.stderr).not.toContain("internal error");
    });
  }
});
