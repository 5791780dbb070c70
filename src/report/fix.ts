import type { ConnectionChange, FixChange, FixResult } from "../fix/index.js";
import { citePolicy, describeObject } from "../layers/policy-ref.js";

export type FixFormat = "text" | "json" | "yaml";

const ref = citePolicy;
const objectName = (c: FixChange): string => describeObject(c);

function tuple(c: ConnectionChange): string {
  return `${c.from} → ${c.to} ${c.port === null ? "any port" : `${c.protocol}/${c.port}`}`;
}

function indent(text: string, pad = "    "): string[] {
  return text.replace(/\n$/, "").split("\n").map((l) => `${pad}${l}`);
}

/** `fix -o json`: the verdicts, the changes and the connectivity they change. */
export function formatFixJson(r: FixResult): string {
  return JSON.stringify(r, null, 2);
}

/**
 * `fix -o yaml`: only what to apply: each edited document in its final form
 * and each new document, as one YAML stream (empty when nothing changes).
 */
export function formatFixYaml(r: FixResult): string {
  const last = new Map<string, FixChange>();
  for (const c of r.changes) {
    const key = `${c.file}\u0000${objectName(c)}`;
    last.delete(key);
    last.set(key, c);
  }
  return [...last.values()].map((c) => c.yaml.replace(/\n?$/, "\n")).join("---\n");
}

/** `fix -o text`: per blocking point the change, then the verification and the connectivity diff. */
export function formatFixText(r: FixResult): string {
  const flow = `${r.from} → ${r.to} ${r.protocol}/${r.port}`;
  const lines: string[] = [];
  if (r.verdictBefore === "allowed") {
    lines.push(`ALLOWED  ${flow}: already allowed, nothing to change.`);
    return lines.join("\n");
  }
  const b = r.blockedBefore!;
  lines.push(`DENIED  ${flow}: blocked by ${b.layer}${b.direction ? ` (${b.direction} at ${b.workload})` : ` at ${b.workload}`} on ${b.protocol}/${b.port}.`);
  r.changes.forEach((c, i) => {
    lines.push("");
    lines.push(`Change ${i + 1}: ${c.layer}${c.direction ? ` ${c.direction}` : ""} at ${c.workload}, enforced by ${c.enforcer === "cni" ? "the CNI" : `the ${c.enforcer}`}`);
    for (const p of c.blockedBy) lines.push(`  blocked by ${ref(p)}`);
    lines.push(`  ${c.summary}`);
    if (c.action === "edit") {
      lines.push(`  edit ${objectName(c)} in ${c.file}:`);
      lines.push(...indent(c.diff ?? ""));
    } else {
      lines.push(`  new document (suggested file ${c.file}):`);
      lines.push(...indent(c.yaml));
    }
  });
  lines.push("");
  if (r.verdictAfter === "allowed") {
    lines.push(`Verified: with ${r.changes.length === 1 ? "this change" : `these ${r.changes.length} changes`}, ${flow} is now allowed.`);
  } else {
    const n = r.noFix;
    lines.push(`No verified fix: ${flow} stays denied${r.changes.length > 0 ? ` after the ${r.changes.length} change${r.changes.length === 1 ? "" : "s"} above (not enough on their own)` : ""}.`);
    if (n) {
      lines.push(`  at ${n.layer}${n.direction ? ` ${n.direction}` : ""} at ${n.workload}: ${n.reason}`);
      for (const p of n.policies) lines.push(`  - ${ref(p)}`);
    }
  }
  if (r.alternatives.length > 0) {
    lines.push("");
    lines.push("Also considered:");
    for (const a of r.alternatives) lines.push(`  - ${a}`);
  }
  if (r.changes.length > 0) {
    lines.push("");
    lines.push("Connectivity diff (declared container ports and the flow's ports, before → after):");
    const others = r.opened.filter((c) => !c.requested);
    for (const c of r.opened) lines.push(`  + ${tuple(c)}${c.requested ? "  (the requested flow)" : ""}`);
    for (const c of r.closed) lines.push(`  - ${tuple(c)}`);
    if (r.opened.length === 0 && r.closed.length === 0) {
      lines.push(
        r.diffLimits.length > 0
          ? "  no tuple of the matrix changes (see below)."
          : "  no tuple of the matrix changes: the matrix evaluates this pair differently from the traced flow (the outside world is one peer there, whatever its address).",
      );
    } else if (others.length === 0 && r.closed.length === 0) lines.push("  nothing else is opened or closed.");
    else lines.push(`  ${others.length} other tuple${others.length === 1 ? "" : "s"} opened, ${r.closed.length} closed: review them before applying.`);
    for (const l of r.diffLimits) lines.push(`  note: ${l}`);
  }
  if (r.assumptions.length > 0) {
    lines.push("");
    lines.push("Assumptions:");
    for (const a of r.assumptions) lines.push(`  - ${a}`);
  }
  return lines.join("\n");
}
