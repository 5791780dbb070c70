/**
 * Property test: on random small policy sets, what redundant-rule and redundant-policy
 * report agrees with a brute force over the evaluator. The reference rebuilds the
 * NetworkPolicy layer without the reported rules and policies and compares
 * `evaluate` verdicts, per endpoint and direction, on every workload (with and
 * without its address), addresses on both sides of every CIDR edge, nodes with and
 * without an address, and ports on both sides of every range edge:
 *  - removing everything reported at once, or any reported item alone, changes no verdict;
 *  - removing, on top of that, any rule left that allows something changes one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Scenario } from "../../src/analysis/scenario.js";
import { NetworkPolicyLayer, type NetworkPolicy, type NetworkPolicyRule } from "../../src/layers/networkpolicy/index.js";
import type { Direction, Peer, WireConn } from "../../src/layers/types.js";
import { lint } from "../../src/lint/index.js";
import redundantPolicy from "../../src/lint/rules/redundant-policy.js";
import redundantRule from "../../src/lint/rules/redundant-rule.js";
import { formatIP, parseCidr } from "../../src/sets/index.js";
import { scenarioFromYaml, toYaml } from "../helpers/cluster.js";

const DIRECTIONS: readonly Direction[] = ["ingress", "egress"];

const NAMESPACES = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns-a", labels: { team: "x" } } },
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns-b", labels: { team: "y" } } },
];

const pod = (ns: string, name: string, labels: Record<string, string>, ports: object[], status: object, hostNetwork = false) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: ns, labels },
  spec: { ...(hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: "c", image: "c", ports }] },
  status,
});

/**
 * `http` is 8080 on one pod and 9090 on another; one pod has two addresses (an ipBlock can
 * hold one without the other); one pod runs in the host network.
 */
const PODS = [
  pod("ns-a", "p1", { app: "a" }, [{ name: "http", containerPort: 8080 }], { podIP: "10.1.0.5", podIPs: [{ ip: "10.1.0.5" }, { ip: "10.2.0.9" }], hostIP: "192.168.0.1" }),
  pod("ns-a", "p2", { app: "b" }, [{ name: "http", containerPort: 9090 }, { name: "dns", containerPort: 53, protocol: "UDP" }], { podIP: "10.2.0.7", hostIP: "192.168.0.2" }),
  pod("ns-b", "p3", { app: "a" }, [{ name: "http", containerPort: 8080 }], { podIP: "10.1.3.9", hostIP: "192.168.0.1" }),
  pod("ns-b", "p4", { app: "c" }, [], { hostIP: "192.168.0.2" }, true),
];

const IP_BLOCKS = [
  { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] },
  { cidr: "10.1.0.0/16" },
  { cidr: "10.0.0.0/9" },
  { cidr: "10.128.0.0/9" },
  { cidr: "0.0.0.0/0" },
  { cidr: "192.168.0.0/24" },
  { cidr: "::/0" },
];
const PEERS = [
  { podSelector: {} },
  { podSelector: { matchLabels: { app: "a" } } },
  { namespaceSelector: { matchLabels: { team: "x" } } },
  { namespaceSelector: {} },
  { namespaceSelector: { matchLabels: { team: "y" } }, podSelector: { matchLabels: { app: "a" } } },
  ...IP_BLOCKS.map((ipBlock) => ({ ipBlock })),
];
const PORTS = [{ port: 80 }, { port: 8080 }, { port: 8000, endPort: 9100 }, { port: "http" }, { protocol: "UDP", port: 53 }, { protocol: "UDP" }, { port: 9090 }];
const SELECTORS = [{}, { matchLabels: { app: "a" } }, { matchLabels: { app: "b" } }];
const POLICY_TYPES = [undefined, ["Ingress"], ["Egress"], ["Ingress", "Egress"]];

