import type { ReachResult } from "../analysis/reach.js";
import type { Hop } from "../path/index.js";
import { citePolicy } from "../layers/policy-ref.js";

/** `reach -o json`: the contract's object, pretty-printed. */
export function formatReachJson(r: ReachResult): string {
  return JSON.stringify(r, null, 2);
}

const ref = citePolicy;

function wire(h: Hop): string {
  const w = h.wire;
  const dst = w.dstIP ?? w.dstHost ?? null;
  return `${w.protocol}/${w.port}${w.srcIP || dst ? ` ${w.srcIP ?? "?"} → ${dst ?? "?"}` : ""}`;
}

/** `reach -o text`: the verdict, then one line per enforcement point. */
export function formatReachText(r: ReachResult): string {
  const lines: string[] = [];
  const head = r.verdict === "allowed" ? "ALLOWED" : "DENIED";
  lines.push(`${head}  ${r.from} → ${r.to} ${r.protocol}/${r.port}`);
  if (r.hops.length === 0) lines.push("  (no enforcement point on this path)");
  for (const h of r.hops) {
    const mark = h.verdict === "allow" ? "✓" : "✗";
    const where = h.step === "service" ? `service ${h.at}` : `${h.step} at ${h.at}`;
    lines.push(`  ${mark} ${where} [${h.enforcer}] ${wire(h)}`);
    lines.push(`      ${h.reason}`);
    // A CNI layer denies because policies isolate the endpoint; a mesh layer names what decided.
    const isolation = h.verdict === "deny" && (h.enforcer === "networkpolicy" || h.enforcer === "cilium" || h.enforcer === "adminnetworkpolicy");
    for (const p of h.policies) lines.push(`      ${isolation ? "isolated by" : "by"} ${ref(p)}`);
    for (const m of h.misses) lines.push(`      - ${m}`);
  }
  if (r.blockedBy) {
    const b = r.blockedBy;
    lines.push("");
    lines.push(`Blocked by ${b.layer}${b.direction ? ` (${b.direction} at ${b.workload})` : ` at ${b.workload}`} on ${b.protocol}/${b.port}; the client sees: ${b.observed}.`);
  }
  if (r.assumptions.length > 0) {
    lines.push("");
    lines.push("Assumptions:");
    for (const a of r.assumptions) lines.push(`  - ${a}`);
  }
  return lines.join("\n");
}
