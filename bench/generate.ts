/**
 * Deterministic synthetic cluster generator for benchmarks.
 *
 * Produces multi-document YAML shaped like the manifests of a real repository:
 * Namespaces (team, env labels), Deployments / StatefulSets / DaemonSets with
 * pod template labels from a bounded vocabulary, container ports (named and
 * numbered, TCP and some UDP), Services, and NetworkPolicies of the shapes
 * people actually write (default deny, DNS egress, same-namespace tier rules,
 * cross-namespace namespaceSelector AND podSelector, ipBlock with except,
 * named ports, endPort ranges, matchExpressions).
 *
 * The same options and seed always give byte-identical output.
 *
 * As a module: `generateCluster(options)` → `{ objects, yaml, stats }`.
 * As a CLI:
 *   tsx bench/generate.ts --namespaces 100 --workloads-per-ns 10 --pods-per-workload 1 \
 *     --policies-per-ns 2 --label-variety 5 --seed 1 [--emit-pods] > out.yaml
 */
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export interface GenerateOptions {
  /** Number of namespaces. The first two are `kube-system` (runs kube-dns) and `monitoring` (runs prometheus). */
  namespaces: number;
  workloadsPerNs: number;
  /** `spec.replicas` of Deployments and StatefulSets; with `emitPods`, also the number of Pod objects per workload. */
  podsPerWorkload: number;
  policiesPerNs: number;
  /** Size of each label key's value vocabulary (app, tier, team, version). */
  labelVariety: number;
  seed: number;
  /**
   * Also emit what the API server adds, as `kubectl get deploy,sts,ds,rs,pods -o yaml`
   * output would: a ReplicaSet per Deployment and the pods of every controller,
   * with ownerReferences, pod-template-hash and status IPs. The model collapses
   * them into their controller.
   */
  emitPods?: boolean;
  /**
   * Put the cluster in an Istio mesh: half of the namespaces sidecar-injected, a
   * third ambient, a mesh-wide STRICT PeerAuthentication, and per mesh namespace an
   * ALLOW AuthorizationPolicy (same namespace and monitoring, on some ports) and
   * sometimes a DENY. Drawn from its own random stream, so the rest is unchanged.
   */
  istio?: boolean;
  /**
   * Write every NetworkPolicy as the equivalent CiliumNetworkPolicy (namespace
   * selectors become `io.cilium.k8s.namespace.labels.*` keys, ipBlocks CIDR sets,
   * empty rules the `all` entity), as a Cilium cluster's repository would hold them.
   */
  cilium?: boolean;
}

export const DEFAULT_OPTIONS: GenerateOptions = {
  namespaces: 100,
  workloadsPerNs: 10,
  podsPerWorkload: 1,
  policiesPerNs: 2,
  labelVariety: 5,
  seed: 1,
  emitPods: false,
};

export interface GenerateStats {
  namespaces: number;
  workloads: number;
  pods: number;
  replicaSets: number;
  services: number;
  policies: number;
  documents: number;
  bytes: number;
}

type Obj = Record<string, unknown>;

// ---------------------------------------------------------------------------
// PRNG

/** mulberry32: small, fast, good enough for synthetic data, and stable across platforms. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from an empty list");
    return xs[this.int(xs.length)]!;
  }
  /** `k` distinct elements (fewer when the list is shorter), in list order. */
  sample<T>(xs: readonly T[], k: number): T[] {
    const idx = xs.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return idx
      .slice(0, Math.min(k, xs.length))
      .sort((a, b) => a - b)
      .map((i) => xs[i]!);
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [x, w] of items) {
      r -= w;
      if (r < 0) return x;
    }
    return items[items.length - 1]![0];
  }
  hex(len: number): string {
    const alphabet = "bcdfghjklmnpqrstvwxz2456789";
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

// ---------------------------------------------------------------------------
// Vocabulary

const APP_NAMES = [
  "api", "web", "frontend", "backend", "cart", "checkout", "payments", "orders", "catalog", "search",
  "auth", "users", "inventory", "shipping", "notifications", "reports", "gateway", "cache", "queue", "db",
  "ledger", "billing", "profile", "recommend", "media", "upload", "export", "import", "scheduler", "audit",
];
const TIERS = ["frontend", "backend", "db", "cache", "worker", "edge", "batch", "data"];
const TEAMS = ["payments", "platform", "data", "growth", "identity", "search", "infra", "mobile", "web", "ml"];
const ENVS = ["prod", "staging", "dev"];

function vocabulary(base: readonly string[], prefix: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(1, size); i++) out.push(i < base.length ? base[i]! : `${prefix}-${i}`);
  return out;
}

