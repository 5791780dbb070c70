/**
 * Property test: random small clusters with random CiliumNetworkPolicies,
 * CiliumClusterwideNetworkPolicies and Kubernetes NetworkPolicies, rendered to
 * YAML and read through the real loader, scanner and engine, must agree with the
 * naive reference evaluator (reference.ts, semantics.md §3.12) on every ordered
 * pod pair, every probe port and protocol, outside addresses both ways and the
 * kubelet — through the trace (verdict, blocking layer, direction and
 * policies), pairConns, and the matrix with its equivalence classes and tally.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectivityMatrix } from "../../../src/analysis/matrix.js";
import type { Scenario } from "../../../src/analysis/scenario.js";
import { CiliumLayer } from "../../../src/layers/cilium/index.js";
import type { ExternalAllowance } from "../../../src/layers/types.js";
import type { CiliumSwitches } from "../../../src/model/profile.js";
import type { Workload } from "../../../src/model/types.js";
import { isSelfTraffic, pairConns, traceFlow } from "../../../src/path/index.js";
import { loadYaml, toYaml } from "../../helpers/cluster.js";
import { buildScenario } from "../../../src/analysis/scenario.js";
import {
  refAllowed,
  refL7,
  type RefCiliumPolicy,
  type RefCiliumPort,
  type RefCiliumRule,
  type RefCiliumSpec,
  type RefContainerPort,
  type RefEndpoint,
  type RefNetworkPolicy,
  type RefNpPeer,
  type RefNpPort,
  type RefOptions,
  type RefPod,
  type RefPolicy,
  type RefPortRule,
  type RefProtocol,
  type RefSelector,
  type RefVerdict,
  type RefWorld,
} from "./reference.js";

// ---------------------------------------------------------------------------
// Vocabulary: tiny, so that selectors often match and classes collide.

const NS_NAMES = ["alpha", "beta", "gamma"] as const;
const NS_KEYS = { team: ["red", "blue"], env: ["prod", "dev"] } as const;
const POD_KEYS = { app: ["web", "db", "api"], tier: ["front", "back"] } as const;
const SERVICE_ACCOUNTS = ["default", "sa1"] as const;
const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

const CONTAINER_PORTS: readonly RefContainerPort[] = [
  { name: "serve-80-tcp", containerPort: 80, protocol: "TCP" },
  { name: "serve-80-udp", containerPort: 80, protocol: "UDP" },
  { name: "dns", containerPort: 53, protocol: "UDP" },
  { name: "http", containerPort: 8080 },
  { name: "http", containerPort: 80, protocol: "TCP" },
  { name: "sctp-8090", containerPort: 8090, protocol: "SCTP" },
  { containerPort: 81, protocol: "UDP" },
];
const PROBE_PORTS = [53, 79, 80, 81, 82, 8080, 8081, 8090];
const EXTERNAL_IPS = ["8.8.8.8", "192.168.1.5", "10.0.1.9", "10.0.2.11", "10.0.0.10", "2001:db8::1"];
const EXTERNAL_PROBE_PORTS = [53, 80, 8080];

const IP_BLOCKS: readonly { cidr: string; except: string[] }[] = [
  { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "192.168.1.0/24"] },
  { cidr: "10.0.0.0/8", except: ["10.0.1.0/24", "10.0.0.0/16"] },
  { cidr: "10.0.1.0/24", except: ["10.0.1.8/29"] },
  { cidr: "192.168.0.0/16", except: ["192.168.1.0/24"] },
  { cidr: "10.0.0.10/32", except: [] },
  { cidr: "::/0", except: [] },
];

/** HTTP rule regexes (RE2 and JavaScript agree on these) and requests probed against them. */
const HTTP_METHODS = ["GET", "GET|HEAD", "POST", "P.*", "(?i)delete"];
const HTTP_PATHS = ["/api/.*", "/public", "/api/v[0-9]+", "/(a|b)/x?", "/[^/]+", ""];
const REQUESTS = [
  { method: "GET", path: "/api/x" },
  { method: "HEAD", path: "/public" },
  { method: "GET", path: "/public?x=1" },
  { method: "POST", path: "/api/v12" },
  { method: "PUT", path: "/b/" },
  { method: "DELETE", path: "/a/x" },
  { method: "PATCH", path: "/api" },
];

