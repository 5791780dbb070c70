/**
 * Every denied flow of the seed examples (examples/seed-*\/expected.yaml, their
 * variants included) goes through `palisade fix --write` on a copy of the
 * example; then `palisade reach`, reading the written files as a user would,
 * must find the flow allowed. The flows no change can be verified for are
 * pinned below with the reason the fix gives.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildVariant, readExpectations, seedExampleDirs, type ExpectedFlow, type Expectations } from "../examples/seed-expectations.js";
import { palisade } from "../helpers/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Flows without a verified fix, by example and flow name, with what the reason must say. */
const NO_FIX: Record<string, string> = {
  "seed-egress: the §4.8 NetworkPolicies cut the registered external service too": "cannot match the DNS name zenquotes.io",
  "seed-egress: the §4.8 NetworkPolicies do restrict the pod without sidecar": "cannot match the DNS name google.com",
  "seed-multitenant: the NetworkPolicies also cut team-a's registered partner API": "cannot match the DNS name payments-api.com",
  "seed-multitenant: the NetworkPolicies break the nightly report upload": "cannot match the DNS name analytics-api.com",
};

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A fresh copy of the example (or of its variant) that the fix may write into. */
function copyOf(ex: Expectations, variant: string | undefined): string {
  const dir = variant ? buildVariant(ROOT, ex, variant) : mkdtempSync(join(tmpdir(), "palisade-fix-"));
  if (!variant) cpSync(join(ROOT, ex.dir), dir, { recursive: true });
  copies.push(dir);
  return dir;
}

function flowArgs(f: ExpectedFlow): string[] {
  return [
    f.from,
    f.to,
    ...(f.protocol ? ["--protocol", f.protocol] : []),
    ...(f.method ? ["--method", f.method] : []),
    ...(f.path ? ["--path", f.path] : []),
    ...(f.host ? ["--host", f.host] : []),
  ];
}

const examples = seedExampleDirs(ROOT).map((dir) => readExpectations(ROOT, dir));
const denied = examples.flatMap((ex) => ex.flows.filter((f) => f.verdict === "denied" && !f.pending).map((f) => ({ ex, f, key: `${ex.dir.replace("examples/", "")}: ${f.name}` })));

describe("fix on the seed examples", () => {
  it("has denied flows to fix, and every pinned flow exists", () => {
    expect(denied.length).toBeGreaterThan(50);
    for (const key of Object.keys(NO_FIX)) expect(denied.map((d) => d.key)).toContain(key);
  });

  for (const { ex, f, key } of denied) {
    it(`${key}${f.variant ? ` [${f.variant}]` : ""}`, async () => {
      const dir = copyOf(ex, f.variant);
      const fix = await palisade(["fix", ...flowArgs(f), "-f", dir, "-o", "json", "--write"]);
      const result = JSON.parse(fix.stdout) as { verdictBefore: string; verdictAfter: string; changes: unknown[]; noFix: { reason: string } | null };
      expect(result.verdictBefore).toBe("denied");
      const reach = JSON.parse((await palisade(["reach", ...flowArgs(f), "-f", dir, "-o", "json"])).stdout) as { verdict: string };
      if (NO_FIX[key]) {
        expect(fix.code).toBe(1);
        expect(result.verdictAfter).toBe("denied");
        expect(result.noFix!.reason).toContain(NO_FIX[key]);
        expect(reach.verdict).toBe("denied");
        return;
      }
      expect(fix.code, fix.stderr).toBe(0);
      expect(result.verdictAfter).toBe("allowed");
      expect(result.changes.length).toBeGreaterThan(0);
      // The files as written are what reach reads: the flow is allowed there too.
      expect(reach.verdict).toBe("allowed");
    });
  }
});

describe("fix on the ambient NetworkPolicy seed", () => {
  it("opens HBONE for the mesh client and shows that every application port opens with it", async () => {
    const ex = examples.find((e) => e.dir === "examples/seed-ambient-networkpolicy")!;
    const dir = copyOf(ex, "before-15008");
    const r = await palisade(["fix", "apps/frontend", "svc:apps/my-app:80", "-f", dir, "-o", "json"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.changes).toHaveLength(1);
    expect(json.changes[0]).toMatchObject({ layer: "networkpolicy", workload: "apps/my-app", action: "edit", name: "my-app-ingress" });
    expect(json.changes[0].diff).toContain("+          port: 15008");
    expect(json.opened).toEqual([
      { from: "apps/frontend", to: "apps/my-app", port: 8080, protocol: "TCP", requested: true },
      { from: "apps/frontend", to: "apps/my-app", port: 9090, protocol: "TCP", requested: false },
    ]);
    expect(json.closed).toEqual([]);
  });
});

describe("fix on the Kyma ingress seed", () => {
  it("enrols a client outside the mesh, then allows its principal, as two changes at one point", async () => {
    const ex = examples.find((e) => e.dir === "examples/seed-kyma-ingress")!;
    const r = await palisade(["fix", "legacy/batch", "svc:garden/jaeger:16686", "-f", copyOf(ex, undefined), "-o", "json"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.changes.map((c: { kind: string; action: string; name: string }) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      "edit Namespace legacy",
      "create AuthorizationPolicy allow-batch-to-jaeger-query",
    ]);
    expect(json.changes[0].diff).toContain("+    istio-injection: enabled");
    expect(json.changes[1].yaml).toContain("cluster.local/ns/legacy/sa/default");
    expect(json.opened).toEqual([{ from: "legacy/batch", to: "garden/jaeger-query", port: 16686, protocol: "TCP", requested: true }]);
  });
});
