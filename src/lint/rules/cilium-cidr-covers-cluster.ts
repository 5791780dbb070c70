/**
 * A CIDR rule (toCIDR, toCIDRSet, fromCIDR, fromCIDRSet) whose range covers
 * addresses of the cluster in the input: pod IPs, Service ClusterIPs, node
 * addresses. Cilium never matches pods by CIDR, sees the backend pod rather than
 * the ClusterIP (DNAT comes first), and gives nodes their host/remote-node
 * identities unless policy-cidr-match-mode=nodes (semantics.md §3.5 r25,
 * §3.13 C10). Reported when the evaluator shows the difference: a peer the rule
 * seems to allow is denied (or one it seems to deny is allowed).
 */
import type { CiliumEngine, CiliumRule, CiliumSpec, PeerPart } from "../../layers/cilium/index.js";
import { POD_NAMESPACE_LABEL } from "../../layers/cilium/labels.js";
import type { Direction, Peer, WireConn } from "../../layers/types.js";
import type { Service, Workload } from "../../model/types.js";
import { resolveTargetPort, serviceBackends } from "../../path/index.js";
import type { Scenario } from "../../analysis/scenario.js";
import { createRule } from "../rule.js";
import { ciliumPolicyRules, ciliumResource, endpointsOf, rawAt, ruleName, rulePath, sampleConn, yamlSnippet } from "../facts/cilium.js";
import { ciliumEngine, listed } from "../util.js";

const CIDR_MEMBERS = ["toCIDR", "toCIDRSet", "fromCIDR", "fromCIDRSet"] as const;

type CidrPart = Extract<PeerPart, { type: "cidr" }>;

/** A range written as every address (`0.0.0.0/0`, `::/0`, with or without excepts) means "anywhere", not the cluster. */
const isEverywhere = (part: CidrPart): boolean => /^(0\.0\.0\.0|::)\/0\b/.test(part.text);

interface Covered {
  /** In-cluster things the range covers whose verdict is not what the rule suggests. */
  what: string[];
  endpoints: Set<string>;
  /** Selectors or entities that say what the range was meant to say. */
  peers: Record<string, unknown>[];
  entities: Set<string>;
  services: Record<string, unknown>[];
}

/** Whether the verdict contradicts the rule: an allow rule's peer denied, a deny rule's peer allowed. */
function contradicts(engine: CiliumEngine, rule: CiliumRule, endpoint: Workload, peer: Peer, conn: WireConn): boolean {
  const verdict = engine.evaluate(endpoint, rule.direction, peer, conn).verdict;
  return rule.deny ? verdict === "allow" : verdict === "deny";
}

/** The connection to try for a rule towards `dest`: one of its ports, else TCP 443. */
function connFor(engine: CiliumEngine, rule: CiliumRule, dest: Workload | undefined): WireConn | undefined {
  if (!rule.ports) return { protocol: "TCP", port: 443 };
  return sampleConn(engine.ruleConns(rule, dest));
}

function checkPods(engine: CiliumEngine, scenario: Scenario, rule: CiliumRule, part: CidrPart, endpoints: readonly Workload[], out: Covered): void {
  for (const pod of scenario.cluster.workloads) {
    if (pod.hostNetwork) continue;
    const ip = pod.ips.find((a) => part.ips.contains(a));
    if (!ip) continue;
    const hit = endpoints.filter((e) => {
      const conn = connFor(engine, rule, rule.direction === "ingress" ? e : pod);
      return e !== pod && conn !== undefined && contradicts(engine, rule, e, { kind: "workload", workload: pod, ip }, conn);
    });
    if (hit.length === 0) continue;
    out.what.push(`pod ${pod.id} (${ip})`);
    for (const e of hit) out.endpoints.add(e.id);
    out.peers.push({ matchLabels: { [POD_NAMESPACE_LABEL]: pod.namespace, ...pod.labels } });
  }
}

/** Egress to a ClusterIP: the policy sees the backend pod and its target port. */
function checkServices(engine: CiliumEngine, scenario: Scenario, rule: CiliumRule, part: CidrPart, endpoints: readonly Workload[], out: Covered): void {
  if (rule.direction !== "egress") return;
  for (const svc of scenario.cluster.services) {
    const ip = svc.clusterIPs.find((a) => part.ips.contains(a));
    if (!ip) continue;
    const conns = rule.ports ? engine.ruleConns(rule, undefined) : undefined;
    const port = svc.ports.find((p) => !conns || conns.contains(p.protocol, p.port));
    if (!port) continue;
    const backends = serviceBackends(scenario, svc);
    const hit = endpoints.filter((e) =>
      backends.some((b) => {
        const target = resolveTargetPort(port, b);
        return target !== undefined && b !== e && contradicts(engine, rule, e, { kind: "workload", workload: b }, { protocol: port.protocol, port: target });
      }),
    );
    if (hit.length === 0) continue;
    out.what.push(`Service ${svc.id} (ClusterIP ${ip})`);
    for (const e of hit) out.endpoints.add(e.id);
    out.services.push(serviceRef(svc));
  }
}