// ---------------------------------------------------------------------------
// Generators

interface GenPod extends RefPod {
  kind: "Pod" | "Deployment";
}
interface GenWorld extends RefWorld {
  pods: GenPod[];
  policies: RefPolicy[];
  opts: RefOptions;
}

const labelsArb = (vocab: Record<string, readonly string[]>): fc.Arbitrary<Record<string, string>> =>
  fc.record(Object.fromEntries(Object.entries(vocab).map(([k, vs]) => [k, fc.constantFrom(...vs)])), { requiredKeys: [] }) as fc.Arbitrary<Record<string, string>>;

/** Keys with their values; `keyNames` gives the spellings a key may have (source prefixes). */
function selectorArb(vocab: readonly { keys: readonly string[]; values: readonly string[] }[]): fc.Arbitrary<RefSelector> {
  const entry = fc.constantFrom(...vocab).chain((v) => fc.tuple(fc.constantFrom(...v.keys), fc.constant(v.values)));
  const label = entry.chain(([k, vs]) => fc.tuple(fc.constant(k), fc.constantFrom(...vs)));
  const expr = entry.chain(([key, vs]) =>
    fc.oneof(
      fc.record({ key: fc.constant(key), operator: fc.constantFrom("In" as const, "NotIn" as const), values: fc.subarray([...vs], { minLength: 1 }) }),
      fc.record({ key: fc.constant(key), operator: fc.constantFrom("Exists" as const, "DoesNotExist" as const) }),
    ),
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    { weight: 3, arbitrary: fc.array(label, { minLength: 1, maxLength: 2 }).map((ls) => ({ matchLabels: Object.fromEntries(ls) })) },
    { weight: 2, arbitrary: fc.array(expr, { minLength: 1, maxLength: 2 }).map((matchExpressions) => ({ matchExpressions })) },
  );
}

const POD_VOCAB = [
  { keys: ["app", "k8s:app", "any:app"], values: POD_KEYS.app },
  { keys: ["tier", "k8s:tier"], values: POD_KEYS.tier },
];
/** Subject selectors (endpointSelector): pod labels only, so the CNP namespace override never meets a user namespace key. */
const subjectArb = selectorArb(POD_VOCAB);
/** Peer selectors: pod labels, the namespace, namespace labels, service account, reserved identities. */
const peerSelectorArb = selectorArb([
  ...POD_VOCAB,
  { keys: ["k8s:io.kubernetes.pod.namespace", "io.kubernetes.pod.namespace"], values: NS_NAMES },
  { keys: ["io.cilium.k8s.namespace.labels.team", "k8s:io.cilium.k8s.namespace.labels.team"], values: NS_KEYS.team },
  { keys: ["io.cilium.k8s.policy.serviceaccount"], values: SERVICE_ACCOUNTS },
  { keys: ["reserved:host", "reserved:world"], values: [""] },
]);

const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const ciliumPortArb: fc.Arbitrary<RefCiliumPort> = fc
  .oneof(
    fc.record({ port: fc.constantFrom("53", "80", "81", "8080", "0"), protocol: fc.option(fc.constantFrom("TCP" as const, "UDP" as const, "SCTP" as const, "ANY" as const), { nil: undefined }) }),
    fc.record({ port: fc.constantFrom("http", "dns", "serve-80-tcp", "HTTP", "missing"), protocol: fc.option(fc.constantFrom("TCP" as const, "UDP" as const, "ANY" as const), { nil: undefined }) }),
    fc
      .record({ range: fc.constantFrom<[string, number]>(["79", 81], ["8000", 8085], ["53", 80]), protocol: fc.option(fc.constantFrom("TCP" as const, "UDP" as const), { nil: undefined }) })
      .map(({ range, protocol }) => ({ port: range[0], endPort: range[1], protocol })),
  )
  .map(strip);

const portRuleArb = (allowL7: boolean): fc.Arbitrary<RefPortRule> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ ports: fc.array(ciliumPortArb, { minLength: 1, maxLength: 2 }) }) },
    { weight: 1, arbitrary: fc.constant({} as RefPortRule) },
    {
      weight: allowL7 ? 1 : 0,
      arbitrary: fc
        .record({
          port: fc.constantFrom("80", "8080", "http"),
          http: fc.array(fc.record({ method: fc.constantFrom(...HTTP_METHODS), path: fc.constantFrom(...HTTP_PATHS) }, { requiredKeys: [] }), { maxLength: 2 }),
        })
        .map(({ port, http }) => ({ ports: [{ port, protocol: "TCP" as const }], rules: { http } })),
    },
  );

