/**
 * Changes at a CNI enforcement point (Kubernetes NetworkPolicy, Cilium CNP and
 * CCNP): one allow rule for exactly the blocked peer and port, added to the
 * policy that isolates only the blocked workload, else in a new policy that
 * selects only it. Both policy kinds are unions of allow rules, so an added
 * rule opens that tuple and nothing else for the workloads the policy selects.
 */
import type { Scenario } from "../analysis/scenario.js";
import type { CniLayer, Direction, PolicyRef } from "../layers/types.js";
import type { Manifest } from "../load/types.js";
import { NAMESPACE_NAME_LABEL, type Workload } from "../model/types.js";
import type { Hop } from "../path/index.js";
import { endName, hostCidr, identifyingLabels, newPolicyName, suggestedFile, uniqueName, wirePeer, workloadById, type Candidate, type HopContext, type NoFix, type WirePeer } from "./context.js";
import { citePolicy, describeObject } from "../layers/policy-ref.js";

const CILIUM_NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace";
const CILIUM_KINDS = new Set(["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);

const sameRef = (a: PolicyRef, b: PolicyRef) => a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;

/** The manifest a policy reference points at. */
export function manifestOf(scenario: Scenario, ref: PolicyRef): Manifest | undefined {
  return scenario.manifests.find(
    (m) => m.kind === ref.kind && m.name === ref.name && m.source.file === ref.file && (ref.namespace === null || (m.namespace ?? "default") === ref.namespace),
  );
}

/** The isolating policies of this layer that select `w` and no other workload, in the order the layer gives them. */
function policiesOfOnly(scenario: Scenario, layer: CniLayer, w: Workload, direction: Direction): PolicyRef[] {
  const own = layer.isolatingPolicies(w, direction).filter((r, i, all) => all.findIndex((o) => sameRef(o, r)) === i);
  return own.filter((ref) => scenario.cluster.workloads.every((o) => o === w || !layer.isolatingPolicies(o, direction).some((r) => sameRef(r, ref))));
}

function k8sPeer(scenario: Scenario, peer: WirePeer): Record<string, unknown> | string {
  if (peer.kind === "workload" && peer.workload.hostNetwork) {
    // Pod selectors never match a host-network pod: it has its node's address.
    const node = peer.workload.hostIPs[0];
    return node ? { ipBlock: { cidr: hostCidr(node) } } : `${peer.workload.id} runs in the host network and the input gives no node address for it (status.hostIP), so no ipBlock can be written`;
  }
  if (peer.kind === "workload") {
    const labels = identifyingLabels(scenario, peer.workload);
    return {
      namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.workload.namespace } },
      podSelector: labels ? { matchLabels: labels } : {},
    };
  }
  if (peer.kind === "address") return { ipBlock: { cidr: hostCidr(peer.ip) } };
  if (peer.kind === "host") return `a Kubernetes NetworkPolicy cannot match the DNS name ${peer.host}: give its address (palisade fix FROM ADDRESS:PORT) to get an ipBlock rule`;
  return "the other end of the connection is not known";
}

function ciliumPeer(scenario: Scenario, peer: WirePeer, direction: Direction): Record<string, unknown> | string {
  const side = direction === "ingress" ? "from" : "to";
  // Cilium gives a host-network pod its node's identity: the local host, or a remote node, depending on placement.
  if (peer.kind === "workload" && peer.workload.hostNetwork) return { [`${side}Entities`]: ["host", "remote-node"] };
  if (peer.kind === "workload") {
    const labels = identifyingLabels(scenario, peer.workload) ?? {};
    return { [`${side}Endpoints`]: [{ matchLabels: { [CILIUM_NAMESPACE_LABEL]: peer.workload.namespace, ...labels } }] };
  }
  if (peer.kind === "address") return { [`${side}CIDR`]: [hostCidr(peer.ip)] };
  if (peer.kind === "host" && direction === "egress") return { toFQDNs: [{ matchName: peer.host.toLowerCase().replace(/\.$/, "") }] };
  return "the other end of the connection is not known";
}

/**
 * The change for a CNI hop that denies. A Cilium deny rule that matches cannot
 * be overridden by any allow (deny takes precedence): it is named instead.
 */
