/**
 * Property test: random small clusters and NetworkPolicies, rendered to YAML and
 * read through the real loader, scanner and evaluator, must agree with the naive
 * reference evaluator (reference.ts, semantics.md §1.8) on every ordered pod pair,
 * every probe port and protocol, and a handful of external addresses — through the
 * trace (traceFlow / reach), through pairConns, and through the matrix with its
 * equivalence classes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../../src/analysis/matrix.js";
import { reach } from "../../../src/analysis/reach.js";
import type { Scenario } from "../../../src/analysis/scenario.js";
import type { ExternalAllowance } from "../../../src/layers/types.js";
import type { Workload } from "../../../src/model/types.js";
import { isSelfTraffic, pairConns, traceFlow, type WirePath } from "../../../src/path/index.js";
import { scenarioFromYaml, toYaml } from "../../helpers/cluster.js";
import {
  refAllowed,
  type RefContainerPort,
  type RefEndpoint,
  type RefLabels,
  type RefPeer,
  type RefPod,
  type RefPolicy,
  type RefPort,
  type RefProtocol,
  type RefRule,
  type RefSelector,
  type RefVerdict,
  type RefWorld,
} from "./reference.js";

// ---------------------------------------------------------------------------
// Vocabulary: tiny on purpose, so that selectors often match and classes collide.

const NS_NAMES = ["alpha", "beta", "gamma"] as const;
const NS_KEYS = { team: ["red", "blue"], env: ["prod", "dev"] } as const;
const POD_KEYS = { app: ["web", "db", "api"], tier: ["front", "back"] } as const;
const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

/** Container ports a pod may declare (names unique per pod; `http` means 8080 on some pods and 80 on others). */
const CONTAINER_PORTS: readonly RefContainerPort[] = [
  { name: "serve-80-tcp", containerPort: 80, protocol: "TCP" },
  { name: "serve-81-tcp", containerPort: 81 },
  { name: "serve-80-udp", containerPort: 80, protocol: "UDP" },
  { name: "dns", containerPort: 53, protocol: "UDP" },
  { name: "http", containerPort: 8080 },
  { name: "http", containerPort: 80, protocol: "TCP" },
  { name: "sctp-8090", containerPort: 8090, protocol: "SCTP" },
  { containerPort: 81, protocol: "UDP" },
];
const PORT_NAMES = ["serve-80-tcp", "serve-81-tcp", "serve-80-udp", "dns", "http", "sctp-8090", "missing"];
const PORT_NUMBERS = [53, 80, 81, 8080, 8090];
const PORT_RANGES: readonly [number, number][] = [
  [80, 81],
  [79, 80],
  [8000, 8079],
  [8080, 8090],
  [53, 53],
  [1, 65535],
];
/** Probe ports: the numbers above and both sides of every range edge. */
const PROBE_PORTS = [1, 53, 54, 79, 80, 81, 82, 7999, 8000, 8079, 8080, 8081, 8090, 8091, 65535];

/** ipBlocks with the excepts that are valid for them (strict subsets). */
const IP_BLOCKS: readonly { cidr: string; except: string[] }[] = [
  { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "192.168.1.0/24", "10.0.1.0/24"] },
  { cidr: "10.0.0.0/8", except: ["10.0.1.0/24", "10.0.0.0/16", "10.0.2.8/29"] },
  { cidr: "10.0.1.0/24", except: ["10.0.1.8/29", "10.0.1.11/32"] },
  { cidr: "10.0.2.0/24", except: ["10.0.2.10/31"] },
  { cidr: "192.168.0.0/16", except: ["192.168.1.0/24"] },
  { cidr: "10.0.0.10/32", except: [] },
];
/** External addresses probed in both directions (inside and outside the blocks and their excepts). */
const EXTERNAL_IPS = ["8.8.8.8", "192.168.1.5", "192.168.2.5", "10.0.1.9", "10.0.1.20", "10.0.2.11", "10.0.0.10", "10.200.0.1"];
/** Ports probed towards and from those addresses (port matching itself is covered pod to pod). */
const EXTERNAL_PROBE_PORTS = [53, 80, 81, 8080, 8091];

// ---------------------------------------------------------------------------
// Generators