function ciliumRuleArb(dir: "ingress" | "egress", deny: boolean): fc.Arbitrary<RefCiliumRule> {
  const p = dir === "ingress" ? "from" : "to";
  const cidrSet = fc.constantFrom(...IP_BLOCKS).chain((b) => fc.record({ cidr: fc.constant(b.cidr), except: fc.subarray(b.except) }).map(strip));
  const l3 = fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    { weight: 4, arbitrary: fc.array(peerSelectorArb, { maxLength: 2 }).map((s) => ({ [`${p}Endpoints`]: s })) },
    { weight: 1, arbitrary: fc.subarray(["10.0.0.0/8", "8.8.8.8", "192.168.0.0/16", "10.0.1.9/32"], { minLength: 1 }).map((c) => ({ [`${p}CIDR`]: c })) },
    { weight: 1, arbitrary: fc.array(cidrSet, { minLength: 1, maxLength: 2 }).map((c) => ({ [`${p}CIDRSet`]: c })) },
    { weight: 2, arbitrary: fc.subarray(["world", "cluster", "all", "host", "remote-node", "none"], { minLength: 1, maxLength: 2 }).map((e) => ({ [`${p}Entities`]: e })) },
  );
  const ports = fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.array(portRuleArb(!deny), { minLength: 1, maxLength: 2 }) });
  return fc.record({ l3, ports }).map(({ l3, ports }) => strip({ ...l3, toPorts: ports }) as RefCiliumRule);
}

const sectionArb = (dir: "ingress" | "egress", deny: boolean) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.array(ciliumRuleArb(dir, deny), { minLength: 1, maxLength: 2 }) });

const ciliumSpecArb: fc.Arbitrary<RefCiliumSpec> = fc
  .record({
    endpointSelector: subjectArb,
    ingress: sectionArb("ingress", false),
    ingressDeny: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.array(ciliumRuleArb("ingress", true), { minLength: 1, maxLength: 1 }) }),
    egress: sectionArb("egress", false),
    egressDeny: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.array(ciliumRuleArb("egress", true), { minLength: 1, maxLength: 1 }) }),
    enableDefaultDeny: fc.option(fc.record({ ingress: fc.boolean(), egress: fc.boolean() }, { requiredKeys: [] }), { nil: undefined, freq: 4 }),
  })
  .map((s) => {
    const spec = strip(s) as RefCiliumSpec;
    // Cilium rejects a rule without any non-empty section (§3.2 r3).
    if (!spec.ingress && !spec.ingressDeny && !spec.egress && !spec.egressDeny) spec.ingress = [{}];
    return spec;
  });

const npSelectorArb = selectorArb([
  { keys: ["app"], values: POD_KEYS.app },
  { keys: ["tier"], values: POD_KEYS.tier },
]);
const npNsSelectorArb = selectorArb([
  { keys: ["team"], values: NS_KEYS.team },
  { keys: ["kubernetes.io/metadata.name"], values: NS_NAMES },
]);
const npPeerArb: fc.Arbitrary<RefNpPeer> = fc.oneof(
  fc.record({ podSelector: npSelectorArb }),
  fc.record({ namespaceSelector: npNsSelectorArb }),
  fc.record({ namespaceSelector: npNsSelectorArb, podSelector: npSelectorArb }),
  fc.constantFrom(...IP_BLOCKS.filter((b) => !b.cidr.includes(":"))).chain((b) => fc.record({ cidr: fc.constant(b.cidr), except: fc.subarray(b.except) }).map((ipBlock) => ({ ipBlock }))),
);
const npPortArb: fc.Arbitrary<RefNpPort> = fc
  .oneof(
    fc.record({ protocol: fc.option(fc.constantFrom(...PROTOCOLS), { nil: undefined }), port: fc.constantFrom(53, 80, 8080) }),
    fc.record({ protocol: fc.option(fc.constantFrom(...PROTOCOLS), { nil: undefined }), port: fc.constantFrom("http", "dns", "missing") }),
    fc.record({ protocol: fc.option(fc.constantFrom(...PROTOCOLS), { nil: undefined }) }),
    fc.record({ port: fc.constant(79), endPort: fc.constant(81) }),
  )
  .map(strip);