interface Vocab {
  apps: string[];
  tiers: string[];
  teams: string[];
  versions: string[];
}

function makeVocab(variety: number): Vocab {
  return {
    apps: vocabulary(APP_NAMES, "svc", variety),
    tiers: vocabulary(TIERS, "tier", variety),
    teams: vocabulary(TEAMS, "team", variety),
    versions: Array.from({ length: Math.max(1, variety) }, (_, i) => `v${i + 1}`),
  };
}

// ---------------------------------------------------------------------------
// Objects

interface NsInfo {
  name: string;
  team: string;
  env: string;
}

interface WorkloadInfo {
  kind: "Deployment" | "StatefulSet" | "DaemonSet";
  name: string;
  labels: Record<string, string>;
  ports: { name?: string; containerPort: number; protocol: "TCP" | "UDP" }[];
  hostNetwork: boolean;
}

function namespaceObject(ns: NsInfo, system: boolean): Obj {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: system ? { name: ns.name } : { name: ns.name, labels: { team: ns.team, env: ns.env } },
  };
}

function makeWorkloads(rng: Rng, vocab: Vocab, ns: NsInfo, count: number, nsIndex: number): WorkloadInfo[] {
  const out: WorkloadInfo[] = [];
  const used = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    let special: WorkloadInfo | undefined;
    if (i === 0 && ns.name === "kube-system") {
      special = {
        kind: "Deployment",
        name: "coredns",
        labels: { "k8s-app": "kube-dns" },
        ports: [
          { name: "dns", containerPort: 53, protocol: "UDP" },
          { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
          { name: "metrics", containerPort: 9153, protocol: "TCP" },
        ],
        hostNetwork: false,
      };
    } else if (i === 0 && ns.name === "monitoring") {
      special = {
        kind: "StatefulSet",
        name: "prometheus",
        labels: { app: "prometheus", tier: "data" },
        ports: [{ name: "http", containerPort: 9090, protocol: "TCP" }],
        hostNetwork: false,
      };
    }
    if (special) {
      out.push(special);
      used.set(special.name, 1);
      continue;
    }
    const kind = rng.weighted<WorkloadInfo["kind"]>([
      ["Deployment", 80],
      ["StatefulSet", 13],
      ["DaemonSet", 7],
    ]);
    const app = rng.pick(vocab.apps);
    const n = (used.get(app) ?? 0) + 1;
    used.set(app, n);
    const name = n === 1 ? app : `${app}-${n}`;
    const labels: Record<string, string> = {
      app,
      tier: rng.pick(vocab.tiers),
      version: rng.pick(vocab.versions),
    };
    if (rng.chance(0.7)) labels.team = rng.chance(0.85) ? ns.team : rng.pick(vocab.teams);
    if (rng.chance(0.05)) labels.legacy = "true";
    const ports: WorkloadInfo["ports"] = [];
    const main = rng.weighted<number>([
      [0, 50], // http 8080
      [1, 20], // grpc 9090 (+ http)
      [2, 20], // unnamed 80
      [3, 10], // unnamed 5432 / 6379 (db/cache style)
    ]);
    if (main === 0) ports.push({ name: "http", containerPort: 8080, protocol: "TCP" });
    else if (main === 1) {
      ports.push({ name: "grpc", containerPort: 9090, protocol: "TCP" });
      ports.push({ name: "http", containerPort: 8080, protocol: "TCP" });
    } else if (main === 2) ports.push({ containerPort: 80, protocol: "TCP" });
    else ports.push({ containerPort: rng.pick([5432, 6379, 3306, 27017]), protocol: "TCP" });
    if (rng.chance(0.5)) ports.push({ name: "metrics", containerPort: 9100, protocol: "TCP" });
    if (rng.chance(0.08)) ports.push({ name: "statsd", containerPort: 8125, protocol: "UDP" });
    // A few node agents run on the host network (node-exporter, CNI agents).
    const hostNetwork = kind === "DaemonSet" && (nsIndex + i) % 3 === 0 && rng.chance(0.5);
    out.push({ kind, name, labels, ports, hostNetwork });
  }
  return out;
}

