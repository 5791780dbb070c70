/** The ambient NetworkPolicy seed and its variants, as lint sees them. */
import { describe, expect, it } from "vitest";
import { lint } from "../../src/lint/index.js";
import { scenarioFromYaml } from "../helpers/cluster.js";
import { exampleFile, networkPolicy } from "../helpers/fixtures.js";

const read = (f: string): string => exampleFile("seed-ambient-networkpolicy", f);
const setup = `${read("namespaces.yaml")}\n---\n${read("workloads.yaml")}\n---\n`;

const policy = (spec: string) => networkPolicy("apps", "my-app-ingress", { "app.kubernetes.io/name": "my-app" }, spec);

const rulesOf = async (text: string): Promise<string[]> => lint(await scenarioFromYaml(text)).map((f) => `${f.rule} ${f.workloads[0]}`);

describe("lint on seed-ambient-networkpolicy", () => {
  it("finds only the widening by 15008 with the corrected policy", async () => {
    // The page's corrected policy lists 8080 and 15008: mesh clients then reach the
    // metrics port 9090 too, through the tunnel, which NetworkPolicy cannot see.
    expect(await rulesOf(setup + read("network-policy.yaml"))).toEqual(["ambient-hbone-widens-ports apps/my-app"]);
  });

  it("finds the dropped HBONE with the original 9090-only policy", async () => {
    const found = await rulesOf(setup + policy("  ingress:\n  - ports:\n    - port: 9090\n      protocol: TCP\n"));
    expect(found).toContain("ambient-hbone-not-admitted apps/my-app");
    expect(found).toContain("ambient-probes-blocked apps/my-app");
  });

  it("finds the blocked probes, not HBONE, with deny-ingress", async () => {
    const found = await rulesOf(setup + policy("  policyTypes: [Ingress]\n"));
    expect(found).toEqual(["ambient-probes-blocked apps/my-app"]);
  });

  it("finds only the widening by 15008 when the probe address is admitted besides 8080 and 15008", async () => {
    const text = setup + policy("  ingress:\n  - ports:\n    - port: 8080\n    - port: 15008\n  - from:\n    - ipBlock:\n        cidr: 169.254.7.127/32\n");
    expect(await rulesOf(text)).toEqual(["ambient-hbone-widens-ports apps/my-app"]);
  });

  it("finds nothing when every declared port is listed with 15008", async () => {
    const text = setup + policy("  ingress:\n  - ports:\n    - port: 8080\n    - port: 9090\n    - port: 15008\n");
    expect(await rulesOf(text)).toEqual([]);
  });
});
