/**
 * Differential test against np-guard/netpol-analyzer's expected connectivity
 * lists (scripts/oracle/netpol-analyzer.ts; docs/oracle-netpol-analyzer.md).
 *
 * Every compared case must agree, except the known differences below. A listed
 * case that starts agreeing fails, so the list stays honest; a listed semantic
 * choice must still be exactly what makes the difference (the case agrees once
 * the input is rewritten with the named what-if variants).
 *
 * The corpus is not in this repository; without `../shared/oracles/netpol-analyzer`
 * next to the repository root the whole file is skipped.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  VARIANTS,
  formatDiff,
  listCases,
  oracleDir,
  oracleMissing,
  runAll,
  summarize,
  type CaseResult,
} from "../../scripts/oracle/netpol-analyzer.js";

type KnownDifference =
  /**
   * Palisade is wrong. `thenVariants`: what the case is expected to need once the bug
   * is fixed (a documented choice still separating it from netpol-analyzer), if anything.
   */
  | { kind: "bug"; reason: string; thenVariants?: string[] }
  /** A documented choice; the case agrees once rewritten with exactly these variants. */
  | { kind: "semantic"; variants: string[]; reason: string };

/** Semantic choice, pinned in semantic-choices.test.ts. */
const HOST_NETWORK =
  "hostNetwork pods: Palisade treats their traffic as node traffic, so pod/namespace selectors neither " +
  "select nor match them (semantics.md §1.6 r29 (b), the common implementation); netpol-analyzer ignores " +
  "hostNetwork and treats them as ordinary pods";

const KNOWN_DIFFERENCES: Record<string, KnownDifference> = {
  // pods.yaml is a PodList, ns.yaml a NamespaceList (typed lists whose items carry no kind).
  // Their DaemonSets/ReplicaSets in default/, ibm-system/ and kube-system/ run with
  // hostNetwork: true: three `tier: frontend` pods are not isolated by
  // kube-system/enable-from-ipblock-to-isolated-by-tier in Palisade's reading.
  ipblockstest: { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  ipblockstest_2: { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  ipblockstest_3: { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  ipblockstest_4: { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  // The demo/ bank pods (account-command, account-query, bank-ui; from a PodList) run with
  // hostNetwork: true and are selected by policies here. In multiple_topology_resources_3 and
  // _4 no policy selects them and the cases agree.
  multiple_topology_resources_1: { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  multiple_topology_resources_2: { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-new1": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-new1a": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-new2": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-new3": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-old1": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-old2": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
  "semanticDiff-same-topologies-old3": { kind: "semantic", variants: ["hostNetwork-as-pod"], reason: HOST_NETWORK },
};

const dir = oracleDir();
const missing = oracleMissing(dir);
if (missing) console.warn(`skipping the netpol-analyzer oracle test: ${missing}`);

describe.skipIf(missing !== undefined)("netpol-analyzer oracle", () => {
  let results: CaseResult[] = [];
  const byName = new Map<string, CaseResult>();
  const cases = missing ? [] : listCases(dir);

  beforeAll(async () => {
    results = await runAll(dir);
    for (const r of results) byName.set(r.name, r);
    const s = summarize(results);
    console.log(
      `netpol-analyzer oracle: ${s.agree}/${s.agree + s.disagree} compared cases agree (${(100 * s.rate).toFixed(1)}%), ${s.skipped} skipped`,
    );
  }, 120_000);

  it("finds the plain goldens and compares most NetworkPolicy-only cases", () => {
    expect(cases.length).toBeGreaterThan(100);
    const s = summarize(results);
    // Guards against a loader or classification regression that would skip everything.
    expect(s.agree + s.disagree).toBeGreaterThanOrEqual(50);
    for (const r of results.filter((x) => x.status === "skipped")) {
      expect(r.reason, r.name).toMatch(/^uses |^golden is not a connectivity list/);
    }
  });

  it("lists only existing, compared cases as known differences, with known variants", () => {
    const ids = new Set(VARIANTS.map((v) => v.id));
    for (const [name, known] of Object.entries(KNOWN_DIFFERENCES)) {
      expect(byName.get(name)?.status, `${name} is listed but is not a compared case`).not.toBe("skipped");
      expect(byName.has(name), `${name} is listed but has no plain golden`).toBe(true);
      const variants = known.kind === "semantic" ? known.variants : (known.thenVariants ?? []);
      for (const v of variants) expect(ids.has(v), `${name}: unknown variant ${v}`).toBe(true);
    }
  });

  for (const c of cases) {
    it(c.name, (ctx) => {
      const r = byName.get(c.name)!;
      const known = KNOWN_DIFFERENCES[c.name];
      if (r.status === "skipped") return ctx.skip(r.reason);
      const diff = `\n${formatDiff(r)}\n${r.notes.map((n) => `note: ${n}`).join("\n")}`;
      if (!known) {
        expect(r.status, `${c.name} disagrees with netpol-analyzer:${diff}`).toBe("agree");
        return;
      }
      if (known.kind === "bug") {
        const then = known.thenVariants ? `change the entry to { kind: "semantic", variants: ${JSON.stringify(known.thenVariants)} }` : "remove the entry";
        expect(r.status, `${c.name} now agrees: the bug (${known.reason}) looks fixed; ${then}`).toBe("disagree");
        expect(
          r.explainedBy,
          `${c.name} is now explained by ${r.explainedBy?.join(" + ")} alone: the bug (${known.reason}) looks fixed; ${then}`,
        ).toBeUndefined();
        return;
      }
      expect(r.status, `${c.name} now agrees: remove it from KNOWN_DIFFERENCES (${known.reason})`).toBe("disagree");
      expect(r.explainedBy, `${c.name} is no longer explained by ${known.variants.join(" + ")} alone:${diff}`).toEqual(known.variants);
    });
  }
});
