/**
 * The matrix and `reach` must agree on mesh clusters: for every ordered pair of
 * workloads of every seed example, every declared TCP port and two ports no
 * Service fronts (so a sidecar client passes them through), the matrix cell
 * says what a trace of the same flow (pod addressed directly) says. The matrix
 * leaves out a sidecar client's outbound control and waypoints (both concern
 * Service traffic), so trace hops of those kinds are not counted.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../src/analysis/matrix.js";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadInputs } from "../../src/load/index.js";
import { traceFlow } from "../../src/path/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The examples with an Istio mesh. */
const EXAMPLES = ["seed-ambient-sidecar", "seed-ambient-networkpolicy", "seed-egress", "seed-kyma-ingress", "seed-multitenant", "seed-nats"];

describe("matrix on mesh clusters agrees with reach", () => {
  for (const dir of EXAMPLES) {
    it(dir, async () => {
      const scenario = buildScenario(await loadInputs([join(ROOT, "examples", dir)]));
      expect(scenario.mesh, `${dir} is a mesh example`).toBeDefined();
      const m = new ConnectivityMatrix(scenario);
      const ws = m.workloads;
      const disagreements: string[] = [];
      let compared = 0;
      let tunnelled = 0;
      for (let i = 0; i < ws.length; i++) {
        for (let j = 0; j < ws.length; j++) {
          if (i === j) continue;
          // Declared ports, and two no Service fronts (a sidecar client passes those through).
          const ports = new Set([...ws[j]!.ports.filter((cp) => cp.protocol === "TCP").map((cp) => cp.port), 15008, 9999]);
          for (const port of ports) {
            const cp = { port };
            const [path] = traceFlow(scenario, { kind: "workload", workload: ws[i]! }, { kind: "workload", workload: ws[j]! }, { protocol: "TCP", port: cp.port });
            if (path!.hops.some((h) => h.step === "tunnel" && h.proxy === "waypoint")) continue;
            if (path!.hops.some((h) => h.step === "tunnel")) tunnelled++;
            const traced = path!.hops.every((h) => h.step === "mesh-egress" || h.verdict === "allow");
            const cell = m.conns(i, j).contains("TCP", cp.port);
            compared++;
            if (traced !== cell) disagreements.push(`${ws[i]!.id} → ${ws[j]!.id}:${cp.port}: trace ${traced}, matrix ${cell}`);
          }
        }
      }
      expect(disagreements).toEqual([]);
      // The tally counts the same cells without visiting pairs (bitmask path with the HBONE bit).
      let allowed = 0;
      for (let i = 0; i < ws.length; i++) {
        for (let j = 0; j < ws.length; j++) {
          const c = m.conns(i, j);
          for (const cp of ws[j]!.ports) if (c.contains(cp.protocol, cp.port)) allowed++;
        }
      }
      expect(m.tally().allowed).toBe(allowed);
      expect(compared).toBeGreaterThan(0);
      if (dir.includes("ambient")) expect(tunnelled, "ambient examples tunnel some flows").toBeGreaterThan(0);
    });
  }
});
