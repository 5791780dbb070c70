/**
 * Property test: on random small policy sets, what redundant-rule and redundant-policy
 * report agrees with a brute force over the evaluator. The reference rebuilds the
 * NetworkPolicy layer without the reported rules and policies and compares
 * `evaluate` verdicts, per endpoint and direction, on every workload (with and
 * without its address), addresses on both sides of every CIDR edge, nodes with and
 * without an address, and ports on both sides of every range edge:
 *  - removing everything reported at once, or any reported item alone, changes no verdict;
 *  - removing, on top of that, any rule left that allows something changes one.
 * The Cilium half does the same for CiliumNetworkPolicies with the Cilium engine, removing
 * rules from the manifests (a policy left without rules is deleted), and probes egress to a
 * DNS name and an HTTP request L7 rules refuse as well.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Scenario } from "../../src/analysis/scenario.js";
import { CiliumLayer, type CiliumRule, type CiliumSpec } from "../../src/layers/cilium/index.js";
import { evaluateAuthorization, type AuthzRequest, type AuthzRule, type EnforcementPoint } from "../../src/layers/istio/authorization.js";
import { NetworkPolicyLayer, type NetworkPolicy, type NetworkPolicyRule } from "../../src/layers/networkpolicy/index.js";
import type { Direction, Peer, WireConn } from "../../src/layers/types.js";
import { lint } from "../../src/lint/index.js";
import redundantPolicy from "../../src/lint/rules/redundant-policy.js";
import redundantRule from "../../src/lint/rules/redundant-rule.js";
import { formatIP, parseCidr } from "../../src/sets/index.js";
import { errors, scenarioFromYaml, toYaml } from "../helpers/cluster.js";

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
    expect(seen.rules).toBeGreaterThan(5);
    expect(seen.policies).toBeGreaterThan(2);
  }, 120_000);
});

// ---------------------------------------------------------------------------
// Cilium: the same properties for allow rules of CiliumNetworkPolicies, with rules removed
// from the manifests themselves (so that a policy left without rules in a direction stops
// putting its endpoints in default deny, as Cilium reads it).

const CNP_PEERS = {
  ingress: [
    { fromEndpoints: [{}] },
    { fromEndpoints: [{ matchLabels: { app: "a" } }] },
    { fromEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "ns-b" } }] },
    { fromCIDR: ["10.0.0.0/8"] },
    { fromCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] }] },
    { fromEntities: ["world"] },
    { fromEntities: ["cluster"] },
    { fromEntities: ["all"] },
    { fromEntities: ["host", "remote-node"] },
    {},
  ],
  egress: [
    { toEndpoints: [{}] },
    { toEndpoints: [{ matchLabels: { app: "a" } }] },
    { toCIDR: ["10.0.0.0/8", "0.0.0.0/1"] },
    { toCIDR: ["128.0.0.0/1", "::/0"] },
    { toCIDRSet: [{ cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] }] },
    { toEntities: ["world"] },
    { toEntities: ["cluster"] },
    { toEntities: ["all"] },
    {},
  ],
};
const CNP_PORTS = [
  undefined,
  [{ ports: [{ port: "80", protocol: "TCP" }] }],
  [{ ports: [{ port: "8000", endPort: 9100, protocol: "TCP" }] }],
  [{ ports: [{ port: "http", protocol: "TCP" }] }],
  [{ ports: [{ port: "53", protocol: "UDP" }] }],
  [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ method: "GET" }] } }],
];

const cnpRuleArb = (direction: Direction) =>
  fc.record({ peers: fc.constantFrom(...CNP_PEERS[direction]), ports: fc.constantFrom(...CNP_PORTS) }).map(({ peers, ports }) => ({ ...peers, ...(ports ? { toPorts: ports } : {}) }));
const cnpArb = fc.record({
  namespace: fc.constantFrom("ns-a", "ns-b"),
  endpointSelector: fc.constantFrom(...SELECTORS),
  ingress: fc.array(cnpRuleArb("ingress"), { maxLength: 3 }),
  egress: fc.array(cnpRuleArb("egress"), { maxLength: 3 }),
  ingressDeny: fc.array(fc.constantFrom({ fromCIDR: ["10.1.0.0/16"] }, { fromEntities: ["host"] }), { maxLength: 1 }),
  enableDefaultDeny: fc.constantFrom(undefined, undefined, { ingress: false }, { egress: false }),
});
type GeneratedCnp = ReturnType<typeof cnpArb.generate>["value"];
type CnpSection = "ingress" | "egress" | "ingressDeny";

const cnpSetArb = fc.tuple(fc.array(cnpArb, { minLength: 1, maxLength: 3 }), fc.array(copyArb, { maxLength: 2 })).map(([base, copies]) => [
  ...base,
  ...copies.map(({ of, keep }) => {
    const p = base[of % base.length]!;
    return { ...p, ingress: p.ingress.filter((_, i) => keep[i]), egress: p.egress.filter((_, i) => keep[3 + i]) };
  }),
]);

/**
 * The policies as YAML without the rules in `gone` (`policy/section/index`). A policy left
 * with no rule is left out: Cilium rejects a policy without rules, so removing its last rule
 * means deleting it.
 */
