/**
 * A sidecar client that calls a pod directly on a port no Service fronts has no
 * registry entry for it: under ALLOW_ANY its sidecar passes the connection
 * through, in plaintext, on the application port (no HBONE, no identity). The
 * matrix must say what `reach` says for those tuples, on the application port
 * at the CNI and without a client identity at the destination's proxy.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../src/analysis/matrix.js";
import { buildScenario, type Scenario } from "../../src/analysis/scenario.js";
import { loadInputs } from "../../src/load/index.js";
import { traceFlow } from "../../src/path/index.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/seed-ambient-sidecar", import.meta.url));

/** sidecar-app's egress and ambient-app's ingress admit TCP `port` between them. */
function admitting(port: number): string {
  return `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-to-ambient-app, namespace: sidecar-app}
spec:
  podSelector: {matchLabels: {app: sidecar-app}}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ambient-app}}
      ports: [{protocol: TCP, port: ${port}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-sidecar-app, namespace: ambient-app}
spec:
  podSelector: {matchLabels: {app: ambient-app}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: sidecar-app}}
      ports: [{protocol: TCP, port: ${port}}]
`;
}

const STRICT = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: ambient-app}
spec:
  mtls: {mode: STRICT}
`;

const REGISTRY_ONLY = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: registry-only, namespace: sidecar-app}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;

/** A Service in front of ambient-app's 8080: the sidecar then knows the destination and tunnels. */
const SERVICE = `
apiVersion: v1
kind: Service
metadata: {name: ambient-service, namespace: ambient-app}
spec:
  selector: {app: ambient-app}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

async function variant(...extra: string[]): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), "palisade-passthrough-"));
  const file = join(dir, "variant.yaml");
  writeFileSync(file, extra.join("\n---\n"));
  return buildScenario(await loadInputs([EXAMPLE, file]));
}

function traced(scenario: Scenario, from: string, to: string, port: number): boolean {
  const ws = scenario.cluster.workloads;
  const [path] = traceFlow(scenario, { kind: "workload", workload: ws.find((w) => w.id === from)! }, { kind: "workload", workload: ws.find((w) => w.id === to)! }, { protocol: "TCP", port });
  return path!.hops.every((h) => h.step === "mesh-egress" || h.verdict === "allow");
}

function inMatrix(m: ConnectivityMatrix, from: string, to: string, port: number): boolean {
  const i = m.workloads.findIndex((w) => w.id === from);
  const j = m.workloads.findIndex((w) => w.id === to);
  return m.conns(i, j).contains("TCP", port);
}

/** Every ordered pair, every declared TCP port and a few others: matrix cell against trace; and the tally against the cells. */
function disagreements(scenario: Scenario): string[] {
  const m = new ConnectivityMatrix(scenario);
  const ws = m.workloads;
  const out: string[] = [];
  for (let i = 0; i < ws.length; i++) {
    for (let j = 0; j < ws.length; j++) {
      if (i === j) continue;
      const ports = new Set([...ws[j]!.ports.filter((p) => p.protocol === "TCP").map((p) => p.port), 15008, 9999]);
      for (const port of ports) {
        const [path] = traceFlow(scenario, { kind: "workload", workload: ws[i]! }, { kind: "workload", workload: ws[j]! }, { protocol: "TCP", port });
        if (path!.hops.some((h) => h.step === "tunnel" && h.proxy === "waypoint")) continue;
        const t = path!.hops.every((h) => h.step === "mesh-egress" || h.verdict === "allow");
        const cell = m.conns(i, j).contains("TCP", port);
        if (t !== cell) out.push(`${ws[i]!.id} → ${ws[j]!.id}:${port}: trace ${t}, matrix ${cell}`);
      }
    }
  }
  let allowed = 0;
  for (let i = 0; i < ws.length; i++) {
    for (let j = 0; j < ws.length; j++) {
      const c = m.conns(i, j);
      for (const cp of ws[j]!.ports) if (c.contains(cp.protocol, cp.port)) allowed++;
    }
  }
  if (m.tally().allowed !== allowed) out.push(`tally ${m.tally().allowed}, cells ${allowed}`);
  return out;
}

const SIDECAR = "sidecar-app/sidecar-app";
const AMBIENT = "ambient-app/ambient-app";

describe("matrix: sidecar client to an ambient pod on a port no Service fronts", () => {
  it("policies admit the application port: passthrough in plaintext is allowed", async () => {
    const s = await variant(admitting(8080));
    expect(traced(s, SIDECAR, AMBIENT, 8080)).toBe(true);
    expect(inMatrix(new ConnectivityMatrix(s), SIDECAR, AMBIENT, 8080)).toBe(true);
    expect(disagreements(s)).toEqual([]);
  });

  it("policies admit only 15008: the plaintext connection on the application port is dropped", async () => {
    const s = await variant(admitting(15008));
    expect(traced(s, SIDECAR, AMBIENT, 8080)).toBe(false);
    expect(inMatrix(new ConnectivityMatrix(s), SIDECAR, AMBIENT, 8080)).toBe(false);
    expect(disagreements(s)).toEqual([]);
  });

  it("STRICT mTLS at the ambient pod refuses the plaintext passthrough", async () => {
    const s = await variant(admitting(8080), STRICT);
    expect(traced(s, SIDECAR, AMBIENT, 8080)).toBe(false);
    expect(inMatrix(new ConnectivityMatrix(s), SIDECAR, AMBIENT, 8080)).toBe(false);
    expect(disagreements(s)).toEqual([]);
  });

  it("with a Service in front of the port, the sidecar tunnels (HBONE to 15008, with identity)", async () => {
    const only15008 = await variant(admitting(15008), SERVICE, STRICT);
    expect(traced(only15008, SIDECAR, AMBIENT, 8080)).toBe(true);
    expect(inMatrix(new ConnectivityMatrix(only15008), SIDECAR, AMBIENT, 8080)).toBe(true);
    expect(disagreements(only15008)).toEqual([]);
    const only8080 = await variant(admitting(8080), SERVICE);
    expect(traced(only8080, SIDECAR, AMBIENT, 8080)).toBe(false);
    expect(inMatrix(new ConnectivityMatrix(only8080), SIDECAR, AMBIENT, 8080)).toBe(false);
    expect(disagreements(only8080)).toEqual([]);
  });

  it("REGISTRY_ONLY: no passthrough, the connection (were it let out) would be tunnelled", async () => {
    const s = await variant(admitting(15008), REGISTRY_ONLY);
    expect(disagreements(s)).toEqual([]);
  });
});
