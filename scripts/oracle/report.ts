/** The one-line-per-case table both oracle reports print. */

/** What a case row needs (both runners' CaseResult have it). */
export interface CaseRow {
  name: string;
  status: "agree" | "disagree" | "skipped";
  reason?: string;
  expected: readonly unknown[];
  actual: readonly unknown[];
  diffs: readonly unknown[];
  explainedBy?: readonly string[];
}

export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

/** `name  status  golden/palisade  detail`; `unexplained` says what a disagreement without explanation lacks. */
export function row(r: CaseRow, width: number, unexplained: string): string {
  const counts = r.status === "skipped" ? "" : `${r.expected.length}/${r.actual.length}`;
  let detail = r.reason ?? "";
  if (r.status === "disagree") {
    detail = `${r.diffs.length} pair${r.diffs.length > 1 ? "s" : ""} differ`;
    detail += r.explainedBy ? `; agrees with ${r.explainedBy.join(" + ")}` : `; ${unexplained}`;
  }
  return `${pad(r.name, width)}  ${pad(r.status, 8)}  ${pad(counts, 11)}  ${detail}`;
}