function renderCnps(cnps: readonly GeneratedCnp[], gone: ReadonlySet<string> = new Set()): string {
  const docs = cnps.flatMap((p, i) => {
    const sections = Object.fromEntries(
      (["ingress", "egress", "ingressDeny"] as const)
        .map((s) => [s, p[s].filter((_, k) => !gone.has(`${i}/${s}/${k}`))] as const)
        .filter(([, list]) => list.length > 0),
    );
    if (Object.keys(sections).length === 0) return [];
    const spec = { endpointSelector: p.endpointSelector, ...(p.enableDefaultDeny ? { enableDefaultDeny: p.enableDefaultDeny } : {}), ...sections };
    return [{ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: `c${i}`, namespace: p.namespace }, spec }];
  });
  return toYaml([...NAMESPACES, ...PODS, ...docs]);
}

const BAD_REQUEST = { method: "POST", path: "/nope" };

function ciliumVerdicts(scenario: Scenario): string[] {
  const engine = scenario.layers.find((l): l is CiliumLayer => l instanceof CiliumLayer)!.engine;
  const peers = peersOf(scenario);
  const out: string[] = [];
  for (const e of scenario.cluster.workloads) {
    for (const d of DIRECTIONS) {
      for (const [k, peer] of peers.entries()) {
        let row = "";
        for (const c of CONNS) row += `${engine.evaluate(e, d, peer, c).verdict[0]}${engine.evaluate(e, d, peer, c, BAD_REQUEST).verdict[0]}`;
        out.push(`${e.id} ${d} ${k} ${row}`);
      }
    }
    let names = "";
    for (const c of CONNS) names += engine.evaluateName(e, "example.com", c).verdict[0];
    out.push(`${e.id} name ${names}`);
  }
  return out;
}

