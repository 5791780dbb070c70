/**
 * What a change for one blocking hop needs to know: who the enforcer sees on
 * the other side of the connection, the labels that pick out a workload, and
 * the shape of a proposed change.
 */
import type { ReachRequest } from "../analysis/reach.js";
import type { Scenario } from "../analysis/scenario.js";
import type { Direction, LayerId, PolicyRef } from "../layers/types.js";
import type { Labels } from "../model/selector.js";
import type { Workload } from "../model/types.js";
import type { FlowSource, FlowTarget, Hop } from "../path/index.js";
import type { CreatedDocument, Workspace } from "./workspace.js";
import type { AddEdit } from "./yaml-edit.js";

/** The flow being fixed, resolved once. */
export interface FlowContext {
  request: ReachRequest;
  source: FlowSource;
  /** The destination, a Service with the port the client dials. */
  target: FlowTarget;
  /** The destination workloads (a Service's backends), empty for an outside destination. */
  destinations: readonly Workload[];
}

/** One proposed change at one enforcement point. */
export interface Candidate {
  layer: LayerId;
  direction: Direction | null;
  /** The enforcing endpoint. */
  workload: string;
  /** What the change does, in one sentence. */
  summary: string;
  /** The policy that blocked, for the report's file:line. */
  blockedBy: PolicyRef[];
  change: { action: "edit"; file: string; edit: AddEdit } | { action: "create"; document: CreatedDocument };
  /** A change this one needs first (a client enrolled in the mesh before its identity can be allowed). */
  prerequisite?: Candidate;
}

/** A blocking point no change can be proposed for, and why. */
export interface NoFix {
  layer: LayerId;
  direction: Direction | null;
  workload: string;
  reason: string;
  policies: PolicyRef[];
}

export interface HopContext {
  scenario: Scenario;
  workspace: Workspace;
  flow: FlowContext;
  /** Every hop of every path of the flow, in order; `index` is the blocking one. */
  hops: readonly Hop[];
  index: number;
}

/** The other end of a connection as one CNI enforcement point sees it. */
export type WirePeer = { kind: "workload"; workload: Workload } | { kind: "address"; ip: string } | { kind: "host"; host: string } | { kind: "unknown" };

export function workloadById(scenario: Scenario, id: string): Workload | undefined {
  return scenario.cluster.workloads.find((w) => w.id === id);
}

/**
 * The peer of the CNI hop at `index`. A leg's hops are its source's egress
 * hops (one per layer) followed by its destination's ingress hops, so an egress
 * hop's peer is the `at` of the ingress hops that follow, and an ingress hop's
 * peer the `at` of the egress hops before; without them the peer is an address
 * on the wire (an outside client, the ambient probe address, a node).
 */
export function wirePeer(ctx: HopContext): WirePeer {
  const { hops, index, scenario } = ctx;
  const hop = hops[index]!;
  if (hop.step === "egress") {
    let i = index + 1;
    while (i < hops.length && hops[i]!.step === "egress" && hops[i]!.at === hop.at) i++;
    const next = hops[i];
    if (next && next.step === "ingress") {
      const w = workloadById(scenario, next.at);
      if (w) return { kind: "workload", workload: w };
    }
    if (hop.wire.dstIP) return { kind: "address", ip: hop.wire.dstIP };
    return hop.wire.dstHost ? { kind: "host", host: hop.wire.dstHost } : { kind: "unknown" };
  }
  let i = index - 1;
  while (i >= 0 && hops[i]!.step === "ingress" && hops[i]!.at === hop.at) i--;
  const prev = hops[i];
  if (prev && prev.step === "egress") {
    const w = workloadById(scenario, prev.at);
    if (w) return { kind: "workload", workload: w };
  }
  return hop.wire.srcIP ? { kind: "address", ip: hop.wire.srcIP } : { kind: "unknown" };
}

/** Labels the controllers add to pods by themselves: they change from one rollout to the next. */
const GENERATED_LABELS = new Set([
  "pod-template-hash",
  "controller-revision-hash",
  "pod-template-generation",
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
  "controller-uid",
  "batch.kubernetes.io/controller-uid",
  "job-name",
  "batch.kubernetes.io/job-name",
  "batch.kubernetes.io/job-completion-index",
]);

function stableLabels(labels: Labels): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !GENERATED_LABELS.has(k)));
}

function isSubset(part: Labels, of: Labels): boolean {
  return Object.entries(part).every(([k, v]) => of[k] === v);
}

/**
 * The labels a selector should use to pick out `w`: its controller's
 * `spec.selector.matchLabels`, or its pod labels without the generated ones
 * when that selector also matches another workload of the namespace (or there
 * is none). Undefined when no label set tells it apart.
 */
export function identifyingLabels(scenario: Scenario, w: Workload): Record<string, string> | undefined {
  const spec = w.manifest.raw.spec as { selector?: { matchLabels?: unknown; matchExpressions?: unknown } } | undefined;
  const matchLabels = w.kind !== "Pod" && w.kind !== "Job" && w.kind !== "CronJob" ? spec?.selector?.matchLabels : undefined;
  const neighbours = scenario.cluster.workloads.filter((o) => o !== w && o.namespace === w.namespace);
  const unique = (labels: Record<string, string>) => Object.keys(labels).length > 0 && isSubset(labels, w.labels) && !neighbours.some((o) => isSubset(labels, o.labels));
  if (matchLabels && typeof matchLabels === "object" && Object.values(matchLabels).every((v) => typeof v === "string")) {
    const own = stableLabels(matchLabels as Record<string, string>);
    if (unique(own)) return own;
  }
  const all = stableLabels(w.labels);
  return unique(all) ? all : undefined;
}

/** Workload names as a policy name part: `allow-frontend-to-my-app`. */
export function newPolicyName(from: string, to: string): string {
  const clean = (s: string) => s.replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return `allow-${clean(from)}-to-${clean(to)}`.slice(0, 63).replace(/-+$/, "");
}

/** The short name of a flow end for a policy name. */
export function endName(peer: WirePeer): string {
  if (peer.kind === "workload") return peer.workload.name;
  if (peer.kind === "address") return peer.ip.replace(/[.:]/g, "-");
  if (peer.kind === "host") return peer.host.replace(/\./g, "-");
  return "peer";
}

/** The file a new document is suggested to go to: beside the enforcing workload's manifest. */
export function suggestedFile(w: Workload | undefined, name: string): string {
  const file = w?.source.file;
  if (!file || file.startsWith("<")) return `${name}.yaml`;
  const slash = file.lastIndexOf("/");
  return slash >= 0 ? `${file.slice(0, slash)}/${name}.yaml` : `${name}.yaml`;
}

/** The single-address CIDR of an address. */
export function hostCidr(ip: string): string {
  return ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

/** `name`, or `name-2`, `name-3`…: a name no object of the input or of the changes so far has in that namespace. */
export function uniqueName(scenario: Scenario, ctx: { workspace: Workspace }, namespace: string, name: string): string {
  const taken = new Set([
    ...scenario.manifests.filter((m) => (m.namespace ?? "default") === namespace).map((m) => m.name),
    ...ctx.workspace.created.map((d) => (d.object.metadata as { name?: string } | undefined)?.name ?? ""),
  ]);
  if (!taken.has(name)) return name;
  for (let i = 2; ; i++) if (!taken.has(`${name}-${i}`)) return `${name}-${i}`;
}
