/**
 * What a fix changes besides the flow it was made for: the connectivity matrix
 * (declared container ports, plus the flow's own ports for every destination)
 * before and after, tuple by tuple.
 */
import { ConnectivityMatrix, EXTERNAL, type MatrixConnection } from "../analysis/matrix.js";
import type { Scenario } from "../analysis/scenario.js";
import type { Protocol } from "../sets/index.js";
import type { FlowContext } from "./context.js";

export interface ConnectionChange {
  from: string;
  to: string;
  port: number | null;
  protocol: Protocol | null;
  /** The flow that was asked for (from its source to one of its destination workloads, on one of its ports). */
  requested: boolean;
}

const key = (c: { from: string; to: string; port: number | null; protocol: Protocol | null }) => `${c.from}\u0000${c.to}\u0000${c.port}\u0000${c.protocol}`;

function tuples(scenario: Scenario, ports: readonly number[], protocol: Protocol): Map<string, MatrixConnection> {
  const out = new Map<string, MatrixConnection>();
  for (const c of new ConnectivityMatrix(scenario).connections()) out.set(key(c), c);
  if (ports.length > 0) for (const c of new ConnectivityMatrix(scenario, { ports, protocols: [protocol] }).connections()) out.set(key(c), c);
  return out;
}

export function connectivityDiff(
  before: Scenario,
  after: Scenario,
  ports: readonly number[],
  protocol: Protocol,
  flow: FlowContext,
): { opened: ConnectionChange[]; closed: ConnectionChange[] } {
  const a = tuples(before, ports, protocol);
  const b = tuples(after, ports, protocol);
  const from = flow.source.kind === "workload" ? flow.source.workload.id : EXTERNAL;
  const to = new Set(flow.target.kind === "external" ? [EXTERNAL] : flow.destinations.map((w) => w.id));
  const requested = (c: MatrixConnection) => c.from === from && to.has(c.to) && (c.port === null || ports.includes(c.port)) && (c.protocol === null || c.protocol === protocol);
  const opened: ConnectionChange[] = [];
  const closed: ConnectionChange[] = [];
  for (const [k, c] of b) {
    const was = a.get(k)?.allowed ?? false;
    if (c.allowed && !was) opened.push({ from: c.from, to: c.to, port: c.port, protocol: c.protocol, requested: requested(c) });
  }
  for (const [k, c] of a) {
    if (c.allowed && !(b.get(k)?.allowed ?? false)) closed.push({ from: c.from, to: c.to, port: c.port, protocol: c.protocol, requested: false });
  }
  return { opened, closed };
}