describe("redundant-rule on Cilium policies against the Cilium engine", () => {
  it("everything reported can go at once, each reported rule or policy alone too, and no other judged rule can", async () => {
    const seen = { rules: 0, policies: 0 };
    await fc.assert(
      fc.asyncProperty(cnpSetArb, async (cnps) => {
        const scenario = await scenarioFromYaml(renderCnps(cnps), { cni: "cilium" });
        expect(errors(scenario)).toEqual([]);
        const engine = scenario.layers.find((l): l is CiliumLayer => l instanceof CiliumLayer)!.engine;
        const keyOf = (spec: CiliumSpec, rule: CiliumRule): string => `${spec.policy.name.slice(1)}/${rule.section}/${rule.index}`;
        const reported = new Set<string>();
        /** Each finding as the rules it removes (a whole policy: all of its rules, which deletes it). */
        const items: string[][] = [];
        for (const f of lint(scenario, [redundantRule, redundantPolicy])) {
          const spec = engine.specs.find((s) => s.policy.name === f.resource.name)!;
          const keys = f.rule === "redundant-policy" ? spec.rules.map((r) => keyOf(spec, r)) : [keyOf(spec, spec.rules.find((r) => r.line === f.line)!)];
          if (f.rule === "redundant-policy") seen.policies++;
          items.push(keys);
          for (const k of keys) reported.add(k);
        }
        seen.rules += reported.size;
        const full = ciliumVerdicts(scenario);
        const without = async (gone: Set<string>) => ciliumVerdicts(await scenarioFromYaml(renderCnps(cnps, gone), { cni: "cilium" }));
        expect(await without(reported), "removing every reported rule and policy").toEqual(full);
        for (const keys of items) expect(await without(new Set(keys)), `removing ${keys.join(", ")}`).toEqual(full);

        // Every judged rule left, in a spec that keeps other rules in its direction, on endpoints in default deny,
        // changes something when removed.
        const reduced = await scenarioFromYaml(renderCnps(cnps, reported), { cni: "cilium" });
        const reducedFull = ciliumVerdicts(reduced);
        const reducedEngine = reduced.layers.find((l): l is CiliumLayer => l instanceof CiliumLayer)!.engine;
        for (const spec of reducedEngine.specs) {
          for (const rule of spec.rules) {
            if (rule.deny || rule.ports?.some((pr) => pr.l7) || rule.peers.length === 0) continue;
            // What a rule for every identity adds may lie only with identities no probe here can be (cilium-health, ...).
            if (rule.peers.some((p) => p.type === "all" || (p.type === "entity" && (p.entity === "all" || p.entity === "cluster")))) continue;
            if (!spec.rules.some((r) => r !== rule && r.direction === rule.direction)) continue;
            const si = reducedEngine.specs.indexOf(spec);
            const selected = reduced.cluster.workloads.filter((w) => reducedEngine.applies(w) && reducedEngine.factsOf(w).selectedBy[rule.direction].includes(si));
            if (selected.some((w) => !reducedEngine.defaultDeny(w, rule.direction))) continue;
            // Indexes in the reduced render are those of the full one (removed rules were dropped from the list): map back.
            const i = Number(spec.policy.name.slice(1));
            const original = cnps[i]![rule.section as CnpSection].map((_, k) => k).filter((k) => !reported.has(`${i}/${rule.section}/${k}`))[rule.index]!;
            const key = `${i}/${rule.section}/${original}`;
            const admits = reduced.cluster.workloads.some((e) =>
              peersOf(reduced).some((peer) => CONNS.some((c) => {
                const dec = reducedEngine.evaluate(e, rule.direction, peer, c);
                return dec.verdict === "allow" && dec.policies.some((r) => r.name === spec.policy.name && r.rule === rule.index);
              })),
            );
            if (!admits) continue;
            expect(await without(new Set([...reported, key])), `${key} is not reported, yet removing it changes nothing`).not.toEqual(reducedFull);
          }
        }
      }),
      { numRuns: 40 },
    );
    expect(seen.rules).toBeGreaterThan(5);
    expect(seen.policies).toBeGreaterThan(2);
  }, 240_000);
});

// ---------------------------------------------------------------------------
// Istio: AuthorizationPolicy ALLOW rules. The rule claims coverage for every request, so
// the reference is `evaluateAuthorization` on random requests at a sidecar, a ztunnel and a
// waypoint: removing what is reported changes no verdict.

const AP_SOURCE_VALUES: Readonly<Record<string, readonly string[]>> = {
  principals: ["cluster.local/ns/shop/sa/frontend", "cluster.local/ns/prod/*", "*/sa/admin", "*"],
  namespaces: ["shop", "prod", "sh*", "*p", "*"],
  serviceAccounts: ["frontend", "shop/admin", "prod/default"],
  trustDomains: ["cluster.local", "*"],
  ipBlocks: ["10.1.0.0/16", "10.1.0.5", "0.0.0.0/0", "192.168.0.0/16"],
  remoteIpBlocks: ["10.1.0.0/16", "0.0.0.0/0"],
  requestPrincipals: ["iss-a/alice", "*"],
};
const AP_OPERATION_VALUES: Readonly<Record<string, readonly string[]>> = {
  ports: ["8080", "9090"],
  methods: ["GET", "*"],
  paths: ["/api", "/api/*"],
};
const AP_CONDITIONS: Readonly<Record<string, readonly string[]>> = {
  "source.ip": ["10.1.0.0/16", "192.168.1.9"],
  "source.namespace": ["shop", "*p"],
  "destination.port": ["8080", "9090"],
  "request.headers[x-team]": ["blue"],
};