const ruleArb = fc.record(
  {
    peers: fc.option(fc.uniqueArray(fc.constantFrom(...PEERS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    ports: fc.option(fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  },
  { requiredKeys: [] },
);
const policyArb = fc.record({
  namespace: fc.constantFrom("ns-a", "ns-b"),
  podSelector: fc.constantFrom(...SELECTORS),
  policyTypes: fc.constantFrom(...POLICY_TYPES),
  ingress: fc.array(ruleArb, { maxLength: 3 }),
  egress: fc.array(ruleArb, { maxLength: 3 }),
});

type GeneratedPolicy = ReturnType<typeof policyArb.generate>["value"];

/** Copies of some policies keeping only some of their rules: the usual way a policy set comes to repeat itself. */
const copyArb = fc.record({ of: fc.nat(), keep: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }) });
const policySetArb = fc.tuple(fc.array(policyArb, { minLength: 1, maxLength: 4 }), fc.array(copyArb, { maxLength: 2 })).map(([base, copies]) => [
  ...base,
  ...copies.map(({ of, keep }) => {
    const p = base[of % base.length]!;
    return { ...p, ingress: p.ingress.filter((_, i) => keep[i]), egress: p.egress.filter((_, i) => keep[3 + i]) };
  }),
]);

function render(policies: readonly GeneratedPolicy[]): string {
  const docs = policies.map((p, i) => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: `p${i}`, namespace: p.namespace },
    spec: {
      podSelector: p.podSelector,
      ...(p.policyTypes ? { policyTypes: p.policyTypes } : {}),
      ...Object.fromEntries(
        DIRECTIONS.filter((d) => p[d].length > 0).map((d) => [
          d,
          p[d].map((r) => ({ ...(r.peers ? { [d === "ingress" ? "from" : "to"]: r.peers } : {}), ...(r.ports ? { ports: r.ports } : {}) })),
        ]),
      ),
    },
  }));
  return toYaml([...NAMESPACES, ...PODS, ...docs]);
}

/** Addresses on both sides of every CIDR edge (blocks and excepts), and the workloads' own. */
function probeAddresses(): string[] {
  const out = new Set<string>(["0.0.0.0", "255.255.255.255", "::", "2001:db8::1", "10.1.0.5", "10.2.0.9", "10.2.0.7", "10.1.3.9", "192.168.0.1", "192.168.0.2"]);
  for (const b of IP_BLOCKS) {
    for (const cidr of [b.cidr, ...(b.except ?? [])]) {
      const { family, network, prefix } = parseCidr(cidr);
      const bits = family === 4 ? 32n : 128n;
      const hostBits = bits - BigInt(prefix);
      const first = (network >> hostBits) << hostBits;
      const last = first + (1n << hostBits) - 1n;
      for (const v of [first - 1n, first, last, last + 1n]) if (v >= 0n && v <= (1n << bits) - 1n) out.add(formatIP(family, v));
    }
  }
  return [...out];
}
const ADDRESSES = probeAddresses();
const CONNS: WireConn[] = [
  ...[1, 79, 80, 81, 7999, 8000, 8079, 8080, 8081, 9090, 9091, 9100, 9101, 65535].map((port) => ({ protocol: "TCP" as const, port })),
  ...[1, 52, 53, 54].map((port) => ({ protocol: "UDP" as const, port })),
  { protocol: "SCTP", port: 1 },
];

function peersOf(scenario: Scenario): Peer[] {
  const out: Peer[] = [];
  for (const w of scenario.cluster.workloads) {
    out.push({ kind: "workload", workload: w });
    for (const ip of [...w.ips, ...(w.hostNetwork ? w.hostIPs : [])]) out.push({ kind: "workload", workload: w, ip });
  }
  for (const ip of ADDRESSES) out.push({ kind: "external", ip }, { kind: "node", local: false, ip });
  out.push({ kind: "node", local: false }, { kind: "node", local: true });
  return out;
}

/** Every verdict of the layer, as one string per (endpoint, direction, peer, connection). */
function verdicts(scenario: Scenario, policies: readonly NetworkPolicy[]): string[] {
  const layer = new NetworkPolicyLayer(policies, scenario.cluster, scenario.profile);
  const peers = peersOf(scenario);
  const out: string[] = [];
  for (const e of scenario.cluster.workloads) {
    for (const d of DIRECTIONS) {
      if (!layer.isolates(e, d)) {
        out.push(`${e.id} ${d} open`);
        continue;
      }
      for (const [k, peer] of peers.entries()) {
        let row = "";
        for (const c of CONNS) row += layer.evaluate(e, d, peer, c).verdict === "allow" ? "1" : "0";
        out.push(`${e.id} ${d} ${k} ${row}`);
      }
    }
  }
  return out;
}