export function cniCandidates(ctx: HopContext): Candidate[] | NoFix {
  const { scenario } = ctx;
  const hop = ctx.hops[ctx.index]!;
  const direction = hop.direction as Direction;
  const layerId = hop.enforcer as "networkpolicy" | "cilium" | "adminnetworkpolicy";
  const noFix = (reason: string): NoFix => ({ layer: layerId, direction, workload: hop.at, reason, policies: hop.policies });
  const layer = scenario.layers.find((l) => l.id === layerId);
  const w = workloadById(scenario, hop.at);
  if (!layer || !w) return noFix(`no ${layerId} policy set to change for ${hop.at}`);
  if (layerId === "adminnetworkpolicy") return noFix("AdminNetworkPolicy is not evaluated yet: no change can be verified");
  if (isDenyRule(hop)) {
    return noFix(
      `${hop.policies.map(citePolicy).join(", ")} denies it, and a deny rule takes precedence over every allow rule: narrow that rule so that it no longer matches ${hop.wire.protocol}/${hop.wire.port} towards this peer, or leave the flow denied if the rule is meant`,
    );
  }
  const peer = wirePeer(ctx);
  const conn = { protocol: hop.wire.protocol, port: hop.wire.port };
  const cilium = layerId === "cilium";
  const k8s = k8sPeer(scenario, peer);
  const cil = ciliumPeer(scenario, peer, direction);
  const rules = {
    NetworkPolicy: typeof k8s === "string" ? k8s : { [direction === "ingress" ? "from" : "to"]: [k8s], ports: [{ protocol: conn.protocol, port: conn.port }] },
    Cilium: typeof cil === "string" ? cil : { ...cil, toPorts: [{ ports: [{ port: String(conn.port), protocol: conn.protocol }] }] },
  };
  const unlabelled = peer.kind === "workload" && !peer.workload.hostNetwork && !identifyingLabels(scenario, peer.workload);
  const peerText =
    peer.kind === "workload"
      ? `${peer.workload.id}${unlabelled ? ` (no label set tells it apart, so the rule admits every pod of namespace ${peer.workload.namespace})` : ""}`
      : peer.kind === "address"
        ? peer.ip
        : peer.kind === "host"
          ? peer.host
          : "the peer";
  const what = `${direction === "ingress" ? "from" : "to"} ${peerText} on ${conn.protocol}/${conn.port}`;
  const out: Candidate[] = [];

  for (const ref of policiesOfOnly(scenario, layer, w, direction)) {
    const m = manifestOf(scenario, ref);
    if (!m || !ctx.workspace.editable(m.source.file)) continue;
    const isCilium = CILIUM_KINDS.has(m.kind);
    if (isCilium && (m.raw.specs !== undefined || m.raw.spec === undefined)) continue;
    const rule = isCilium ? rules.Cilium : rules.NetworkPolicy;
    if (typeof rule === "string") continue;
    out.push({
      layer: layerId,
      direction,
      workload: w.id,
      summary: `add an ${direction} rule to ${m.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name} (it selects only ${w.id}) allowing ${what}`,
      blockedBy: hop.policies,
      change: { action: "edit", file: m.source.file, edit: { object: { kind: m.kind, namespace: m.namespace, name: m.name }, path: ["spec", direction], value: rule } },
    });
    break;
  }
  if (out.length === 0) {
    // A new policy: Cilium's kind where a Cilium policy takes part, else a NetworkPolicy.
    const rule = cilium ? rules.Cilium : rules.NetworkPolicy;
    if (typeof rule === "string") return noFix(rule);
    const created = newPolicy(ctx, w, peer, direction, cilium, [rule], `allowing ${what}`);
    if (typeof created === "string") return noFix(`${created}; add a rule allowing ${what} to one of ${describeRefs(hop.policies)}`);
    out.push(created);
  }
  // A name is only learned through Cilium's DNS proxy: without a DNS rule the toFQDNs rule never matches (§3.6).
  // The DNS rule admits every lookup ("*"): a narrower one would make the proxy refuse the endpoint's other lookups.
  if (cilium && peer.kind === "host" && typeof rules.Cilium !== "string") {
    const dns = {
      toEndpoints: [{ matchLabels: { [CILIUM_NAMESPACE_LABEL]: "kube-system", "k8s:k8s-app": "kube-dns" } }],
      toPorts: [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*" }] } }],
    };
    const created = newPolicy(ctx, w, peer, direction, true, [dns, rules.Cilium], `allowing ${what}, with a DNS rule through Cilium's DNS proxy so that the name's addresses are learned`);
    if (typeof created !== "string") out.push(created);
  }
  return out;
}

/** A new policy of the layer's kind selecting only `w`, with `rules` in `direction`; a string says why there is none. */
function newPolicy(ctx: HopContext, w: Workload, peer: WirePeer, direction: Direction, cilium: boolean, rules: unknown[], what: string): Candidate | string {
  const { scenario } = ctx;
  const hop = ctx.hops[ctx.index]!;
  const labels = identifyingLabels(scenario, w);
  if (!labels) return `no label set selects ${w.id} alone, so a new policy would select other workloads too`;
  const [srcName, dstName] = direction === "ingress" ? [endName(peer), w.name] : [w.name, endName(peer)];
  const name = uniqueName(scenario, ctx, w.namespace, newPolicyName(srcName, dstName) + (direction === "egress" ? "-egress" : ""));
  const object = cilium
    ? { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace: w.namespace }, spec: { endpointSelector: { matchLabels: labels }, [direction]: rules } }
    : {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace: w.namespace },
        spec: { podSelector: { matchLabels: labels }, policyTypes: [direction === "ingress" ? "Ingress" : "Egress"], [direction]: rules },
      };
  return {
    layer: hop.enforcer as Candidate["layer"],
    direction,
    workload: w.id,
    summary: `create ${object.kind} ${w.namespace}/${name} selecting only ${w.id}, ${what}`,
    blockedBy: hop.policies,
    change: { action: "create", document: { file: suggestedFile(w, name), object } },
  };
}

function describeRefs(refs: readonly PolicyRef[]): string {
  return refs.map((p) => `${describeObject(p)} (${p.file}:${p.line})`).join(", ");
}

/** A Cilium deny rule decided the hop. */
function isDenyRule(hop: Hop): boolean {
  return hop.byDenyRule === true;
}
