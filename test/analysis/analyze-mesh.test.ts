import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/analysis/analyze.js";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadInputs } from "../../src/load/index.js";
import { palisade } from "../helpers/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("analyze on a mesh", () => {
  it("lists every workload's data plane and says the mesh decides per flow", async () => {
    const scenario = buildScenario(await loadInputs([join(ROOT, "examples/seed-ambient-sidecar")]));
    const r = analyze(scenario);
    expect(r.mesh).toEqual([
      { mode: "sidecar", workloads: ["sidecar-app/sidecar-app"] },
      { mode: "ambient", workloads: ["ambient-app/ambient-app"] },
      { mode: "none", workloads: ["istio-system/istiod", "kube-system/kube-dns"] },
    ]);
    expect(r.notes.some((n) => n.includes("decide per flow"))).toBe(true);
    // The connections are the mesh-aware matrix's: ambient → sidecar over HBONE on 15008.
    expect(r.connections).toContainEqual(expect.objectContaining({ from: "ambient-app/ambient-app", to: "sidecar-app/sidecar-app" }));
  });

  it("prints the section in text and leaves it out without a mesh", async () => {
    const mesh = await palisade(["analyze", "-f", join(ROOT, "examples/seed-ambient-sidecar")]);
    expect(mesh.stdout).toMatch(/Mesh data plane\n\s+MODE\s+WORKLOADS\n\s+sidecar\s+sidecar-app\/sidecar-app/);
    const plain = await palisade(["analyze", "-f", join(ROOT, "examples/shop")]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain("Mesh data plane");
  });
});