function serviceRef(svc: Service): Record<string, unknown> {
  return { k8sService: { serviceName: svc.name, namespace: svc.namespace } };
}

function checkNodes(engine: CiliumEngine, scenario: Scenario, rule: CiliumRule, part: CidrPart, endpoints: readonly Workload[], out: Covered): void {
  if (scenario.profile.cilium.policyCidrMatchMode === "nodes") return;
  for (const ip of scenario.nodeAddresses) {
    if (!part.ips.contains(ip)) continue;
    const hit = endpoints.filter((e) => {
      const conn = connFor(engine, rule, undefined);
      return conn !== undefined && contradicts(engine, rule, e, { kind: "node", local: e.hostIPs.includes(ip), ip }, conn);
    });
    if (hit.length === 0) continue;
    out.what.push(`node ${ip}`);
    for (const e of hit) out.endpoints.add(e.id);
    out.entities.add("remote-node");
    out.entities.add("host");
  }
}

/** The rule's peers written with what Cilium does match: endpoints, Services, node entities. */
function fixFor(direction: Direction, c: Covered): string | undefined {
  const from = direction === "ingress";
  const parts: Record<string, unknown>[] = [];
  if (c.peers.length) parts.push({ [from ? "fromEndpoints" : "toEndpoints"]: c.peers });
  if (c.services.length) parts.push({ toServices: c.services });
  if (c.entities.size) parts.push({ [from ? "fromEntities" : "toEntities"]: [...c.entities] });
  return parts.length ? yamlSnippet(parts) : undefined;
}

export default createRule({
  id: "cilium-cidr-covers-cluster",
  description: "A Cilium CIDR rule covers pod, Service or node addresses of the cluster, which Cilium never matches by CIDR",
  severity: "warning",
  messages: {
    notAllowed:
      "{{rule}}: CIDR {{cidr}} covers {{what}}, but Cilium never matches pods by CIDR (it sees the backend pod behind a ClusterIP, and nodes as host/remote-node): {{endpoints}} still cannot reach them ({{direction}})",
    notDenied:
      "{{rule}}: CIDR {{cidr}} covers {{what}}, but Cilium never matches pods by CIDR (it sees the backend pod behind a ClusterIP, and nodes as host/remote-node): this deny rule does not stop {{endpoints}} ({{direction}})",
  },
  check({ scenario, report }) {
    const engine = ciliumEngine(scenario);
    if (!engine) return;
    for (const { spec, rule } of ciliumPolicyRules(engine)) {
      const endpoints = endpointsOf(scenario, engine, spec, rule.direction);
      if (endpoints.length === 0) continue;
      for (const part of rule.peers) {
        if (part.type !== "cidr" || isEverywhere(part)) continue;
        const covered: Covered = { what: [], endpoints: new Set(), peers: [], entities: new Set(), services: [] };
        checkPods(engine, scenario, rule, part, endpoints, covered);
        checkServices(engine, scenario, rule, part, endpoints, covered);
        checkNodes(engine, scenario, rule, part, endpoints, covered);
        if (covered.what.length === 0) continue;
        reportCovered(spec, rule, part, rule.peers.indexOf(part), covered);
      }
    }

    function reportCovered(spec: CiliumSpec, rule: CiliumRule, part: CidrPart, index: number, covered: Covered): void {
      // One L3 member per rule (§3.2 r11), so the part's index is its entry's index in that member.
      const member = CIDR_MEMBERS.find((m) => Array.isArray(rawAt(spec.policy, rulePath(spec, rule, m))));
      const fix = rule.deny ? undefined : fixFor(rule.direction, covered);
      report({
        messageId: rule.deny ? "notDenied" : "notAllowed",
        data: {
          rule: ruleName(spec, rule),
          cidr: part.text,
          what: listed(covered.what),
          endpoints: listed([...covered.endpoints]),
          direction: rule.direction,
        },
        resource: ciliumResource(spec.policy),
        workloads: [...covered.endpoints],
        file: spec.policy.file,
        line: member ? spec.policy.manifest.lineOf(rulePath(spec, rule, member, index)) : rule.line,
        ...(fix ? { fix } : {}),
      });
    }
  },
});