interface GenPod extends RefPod {
  kind: "Pod" | "Deployment";
}
interface GenNamespace {
  name: string;
  labels: Record<string, string>;
  /** False: no Namespace object; the model must assume one with only the name label. */
  declared: boolean;
}
interface GenWorld extends RefWorld {
  namespaces: GenNamespace[];
  pods: GenPod[];
  policies: RefPolicy[];
  cni: "generic" | "cilium";
}

const labelsArb = (vocab: Record<string, readonly string[]>): fc.Arbitrary<Record<string, string>> =>
  fc.record(Object.fromEntries(Object.entries(vocab).map(([k, vs]) => [k, fc.constantFrom(...vs)])), { requiredKeys: [] }) as fc.Arbitrary<
    Record<string, string>
  >;

function selectorArb(vocab: Record<string, readonly string[]>): fc.Arbitrary<RefSelector> {
  const keys = Object.keys(vocab);
  const expr = fc.constantFrom(...keys).chain((key) =>
    fc.oneof(
      fc.record({
        key: fc.constant(key),
        operator: fc.constantFrom("In" as const, "NotIn" as const),
        values: fc.subarray([...vocab[key]!], { minLength: 1 }),
      }),
      fc.record(
        {
          key: fc.constant(key),
          operator: fc.constantFrom("Exists" as const, "DoesNotExist" as const),
          values: fc.constant([] as string[]),
        },
        // `values: []` and no `values` mean the same for Exists/DoesNotExist.
        { requiredKeys: ["key", "operator"] },
      ),
    ),
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    { weight: 3, arbitrary: fc.record({ matchLabels: labelsArb(vocab) }) },
    { weight: 3, arbitrary: fc.record({ matchExpressions: fc.array(expr, { minLength: 1, maxLength: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ matchLabels: labelsArb(vocab), matchExpressions: fc.array(expr, { maxLength: 2 }) }) },
  );
}

const podSelectorArb = selectorArb(POD_KEYS);
const nsSelectorArb = selectorArb({ ...NS_KEYS, "kubernetes.io/metadata.name": NS_NAMES });

const ipBlockArb: fc.Arbitrary<RefPeer> = fc
  .constantFrom(...IP_BLOCKS)
  .chain((b) => fc.record({ cidr: fc.constant(b.cidr), except: fc.subarray(b.except) }, { requiredKeys: ["cidr"] }))
  .map((ipBlock) => ({ ipBlock }));

const peerArb: fc.Arbitrary<RefPeer> = fc.oneof(
  fc.record({ podSelector: podSelectorArb }),
  fc.record({ namespaceSelector: nsSelectorArb }),
  fc.record({ namespaceSelector: nsSelectorArb, podSelector: podSelectorArb }),
  ipBlockArb,
);

const protocolArb = fc.option(fc.constantFrom(...PROTOCOLS), { nil: undefined });
const portArb: fc.Arbitrary<RefPort> = fc
  .oneof(
    fc.record({ protocol: protocolArb }),
    fc.record({ protocol: protocolArb, port: fc.constantFrom(...PORT_NUMBERS) }),
    fc.record({ protocol: protocolArb, port: fc.constantFrom(...PORT_NAMES) }),
    fc.record({ protocol: protocolArb, range: fc.constantFrom(...PORT_RANGES) }).map(({ protocol, range }) => ({
      protocol,
      port: range[0],
      endPort: range[1],
    })),
  )
  .map((p) => stripUndefined(p));

/** A list field: absent, empty, or a few items. */
const listArb = <T>(item: fc.Arbitrary<T>, maxLength: number): fc.Arbitrary<T[] | undefined> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant([] as T[]) },
    { weight: 4, arbitrary: fc.array(item, { minLength: 1, maxLength }) },
  );

const ruleArb = (peersKey: "from" | "to"): fc.Arbitrary<RefRule> =>
  fc.record({ peers: listArb(peerArb, 3), ports: listArb(portArb, 3) }).map(({ peers, ports }) =>
    stripUndefined({ [peersKey]: peers, ports }),
  );

const policyTypesArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant([] as ("Ingress" | "Egress")[]) },
  { weight: 4, arbitrary: fc.constantFrom<("Ingress" | "Egress")[]>(["Ingress"], ["Egress"], ["Ingress", "Egress"], ["Egress", "Ingress"]) },
);

