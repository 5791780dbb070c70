import type { Direction, PolicyRef } from "../layers/types.js";
import { ConnSet } from "../sets/index.js";
import { ConnectivityMatrix, intersectLayers, partitionByAddress } from "./matrix.js";
import type { Scenario } from "./scenario.js";
import { runLint, type LintOptions } from "../lint/index.js";
import type { Finding } from "../lint/rule.js";

export interface WorkloadIsolation {
  workload: string;
  kind: string;
  ingress: PolicyRef[];
  egress: PolicyRef[];
}

export interface Exposure {
  workload: string;
  direction: Direction;
  /** Address ranges and what they may open (or be opened to). */
  ranges: { cidrs: string[]; conns: string }[];
}

export interface ConnectionGroup {
  from: string;
  to: string;
  conns: string;
}

/** The main report: isolation, allowed connections, exposure. */
export interface AnalyzeReport {
  summary: {
    namespaces: number;
    assumedNamespaces: number;
    workloads: number;
    services: number;
    policies: Record<string, number>;
    cni: string;
    classes: { sources: number; destinations: number };
    pairs: number;
    connectedPairs: number;
  };
  isolation: WorkloadIsolation[];
  connections: ConnectionGroup[];
  exposure: Exposure[];
  /** Data plane of every workload, when the input shows an Istio mesh. */
  mesh?: { mode: string; workloads: string[] }[];
  /** What `palisade lint` finds, with the same config and annotations. */
  findings: Finding[];
  /** Set when the findings were left out on request (`--no-lint`). */
  lintSkipped?: boolean;
  notes: string[];
}

export interface AnalyzeOptions {
  /** The lint settings, or false to leave the findings out (they cost more than the rest on large meshes). */
  lint?: LintOptions | false;
}

export function analyze(scenario: Scenario, options: AnalyzeOptions = {}): AnalyzeReport {
  const { cluster, layers } = scenario;
  const matrix = new ConnectivityMatrix(scenario, { external: false });
  const isolation = cluster.workloads.map((w) => ({
    workload: w.id,
    kind: w.kind,
    ingress: layers.flatMap((l) => l.isolatingPolicies(w, "ingress")),
    egress: layers.flatMap((l) => l.isolatingPolicies(w, "egress")),
  }));

  const connections: ConnectionGroup[] = [];
  let connected = 0;
  const n = cluster.workloads.length;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const dst = cluster.workloads[j]!;
      const declared = matrix.evaluatedFor(dst);
      const allowed = matrix.conns(i, j);
      // Pairs are reported on declared ports; a destination without declared ports is shown by its full allowance.
      const shown = declared.isEmpty() ? allowed : allowed.intersect(declared);
      if (shown.isEmpty()) continue;
      connected++;
      connections.push({ from: cluster.workloads[i]!.id, to: dst.id, conns: shown.isAll() ? "all" : shown.toString() });
    }
  }

  const exposure: Exposure[] = [];
  for (const w of cluster.workloads) {
    for (const direction of ["ingress", "egress"] as const) {
      const parts = partitionByAddress(intersectLayers(scenario, w, direction)).filter((p) => !p.conns.isEmpty());
      if (parts.length === 0) continue;
      const declared = direction === "ingress" ? matrix.evaluatedFor(w) : ConnSet.all();
      const ranges = parts
        .map((p) => ({ cidrs: p.ips.toCidrs(), conns: direction === "ingress" && !declared.isEmpty() ? p.conns.intersect(declared) : p.conns }))
        .filter((r) => !r.conns.isEmpty())
        .map((r) => ({ cidrs: r.cidrs, conns: r.conns.isAll() ? "all" : r.conns.toString() }));
      if (ranges.length > 0) exposure.push({ workload: w.id, direction, ranges });
    }
  }

  const policies: Record<string, number> = {};
  for (const layer of layers) policies[layer.id] = layer.policyCount;
  return {
    summary: {
      namespaces: cluster.namespaces.size,
      assumedNamespaces: [...cluster.namespaces.values()].filter((ns) => !ns.declared).length,
      workloads: n,
      services: cluster.services.length,
      policies,
      cni: scenario.profile.cni,
      classes: matrix.classCount,
      pairs: n * (n - 1),
      connectedPairs: connected,
    },
    isolation,
    connections,
    exposure,
    ...(scenario.mesh ? { mesh: meshModes(scenario) } : {}),
    findings: options.lint === false ? [] : runLint(scenario, options.lint).findings,
    ...(options.lint === false ? { lintSkipped: true } : {}),
    notes: [
      ...scenario.notes,
      ...(scenario.mesh
        ? ["External exposure covers the CNI layers; the mesh's PeerAuthentication and AuthorizationPolicy decide per flow (palisade reach FROM TO)"]
        : []),
    ],
  };
}

/** Workloads by data plane (sidecar, ambient, gateway, none). */
function meshModes(scenario: Scenario): { mode: string; workloads: string[] }[] {
  const byMode = new Map<string, string[]>();
  for (const w of scenario.cluster.workloads) {
    const mode = scenario.mesh!.membership(w).mode;
    byMode.set(mode, [...(byMode.get(mode) ?? []), w.id]);
  }
  return ["sidecar", "ambient", "gateway", "none"].filter((m) => byMode.has(m)).map((mode) => ({ mode, workloads: byMode.get(mode)! }));
}
