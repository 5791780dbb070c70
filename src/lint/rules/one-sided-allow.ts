/**
 * An allow rule whose flows the other end denies: an ingress rule admitting
 * senders whose own egress policy does not let them send, or an egress rule
 * towards receivers whose ingress policy does not let them in. A pod-to-pod flow
 * needs both ends (semantics §1.1 r3, §3.1 r5); each side's policy alone looks
 * right. Decided on the wire path (traceFlow) for the ports the rule names.
 */
import type { Scenario } from "../../analysis/scenario.js";
import { HBONE_PORT } from "../../layers/istio/index.js";
import type { Direction, PolicyRef, WireConn } from "../../layers/types.js";
import type { Workload } from "../../model/types.js";
import { traceFlow, type Hop } from "../../path/index.js";
import { createRule } from "../rule.js";
import { listed, meshMode, policyResource } from "../util.js";
import { allowRules, connText, identifyingLabels, policyName, probeConns, yamlMap, type AllowRule } from "../facts/networkpolicy.js";

/** One subject–peer pair the rule admits and the peer's side denies on every admitted port. */
interface BlockedPair {
  subject: Workload;
  peer: Workload;
  conns: WireConn[];
  /** The hops at the peer that deny, one per port. */
  hops: Hop[];
}

const CNI_ENFORCERS = new Set(["networkpolicy", "cilium"]);

/**
 * The hop at `peer`'s end of the flow that denies `conn`, on the application port
 * itself (a mesh tunnel changes the port; those rules are the ambient rules').
 */
function deniedAtPeer(scenario: Scenario, direction: Direction, subject: Workload, peer: Workload, conn: WireConn): Hop | undefined {
  const [src, dst] = direction === "ingress" ? [peer, subject] : [subject, peer];
  const step = direction === "ingress" ? "egress" : "ingress";
  for (const path of traceFlow(scenario, { kind: "workload", workload: src }, { kind: "workload", workload: dst }, conn)) {
    const hop = path.hops.find(
      (h) => h.step === step && h.at === peer.id && h.verdict === "deny" && CNI_ENFORCERS.has(h.enforcer) && h.wire.port === conn.port && h.wire.protocol === conn.protocol,
    );
    if (hop) return hop;
  }
  return undefined;
}

function refText(r: PolicyRef): string {
  return `${r.kind} ${policyName(r)}`;
}

/** The rule the peer's side lacks, in the API of the layer that denies. */
function fixFor(rule: AllowRule, pair: BlockedPair): string {
  const other = rule.direction === "ingress" ? "egress" : "ingress";
  const target = pair.subject;
  const labels = identifyingLabels(target);
  const sameNamespace = target.namespace === pair.peer.namespace;
  const byCilium = pair.hops.some((h) => h.enforcer === "cilium");
  const blocking = [...new Map(pair.hops.flatMap((h) => h.policies).map((p) => [refText(p), p])).values()];
  const header = `# ${other} of ${pair.peer.id} (${blocking.map(refText).join(", ")})\n`;
  if (byCilium) {
    const key = other === "egress" ? "toEndpoints" : "fromEndpoints";
    const selector = { ...(sameNamespace ? {} : { "io.kubernetes.pod.namespace": target.namespace }), ...labels };
    const ports = pair.conns.map((c) => `    - port: "${c.port}"\n      protocol: ${c.protocol}\n`).join("");
    return `${header}${other}:\n- ${key}:\n  - matchLabels:\n${yamlMap(selector, 6)}  toPorts:\n  - ports:\n${ports}`;
  }
  const key = other === "egress" ? "to" : "from";
  const namespace = sameNamespace ? "" : `  - namespaceSelector:\n      matchLabels:\n        kubernetes.io/metadata.name: ${target.namespace}\n`;
  const pods = `${sameNamespace ? "  - " : "    "}podSelector:\n      matchLabels:\n${yamlMap(labels, 8)}`;
  const ports = pair.conns.map((c) => `  - protocol: ${c.protocol}\n    port: ${c.port}\n`).join("");
  return `${header}${other}:\n- ${key}:\n${namespace}${pods}  ports:\n${ports}`;
}