const policySpecArb = fc
  .record({
    podSelector: fc.option(podSelectorArb, { nil: undefined }),
    policyTypes: policyTypesArb,
    ingress: listArb(ruleArb("from"), 3),
    egress: listArb(ruleArb("to"), 3),
  })
  .map((s) => stripUndefined(s) as RefPolicy["spec"]);

const podArb = fc.record({
  kind: fc.constantFrom("Pod" as const, "Pod" as const, "Deployment" as const),
  labels: labelsArb(POD_KEYS),
  ports: fc.subarray([...CONTAINER_PORTS]),
  hasIP: fc.boolean(),
});

const worldArb: fc.Arbitrary<GenWorld> = fc
  .record({
    namespaces: fc.array(
      fc.record({ labels: labelsArb(NS_KEYS), declared: fc.constantFrom(true, true, true, false), pods: fc.array(podArb, { minLength: 2, maxLength: 5 }) }),
      { minLength: 2, maxLength: 3 },
    ),
    policies: fc.array(fc.record({ ns: fc.nat(), spec: policySpecArb }), { maxLength: 5 }),
    cni: fc.constantFrom("generic" as const, "generic" as const, "cilium" as const),
  })
  .map(({ namespaces, policies, cni }) => {
    const nss: GenNamespace[] = namespaces.map((n, i) => {
      const declared = n.declared || i === 0;
      // An undeclared namespace exists with the name label only (the reference adds that one itself).
      return { name: NS_NAMES[i]!, labels: declared ? n.labels : {}, declared };
    });
    const pods: GenPod[] = namespaces.flatMap((n, i) =>
      n.pods.map((p, j): GenPod => {
        const seen = new Set<string>();
        // Port names are unique within a pod.
        const ports = p.ports.filter((cp) => !cp.name || (!seen.has(cp.name) && seen.add(cp.name)));
        // Bare pods may carry status.podIP (10.0.<ns>.<10+j>); a Deployment's pods have no known IP.
        const ip = p.kind === "Pod" && p.hasIP ? `10.0.${i}.${10 + j}` : undefined;
        return stripUndefined({
          kind: p.kind,
          namespace: NS_NAMES[i]!,
          name: `p${j}`,
          labels: p.labels,
          ports,
          ip,
          replicated: p.kind === "Deployment" ? true : undefined,
        }) as GenPod;
      }),
    );
    const pols: RefPolicy[] = policies.map((p, k) => ({
      metadata: { name: `np${k}`, namespace: NS_NAMES[p.ns % namespaces.length]! },
      spec: p.spec,
    }));
    return { namespaces: nss, pods, policies: pols, cni };
  });

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---------------------------------------------------------------------------
// Rendering to manifests