const npListArb = <T>(a: fc.Arbitrary<T>) => fc.oneof(fc.constant(undefined), fc.array(a, { minLength: 1, maxLength: 2 }));
const npSpecArb = fc
  .record({
    podSelector: fc.option(npSelectorArb, { nil: undefined }),
    policyTypes: fc.option(fc.constantFrom<("Ingress" | "Egress")[]>(["Ingress"], ["Egress"], ["Ingress", "Egress"]), { nil: undefined }),
    ingress: fc.option(fc.array(fc.record({ from: npListArb(npPeerArb), ports: npListArb(npPortArb) }).map(strip), { maxLength: 2 }), { nil: undefined }),
    egress: fc.option(fc.array(fc.record({ to: npListArb(npPeerArb), ports: npListArb(npPortArb) }).map(strip), { maxLength: 2 }), { nil: undefined }),
  })
  .map((s) => strip(s) as RefNetworkPolicy["spec"]);

const podArb = fc.record({
  kind: fc.constantFrom("Pod" as const, "Pod" as const, "Deployment" as const),
  labels: labelsArb(POD_KEYS),
  serviceAccount: fc.constantFrom(...SERVICE_ACCOUNTS),
  ports: fc.subarray([...CONTAINER_PORTS]),
});

const policyArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("CiliumNetworkPolicy" as const), ns: fc.nat(), spec: ciliumSpecArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("CiliumClusterwideNetworkPolicy" as const), ns: fc.nat(), spec: ciliumSpecArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("NetworkPolicy" as const), ns: fc.nat(), spec: npSpecArb }) },
);

const worldArb: fc.Arbitrary<GenWorld> = fc
  .record({
    namespaces: fc.array(fc.record({ labels: labelsArb(NS_KEYS), pods: fc.array(podArb, { minLength: 1, maxLength: 4 }) }), { minLength: 2, maxLength: 3 }),
    policies: fc.array(policyArb, { maxLength: 4 }),
    opts: fc.record({
      mode: fc.constantFrom("default" as const, "default" as const, "default" as const, "always" as const),
      nonDefaultDeny: fc.constantFrom(true, true, true, false),
      namespaceLabelsInCnp: fc.constantFrom("select" as const, "namespace" as const),
      allowLocalhost: fc.constantFrom(true, true, false),
      localCluster: fc.constantFrom(true, false),
    }),
  })
  .map(({ namespaces, policies, opts }) => {
    const pods: GenPod[] = namespaces.flatMap((n, i) =>
      n.pods.map((p, j): GenPod => {
        const seen = new Set<string>();
        const ports = p.ports.filter((cp) => !cp.name || (!seen.has(cp.name) && seen.add(cp.name)));
        return strip({
          kind: p.kind,
          namespace: NS_NAMES[i]!,
          name: `p${j}`,
          labels: p.labels,
          serviceAccount: p.serviceAccount,
          ports,
          ip: p.kind === "Pod" ? `10.0.${i}.${10 + j}` : undefined,
          replicated: p.kind === "Deployment" ? true : undefined,
        }) as GenPod;
      }),
    );
    const pols: RefPolicy[] = policies.map((p, k): RefPolicy => {
      const ns = NS_NAMES[p.ns % namespaces.length]!;
      if (p.kind === "NetworkPolicy") return { kind: "NetworkPolicy", metadata: { name: `pol${k}`, namespace: ns }, spec: p.spec as RefNetworkPolicy["spec"] };
      return {
        kind: p.kind,
        metadata: p.kind === "CiliumNetworkPolicy" ? { name: `pol${k}`, namespace: ns } : { name: `pol${k}` },
        spec: p.spec as RefCiliumSpec,
      } as RefCiliumPolicy;
    });
    return { namespaces: namespaces.map((n, i) => ({ name: NS_NAMES[i]!, labels: n.labels })), pods, policies: pols, opts };
  });

// ---------------------------------------------------------------------------
// Rendering