function selectorLabelsOf(w: WorkloadInfo): Record<string, string> {
  return w.labels.app ? { app: w.labels.app } : w.labels;
}

function workloadObject(w: WorkloadInfo, ns: NsInfo, replicas: number): Obj {
  const podSpec: Obj = {
    serviceAccountName: w.name,
    containers: [
      {
        name: w.name,
        image: `registry.example.com/${ns.team}/${w.labels.app ?? w.name}:${w.labels.version ?? "v1"}`,
        ports: w.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: p.protocol })),
        resources: { requests: { cpu: "100m", memory: "128Mi" } },
      },
    ],
  };
  if (w.hostNetwork) podSpec.hostNetwork = true;
  const selectorLabels = selectorLabelsOf(w);
  const spec: Obj = {
    ...(w.kind === "DaemonSet" ? {} : { replicas }),
    ...(w.kind === "StatefulSet" ? { serviceName: w.name } : {}),
    selector: { matchLabels: selectorLabels },
    template: { metadata: { labels: w.labels }, spec: podSpec },
  };
  return {
    apiVersion: "apps/v1",
    kind: w.kind,
    metadata: { name: w.name, namespace: ns.name, labels: { app: w.labels.app ?? w.name } },
    spec,
  };
}

/** The ReplicaSet a Deployment owns, as the API server shows it. */
function replicaSetObject(w: WorkloadInfo, ns: NsInfo, replicas: number, hash: string, template: Obj): Obj {
  const labels = { ...w.labels, "pod-template-hash": hash };
  const tpl = template as { metadata: Obj; spec: Obj };
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: `${w.name}-${hash}`,
      namespace: ns.name,
      labels,
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: w.name, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      replicas,
      selector: { matchLabels: { ...selectorLabelsOf(w), "pod-template-hash": hash } },
      template: { metadata: { labels }, spec: tpl.spec },
    },
  };
}

function podObjects(rng: Rng, w: WorkloadInfo, ns: NsInfo, replicas: number, ipCounter: { n: number }, hash: string): Obj[] {
  const pods: Obj[] = [];
  const count = w.kind === "DaemonSet" ? Math.max(1, replicas) : replicas;
  for (let k = 0; k < count; k++) {
    const ip = ipCounter.n++;
    const podIP = `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${(ip & 255) || 1}`;
    const hostIP = `192.168.${(k >> 8) & 255}.${(k & 255) + 1}`;
    let name: string;
    let owner: Obj;
    let labels: Record<string, string> = { ...w.labels };
    if (w.kind === "Deployment") {
      name = `${w.name}-${hash}-${rng.hex(5)}`;
      owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: `${w.name}-${hash}`, controller: true, blockOwnerDeletion: true };
      labels = { ...labels, "pod-template-hash": hash };
    } else if (w.kind === "StatefulSet") {
      name = `${w.name}-${k}`;
      owner = { apiVersion: "apps/v1", kind: "StatefulSet", name: w.name, controller: true, blockOwnerDeletion: true };
      labels = { ...labels, "statefulset.kubernetes.io/pod-name": name };
    } else {
      name = `${w.name}-${rng.hex(5)}`;
      owner = { apiVersion: "apps/v1", kind: "DaemonSet", name: w.name, controller: true, blockOwnerDeletion: true };
    }
    pods.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns.name, labels, ownerReferences: [owner] },
      spec: {
        serviceAccountName: w.name,
        ...(w.hostNetwork ? { hostNetwork: true } : {}),
        containers: [
          {
            name: w.name,
            image: `registry.example.com/${ns.team}/${w.labels.app ?? w.name}:${w.labels.version ?? "v1"}`,
            ports: w.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: p.protocol })),
          },
        ],
      },
      status: {
        phase: "Running",
        hostIP,
        podIP: w.hostNetwork ? hostIP : podIP,
        podIPs: [{ ip: w.hostNetwork ? hostIP : podIP }],
      },
    });
  }
  return pods;
}