/** The policies without the given policies and rules (policyTypes are kept as read). */
function without(policies: readonly NetworkPolicy[], gonePolicies: ReadonlySet<string>, goneRules: ReadonlySet<NetworkPolicyRule>): NetworkPolicy[] {
  return policies
    .filter((p) => !gonePolicies.has(p.name))
    .map((p) => ({ ...p, ingress: p.ingress.filter((r) => !goneRules.has(r)), egress: p.egress.filter((r) => !goneRules.has(r)) }));
}

/** Whether a rule admits anything, per the evaluator (exempt traffic names no rule). */
function admitsSomething(scenario: Scenario, layer: NetworkPolicyLayer, policy: NetworkPolicy, d: Direction, rule: NetworkPolicyRule): boolean {
  const peers = peersOf(scenario);
  for (const e of scenario.cluster.workloads) {
    if (e.namespace !== policy.namespace || !layer.isolates(e, d)) continue;
    for (const peer of peers) {
      for (const c of CONNS) {
        const dec = layer.evaluate(e, d, peer, c);
        if (dec.verdict === "allow" && dec.policies.some((r) => r.name === policy.name && r.namespace === policy.namespace && r.rule === rule.index)) return true;
      }
    }
  }
  return false;
}

describe("redundancy rules against the evaluator", () => {
  it("everything reported can go at once, each reported item alone too, and nothing else can", async () => {
    const seen = { rules: 0, policies: 0 };
    await fc.assert(
      fc.asyncProperty(policySetArb, async (generated) => {
        const scenario = await scenarioFromYaml(render(generated));
        const layer = scenario.layers.find((l): l is NetworkPolicyLayer => l instanceof NetworkPolicyLayer)!;
        const policies = layer.policies;
        const findings = lint(scenario, [redundantPolicy, redundantRule]);
        const gonePolicies = new Set(findings.filter((f) => f.rule === "redundant-policy").map((f) => f.resource.name));
        const goneRules = new Set<NetworkPolicyRule>();
        for (const f of findings.filter((x) => x.rule === "redundant-rule")) {
          const p = policies.find((x) => x.name === f.resource.name)!;
          const r = [...p.ingress, ...p.egress].find((x) => x.line === f.line);
          expect(r, `${f.resource.name}:${f.line}`).toBeDefined();
          goneRules.add(r!);
        }
        seen.rules += goneRules.size;
        seen.policies += gonePolicies.size;
        const full = verdicts(scenario, policies);
        const reduced = without(policies, gonePolicies, goneRules);
        expect(verdicts(scenario, reduced), "removing every reported item").toEqual(full);
        for (const name of gonePolicies) expect(verdicts(scenario, without(policies, new Set([name]), new Set())), `removing ${name}`).toEqual(full);
        for (const r of goneRules) expect(verdicts(scenario, without(policies, new Set(), new Set([r]))), `removing rule at line ${r.line}`).toEqual(full);

        const reducedLayer = new NetworkPolicyLayer(reduced, scenario.cluster, scenario.profile);
        for (const p of reduced) {
          for (const d of DIRECTIONS) {
            if (!p.policyTypes.has(d)) continue;
            for (const r of p[d]) {
              if (!admitsSomething(scenario, reducedLayer, p, d, r)) continue;
              const less = without(reduced, new Set(), new Set([r]));
              expect(verdicts(scenario, less), `${p.name} ${d}[${r.index}] is not reported, yet removing it changes nothing`).not.toEqual(full);
            }
          }
        }
      }),
      { numRuns: 60 },
    );
    // The generator is small enough that both rules report often: the property is not vacuous.
    expect(seen.rules).toBeGreaterThan(10);
    expect(seen.policies).toBeGreaterThan(5);
  }, 120_000);
});
