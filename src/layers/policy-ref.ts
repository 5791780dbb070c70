/** How output names a policy (or any namespaced object) and cites a policy reference. */
import type { PolicyRef } from "./types.js";

interface Named {
  namespace: string | null;
  name: string;
}

/** `ns/name`, or `name` for a cluster-scoped object. */
export function qualifiedName(o: Named): string {
  return `${o.namespace ? `${o.namespace}/` : ""}${o.name}`;
}

/** `Kind ns/name`, or `Kind name` for a cluster-scoped object. */
export function describeObject(o: Named & { kind: string }): string {
  return `${o.kind} ${qualifiedName(o)}`;
}

/** `Kind ns/name rule N (file:line)`: a reference as traces and fixes cite it. */
export function citePolicy(p: PolicyRef): string {
  return `${describeObject(p)}${p.rule === null ? "" : ` rule ${p.rule}`} (${p.file}:${p.line})`;
}