function apFieldsArb(vocab: Readonly<Record<string, readonly string[]>>): fc.Arbitrary<Record<string, string[]>> {
  const entry = fc
    .tuple(fc.constantFrom(...Object.keys(vocab)), fc.boolean())
    .chain(([f, negate]) => fc.tuple(fc.constant(negate ? `not${f[0]!.toUpperCase()}${f.slice(1)}` : f), fc.uniqueArray(fc.constantFrom(...vocab[f]!), { minLength: 1, maxLength: 2 })));
  return fc.array(entry, { minLength: 1, maxLength: 2 }).map((entries) => {
    const s = Object.fromEntries(entries);
    // istiod: serviceAccounts cannot be combined with principals or namespaces.
    if (Object.keys(s).some((k) => /erviceAccounts$/.test(k))) for (const k of ["principals", "notPrincipals", "namespaces", "notNamespaces"]) delete s[k];
    return s;
  });
}
const apConditionArb = fc.constantFrom(...Object.keys(AP_CONDITIONS)).chain((key) =>
  fc.oneof(
    fc.record({ key: fc.constant(key), values: fc.uniqueArray(fc.constantFrom(...AP_CONDITIONS[key]!), { minLength: 1, maxLength: 2 }) }),
    fc.record({ key: fc.constant(key), notValues: fc.uniqueArray(fc.constantFrom(...AP_CONDITIONS[key]!), { minLength: 1, maxLength: 2 }) }),
  ),
);
const apRuleArb = fc.record(
  {
    from: fc.array(apFieldsArb(AP_SOURCE_VALUES).map((source) => ({ source })), { minLength: 1, maxLength: 2 }),
    to: fc.array(apFieldsArb(AP_OPERATION_VALUES).map((operation) => ({ operation })), { minLength: 1, maxLength: 2 }),
    when: fc.array(apConditionArb, { minLength: 1, maxLength: 1 }),
  },
  { requiredKeys: [] },
);
const apArb = fc.record({
  namespace: fc.constantFrom("prod", "prod", "istio-system"),
  action: fc.constantFrom("ALLOW", "ALLOW", "ALLOW", "DENY"),
  attachment: fc.constantFrom<Record<string, unknown>>({}, { selector: { matchLabels: { app: "web" } } }, { selector: { matchLabels: { app: "web", version: "v1" } } }, { targetRefs: [{ kind: "Service", group: "", name: "web" }] }),
  rules: fc.array(apRuleArb, { minLength: 1, maxLength: 3 }),
});
type GeneratedAp = ReturnType<typeof apArb.generate>["value"];

/**
 * Copies of a policy that keep some rules and change them a little: a narrower selector, an
 * added condition, a dropped `from`/`to`/`when`, other values in one source field. Placed
 * before or after the original, so that either may be judged first.
 */
const apCopyArb = fc.record({
  of: fc.nat(),
  keep: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  narrow: fc.boolean(),
  change: fc.constantFrom("none", "condition", "drop-from", "drop-to", "drop-when", "values"),
  field: fc.constantFrom(...Object.keys(AP_SOURCE_VALUES)),
  values: fc.uniqueArray(fc.nat({ max: 4 }), { minLength: 1, maxLength: 2 }),
  before: fc.boolean(),
});
const apSetArb = fc.tuple(fc.array(apArb, { minLength: 1, maxLength: 3 }), fc.array(apCopyArb, { maxLength: 2 })).map(([base, copies]) => {
  const out = [...base];
  for (const { of, keep, narrow, change, field, values, before } of copies) {
    const p = base[of % base.length]!;
    const attachment = narrow && "selector" in p.attachment ? { selector: { matchLabels: { app: "web", version: "v1" } } } : p.attachment;
    const kept = p.rules.filter((_, i) => keep[i]);
    const rules = (kept.length > 0 ? kept : p.rules).map((r) => {
      switch (change) {
        case "condition":
          return { ...r, when: [...(r.when ?? []), { key: "source.ip", values: ["10.1.0.5"] }] };
        case "drop-from":
          return { ...r, from: undefined };
        case "drop-to":
          return { ...r, to: undefined };
        case "drop-when":
          return { ...r, when: undefined };
        case "values": {
          if (!r.from || Object.keys(r.from[0]!.source).some((k) => /erviceAccounts$/.test(k)) || /erviceAccounts$/.test(field)) return r;
          const vocab = AP_SOURCE_VALUES[field]!;
          const source = { ...r.from[0]!.source, [field]: [...new Set(values.map((v) => vocab[v % vocab.length]!))] };
          return { ...r, from: [{ source }, ...r.from.slice(1)] };
        }
        default:
          return r;
      }
    });
    const copy = { ...p, attachment, rules: rules.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined))) as typeof p.rules };
    if (before) out.unshift(copy);
    else out.push(copy);
  }
  return out;
});