function renderWorld(w: GenWorld): string {
  const objects: unknown[] = [];
  for (const ns of w.namespaces) objects.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns.name, ...(Object.keys(ns.labels).length ? { labels: ns.labels } : {}) } });
  for (const p of w.pods) {
    const podSpec = { serviceAccountName: p.serviceAccount, containers: [{ name: "main", image: "registry.example/app:1", ...(p.ports.length ? { ports: p.ports } : {}) }] };
    const meta = { name: p.name, namespace: p.namespace, ...(Object.keys(p.labels).length ? { labels: p.labels } : {}) };
    if (p.kind === "Pod") {
      objects.push({ apiVersion: "v1", kind: "Pod", metadata: meta, spec: podSpec, ...(p.ip ? { status: { phase: "Running", podIP: p.ip, hostIP: "192.168.0.10" } } : {}) });
    } else {
      objects.push({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: p.name, namespace: p.namespace },
        spec: { replicas: 2, selector: { matchLabels: { ...p.labels, pod: p.name } }, template: { metadata: { labels: { ...p.labels, pod: p.name } }, spec: podSpec } },
      });
    }
  }
  for (const pol of w.policies) {
    objects.push(pol.kind === "NetworkPolicy" ? { apiVersion: "networking.k8s.io/v1", ...pol } : { apiVersion: "cilium.io/v2", ...pol });
  }
  return toYaml(objects);
}

function switchesOf(o: RefOptions): Partial<CiliumSwitches> {
  return {
    policyEnforcementMode: o.mode,
    enableNonDefaultDenyPolicies: o.nonDefaultDeny,
    namespaceLabelsInCnp: o.namespaceLabelsInCnp,
    allowLocalhost: o.allowLocalhost ? "auto" : "policy",
    policyDefaultLocalCluster: o.localCluster,
  };
}

async function scenarioOf(world: GenWorld): Promise<{ yaml: string; scenario: Scenario }> {
  const yaml = renderWorld(world);
  const load = await loadYaml(yaml, "random.yaml");
  return { yaml, scenario: buildScenario(load, { cni: "cilium", cilium: switchesOf(world.opts) }) };
}

// ---------------------------------------------------------------------------
// Comparison

interface Disagreement {
  check: string;
  from: string;
  to: string;
  probe: string;
  reference: string;
  palisade: string;
}

const externalAllows = (pieces: readonly ExternalAllowance[], ip: string, protocol: RefProtocol, port: number): boolean =>
  pieces.some((p) => p.ips.contains(ip) && p.conns.contains(protocol, port));

