import { describe, expect, it } from "vitest";
import { fixture, palisade } from "../cli/helpers.js";
import { lineOf } from "../helpers/cluster.js";
import { namespace, networkPolicy, pod } from "../helpers/fixtures.js";

const text = namespace("db") + pod("app", "web") + networkPolicy("app", "web-in", { app: "web" }, "  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {name: db}\n");

describe("palisade lint", () => {
  it("prints the findings as JSON per the contract; a warning passes --fail-on error", async () => {
    const file = fixture(text);
    const r = await palisade(["lint", "-f", file, "-o", "json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { findings: Record<string, unknown>[] };
    expect(out.findings).toHaveLength(1);
    expect(out.findings[0]).toMatchObject({
      rule: "selector-selects-nothing",
      severity: "warning",
      resource: { kind: "NetworkPolicy", namespace: "app", name: "web-in" },
      workloads: [],
      file,
      line: lineOf(text, "  - from:"),
    });
  });

  it("exits 1 with --fail-on warning", async () => {
    const r = await palisade(["lint", "-f", fixture(text), "--fail-on", "warning"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("selector-selects-nothing");
  });

  it("prints SARIF 2.1.0 with a region", async () => {
    const r = await palisade(["lint", "-f", fixture(text), "-o", "sarif"]);
    const sarif = JSON.parse(r.stdout) as { version: string; runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; level: string; locations: { physicalLocation: { region: { startLine: number } } }[] }[] }[] };
    expect(sarif.version).toBe("2.1.0");
    expect(sarif.runs[0]!.tool.driver.rules.map((x) => x.id)).toContain("egress-without-dns");
    expect(sarif.runs[0]!.results[0]).toMatchObject({ ruleId: "selector-selects-nothing", level: "warning" });
    expect(sarif.runs[0]!.results[0]!.locations[0]!.physicalLocation.region.startLine).toBe(lineOf(text, "  - from:"));
  });

  it("exits 0 without findings and 2 without input", async () => {
    const clean = await palisade(["lint", "-f", fixture(text.replace("{name: db}", "{kubernetes.io/metadata.name: db}")), "--fail-on", "warning"]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain("no findings");
    expect((await palisade(["lint"])).code).toBe(2);
  });
});