function renderWorld(w: GenWorld): string {
  const objects: unknown[] = [];
  for (const ns of w.namespaces) {
    if (!ns.declared) continue;
    objects.push({ apiVersion: "v1", kind: "Namespace", metadata: withLabels({ name: ns.name }, ns.labels) });
  }
  for (const p of w.pods) {
    const podSpec = { containers: [{ name: "main", image: "registry.example/app:1", ...(p.ports.length ? { ports: p.ports } : {}) }] };
    if (p.kind === "Pod") {
      objects.push({
        apiVersion: "v1",
        kind: "Pod",
        metadata: withLabels({ name: p.name, namespace: p.namespace }, p.labels),
        spec: podSpec,
        ...(p.ip ? { status: { phase: "Running", podIP: p.ip, podIPs: [{ ip: p.ip }] } } : {}),
      });
    } else {
      objects.push({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: p.name, namespace: p.namespace },
        spec: { replicas: 2, selector: { matchLabels: p.labels }, template: { metadata: withLabels({}, p.labels), spec: podSpec } },
      });
    }
  }
  for (const np of w.policies) objects.push({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", ...np });
  return toYaml(objects);
}

function withLabels(meta: Record<string, unknown>, labels: RefLabels): Record<string, unknown> {
  return Object.keys(labels).length > 0 ? { ...meta, labels } : meta;
}

// ---------------------------------------------------------------------------
// Comparison

interface Disagreement {
  check: string;
  from: string;
  to: string;
  probe: string;
  reference: boolean;
  palisade: boolean | string;
}

function tracePolicyNames(path: WirePath): string[] {
  return (path.blocked?.policies ?? []).map((p) => p.name).sort();
}

function externalAllows(pieces: readonly ExternalAllowance[], ip: string, protocol: RefProtocol, port: number): boolean {
  return pieces.some((p) => p.ips.contains(ip) && p.conns.contains(protocol, port));
}

/** Every check for one world; returns the disagreements (empty when all agree). */
function compareWorld(world: GenWorld, scenario: Scenario): Disagreement[] {
  const out: Disagreement[] = [];
  const opts = { ipBlockMatchesPods: world.cni === "generic" };
  const errs = scenario.diagnostics.filter((d) => d.severity === "error");
  if (errs.length > 0) return [{ check: "diagnostics", from: "", to: "", probe: errs.map((d) => d.format()).join("; "), reference: true, palisade: false }];
  expect(scenario.layers.find((l) => l.id === "networkpolicy")!.policyCount).toBe(world.policies.length);

  const byId = new Map<string, Workload>(scenario.cluster.workloads.map((w) => [w.id, w]));
  const wl = (p: GenPod): Workload => {
    const w = byId.get(`${p.namespace}/${p.name}`);
    if (!w) throw new Error(`workload ${p.namespace}/${p.name} missing from the model`);
    return w;
  };
  expect(scenario.cluster.workloads).toHaveLength(world.pods.length);

  const matrix = new ConnectivityMatrix(scenario, { ports: PROBE_PORTS, protocols: [...PROTOCOLS] });
  const index = new Map(matrix.workloads.map((w, i) => [w, i]));
  // A matrix on few ports: its tally takes the bitmask path (the one above has 45 tuples per pair).
  const FEW_PORTS = [80, 8080];
  const FEW_PROTOCOLS = ["TCP", "UDP"] as const;
  const small = new ConnectivityMatrix(scenario, { ports: FEW_PORTS, protocols: [...FEW_PROTOCOLS] });
  let allowedTuples = 0;
  let allowedTuplesFew = 0;
  const note = (check: string, from: string, to: string, protocol: string, port: number, ref: RefVerdict, got: boolean | string) =>
    out.push({ check, from, to, probe: `${protocol}/${port}`, reference: ref.allowed, palisade: got });

  for (const a of world.pods) {
    const A = wl(a);
    for (const b of world.pods) {
      const B = wl(b);
      const pc = pairConns(scenario.layers, A, B);
      const mc = matrix.conns(index.get(A)!, index.get(B)!);
      const self = isSelfTraffic(A, B);
      for (const protocol of PROTOCOLS) {
        for (const port of PROBE_PORTS) {
          const ref = refAllowed(world, { kind: "pod", pod: a }, { kind: "pod", pod: b }, protocol, port, opts);
          if (ref.allowed) {
            allowedTuples++;
            if (FEW_PORTS.includes(port) && (FEW_PROTOCOLS as readonly string[]).includes(protocol)) allowedTuplesFew++;
          }
          const [path, ...rest] = traceFlow(scenario, { kind: "workload", workload: A }, { kind: "workload", workload: B }, { protocol, port });
          if (rest.length > 0 || !path) note("traceFlow paths", A.id, B.id, protocol, port, ref, `${rest.length + 1} paths`);
          else {
            if ((path.verdict === "allowed") !== ref.allowed) note("traceFlow", A.id, B.id, protocol, port, ref, path.verdict === "allowed");
            else if (!ref.allowed) {
              const got = `${path.blocked?.step} ${tracePolicyNames(path).join(",")}`;
              const want = `${ref.deniedAt} ${[...ref.isolatedBy].sort().join(",")}`;
              if (got !== want || path.blocked?.enforcer !== "networkpolicy") note(`blocked hop (want ${want})`, A.id, B.id, protocol, port, ref, got);
            }
            // Both enforcement points appear in the trace (unless a bare pod talks to itself).
            const steps = path.hops.map((h) => h.step).join(",");
            if (!self && steps !== "egress,ingress") note("trace hops", A.id, B.id, protocol, port, ref, steps);
          }
          if (!self && pc.contains(protocol, port) !== ref.allowed) note("pairConns", A.id, B.id, protocol, port, ref, pc.contains(protocol, port));
          if (mc.contains(protocol, port) !== ref.allowed) note("matrix.conns", A.id, B.id, protocol, port, ref, mc.contains(protocol, port));
        }
      }
    }
  }

  // The tally counts the same allowed tuples without visiting pairs.
  const tally = matrix.tally();
  if (tally.allowed !== allowedTuples) out.push({ check: "matrix.tally", from: "*", to: "*", probe: `${allowedTuples} allowed tuples`, reference: true, palisade: `${tally.allowed}` });
  const tallyFew = small.tally();
  if (tallyFew.allowed !== allowedTuplesFew) out.push({ check: "matrix.tally (bitmask)", from: "*", to: "*", probe: `${allowedTuplesFew} allowed tuples`, reference: true, palisade: `${tallyFew.allowed}` });

  // The outside world, both ways; and the kubelet of the pod's node.
  for (const a of world.pods) {
    const A = wl(a);
    const i = index.get(A)!;
    const ingressPieces = matrix.externalIngress(i);
    const egressPieces = matrix.externalEgress(i);
    for (const ip of EXTERNAL_IPS) {
      for (const protocol of PROTOCOLS) {
        for (const port of EXTERNAL_PROBE_PORTS) {
          const inRef = refAllowed(world, { kind: "ip", ip }, { kind: "pod", pod: a }, protocol, port, opts);
          const [inPath] = traceFlow(scenario, { kind: "external", ip }, { kind: "workload", workload: A }, { protocol, port });
          if ((inPath!.verdict === "allowed") !== inRef.allowed) note("traceFlow external→pod", ip, A.id, protocol, port, inRef, inPath!.verdict === "allowed");
          const inM = externalAllows(ingressPieces, ip, protocol, port);
          if (inM !== inRef.allowed) note("matrix.externalIngress", ip, A.id, protocol, port, inRef, inM);

          const outRef = refAllowed(world, { kind: "pod", pod: a }, { kind: "ip", ip }, protocol, port, opts);
          const [outPath] = traceFlow(scenario, { kind: "workload", workload: A }, { kind: "external", ip }, { protocol, port });
          if ((outPath!.verdict === "allowed") !== outRef.allowed) note("traceFlow pod→external", A.id, ip, protocol, port, outRef, outPath!.verdict === "allowed");
          const outM = externalAllows(egressPieces, ip, protocol, port);
          if (outM !== outRef.allowed) note("matrix.externalEgress", A.id, ip, protocol, port, outRef, outM);
        }
      }
    }
    for (const protocol of PROTOCOLS) {
      const kubelet: RefEndpoint = { kind: "node" };
      const ref = refAllowed(world, kubelet, { kind: "pod", pod: a }, protocol, 8080, opts);
      const [path] = traceFlow(scenario, { kind: "kubelet" }, { kind: "workload", workload: A }, { protocol, port: 8080 });
      if ((path!.verdict === "allowed") !== ref.allowed) note("kubelet", "kubelet", A.id, protocol, 8080, ref, path!.verdict === "allowed");
    }
  }

  // The matrix's contract output (every listed tuple, external world excluded) agrees too.
  const noExternal = new ConnectivityMatrix(scenario, { ports: [80, 53], protocols: ["TCP", "UDP"], external: false });
  const podById = new Map(world.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  let tuples = 0;
  for (const c of noExternal.connections()) {
    tuples++;
    const ref = refAllowed(world, { kind: "pod", pod: podById.get(c.from)! }, { kind: "pod", pod: podById.get(c.to)! }, c.protocol!, c.port!, opts);
    if (ref.allowed !== c.allowed) note("matrix.connections", c.from, c.to, c.protocol!, c.port!, ref, c.allowed);
  }
  expect(tuples).toBe(world.pods.length ** 2 * 4);
  return out;
}

/** `reach` (string references, as the CLI resolves them) on one probe per pair. */
function compareReach(world: GenWorld, scenario: Scenario): Disagreement[] {
  const out: Disagreement[] = [];
  const opts = { ipBlockMatchesPods: world.cni === "generic" };
  expect(scenario.diagnostics.filter((d) => d.severity === "error").map((d) => d.format())).toEqual([]);
  for (const a of world.pods) {
    for (const b of world.pods) {
      for (const [protocol, port] of [["TCP", 80], ["UDP", 53]] as const) {
        const ref = refAllowed(world, { kind: "pod", pod: a }, { kind: "pod", pod: b }, protocol, port, opts);
        const r = reach(scenario, { from: `${a.namespace}/${a.name}`, to: `${b.namespace}/${b.name}:${port}`, protocol });
        const got = r.verdict === "allowed";
        if (got !== ref.allowed) out.push({ check: "reach", from: r.from, to: r.to, probe: `${protocol}/${port}`, reference: ref.allowed, palisade: got });
        else if (!ref.allowed && (r.blockedBy?.layer !== "networkpolicy" || r.blockedBy.direction !== ref.deniedAt)) {
          out.push({ check: "reach blockedBy", from: r.from, to: r.to, probe: `${protocol}/${port}`, reference: ref.allowed, palisade: JSON.stringify(r.blockedBy) });
        }
      }
    }
  }
  return out;
}

function report(world: GenWorld, yaml: string, found: Disagreement[]): string {
  const lines = found.slice(0, 15).map((d) => `  ${d.check}: ${d.from} → ${d.to} ${d.probe}: reference ${d.reference}, palisade ${d.palisade}`);
  return [`${found.length} disagreement(s) (cni ${world.cni}):`, ...lines, "--- input ---", yaml].join("\n");
}

/** NP_PROPERTY_RUNS=3000 for a long soak; the default keeps the file well under 20 s. */
const RUNS = Number(process.env.NP_PROPERTY_RUNS ?? 200);
const TIMEOUT = Math.max(30_000, RUNS * 150);

describe("NetworkPolicy evaluator vs the reference evaluator (semantics.md §1.8)", () => {
  it("agrees on random clusters and policies: traceFlow, pairConns, matrix, external peers, kubelet", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const yaml = renderWorld(world);
        const scenario = await scenarioFromYaml(yaml, { file: "random.yaml", cni: world.cni });
        const found = compareWorld(world, scenario);
        if (found.length > 0) throw new Error(report(world, yaml, found));
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("agrees through reach() with string references", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const yaml = renderWorld(world);
        const scenario = await scenarioFromYaml(yaml, { file: "random.yaml", cni: world.cni });
        const found = compareReach(world, scenario);
        if (found.length > 0) throw new Error(report(world, yaml, found));
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  }, TIMEOUT);

  it("generates the cases it claims to (the property is not vacuous)", () => {
    const samples = fc.sample(worldArb, { numRuns: 300, seed: 42 });
    const specs = samples.flatMap((w) => w.policies.map((p) => p.spec));
    const rules = specs.flatMap((s) => [...(s.ingress ?? []), ...(s.egress ?? [])]);
    const peers = rules.flatMap((r) => [...(r.from ?? []), ...(r.to ?? [])]);
    const ports = rules.flatMap((r) => r.ports ?? []);
    const count = (xs: unknown[], f: (x: never) => boolean) => xs.filter((x) => f(x as never)).length;
    const stats = {
      defaultedTypes: count(specs, (s: RefPolicy["spec"]) => !s.policyTypes || s.policyTypes.length === 0),
      emptyEgressList: count(specs, (s: RefPolicy["spec"]) => Array.isArray(s.egress) && s.egress.length === 0),
      andPeers: count(peers, (p: RefPeer) => !!p.podSelector && !!p.namespaceSelector),
      ipBlockExcept: count(peers, (p: RefPeer) => (p.ipBlock?.except ?? []).length > 0),
      namedPorts: count(ports, (p: RefPort) => typeof p.port === "string"),
      ranges: count(ports, (p: RefPort) => p.endPort !== undefined),
      noPort: count(ports, (p: RefPort) => p.port === undefined),
      sctp: count(ports, (p: RefPort) => p.protocol === "SCTP"),
      notIn: count(peers, (p: RefPeer) => JSON.stringify(p).includes('"NotIn"')),
      doesNotExist: count(peers, (p: RefPeer) => JSON.stringify(p).includes('"DoesNotExist"')),
      deployments: count(samples.flatMap((w) => w.pods), (p: GenPod) => p.kind === "Deployment"),
      undeclaredNs: count(samples.flatMap((w) => w.namespaces), (n: GenNamespace) => !n.declared),
      cilium: count(samples, (w: GenWorld) => w.cni === "cilium"),
    };
    for (const [k, v] of Object.entries(stats)) expect(v, k).toBeGreaterThan(10);
  });
});