function renderAps(aps: readonly GeneratedAp[]): string {
  const docs = aps.map((p, i) => ({
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: `a${i}`, namespace: p.namespace },
    spec: { ...p.attachment, action: p.action, rules: p.rules },
  }));
  return toYaml([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "istio-system" } }, { apiVersion: "v1", kind: "Namespace", metadata: { name: "prod" } }, ...docs]);
}

const apRequestArb: fc.Arbitrary<AuthzRequest> = fc
  .record({
    namespace: fc.constantFrom("prod", "shop", "ops"),
    serviceAccount: fc.constantFrom("frontend", "admin", "default"),
    ip: fc.constantFrom("10.1.0.5", "10.1.7.7", "192.168.1.9", undefined),
    remoteIp: fc.constantFrom(undefined, "203.0.113.7"),
    mtls: fc.boolean(),
    labels: fc.constantFrom<Record<string, string>>({ app: "web" }, { app: "web", version: "v1" }, { app: "db" }),
    port: fc.constantFrom(8080, 9090),
    http: fc.option(fc.record({ method: fc.constantFrom("GET", "POST"), path: fc.constantFrom("/api", "/api/x", "/admin"), host: fc.constant("web.prod"), headers: fc.constantFrom<Record<string, string>>({}, { "x-team": "blue" }), jwt: fc.constantFrom({ iss: "iss-a", sub: "alice" }, { iss: "iss-b", sub: "bob" }) }), { nil: undefined }),
  })
  .map((x) => ({
    source: { namespace: x.namespace, serviceAccount: x.serviceAccount, ip: x.ip, remoteIp: x.remoteIp, mtls: x.mtls },
    destination: { namespace: "prod", labels: x.labels, port: x.port },
    protocol: "TCP" as const,
    ...(x.http ? { http: x.http } : {}),
  }));

const AP_POINTS: readonly EnforcementPoint[] = [
  { kind: "sidecar" },
  { kind: "ztunnel" },
  { kind: "waypoint", waypoint: { namespace: "prod", name: "waypoint" }, service: { namespace: "prod", name: "web" } },
];

describe("redundant-rule on AuthorizationPolicies against the Istio evaluator", () => {
  it("removing the reported ALLOW rules and policies, together or alone, changes no verdict", async () => {
    const seen = { rules: 0, policies: 0 };
    await fc.assert(
      fc.asyncProperty(apSetArb, fc.array(apRequestArb, { minLength: 24, maxLength: 24 }), async (aps, requests) => {
        const scenario = await scenarioFromYaml(renderAps(aps));
        expect(errors(scenario)).toEqual([]);
        const mesh = scenario.mesh!;
        const policies = mesh.authorizationPolicies;
        const gone = new Set<AuthzRule>();
        const deleted = new Set<string>();
        for (const f of lint(scenario, [redundantRule, redundantPolicy])) {
          const p = policies.find((x) => x.name === f.resource.name)!;
          if (f.rule === "redundant-policy") deleted.add(p.name);
          else gone.add(p.rules.find((r) => r.line === f.line)!);
        }
        seen.rules += gone.size;
        seen.policies += deleted.size;
        const options = { rootNamespace: mesh.settings.rootNamespace };
        const verdicts = (without: ReadonlySet<AuthzRule>, deletedPolicies: ReadonlySet<string> = new Set()) => {
          const kept = policies.filter((p) => !deletedPolicies.has(p.name)).map((p) => ({ ...p, rules: p.rules.filter((r) => !without.has(r)) }));
          return AP_POINTS.flatMap((point) => requests.map((req) => evaluateAuthorization(kept, req, point, options).verdict));
        };
        const full = verdicts(new Set());
        expect(verdicts(gone, deleted), "removing every reported rule and policy").toEqual(full);
        for (const r of gone) expect(verdicts(new Set([r])), `removing the rule at line ${r.line}`).toEqual(full);
        for (const name of deleted) expect(verdicts(new Set(), new Set([name])), `deleting ${name}`).toEqual(full);
      }),
      { numRuns: 150 },
    );
    expect(seen.rules).toBeGreaterThan(5);
    expect(seen.policies).toBeGreaterThan(2);
  }, 120_000);
});