function serviceObject(w: WorkloadInfo, ns: NsInfo): Obj {
  const first = w.ports[0]!;
  const ports: Obj[] = [
    {
      name: first.name ?? "main",
      port: first.containerPort === 8080 || first.containerPort === 9090 ? 80 : first.containerPort,
      targetPort: first.name ?? first.containerPort,
      protocol: first.protocol,
    },
  ];
  const metrics = w.ports.find((p) => p.name === "metrics");
  if (metrics) ports.push({ name: "metrics", port: 9100, targetPort: "metrics", protocol: "TCP" });
  const spec: Obj = { selector: w.labels.app ? { app: w.labels.app } : w.labels, ports };
  if (ns.name === "kube-system" && w.name === "coredns") {
    spec.clusterIP = "10.96.0.10";
    spec.ports = [
      { name: "dns", port: 53, targetPort: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, targetPort: 53, protocol: "TCP" },
    ];
  }
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: w.name === "coredns" ? "kube-dns" : w.name, namespace: ns.name },
    spec,
  };
}

// ---------------------------------------------------------------------------
// NetworkPolicies

type Shape =
  | "allow-dns"
  | "allow-same-tier"
  | "allow-from-team"
  | "egress-internet"
  | "allow-monitoring"
  | "allow-range-from-env"
  | "not-legacy"
  | "egress-team-udp";

const SHAPES: readonly (readonly [Shape, number])[] = [
  ["allow-dns", 20],
  ["allow-same-tier", 20],
  ["allow-from-team", 15],
  ["egress-internet", 10],
  ["allow-monitoring", 10],
  ["allow-range-from-env", 8],
  ["not-legacy", 7],
  ["egress-team-udp", 10],
];

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

function policyObject(name: string, ns: NsInfo, spec: Obj): Obj {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: ns.name },
    spec,
  };
}

