/**
 * Cilium's label model (semantics.md §3.3): identity labels carry a source
 * (`k8s`, `reserved`, …), selector keys name one (`k8s:app`) or match any
 * (`app`, `any:app`). Selectors here are label selectors over identities, after
 * Cilium's implicit namespace and cluster scoping has been applied.
 */
import type { LabelRequirement, Labels, SelectorOperator } from "../../model/selector.js";
import { LabelSelector } from "../../model/selector.js";

export const POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
export const SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount";
export const CLUSTER_LABEL = "io.cilium.k8s.policy.cluster";
export const NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels.";

/** One requirement of a selector, its key split into source and key (source `any` matches every source). */
export interface IdentityRequirement {
  source: string;
  key: string;
  operator: SelectorOperator;
  values: readonly string[];
}

/** The labels of one security identity: `source:key` → value. */
export class Identity {
  private readonly byKey = new Map<string, string[]>();
  readonly labels: ReadonlyMap<string, string>;

  constructor(labels: Iterable<readonly [source: string, key: string, value: string]>) {
    const all = new Map<string, string>();
    for (const [source, key, value] of labels) {
      all.set(`${source}:${key}`, value);
      const list = this.byKey.get(key) ?? [];
      list.push(value);
      this.byKey.set(key, list);
    }
    this.labels = all;
  }

  /** Values of `key` from `source` (any source for `any`). */
  values(source: string, key: string): readonly string[] {
    if (source === "any") return this.byKey.get(key) ?? [];
    const v = this.labels.get(`${source}:${key}`);
    return v === undefined ? [] : [v];
  }

  has(source: string, key: string): boolean {
    return this.values(source, key).length > 0;
  }

  toString(): string {
    return [...this.labels].map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join(",");
  }
}

/**
 * `k8s:app` → source k8s, key app; `app` and `any:app` → any source;
 * `$host` → reserved:host (Cilium `parseSource`); the first colon splits.
 */
export function parseSelectKey(k: string): { source: string; key: string } {
  if (k.startsWith("$")) return { source: "reserved", key: k.slice(1) };
  const i = k.indexOf(":");
  if (i < 0) return { source: "any", key: k };
  return { source: k.slice(0, i), key: k.slice(i + 1) };
}

export class IdentitySelector {
  private constructor(
    readonly requirements: readonly IdentityRequirement[],
    readonly nothing: boolean,
  ) {}

  static readonly everything = new IdentitySelector([], false);
  static readonly none = new IdentitySelector([], true);

  static of(reqs: readonly IdentityRequirement[]): IdentitySelector {
    return new IdentitySelector(reqs, false);
  }

  /** From a Kubernetes selector whose keys carry Cilium source prefixes. */
  static fromLabelSelector(sel: LabelSelector): IdentitySelector {
    if (sel.isNothing) return IdentitySelector.none;
    return new IdentitySelector(
      sel.requirements.map((r: LabelRequirement) => ({ ...parseSelectKey(r.key), operator: r.operator, values: r.values })),
      false,
    );
  }

  /** From a plain Kubernetes selector over labels of one source (`prefix` + key, source k8s). */
  static fromK8s(sel: LabelSelector, keyPrefix = ""): IdentitySelector {
    if (sel.isNothing) return IdentitySelector.none;
    return new IdentitySelector(
      sel.requirements.map((r) => ({ source: "k8s", key: `${keyPrefix}${r.key}`, operator: r.operator, values: r.values })),
      false,
    );
  }

  /** Labels of a Service selector (equality), source k8s. */
  static fromLabels(labels: Labels): IdentitySelector {
    return new IdentitySelector(
      Object.entries(labels).map(([key, v]) => ({ source: "k8s", key, operator: "In" as const, values: [v] })),
      false,
    );
  }

  and(...reqs: IdentityRequirement[]): IdentitySelector {
    if (this.nothing) return this;
    return new IdentitySelector([...this.requirements, ...reqs], false);
  }

  /** Requirements other than `matchLabels`-style ones on exactly `source:key`. */
  without(source: string, key: string): IdentitySelector {
    return new IdentitySelector(
      this.requirements.filter((r) => !(r.source === source && r.key === key && r.operator === "In" && r.values.length === 1)),
      this.nothing,
    );
  }

  /** Whether a requirement names `key` from `source` (or from any source when `source` is omitted). */
  hasKey(key: string, sources: readonly string[]): boolean {
    return this.requirements.some((r) => r.key === key && sources.includes(r.source));
  }

  hasKeyPrefix(prefix: string, sources: readonly string[]): boolean {
    return this.requirements.some((r) => r.key.startsWith(prefix) && sources.includes(r.source));
  }

  hasSource(source: string): boolean {
    return this.requirements.some((r) => r.source === source);
  }

  get isEverything(): boolean {
    return !this.nothing && this.requirements.length === 0;
  }

  matches(id: Identity): boolean {
    if (this.nothing) return false;
    for (const r of this.requirements) {
      const vals = id.values(r.source, r.key);
      switch (r.operator) {
        case "In":
          if (!vals.some((v) => r.values.includes(v))) return false;
          break;
        case "NotIn":
          if (vals.some((v) => r.values.includes(v))) return false;
          break;
        case "Exists":
          if (vals.length === 0) return false;
          break;
        case "DoesNotExist":
          if (vals.length > 0) return false;
          break;
      }
    }
    return true;
  }

  /** A stable text: equal strings select the same identities. */
  toString(): string {
    if (this.nothing) return "<nothing>";
    if (this.requirements.length === 0) return "{}";
    return this.requirements
      .map(({ source, key, operator, values }) => {
        const k = `${source}:${key}`;
        switch (operator) {
          case "In":
            return values.length === 1 ? `${k}=${values[0]}` : `${k} in (${values.join(",")})`;
          case "NotIn":
            return `${k} notin (${values.join(",")})`;
          case "Exists":
            return k;
          case "DoesNotExist":
            return `!${k}`;
        }
      })
      .join(",");
  }
}

/** Entities (§3.4) and the reserved labels they select; `all` is every identity. */
export const ENTITIES = [
  "all",
  "world",
  "world-ipv4",
  "world-ipv6",
  "cluster",
  "host",
  "remote-node",
  "kube-apiserver",
  "ingress",
  "init",
  "health",
  "unmanaged",
  "none",
] as const;
export type Entity = (typeof ENTITIES)[number];

/** Whether the identity is in the entity (v1.19.4 `EntitySelectorMapping`, `InitEntities`). */
export function entityMatches(entity: Entity, id: Identity, clusterName: string): boolean {
  const reserved = (k: string) => id.has("reserved", k);
  switch (entity) {
    case "all":
      return true;
    case "none":
      return false;
    case "world":
      return reserved("world") || reserved("world-ipv4") || reserved("world-ipv6");
    case "cluster":
      return (
        ["host", "remote-node", "init", "ingress", "health", "unmanaged", "kube-apiserver"].some(reserved) ||
        id.values("k8s", CLUSTER_LABEL).includes(clusterName)
      );
    default:
      return reserved(entity);
  }
}
