/**
 * A unified diff of two versions of one file (`diff -u` format, 3 lines of
 * context), for showing an edit to a user's manifest.
 */

type Op = { kind: " " | "-" | "+"; line: string };

/** Line operations turning `a` into `b`: common prefix and suffix, a longest common subsequence in between. */
function lineOps(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const x = a.slice(pre, a.length - suf);
  const y = b.slice(pre, b.length - suf);
  // lcs[i][j]: length of the LCS of x[i..] and y[j..].
  const lcs: Uint32Array[] = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Op[] = a.slice(0, pre).map((line) => ({ kind: " ", line }));
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ kind: " ", line: x[i]! });
      i++;
      j++;
    } else if (j < y.length && (i >= x.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) ops.push({ kind: "+", line: y[j++]! });
    else ops.push({ kind: "-", line: x[i++]! });
  }
  for (const line of a.slice(a.length - suf)) ops.push({ kind: " ", line });
  return ops;
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** `--- a/FILE` / `+++ b/FILE` and the hunks; empty when the texts are equal. */
export function unifiedDiff(file: string, before: string, after: string, context = 3): string {
  const ops = lineOps(splitLines(before), splitLines(after));
  const changed = ops.map((o, k) => (o.kind !== " " ? k : -1)).filter((k) => k >= 0);
  if (changed.length === 0) return "";
  // Relative paths get git's a/ and b/ prefixes; an absolute path is shown as it is.
  const out = file.startsWith("/") ? [`--- ${file}`, `+++ ${file}`] : [`--- a/${file}`, `+++ b/${file}`];
  // Group changes whose contexts touch into one hunk.
  let start = 0;
  while (start < changed.length) {
    let end = start;
    while (end + 1 < changed.length && changed[end + 1]! - changed[end]! <= 2 * context + 1) end++;
    const from = Math.max(0, changed[start]! - context);
    const to = Math.min(ops.length - 1, changed[end]! + context);
    let aLine = 1;
    let bLine = 1;
    for (let k = 0; k < from; k++) {
      if (ops[k]!.kind !== "+") aLine++;
      if (ops[k]!.kind !== "-") bLine++;
    }
    const hunk = ops.slice(from, to + 1);
    const aCount = hunk.filter((o) => o.kind !== "+").length;
    const bCount = hunk.filter((o) => o.kind !== "-").length;
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    start = end + 1;
  }
  return `${out.join("\n")}\n`;
}