function makePolicies(rng: Rng, vocab: Vocab, ns: NsInfo, workloads: readonly WorkloadInfo[], count: number): Obj[] {
  const out: Obj[] = [];
  const labelled = workloads.filter((w) => w.labels.app !== undefined && w.labels.tier !== undefined);
  const someApp = (): string => (labelled.length > 0 ? rng.pick(labelled).labels.app! : rng.pick(vocab.apps));
  const someTier = (): string => (labelled.length > 0 ? rng.pick(labelled).labels.tier! : rng.pick(vocab.tiers));
  const portRef = (preferNamed: string): Obj =>
    rng.chance(0.6) ? { port: preferNamed } : { protocol: "TCP", port: preferNamed === "grpc" ? 9090 : 8080 };
  const used = new Map<string, number>();
  const uniqueName = (base: string): string => {
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  };

  let denyEgress = false;
  for (let k = 0; k < count; k++) {
    if (k === 0) {
      // Every namespace starts from a default deny, of ingress only or of both directions.
      const both = rng.chance(0.4);
      denyEgress = both;
      out.push(
        policyObject(uniqueName(both ? "default-deny-all" : "default-deny-ingress"), ns, {
          podSelector: {},
          policyTypes: both ? ["Ingress", "Egress"] : ["Ingress"],
        }),
      );
      continue;
    }
    // Denying egress breaks name resolution: the next policy people write allows DNS.
    const shape = k === 1 && denyEgress ? "allow-dns" : rng.weighted(SHAPES);
    switch (shape) {
      case "allow-dns":
        out.push(
          policyObject(uniqueName("allow-dns"), ns, {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
              {
                to: [
                  {
                    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                    podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                  },
                ],
                ports: [
                  { protocol: "UDP", port: 53 },
                  { protocol: "TCP", port: 53 },
                ],
              },
            ],
          }),
        );
        break;
      case "allow-same-tier": {
        const to = someTier();
        const from = someTier();
        out.push(
          policyObject(uniqueName(`allow-${from}-to-${to}`), ns, {
            podSelector: { matchLabels: { tier: to } },
            ingress: [{ from: [{ podSelector: { matchLabels: { tier: from } } }], ports: [portRef("http")] }],
          }),
        );
        break;
      }
      case "allow-from-team": {
        const app = someApp();
        const team = rng.pick(vocab.teams);
        const tiers = rng.sample(vocab.tiers, 1 + rng.int(2));
        out.push(
          policyObject(uniqueName(`allow-${team}-to-${app}`), ns, {
            podSelector: { matchLabels: { app } },
            policyTypes: ["Ingress"],
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: { matchLabels: { team } },
                    podSelector: { matchExpressions: [{ key: "tier", operator: "In", values: tiers }] },
                  },
                ],
                ports: [portRef("grpc"), portRef("http")],
              },
            ],
          }),
        );
        break;
      }
      case "egress-internet": {
        const app = someApp();
        out.push(
          policyObject(uniqueName(`allow-${app}-internet`), ns, {
            podSelector: { matchLabels: { app } },
            policyTypes: ["Egress"],
            egress: [
              {
                to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_RANGES } }],
                ports: [
                  { protocol: "TCP", port: 443 },
                  { protocol: "TCP", port: 80 },
                ],
              },
            ],
          }),
        );
        break;
      }
      case "allow-monitoring":
        out.push(
          policyObject(uniqueName("allow-prometheus-scrape"), ns, {
            podSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] },
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
                    podSelector: { matchLabels: { app: "prometheus" } },
                  },
                ],
                ports: [{ port: "metrics" }],
              },
            ],
          }),
        );
        break;
      case "allow-range-from-env": {
        const app = someApp();
        const envs = rng.sample(ENVS, 2);
        out.push(
          policyObject(uniqueName(`allow-${app}-ports`), ns, {
            podSelector: { matchLabels: { app } },
            ingress: [
              {
                from: [{ namespaceSelector: { matchExpressions: [{ key: "env", operator: "In", values: envs }] } }],
                ports: [{ protocol: "TCP", port: 8000, endPort: 8100 }],
              },
            ],
          }),
        );
        break;
      }
      case "not-legacy": {
        const version = rng.pick(vocab.versions);
        out.push(
          policyObject(uniqueName("allow-non-legacy"), ns, {
            podSelector: { matchExpressions: [{ key: "version", operator: "NotIn", values: [version] }] },
            ingress: [
              {
                from: [
                  { podSelector: { matchExpressions: [{ key: "legacy", operator: "DoesNotExist" }] } },
                  { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16", "10.2.0.0/16"] } },
                ],
              },
            ],
          }),
        );
        break;
      }
      case "egress-team-udp": {
        const tier = someTier();
        const team = rng.pick(vocab.teams);
        out.push(
          policyObject(uniqueName(`allow-${tier}-to-${team}`), ns, {
            podSelector: { matchLabels: { tier } },
            policyTypes: ["Egress"],
            egress: [
              {
                to: [{ namespaceSelector: { matchLabels: { team } } }],
                ports: [
                  { protocol: "UDP", port: 8125 },
                  { protocol: "TCP", port: 9000, endPort: 9100 },
                  { port: "http" },
                ],
              },
            ],
          }),
        );
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Cluster

export function generateObjects(options: GenerateOptions): { objects: Obj[]; stats: Omit<GenerateStats, "bytes" | "documents"> } {
  const rng = new Rng(options.seed);
  const vocab = makeVocab(options.labelVariety);
  const namespaceDocs: Obj[] = [];
  const workloadDocs: Obj[] = [];
  const podDocs: Obj[] = [];
  const replicaSetDocs: Obj[] = [];
  const serviceDocs: Obj[] = [];
  const policyDocs: Obj[] = [];
  const ipCounter = { n: 1 };
  let workloads = 0;

  for (let i = 0; i < options.namespaces; i++) {
    const team = rng.pick(vocab.teams);
    const env = rng.weighted([
      ["prod", 50],
      ["staging", 30],
      ["dev", 20],
    ]);
    const name = i === 0 ? "kube-system" : i === 1 ? "monitoring" : `${team}-${env}-${i}`;
    const ns: NsInfo = { name, team, env };
    namespaceDocs.push(namespaceObject(ns, i === 0));
    const ws = makeWorkloads(rng, vocab, ns, options.workloadsPerNs, i);
    for (const w of ws) {
      workloads++;
      const controller = workloadObject(w, ns, options.podsPerWorkload);
      workloadDocs.push(controller);
      if (options.emitPods) {
        const hash = rng.hex(9);
        if (w.kind === "Deployment") {
          const template = (controller.spec as { template: Obj }).template;
          replicaSetDocs.push(replicaSetObject(w, ns, options.podsPerWorkload, hash, template));
        }
        podDocs.push(...podObjects(rng, w, ns, options.podsPerWorkload, ipCounter, hash));
      }
      if ((w.kind !== "DaemonSet" && rng.chance(0.6)) || w.name === "coredns") serviceDocs.push(serviceObject(w, ns));
    }
    policyDocs.push(...makePolicies(rng, vocab, ns, ws, options.policiesPerNs));
  }

  if (options.cilium) policyDocs.splice(0, policyDocs.length, ...policyDocs.map(toCiliumNetworkPolicy));
  const istioDocs = options.istio ? meshObjects(new Rng(options.seed + 7919), namespaceDocs, workloadDocs) : [];

  // Repository order: namespaces, then per-kind folders.
  const objects = [...namespaceDocs, ...workloadDocs, ...replicaSetDocs, ...podDocs, ...serviceDocs, ...policyDocs, ...istioDocs];
  return {
    objects,
    stats: {
      namespaces: namespaceDocs.length,
      workloads,
      pods: podDocs.length,
      replicaSets: replicaSetDocs.length,
      services: serviceDocs.length,
      policies: policyDocs.length,
    },
  };
}

const NS_LABEL_PREFIX = "io.cilium.k8s.namespace.labels.";

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };

/** A namespaceSelector AND podSelector as one Cilium endpoint selector. */
function endpointSelector(podSelector: Selector | undefined, namespaceSelector: Selector | undefined): Selector {
  const out: Selector = {};
  const labels = { ...(podSelector?.matchLabels ?? {}) };
  const exprs = [...(podSelector?.matchExpressions ?? [])];
  if (namespaceSelector) {
    for (const [k, v] of Object.entries(namespaceSelector.matchLabels ?? {})) labels[NS_LABEL_PREFIX + k] = v;
    for (const e of namespaceSelector.matchExpressions ?? []) exprs.push({ ...e, key: NS_LABEL_PREFIX + e.key });
    // An empty namespaceSelector means every namespace.
    if (Object.keys(namespaceSelector.matchLabels ?? {}).length === 0 && (namespaceSelector.matchExpressions ?? []).length === 0) {
      exprs.push({ key: "io.kubernetes.pod.namespace", operator: "Exists" });
    }
  }
  if (Object.keys(labels).length > 0) out.matchLabels = labels;
  if (exprs.length > 0) out.matchExpressions = exprs;
  return out;
}

/** The CiliumNetworkPolicy that allows what a generated NetworkPolicy allows. */
function toCiliumNetworkPolicy(np: Obj): Obj {
  const spec = np.spec as { podSelector: Selector; policyTypes?: string[]; ingress?: Obj[]; egress?: Obj[] };
  // The API server's defaulting: Ingress, and Egress when there are egress rules.
  const types = spec.policyTypes ?? ["Ingress", ...(spec.egress?.length ? ["Egress"] : [])];
  // Cilium takes endpoints and CIDRs in separate rules: a mixed peer list becomes two rules.
  const rules = (list: Obj[] | undefined, peersKey: "from" | "to"): Obj[] =>
    (list ?? [])
      .flatMap((rule) => {
        const peers = (rule[peersKey] as Obj[] | undefined) ?? [];
        const cidr = peers.filter((p) => p.ipBlock);
        const other = peers.filter((p) => !p.ipBlock);
        return cidr.length > 0 && other.length > 0 ? [{ ...rule, [peersKey]: other }, { ...rule, [peersKey]: cidr }] : [rule];
      })
      .map((rule) => {
      const peers = (rule[peersKey] as Obj[] | undefined) ?? [];
      const ports = (rule.ports as { protocol?: string; port?: number | string; endPort?: number }[] | undefined) ?? [];
      const out: Obj = {};
      const endpoints = peers.filter((p) => !p.ipBlock).map((p) => endpointSelector(p.podSelector as Selector | undefined, p.namespaceSelector as Selector | undefined));
      const cidrs = peers.filter((p) => p.ipBlock).map((p) => p.ipBlock as Obj);
      const dir = peersKey === "from" ? "from" : "to";
      if (endpoints.length > 0) out[`${dir}Endpoints`] = endpoints;
      if (cidrs.length > 0) out[`${dir}CIDRSet`] = cidrs;
      if (peers.length === 0) out[`${dir}Entities`] = ["all"];
      if (ports.length > 0) {
        out.toPorts = [
          {
            ports: ports.map((p) => ({
              port: p.port === undefined ? "0" : String(p.port),
              protocol: p.protocol ?? "TCP",
              ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
            })),
          },
        ];
      }
      return out;
    });
  const cnp: Obj = { endpointSelector: spec.podSelector };
  // A direction listed in policyTypes with no rules denies everything: `[{}]` enables enforcement.
  if (types.includes("Ingress")) cnp.ingress = spec.ingress?.length ? rules(spec.ingress, "from") : [{}];
  if (types.includes("Egress")) cnp.egress = spec.egress?.length ? rules(spec.egress, "to") : [{}];
  return { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: np.metadata, spec: cnp };
}

/** Labels the namespaces into the mesh and returns the Istio objects (see `GenerateOptions.istio`). */
function meshObjects(rng: Rng, namespaceDocs: Obj[], workloadDocs: Obj[]): Obj[] {
  const out: Obj[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "istio-system" } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "istio", namespace: "istio-system" },
      data: { mesh: "rootNamespace: istio-system\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\n" },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name: "default", namespace: "istio-system" },
      spec: { mtls: { mode: "STRICT" } },
    },
  ];
  const portsOf = new Map<string, number[]>();
  for (const w of workloadDocs) {
    const meta = w.metadata as { namespace: string };
    const tpl = (w.spec as { template: { spec: { containers: { ports?: { containerPort: number }[] }[] } } }).template;
    const ports = tpl.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
    portsOf.set(meta.namespace, [...(portsOf.get(meta.namespace) ?? []), ...ports]);
  }
  for (const doc of namespaceDocs) {
    const meta = doc.metadata as { name: string; labels?: Record<string, string> };
    if (meta.name === "kube-system") continue;
    const mode = rng.weighted([
      ["sidecar", 50],
      ["ambient", 35],
      ["none", 15],
    ]);
    if (mode === "none") continue;
    meta.labels = { ...meta.labels, ...(mode === "sidecar" ? { "istio-injection": "enabled" } : { "istio.io/dataplane-mode": "ambient" }) };
    const ports = [...new Set(portsOf.get(meta.name) ?? [])].slice(0, 3).map(String);
    out.push({
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: "allow-own-and-monitoring", namespace: meta.name },
      spec: {
        action: "ALLOW",
        rules: [
          { from: [{ source: { namespaces: [meta.name, "monitoring"] } }], ...(ports.length > 0 ? { to: [{ operation: { ports } }] } : {}) },
        ],
      },
    });
    if (rng.chance(0.3)) {
      out.push({
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { name: "deny-legacy", namespace: meta.name },
        spec: { action: "DENY", rules: [{ from: [{ source: { principals: [`cluster.local/ns/${meta.name}/sa/legacy`] } }] }] },
      });
    }
  }
  return out;
}