function compareWorld(world: GenWorld, scenario: Scenario): Disagreement[] {
  const out: Disagreement[] = [];
  const errs = scenario.diagnostics.filter((d) => d.severity === "error");
  if (errs.length > 0) return [{ check: "diagnostics", from: "", to: "", probe: errs.map((d) => d.format()).join("; "), reference: "none", palisade: "errors" }];
  const byId = new Map<string, Workload>(scenario.cluster.workloads.map((w) => [w.id, w]));
  const wl = (p: GenPod): Workload => byId.get(`${p.namespace}/${p.name}`)!;
  const opts = world.opts;
  const note = (check: string, from: string, to: string, protocol: string, port: number, ref: RefVerdict | boolean, got: string | boolean) =>
    out.push({ check, from, to, probe: `${protocol}/${port}`, reference: typeof ref === "boolean" ? String(ref) : describeRef(ref), palisade: String(got) });

  const matrix = new ConnectivityMatrix(scenario, { ports: PROBE_PORTS, protocols: [...PROTOCOLS] });
  const index = new Map(matrix.workloads.map((w, i) => [w, i]));
  const small = new ConnectivityMatrix(scenario, { ports: [80, 8080], protocols: ["TCP", "UDP"] });
  let allowedTuples = 0;
  let allowedFew = 0;

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
            if ((port === 80 || port === 8080) && protocol !== "SCTP") allowedFew++;
          }
          const [path] = traceFlow(scenario, { kind: "workload", workload: A }, { kind: "workload", workload: B }, { protocol, port });
          if ((path!.verdict === "allowed") !== ref.allowed) note("traceFlow", A.id, B.id, protocol, port, ref, path!.verdict);
          else if (!ref.allowed) {
            const got = `${path!.blocked?.step} ${path!.blocked?.enforcer} ${(path!.blocked?.policies ?? []).map((p) => p.name).sort().join(",")}`;
            const want = `${ref.deniedAt} ${ref.layer} ${[...new Set(ref.policies)].sort().join(",")}`;
            if (got !== want) note(`blocked hop (want ${want})`, A.id, B.id, protocol, port, ref, got);
            if (path!.observed !== "timeout") note("observed", A.id, B.id, protocol, port, ref, String(path!.observed));
          }
          if (!self && pc.contains(protocol, port) !== ref.allowed) note("pairConns", A.id, B.id, protocol, port, ref, pc.contains(protocol, port));
          if (mc.contains(protocol, port) !== ref.allowed) note("matrix.conns", A.id, B.id, protocol, port, ref, mc.contains(protocol, port));
        }
      }
    }
  }
  const tally = matrix.tally();
  if (tally.allowed !== allowedTuples) out.push({ check: "matrix.tally", from: "*", to: "*", probe: "", reference: String(allowedTuples), palisade: String(tally.allowed) });
  const few = small.tally();
  if (few.allowed !== allowedFew) out.push({ check: "matrix.tally (bitmask)", from: "*", to: "*", probe: "", reference: String(allowedFew), palisade: String(few.allowed) });

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
          if ((inPath!.verdict === "allowed") !== inRef.allowed) note("traceFlow external→pod", ip, A.id, protocol, port, inRef, inPath!.verdict);
          if (externalAllows(ingressPieces, ip, protocol, port) !== inRef.allowed) note("matrix.externalIngress", ip, A.id, protocol, port, inRef, !inRef.allowed);
          const outRef = refAllowed(world, { kind: "pod", pod: a }, { kind: "ip", ip }, protocol, port, opts);
          const [outPath] = traceFlow(scenario, { kind: "workload", workload: A }, { kind: "external", ip }, { protocol, port });
          if ((outPath!.verdict === "allowed") !== outRef.allowed) note("traceFlow pod→external", A.id, ip, protocol, port, outRef, outPath!.verdict);
          if (externalAllows(egressPieces, ip, protocol, port) !== outRef.allowed) note("matrix.externalEgress", A.id, ip, protocol, port, outRef, !outRef.allowed);
        }
      }
    }
    const kubelet: RefEndpoint = { kind: "node" };
    for (const protocol of PROTOCOLS) {
      const ref = refAllowed(world, kubelet, { kind: "pod", pod: a }, protocol, 8080, opts);
      const [path] = traceFlow(scenario, { kind: "kubelet" }, { kind: "workload", workload: A }, { protocol, port: 8080 });
      if ((path!.verdict === "allowed") !== ref.allowed) note("kubelet", "kubelet", A.id, protocol, 8080, ref, path!.verdict);
    }
  }
  return out;
}

function describeRef(r: RefVerdict): string {
  return r.allowed ? "allowed" : `denied ${r.deniedAt} ${r.layer} ${r.policies.join(",")}`;
}

function report(world: GenWorld, yaml: string, found: Disagreement[]): string {
  const lines = found.slice(0, 15).map((d) => `  ${d.check}: ${d.from} → ${d.to} ${d.probe}: reference ${d.reference}, palisade ${d.palisade}`);
  return [`${found.length} disagreement(s) (options ${JSON.stringify(world.opts)}):`, ...lines, "--- input ---", yaml].join("\n");
}

/** CILIUM_PROPERTY_RUNS=3000 for a long soak; the default keeps the file well under 30 s. */
const RUNS = Number(process.env.CILIUM_PROPERTY_RUNS ?? 150);
const TIMEOUT = Math.max(60_000, RUNS * 300);

