/**
 * `palisade fix`: for a denied flow, the smallest change at each enforcement
 * point that blocks it, verified. The flow is traced; the first blocking hop
 * gets one change (a rule added to the policy that applies to that endpoint
 * only, or a new document); the change is applied to the input text and read
 * back with the loader; the flow is traced again, until it is allowed or a
 * point has no change to offer. Then the connectivity matrix before and after
 * shows everything else the changes open or close.
 */
import { reach, type BlockedBy, type ReachRequest, type ReachResult } from "../analysis/reach.js";
import { asSource, asTarget, resolveReference, splitPort } from "../analysis/reference.js";
import type { Scenario } from "../analysis/scenario.js";
import { HBONE_PORT } from "../layers/istio/index.js";
import { LABEL_GATEWAY_NAME } from "../layers/istio/membership.js";
import type { Direction, LayerId, PolicyRef } from "../layers/types.js";
import type { Workload } from "../model/types.js";
import { serviceBackends, type FlowTarget, type Hop } from "../path/index.js";
import type { Protocol } from "../sets/index.js";
import { stringify } from "yaml";
import { cniCandidates } from "./cni.js";
import { connectivityDiff, type ConnectionChange } from "./connectivity.js";
import type { Candidate, FlowContext, HopContext, NoFix } from "./context.js";
import { unifiedDiff } from "./diff.js";
import { authorizationCandidates, egressCandidates, peerAuthenticationCandidates } from "./istio.js";
import { readFromDisk, Workspace, type ReadText } from "./workspace.js";
import { documentText, YamlEditError } from "./yaml-edit.js";

export type { ConnectionChange } from "./connectivity.js";
export type { NoFix } from "./context.js";
export { readFromDisk, type ReadText } from "./workspace.js";

/** One change of the fix, as printed. */
export interface FixChange {
  layer: LayerId;
  /** What enforces at that point: `cni`, or the Istio proxy (sidecar, ztunnel, waypoint, gateway). */
  enforcer: string;
  direction: Direction | null;
  /** The enforcing endpoint. */
  workload: string;
  /** The file edited, or the file a new document is suggested to go to. */
  file: string;
  kind: string;
  namespace: string | null;
  name: string;
  action: "edit" | "create";
  /** The edited document as it reads after the change, or the new document. */
  yaml: string;
  /** For an edit: the unified diff of the file. */
  diff?: string;
  summary: string;
  /** The policies that blocked at this point (file and line). */
  blockedBy: PolicyRef[];
}

export interface FixResult {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  verdictBefore: "allowed" | "denied";
  blockedBefore: BlockedBy | null;
  changes: FixChange[];
  verdictAfter: "allowed" | "denied";
  blockedAfter: BlockedBy | null;
  /** The blocking point no verified change exists for, when the flow stays denied. */
  noFix: NoFix | null;
  /** Other changes that would also have let the flow through, and why they were not chosen. */
  alternatives: string[];
  /** Connectivity tuples the changes allow that were denied before (`requested`: the flow itself). */
  opened: ConnectionChange[];
  /** Tuples allowed before and denied after. */
  closed: ConnectionChange[];
  /** What the connectivity diff cannot show for these changes (parts of the path the matrix leaves out). */
  diffLimits: string[];
  assumptions: string[];
}

export interface FixOptions {
  /** How to read an input file's text again (default: from disk). */
  readText?: ReadText;
  /** Most enforcement points to change (default 8). */
  maxSteps?: number;
}

/** The flow's ends, resolved the way `reach` resolves them. */
function flowContext(scenario: Scenario, request: ReachRequest, result: ReachResult): FlowContext {
  const split = splitPort(request.to);
  const source = asSource(resolveReference(scenario, request.from), request.from);
  const target = asTarget(resolveReference(scenario, split.ref), split.ref);
  let flowTarget: FlowTarget;
  let destinations: Workload[] = [];
  if (target.kind === "service") {
    const port = target.service.ports.find((p) => p.port === result.port && p.protocol === result.protocol) ?? target.service.ports[0]!;
    flowTarget = { kind: "service", service: target.service, port };
    destinations = serviceBackends(scenario, target.service);
  } else {
    flowTarget = target;
    if (target.kind === "workload") destinations = [target.workload];
  }
  return { request, source, target: flowTarget, destinations };
}