export function generateCluster(options: GenerateOptions): { objects: Obj[]; yaml: string; stats: GenerateStats } {
  const { objects, stats } = generateObjects(options);
  const yaml = toYamlStream(objects);
  return { objects, yaml, stats: { ...stats, documents: objects.length, bytes: Buffer.byteLength(yaml) } };
}

// ---------------------------------------------------------------------------
// YAML emitter (block style, like kubectl and most repositories)

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  const s = String(v);
  return PLAIN.test(s) && !RESERVED.test(s) ? s : JSON.stringify(s);
}

function isEmptyCollection(v: unknown): string | undefined {
  if (Array.isArray(v) && v.length === 0) return "[]";
  if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) return "{}";
  return undefined;
}

function isCollection(v: unknown): boolean {
  return v !== null && typeof v === "object";
}

function emitMap(obj: Obj, indent: string, lines: string[], firstPrefix?: string): void {
  let first = true;
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const prefix = first && firstPrefix !== undefined ? firstPrefix : indent;
    first = false;
    const key = scalar(k);
    const empty = isEmptyCollection(v);
    if (empty) lines.push(`${prefix}${key}: ${empty}`);
    else if (Array.isArray(v)) {
      lines.push(`${prefix}${key}:`);
      emitSeq(v, indent, lines);
    } else if (isCollection(v)) {
      lines.push(`${prefix}${key}:`);
      emitMap(v as Obj, `${indent}  `, lines);
    } else lines.push(`${prefix}${key}: ${scalar(v)}`);
  }
}