describe("Cilium engine vs the reference evaluator (semantics.md §3.12)", () => {
  it("agrees on random clusters and CNP/CCNP/NetworkPolicy sets: traceFlow, blocking layer and policies, pairConns, matrix and tally, outside peers, kubelet", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { yaml, scenario } = await scenarioOf(world);
        const found = compareWorld(world, scenario);
        if (found.length > 0) throw new Error(report(world, yaml, found));
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("agrees on HTTP requests: L4-only rules win, HTTP rules are full matches, a miss is HTTP 403 (§3.9)", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const { yaml, scenario } = await scenarioOf(world);
        if (scenario.diagnostics.some((d) => d.severity === "error")) throw new Error(scenario.diagnostics.map((d) => d.format()).join("\n"));
        const layer = scenario.layers.find((l): l is CiliumLayer => l instanceof CiliumLayer)!;
        const engine = new CiliumLayer(layer.engine);
        const byId = new Map(scenario.cluster.workloads.map((w) => [w.id, w]));
        const found: string[] = [];
        for (const a of world.pods) {
          for (const b of world.pods) {
            if (a === b) continue;
            const A = byId.get(`${a.namespace}/${a.name}`)!;
            const B = byId.get(`${b.namespace}/${b.name}`)!;
            for (const port of [80, 8080]) {
              for (const req of REQUESTS) {
                for (const dir of ["ingress", "egress"] as const) {
                  const [subject, peer, S, P] = dir === "ingress" ? [b, a, B, A] : [a, b, A, B];
                  const want = refL7(world, subject, { kind: "pod", pod: peer }, port, dir, req, world.opts);
                  const d = engine.evaluate(S, dir, { kind: "workload", workload: P }, { protocol: "TCP", port }, req);
                  const got = d.verdict === "allow" ? "allow" : d.observed === "http-403" ? "http-403" : "drop";
                  if (got !== want) found.push(`${dir} at ${S.id} (peer ${P.id}) TCP/${port} ${req.method} ${req.path}: reference ${want}, palisade ${got} (${d.reason})`);
                }
              }
            }
          }
        }
        if (found.length > 0) throw new Error([`${found.length} disagreement(s):`, ...found.slice(0, 10), "--- input ---", yaml].join("\n"));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }, TIMEOUT);

  it("generates the cases it claims to (the property is not vacuous)", () => {
    const samples = fc.sample(worldArb, { numRuns: 300, seed: 7 });
    const cilium = samples.flatMap((w) => w.policies.filter((p): p is RefCiliumPolicy => p.kind !== "NetworkPolicy"));
    const rules = cilium.flatMap((p) => [...(p.spec.ingress ?? []), ...(p.spec.egress ?? []), ...(p.spec.ingressDeny ?? []), ...(p.spec.egressDeny ?? [])]);
    const json = (x: unknown) => JSON.stringify(x);
    const count = <T>(xs: T[], f: (x: T) => boolean) => xs.filter(f).length;
    const stats = {
      ccnp: count(cilium, (p) => p.kind === "CiliumClusterwideNetworkPolicy"),
      networkPolicies: count(samples.flatMap((w) => w.policies), (p) => p.kind === "NetworkPolicy"),
      denyRules: count(cilium, (p) => !!p.spec.ingressDeny || !!p.spec.egressDeny),
      emptyRule: count(rules, (r) => json(r) === "{}"),
      emptyEndpointList: count(rules, (r) => json(r).includes('Endpoints":[]')),
      portsOnly: count(rules, (r) => Object.keys(r).length === 1 && !!r.toPorts),
      entities: count(rules, (r) => !!r.fromEntities || !!r.toEntities),
      cidrSetExcept: count(rules, (r) => json(r).includes('"except":["')),
      namespaceKey: count(rules, (r) => json(r).includes("io.kubernetes.pod.namespace")),
      namespaceLabelKey: count(rules, (r) => json(r).includes("namespace.labels")),
      reservedKey: count(rules, (r) => json(r).includes("reserved:")),
      namedPorts: count(rules, (r) => /"port":"[a-zA-Z]/.test(json(r))),
      ranges: count(rules, (r) => json(r).includes("endPort")),
      l7: count(rules, (r) => json(r).includes('"http"')),
      enableDefaultDeny: count(cilium, (p) => !!p.spec.enableDefaultDeny),
      always: count(samples, (w) => w.opts.mode === "always"),
      strictDefaultDeny: count(samples, (w) => !w.opts.nonDefaultDeny),
      localhostPolicy: count(samples, (w) => !w.opts.allowLocalhost),
      noLocalCluster: count(samples, (w) => !w.opts.localCluster),
    };
    for (const [k, v] of Object.entries(stats)) expect(v, k).toBeGreaterThan(10);
  });
});