export default createRule({
  id: "one-sided-allow",
  description: "An allow rule whose flows the policy at the other end denies (a flow must be allowed at both ends)",
  severity: "warning",
  messages: {
    ingress:
      "{{rule}} admits {{peers}} to {{subjects}} on {{ports}}, but the senders' own egress denies it ({{blocking}}): a flow must also be allowed where it leaves",
    egress:
      "{{rule}} lets {{subjects}} send to {{peers}} on {{ports}}, but the receivers' own ingress denies it ({{blocking}}): a flow must also be allowed where it arrives",
  },
  check({ scenario, report }) {
    const classKeys: Record<Direction, Map<Workload, string>> = { ingress: new Map(), egress: new Map() };
    const classOf = (direction: Direction, peer: Workload): string => {
      let key = classKeys[direction].get(peer);
      if (key === undefined) classKeys[direction].set(peer, (key = peerClassKey(scenario, direction, peer)));
      return key;
    };
    const isolation: Record<Direction, Map<Workload, boolean>> = { ingress: new Map(), egress: new Map() };
    const isolatedFor = (direction: Direction, w: Workload): boolean => {
      let v = isolation[direction].get(w);
      if (v === undefined) isolation[direction].set(w, (v = scenario.layers.some((l) => l.isolates(w, direction))));
      return v;
    };
    for (const rule of allowRules(scenario)) {
      const other: Direction = rule.direction === "ingress" ? "egress" : "ingress";
      const targeted: BlockedPair[] = [];
      const broad: BlockedPair[] = [];
      // Whether some peer matched only by a broad item (whole namespaces, everyone) gets through.
      let broadGetsThrough = false;
      const candidates = rule.subjects.length > 0 ? rule.candidatePeers() : [];
      for (const subject of rule.subjects) {
        // Peers of one class get the same answers: decide one of each.
        const outcomes = new Map<string, Outcome>();
        for (const peer of candidates) {
          const isBroad = rule.matchesBroadly(peer);
          // Once a broadly admitted peer gets through, no other broadly admitted peer can be reported.
          if (isBroad && broadGetsThrough) continue;
          // A peer the other side does not isolate is reported by nobody; it only matters to tell whether a broad item is of use.
          if (!isBroad && !isolatedFor(other, peer)) continue;
          const key = peer === subject ? "self" : `${isBroad}|${classOf(rule.direction, peer)}`;
          let outcome = outcomes.get(key);
          if (outcome === undefined) outcomes.set(key, (outcome = decide(scenario, rule, subject, peer)));
          if (outcome === "not-admitted") continue;
          if (outcome === "gets-through") {
            if (isBroad) broadGetsThrough = true;
            continue;
          }
          (isBroad ? broad : targeted).push({ subject, peer, ...outcome });
        }
      }
      // A broad item is not a promise to every pod it covers: it is reported only when none of them can use it.
      const pairs = [...targeted, ...(broadGetsThrough ? [] : broad)];
      if (pairs.length === 0) continue;
      const peers = [...new Set(pairs.map((p) => p.peer.id))].sort();
      const subjects = [...new Set(pairs.map((p) => p.subject.id))].sort();
      report({
        messageId: rule.direction,
        data: { rule: rule.text, peers: listed(peers), subjects: listed(subjects), ports: connText(pairs.flatMap((p) => p.conns)), blocking: blockingText(pairs) },
        resource: policyResource(rule.ref),
        workloads: [...new Set([...peers, ...subjects])].sort(),
        file: rule.ref.file,
        line: rule.ref.line,
        fix: fixFor(rule, pairs[0]!),
      });
    }
  },
});

type Outcome = "not-admitted" | "gets-through" | { conns: WireConn[]; hops: Hop[] };

/** Whether the rule admits the pair on some port, and if so whether the peer's side denies every such port. */
function decide(scenario: Scenario, rule: AllowRule, subject: Workload, peer: Workload): Outcome {
  const dest = rule.direction === "ingress" ? subject : peer;
  const conns = probeConns(rule.conns(dest), dest).filter((c) => !isZtunnelHbone(peer, c) && rule.admits(subject, peer, c));
  if (conns.length === 0) return "not-admitted";
  const other: Direction = rule.direction === "ingress" ? "egress" : "ingress";
  if (!scenario.layers.some((l) => l.isolates(peer, other))) return "gets-through";
  const hops: Hop[] = [];
  for (const c of conns) {
    const hop = deniedAtPeer(scenario, rule.direction, subject, peer, c);
    if (!hop) return "gets-through";
    hops.push(hop);
  }
  return { conns, hops };
}

/**
 * HBONE to or from a ztunnel pod: in-pod ztunnel tunnels from each pod's own
 * network namespace, so the CNI sees the two application pods on 15008 and never
 * the ztunnel pod (semantics §5.3). A rule naming ztunnel there is the ambient
 * rules' concern, and opening the ztunnel pod's side would change nothing.
 */
function isZtunnelHbone(peer: Workload, conn: WireConn): boolean {
  return peer.labels["app"] === "ztunnel" && conn.protocol === "TCP" && conn.port === HBONE_PORT;
}

/**
 * What the answers for a peer depend on besides the rule and the subject: its
 * roles in every layer (CniLayer.roleKeys: as a rule's peer, and as the endpoint
 * on the other side), its mesh mode (which decides the port on the wire) and, as a
 * destination, its declared ports (which the probed ports come from).
 */
function peerClassKey(scenario: Scenario, direction: Direction, peer: Workload): string {
  const roles = scenario.layers.map((l) => {
    const k = l.roleKeys(peer);
    return direction === "ingress" ? `${k.ingressPeer}/${k.egressEndpoint}` : `${k.egressPeer}/${k.ingressEndpoint}`;
  });
  const ports = direction === "egress" ? peer.ports.map((p) => `${p.name ?? ""}=${p.protocol}${p.port}`).join(",") : "";
  return [meshMode(scenario, peer), ports, ...roles].join("#");
}

/** The peers and the policies that isolate them, one entry per set of policies. */
function blockingText(pairs: readonly BlockedPair[]): string {
  const byPolicies = new Map<string, Set<string>>();
  for (const p of pairs) {
    const policies = [...new Set(p.hops.flatMap((h) => h.policies).map(refText))].join(", ");
    byPolicies.set(policies, (byPolicies.get(policies) ?? new Set()).add(p.peer.id));
  }
  return [...byPolicies]
    .map(([policies, peers]) => `${listed([...peers].sort())} by ${policies}`)
    .sort()
    .join("; ");
}