function candidatesFor(ctx: HopContext): Candidate[] | NoFix {
  const hop = ctx.hops[ctx.index]!;
  const base = { layer: hop.enforcer as LayerId, direction: hop.direction, workload: hop.at, policies: hop.policies };
  switch (hop.enforcer) {
    case "networkpolicy":
    case "cilium":
    case "adminnetworkpolicy":
      return cniCandidates(ctx);
    case "istio-authorization":
      return authorizationCandidates(ctx);
    case "istio-peerauthentication":
      return peerAuthenticationCandidates(ctx);
    case "istio-egress":
      return egressCandidates(ctx);
    case "service":
      return { ...base, reason: `${hop.reason}: the Service itself has to change (its selector, ports or endpoints); no policy change helps` };
    default:
      return { ...base, reason: hop.reason };
  }
}

const sameBlock = (a: Hop, b: Hop) => a.step === b.step && a.enforcer === b.enforcer && a.at === b.at && a.wire.port === b.wire.port && a.wire.protocol === b.wire.protocol;
const firstDeny = (r: ReachResult) => r.hops.find((h) => h.verdict === "deny");

/** One change applied, with the file's text before and after it (edits only). */
interface Step {
  candidate: Candidate;
  before?: string;
  after?: string;
}

interface Applied {
  candidate: Candidate;
  enforcer: string;
  /** The candidate's prerequisite (if any), then the candidate. */
  steps: Step[];
  workspace: Workspace;
  result: ReachResult;
}

function applyOne(ws: Workspace, c: Candidate): { workspace: Workspace; step: Step } {
  if (c.change.action === "edit") {
    const before = ws.current(c.change.file)!;
    const next = ws.withEdit(c.change.file, c.change.edit);
    return { workspace: next, step: { candidate: c, before, after: next.current(c.change.file)! } };
  }
  return { workspace: ws.withDocument(c.change.document), step: { candidate: c } };
}

function apply(ws: Workspace, c: Candidate, request: ReachRequest, enforcer: string): Applied | string {
  const steps: Step[] = [];
  let current = ws;
  try {
    for (const part of c.prerequisite ? [c.prerequisite, c] : [c]) {
      const r = applyOne(current, part);
      steps.push(r.step);
      current = r.workspace;
    }
    return { candidate: c, enforcer, steps, workspace: current, result: reach(current.scenario(), request) };
  } catch (e) {
    if (e instanceof YamlEditError) return `${c.summary}: cannot edit ${c.change.action === "edit" ? c.change.file : ""}: ${e.message}`;
    throw e;
  }
}