/** Sequences are written at the parent's indentation, as kubectl does. */
function emitSeq(arr: readonly unknown[], indent: string, lines: string[]): void {
  for (const item of arr) {
    const empty = isEmptyCollection(item);
    if (empty) lines.push(`${indent}- ${empty}`);
    else if (Array.isArray(item)) {
      lines.push(`${indent}-`);
      emitSeq(item, `${indent}  `, lines);
    } else if (isCollection(item)) emitMap(item as Obj, `${indent}  `, lines, `${indent}- `);
    else lines.push(`${indent}- ${scalar(item)}`);
  }
}

export function toYamlDocument(obj: Obj): string {
  const lines: string[] = [];
  emitMap(obj, "", lines);
  return lines.join("\n") + "\n";
}

export function toYamlStream(objects: readonly Obj[]): string {
  return objects.map(toYamlDocument).join("---\n");
}

// ---------------------------------------------------------------------------
// CLI

function parseCliArgs(argv: readonly string[]): { options: GenerateOptions; out: string | undefined } {
  const options: GenerateOptions = { ...DEFAULT_OPTIONS };
  let out: string | undefined;
  const numeric: Record<string, keyof GenerateOptions> = {
    "--namespaces": "namespaces",
    "--workloads-per-ns": "workloadsPerNs",
    "--pods-per-workload": "podsPerWorkload",
    "--policies-per-ns": "policiesPerNs",
    "--label-variety": "labelVariety",
    "--seed": "seed",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (flag === "--emit-pods") options.emitPods = true;
    else if (flag === "--out" || flag === "-o") out = inline ?? argv[++i];
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(
        "usage: tsx bench/generate.ts [--namespaces N] [--workloads-per-ns N] [--pods-per-workload N]\n" +
          "         [--policies-per-ns N] [--label-variety N] [--seed N] [--emit-pods] [--out FILE]\n",
      );
      process.exit(0);
    } else if (flag in numeric) {
      const raw = inline ?? argv[++i];
      const n = Number(raw);
      if (raw === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${raw}`);
      (options as unknown as Record<string, number>)[numeric[flag]!] = n;
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  return { options, out };
}

function main(): void {
  const { options, out } = parseCliArgs(process.argv.slice(2));
  const { yaml, stats } = generateCluster(options);
  if (out) writeFileSync(out, yaml);
  else process.stdout.write(yaml);
  process.stderr.write(
    `generated ${stats.namespaces} namespaces, ${stats.workloads} workloads, ${stats.replicaSets} replicasets, ${stats.pods} pods, ` +
      `${stats.services} services, ${stats.policies} policies (${stats.documents} documents, ${(stats.bytes / 1024).toFixed(0)} KB)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
