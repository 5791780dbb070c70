/** What lint finds on the bundled examples that are not seed setups (those pin theirs in expected.yaml). */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { palisade } from "../helpers/cli.js";

const root = join(import.meta.dirname, "..", "..");
const example = (...p: string[]): string => join(root, "examples", ...p);

async function lintOf(...inputs: string[]): Promise<{ code: number; found: string[] }> {
  const r = await palisade(["lint", "--no-config", "-o", "json", ...inputs.flatMap((i) => ["-f", i])]);
  const { findings } = JSON.parse(r.stdout) as { findings: { rule: string; severity: string; resource: { namespace: string | null; name: string }; workloads: string[] }[] };
  return { code: r.code, found: findings.map((f) => `${f.rule} ${f.severity} ${f.resource.namespace}/${f.resource.name} [${f.workloads.join(" ")}]`) };
}

describe("lint on the bundled examples", () => {
  it("shop: worker is allowed out to redis, but redis admits only api (the README's denied flow)", async () => {
    expect(await lintOf(example("shop"))).toEqual({ code: 0, found: ["one-sided-allow warning shop/redis [shop/redis shop/worker]"] });
  });

  it("kustomize: includeSelectors narrowed the DNS rule's and the metrics rule's peers to env=production", async () => {
    const { code, found } = await lintOf(example("kustomize", "rendered-production.yaml"), example("kustomize", "platform"));
    expect(code).toBe(1);
    expect(found).toEqual([
      "egress-without-dns error catalog-production/allow-dns [catalog-production/backend catalog-production/frontend]",
      "selector-selects-nothing warning catalog-production/allow-dns []",
      "selector-selects-nothing warning catalog-production/backend-metrics []",
    ]);
  });

  it("kubectl-export: nothing to report", async () => {
    expect(await lintOf(example("kubectl-export"))).toEqual({ code: 0, found: [] });
  });

  it("broken-input: input errors give exit code 2, and the good documents are still linted", async () => {
    expect(await lintOf(example("broken-input"))).toEqual({ code: 2, found: [] });
  });
});