/** The ports the connectivity diff evaluates besides the declared ones: the flow's, as each enforcer saw it. */
function flowPorts(before: ReachResult, after: ReachResult, flow: FlowContext): number[] {
  // A Service port is not a port of the pods: the container ports behind it come from the hops.
  const ports = new Set<number>(flow.target.kind === "service" ? [] : [before.port]);
  for (const h of [...before.hops, ...after.hops]) {
    if ((h.step === "ingress" || h.step === "egress" || h.step === "authorization" || h.step === "peer-authentication") && h.wire.port !== HBONE_PORT) ports.add(h.wire.port);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * Finds and verifies the fix for one flow. Throws ReferenceError (from the
 * resolution of FROM and TO) for a flow that cannot be read.
 */
export function fixFlow(scenario: Scenario, request: ReachRequest, options: FixOptions = {}): FixResult {
  const before = reach(scenario, request);
  const flow = flowContext(scenario, request, before);
  const out: FixResult = {
    from: before.from,
    to: before.to,
    port: before.port,
    protocol: before.protocol,
    verdictBefore: before.verdict,
    blockedBefore: before.blockedBy,
    changes: [],
    verdictAfter: before.verdict,
    blockedAfter: before.blockedBy,
    noFix: null,
    alternatives: [],
    opened: [],
    closed: [],
    diffLimits: [],
    assumptions: before.assumptions,
  };
  if (before.verdict === "allowed") return out;

  let ws = Workspace.of(scenario, options.readText ?? readFromDisk);
  let current = before;
  const applied: Applied[] = [];
  for (let step = 0; step < (options.maxSteps ?? 8) && current.verdict === "denied"; step++) {
    const hops = current.hops;
    const index = hops.findIndex((h) => h.verdict === "deny");
    const hop = hops[index]!;
    const found = candidatesFor({ scenario: ws.scenario(), workspace: ws, flow: { ...flow, ...rebind(ws.scenario(), flow) }, hops, index });
    if (!Array.isArray(found)) {
      out.noFix = found;
      break;
    }
    const tried = found.map((c) => apply(ws, c, request, hop.proxy ?? (hop.enforcer === "istio-egress" ? "sidecar" : "cni")));
    const progressing = tried.filter((t): t is Applied => typeof t !== "string" && (t.result.verdict === "allowed" || !sameBlock(firstDeny(t.result)!, hop)));
    for (const t of tried) if (typeof t === "string") out.alternatives.push(t);
    if (progressing.length === 0) {
      out.noFix = {
        layer: hop.enforcer as LayerId,
        direction: hop.direction,
        workload: hop.at,
        reason:
          found.length === 0
            ? `no change can be proposed at this point: ${hop.reason}`
            : `the proposed change (${found.map((c) => c.summary).join("; ")}) does not let the flow past this point: ${hop.reason}`,
        policies: hop.policies,
      };
      break;
    }
    let chosen = progressing[0]!;
    if (progressing.length > 1) {
      // Several ways through this point: the one that opens (and closes) least, measured on the matrix.
      const ports = flowPorts(before, chosen.result, flow);
      const measured = progressing.map((t) => {
        const d = connectivityDiff(ws.scenario(), t.workspace.scenario(), ports, before.protocol, flow);
        return { t, cost: d.opened.length + d.closed.length };
      });
      measured.sort((a, b) => a.cost - b.cost);
      chosen = measured[0]!.t;
      for (const m of measured.slice(1)) {
        out.alternatives.push(`${m.t.candidate.summary}: also lets the flow through, but changes ${m.cost} connection${m.cost === 1 ? "" : "s"} (the chosen change: ${measured[0]!.cost})`);
      }
    }
    applied.push(chosen);
    ws = chosen.workspace;
    current = chosen.result;
  }

  if (current.verdict === "denied" && !out.noFix) {
    const hop = current.hops.find((h) => h.verdict === "deny")!;
    out.noFix = {
      layer: hop.enforcer as LayerId,
      direction: hop.direction,
      workload: hop.at,
      reason: `still blocked after ${applied.length} change${applied.length === 1 ? "" : "s"}, the most fix makes for one flow: ${hop.reason}`,
      policies: hop.policies,
    };
  }
  out.changes = applied.flatMap((a) => a.steps.map((step) => describe(step, a.enforcer)));
  workspaces.set(out, ws);
  out.verdictAfter = current.verdict;
  out.blockedAfter = current.blockedBy;
  if (applied.length > 0) {
    const d = connectivityDiff(scenario, ws.scenario(), flowPorts(before, current, flow), before.protocol, flow);
    out.opened = d.opened;
    out.closed = d.closed;
    out.diffLimits = diffLimits(ws.scenario(), applied, request);
  }
  return out;
}

/**
 * What the connectivity diff cannot show: the matrix leaves out a sidecar's
 * outbound control and waypoints (mesh-matrix.ts), and evaluates
 * AuthorizationPolicy without an HTTP request.
 */
function diffLimits(scenario: Scenario, applied: readonly Applied[], request: ReachRequest): string[] {
  const out: string[] = [];
  if (applied.some((a) => a.candidate.layer === "istio-egress")) {
    out.push("the matrix leaves out a sidecar's outbound control (Sidecar scope, ServiceEntry registry): the change there registers only the host and port it names, and shows no tuple");
  }
  const isWaypoint = (id: string) => {
    const w = scenario.cluster.workloads.find((x) => x.id === id);
    const name = w?.labels[LABEL_GATEWAY_NAME];
    return !!w && !!name && !!scenario.mesh?.waypoints.get(w.namespace, name);
  };
  if (applied.some((a) => isWaypoint(a.candidate.workload))) {
    out.push("the matrix leaves out waypoints (it evaluates pod-to-pod traffic): the change at the waypoint shows no tuple");
  }
  if (applied.some((a) => a.candidate.layer === "istio-authorization") && (request.method !== undefined || request.path !== undefined)) {
    out.push("the matrix evaluates AuthorizationPolicy without an HTTP request: the rule's methods and paths are not part of its tuples");
  }
  return out;
}

const workspaces = new WeakMap<FixResult, Workspace>();

/** A file the fix changes, with its whole new text (`created`: a new file, or new documents to append to it). */
export interface FixedFile {
  file: string;
  created: boolean;
  text: string;
}

/** Every file a fix changes, for applying it (`fix --write`): edited files in full, new documents grouped by suggested file. */
export function fixedFiles(result: FixResult): FixedFile[] {
  const ws = workspaces.get(result);
  if (!ws) return [];
  const out: FixedFile[] = [...ws.edited].map(([file, text]) => ({ file, created: false, text }));
  const byFile = new Map<string, string[]>();
  for (const d of ws.created) byFile.set(d.file, [...(byFile.get(d.file) ?? []), stringify(d.object, { lineWidth: 0 })]);
  for (const [file, docs] of byFile) out.push({ file, created: true, text: docs.join("---\n") });
  return out;
}

/** The flow's workloads as objects of the changed scenario (policies are matched against them). */
function rebind(scenario: Scenario, flow: FlowContext): Partial<FlowContext> {
  const same = (w: Workload) => scenario.cluster.workloads.find((x) => x.id === w.id) ?? w;
  const source = flow.source.kind === "workload" ? { ...flow.source, workload: same(flow.source.workload) } : flow.source;
  const target: FlowTarget =
    flow.target.kind === "workload"
      ? { ...flow.target, workload: same(flow.target.workload) }
      : flow.target.kind === "service"
        ? { ...flow.target, service: scenario.cluster.services.find((s) => s.id === (flow.target as { service: { id: string } }).service.id) ?? flow.target.service }
        : flow.target;
  return { source, target, destinations: flow.destinations.map(same) };
}

function describe(a: Step, enforcer: string): FixChange {
  const c = a.candidate;
  const common = { layer: c.layer, enforcer, direction: c.direction, workload: c.workload, summary: c.summary, blockedBy: c.blockedBy };
  if (c.change.action === "edit") {
    const { file, edit } = c.change;
    return {
      ...common,
      file,
      kind: edit.object.kind,
      namespace: edit.object.namespace ?? null,
      name: edit.object.name,
      action: "edit",
      yaml: documentText(a.after!, edit.object) ?? "",
      diff: unifiedDiff(file, a.before!, a.after!),
    };
  }
  const { document } = c.change;
  const meta = document.object.metadata as { name: string; namespace?: string };
  return {
    ...common,
    file: document.file,
    kind: document.object.kind as string,
    namespace: meta.namespace ?? null,
    name: meta.name,
    action: "create",
    yaml: stringify(document.object, { lineWidth: 0 }),
  };
}
