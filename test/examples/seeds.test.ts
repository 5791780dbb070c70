/**
 * The setups of the reference documents (examples/seed-*), judged against what a
 * reader of those documents expects: every flow of every expected.yaml runs as
 * `palisade reach FROM TO -o json -f <example or variant>` in-process, and its
 * verdict and the stated blockedBy fields must match.
 *
 * Flows marked `pending: istio` or `pending: cilium` need behaviour of that layer
 * `reach` does not have yet; they run with `it.fails`, so they must fail today. The
 * day the behaviour lands and such a flow passes, its test turns red: then remove
 * the marker. Flows marked `pending: bug` do the same for a known defect (described
 * in the entry).
 *
 * An example kept as kustomize inputs loads the rendered output; when kubectl is
 * installed, the rendered files must be exactly what `kubectl kustomize` prints.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/cli.js";
import { buildVariant, readExpectations, seedExampleDirs, type ExpectedFlow, type Expectations } from "./seed-expectations.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface ReachJson {
  verdict: "allowed" | "denied";
  blockedBy: {
    layer: string;
    direction: string | null;
    workload: string;
    port: number;
    protocol: string;
    policies: { kind: string; namespace: string | null; name: string }[];
    observed: string;
  } | null;
}

async function palisade(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    readStdin: async () => "",
  });
  return { code, stdout, stderr };
}

const kubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const built = new Map<string, string>();
afterAll(() => {
  for (const dir of built.values()) rmSync(dir, { recursive: true, force: true });
});

/** The -f argument for a flow: the example directory, or its variant built once. */
function inputFor(ex: Expectations, variant: string | undefined): string {
  if (!variant) return `${ROOT}${ex.dir}`;
  const key = `${ex.dir}#${variant}`;
  let dir = built.get(key);
  if (!dir) {
    dir = buildVariant(ROOT, ex, variant);
    built.set(key, dir);
  }
  return dir;
}

function reachArgs(f: ExpectedFlow, input: string): string[] {
  return [
    "reach",
    f.from,
    f.to,
    ...(f.protocol ? ["--protocol", f.protocol] : []),
    ...(f.method ? ["--method", f.method] : []),
    ...(f.path ? ["--path", f.path] : []),
    ...(f.host ? ["--host", f.host] : []),
    "-o",
    "json",
    "-f",
    input,
  ];
}

async function check(ex: Expectations, f: ExpectedFlow): Promise<void> {
  const res = await palisade(reachArgs(f, inputFor(ex, f.variant)));
  expect(res.stderr, "no diagnostics").toBe("");
  let json: ReachJson;
  try {
    json = JSON.parse(res.stdout) as ReachJson;
  } catch {
    throw new Error(`reach did not print JSON (exit ${res.code}): ${res.stdout}`);
  }
  const got = json.blockedBy
    ? `${json.verdict}: ${json.blockedBy.layer} ${json.blockedBy.direction ?? "-"} at ${json.blockedBy.workload} ${json.blockedBy.protocol}/${json.blockedBy.port}`
    : json.verdict;
  expect(json.verdict, `${f.name}\n  why: ${f.why}\n  got: ${got}`).toBe(f.verdict);
  expect(res.code).toBe(f.verdict === "allowed" ? 0 : 1);
  if (f.verdict === "allowed") {
    expect(json.blockedBy).toBeNull();
    return;
  }
  const b = json.blockedBy!;
  const want = f.blockedBy!;
  const actual: Record<string, unknown> = {};
  const expected: Record<string, unknown> = {};
  const policyIds = b.policies.map((p) => `${p.namespace ?? ""}/${p.name}`).sort();
  for (const key of ["layer", "direction", "workload", "port", "protocol", "observed"] as const) {
    if (want[key] === undefined) continue;
    expected[key] = want[key];
    actual[key] = b[key];
  }
  if (want.policies) {
    expected.policies = [...want.policies].sort();
    actual.policies = policyIds;
  }
  if (want.policy) {
    expected.policy = want.policy;
    actual.policy = policyIds.includes(want.policy) ? want.policy : `not among [${policyIds.join(", ")}]`;
  }
  expect(actual, `${f.name}\n  why: ${f.why}\n  got: ${got}`).toEqual(expected);
}

const loaded = seedExampleDirs(ROOT).map((dir) => {
  try {
    return { dir, ex: readExpectations(ROOT, dir) };
  } catch (e) {
    return { dir, error: e as Error };
  }
});
const examples = loaded.flatMap((l) => (l.ex ? [l.ex] : []));

describe("seed examples", () => {
  for (const l of loaded) {
    it(`${l.dir}/expected.yaml is well-formed`, () => {
      if (l.error) throw l.error;
    });
  }
  it("cover the reference documents with enough flows", () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
    expect(examples.flatMap((e) => e.flows).length).toBeGreaterThanOrEqual(40);
  });
});

for (const ex of examples) {
  describe(`${ex.dir} — ${ex.document}`, () => {
    const inputs = [undefined, ...Object.keys(ex.variants)];
    for (const variant of inputs) {
      it(`${variant ? `variant ${variant}` : "the example"} loads without diagnostics`, async () => {
        const res = await palisade(["analyze", "-f", inputFor(ex, variant)]);
        expect(res.stderr).toBe("");
        expect(res.code).toBe(0);
      });
    }

    for (const r of ex.rendered) {
      it.skipIf(!kubectl)(`${r.file} is exactly what kubectl kustomize ${r.kustomize} prints`, () => {
        const out = execFileSync("kubectl", ["kustomize", join(ROOT, ex.dir, r.kustomize)], { encoding: "utf8" });
        expect(out).toBe(readFileSync(join(ROOT, ex.dir, r.file), "utf8"));
      });
    }

    const pending = ex.flows.filter((f) => f.pending);
    if (pending.length > 0) {
      // it.fails accepts any failure: make sure pending flows fail on the verdict, not on bad input.
      it(`the ${pending.length} pending flows run cleanly`, async () => {
        for (const f of pending) {
          const res = await palisade(reachArgs(f, inputFor(ex, f.variant)));
          expect(res.stderr, f.name).toBe("");
          expect([0, 1], f.name).toContain(res.code);
          expect(() => JSON.parse(res.stdout) as unknown, f.name).not.toThrow();
        }
      });
    }

    for (const f of ex.flows) {
      const title = `${f.variant ? `[${f.variant}] ` : ""}${f.name}: ${f.from} → ${f.to}${f.protocol ? `/${f.protocol}` : ""} ${f.verdict}`;
      if (f.pending) {
        it.fails(`${title} (pending ${f.pending}${f.bug ? `: ${f.bug}` : ""})`, () => check(ex, f));
      } else {
        it(title, () => check(ex, f));
      }
    }
  });
}
