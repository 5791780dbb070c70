/**
 * Reads CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy objects with
 * Cilium's validation (CRD schema, `Rule.Sanitize`, semantics.md §3.2) and its
 * implicit namespace and cluster scoping (§3.3), and Kubernetes
 * NetworkPolicies the way Cilium translates them into the same rule form. A
 * policy Cilium (or the API server) would reject is reported with file, line and
 * field, and left out; the others are analysed.
 */
import type { FieldPath, InputDiagnostic, Manifest } from "../../load/types.js";
import { FieldReader, describe, portNameProblem } from "../../model/fields.js";
import type { CiliumSwitches } from "../../model/profile.js";
import { LabelSelector } from "../../model/selector.js";
import { CidrError, IPSet, parseCidr, parseIP, type Protocol } from "../../sets/index.js";
import { scanNetworkPolicies, type NetworkPolicy, type NetworkPolicyPeer, type NetworkPolicyRule } from "../networkpolicy/scan.js";
import type { Direction } from "../types.js";
import {
  CLUSTER_LABEL,
  ENTITIES,
  IdentitySelector,
  NAMESPACE_LABELS_PREFIX,
  POD_NAMESPACE_LABEL,
  type Entity,
} from "./labels.js";
import { RegexSyntaxError, RegexUnsupportedError, SafeRegex } from "./re2.js";

export type CiliumPolicyKind = "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy" | "NetworkPolicy";
export type Section = "ingress" | "ingressDeny" | "egress" | "egressDeny";

export const SECTIONS: readonly Section[] = ["ingress", "ingressDeny", "egress", "egressDeny"];
export const sectionDirection = (s: Section): Direction => (s.startsWith("ingress") ? "ingress" : "egress");

/** One alternative of a rule's L3 part: the rule matches a peer when any alternative does. */
export type PeerPart =
  /** Every peer: a NetworkPolicy rule without `from`/`to`, a Cilium rule with only `toPorts` (§3.2 r13). */
  | { type: "all" }
  /** from/toEndpoints after implicit scoping (§3.3 r19–22), or a NetworkPolicy pod peer. */
  | { type: "selector"; selector: IdentitySelector; text: string }
  | { type: "entity"; entity: Entity }
  /** from/toCIDR, from/toCIDRSet, ipBlock: never pods, nodes only in `nodes` mode (§3.5). */
  | { type: "cidr"; ips: IPSet; text: string }
  /** toServices (§3.7): resolved against the cluster's Services by the evaluator. */
  | { type: "service"; namespace: string | undefined; name: string | undefined; selector: LabelSelector | undefined; text: string }
  /** toFQDNs (§3.6): addresses learned from DNS answers at run time. */
  | { type: "fqdn"; matchName: string | undefined; matchPattern: string | undefined; text: string }
  /** from/toNodes (§3.10 r49): node labels, which the input does not give. */
  | { type: "node"; selector: IdentitySelector; text: string }
  /** fromGroups/toGroups, cidrGroupRef/Selector: external objects Palisade cannot resolve offline. */
  | { type: "unresolved"; text: string };

export interface CiliumPort {
  /** A number (0 = every port), or a container port name (lower-cased, §3.8 r34). */
  port: number | string;
  endPort: number | undefined;
  /** The transport protocols it covers (`ANY` = TCP, UDP, SCTP; VRRP and IGMP have none). */
  protocols: readonly Protocol[];
  protocolText: string;
}

export interface HttpRule {
  method: SafeRegex | undefined;
  path: SafeRegex | undefined;
  host: SafeRegex | undefined;
  /** `Name` (presence) or `Name: value` (exact), from `headers` and `headerMatches`. */
  headers: readonly { name: string; value: string | undefined; secret: boolean }[];
  /** Set when a field uses syntax Palisade's matcher does not implement: the rule cannot be decided. */
  unsupported: string | undefined;
  text: string;
}

export interface DnsRule {
  matchName: string | undefined;
  matchPattern: string | undefined;
  text: string;
}

export type L7Rules =
  | { type: "http"; rules: readonly HttpRule[] }
  | { type: "dns"; rules: readonly DnsRule[] }
  | { type: "kafka" | "l7proto"; count: number };

export interface CiliumPortRule {
  /** Empty: every port of every protocol. */
  ports: readonly CiliumPort[];
  l7: L7Rules | undefined;
  serverNames: readonly string[];
}

export interface CiliumRule {
  section: Section;
  direction: Direction;
  deny: boolean;
  /** Position in its section's list. */
  index: number;
  /** Alternatives of the L3 part; empty matches no peer (`fromEndpoints: []`, a rule `{}`). */
  peers: readonly PeerPart[];
  /** Undefined: every port and protocol (an L3-only rule). */
  ports: readonly CiliumPortRule[] | undefined;
  /** Only `icmps`: matches no TCP, UDP or SCTP connection. */
  icmpOnly: boolean;
  /** `specs[1].ingress[0]`, or `ingress[0]` (for people). */
  label: string;
  line: number;
}

/** One Cilium rule: a selector and its sections (a CNP `spec`, one of its `specs`, or a NetworkPolicy). */
export interface CiliumSpec {
  policy: CiliumPolicy;
  /** Index in `specs`, or null for `spec` (and NetworkPolicies). */
  specIndex: number | null;
  /** Pods selected; for a host policy, `nodes` holds the node selector instead. */
  subject: { type: "endpoints"; selector: IdentitySelector } | { type: "nodes"; selector: IdentitySelector };
  /** Whether this rule puts the endpoint in default deny, per direction (§3.1 r2). */
  defaultDeny: Record<Direction, boolean>;
  rules: readonly CiliumRule[];
  /** Whether the rule has any allow or deny rule in the direction. */
  hasRules: Record<Direction, boolean>;
  /** For a NetworkPolicy: whether its policyTypes came from defaulting (explanations). */
  line: number;
}

export interface CiliumPolicy {
  kind: CiliumPolicyKind;
  /** Null for a CiliumClusterwideNetworkPolicy. */
  namespace: string | null;
  name: string;
  specs: CiliumSpec[];
  file: string;
  line: number;
  manifest: Manifest;
}

export interface CiliumScanResult {
  policies: CiliumPolicy[];
  diagnostics: InputDiagnostic[];
}

export function isCiliumPolicy(m: Manifest): boolean {
  return (m.kind === "CiliumNetworkPolicy" || m.kind === "CiliumClusterwideNetworkPolicy") && m.apiVersion.startsWith("cilium.io/");
}

/** Reads every CNP, CCNP and NetworkPolicy among `manifests` (other kinds are ignored). */
export function scanCiliumPolicies(manifests: readonly Manifest[], switches: CiliumSwitches): CiliumScanResult {
  const policies: CiliumPolicy[] = [];
  const diagnostics: InputDiagnostic[] = [];
  const nps = scanNetworkPolicies(manifests);
  diagnostics.push(...nps.diagnostics);
  const npByManifest = new Map(nps.policies.map((p) => [p.manifest, p]));
  for (const m of manifests) {
    const np = npByManifest.get(m);
    if (np) {
      policies.push(fromNetworkPolicy(np));
      continue;
    }
    if (!isCiliumPolicy(m)) continue;
    const r = new FieldReader(m);
    const policy = new CiliumReader(r, switches).read();
    diagnostics.push(...r.diagnostics);
    if (policy && !r.hasErrors) policies.push(policy);
  }
  return { policies, diagnostics };
}

/** Defines `line` as a getter that asks the manifest on first use. */
function lazyLine<T extends object>(obj: T, manifest: Manifest, path: FieldPath): T & { line: number } {
  let line: number | undefined;
  return Object.defineProperty(obj, "line", { enumerable: true, get: () => (line ??= manifest.lineOf(path)) }) as T & { line: number };
}

const isPresent = (v: unknown): boolean => v !== undefined && v !== null;

// ---------------------------------------------------------------------------
// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy

const RULE_FIELDS = ["endpointSelector", "nodeSelector", "ingress", "ingressDeny", "egress", "egressDeny", "labels", "description", "enableDefaultDeny", "log"];
const INGRESS_L3 = ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromGroups", "fromNodes"] as const;
const EGRESS_L3 = ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups", "toNodes", "toFQDNs"] as const;
const CRD_PROTOCOLS = ["TCP", "UDP", "SCTP", "VRRP", "IGMP", "ANY"];

class CiliumReader {
  private readonly kind: "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy";
  /** The policy's namespace; "" for a clusterwide policy (Cilium's convention). */
  private readonly namespace: string;

  constructor(
    private readonly r: FieldReader,
    private readonly switches: CiliumSwitches,
  ) {
    this.kind = r.manifest.kind as CiliumReader["kind"];
    this.namespace = this.kind === "CiliumNetworkPolicy" ? (r.manifest.namespace ?? "default") : "";
  }

  read(): CiliumPolicy | undefined {
    const { r, kind } = this;
    const m = r.manifest;
    if (!m.name) return r.error(["metadata", "name"], `a ${kind} needs a name`);
    for (const key of Object.keys(m.raw)) {
      if (!["apiVersion", "kind", "metadata", "spec", "specs", "status"].includes(key)) r.error([key], `unknown field "${key}" in a ${kind}`);
    }
    const policy: CiliumPolicy = {
      kind,
      namespace: kind === "CiliumNetworkPolicy" ? this.namespace : null,
      name: m.name,
      specs: [],
      file: m.source.file,
      line: m.source.line,
      manifest: m,
    };
    const hasSpec = isPresent(r.get(["spec"]));
    const specList = r.array(["specs"]);
    if (!hasSpec && (!specList || specList.length === 0)) {
      return r.error(["spec"], `a ${kind} needs spec or specs (Cilium rejects an empty policy)`);
    }
    if (hasSpec) {
      const spec = this.readSpec(policy, ["spec"], null);
      if (spec) policy.specs.push(spec);
    }
    (specList ?? []).forEach((_, i) => {
      const spec = this.readSpec(policy, ["specs", i], i);
      if (spec) policy.specs.push(spec);
    });
    return policy;
  }

  private readSpec(policy: CiliumPolicy, path: (string | number)[], specIndex: number | null): CiliumSpec | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return r.error(path, "expected a rule (a mapping with endpointSelector or nodeSelector)");
    for (const key of Object.keys(obj)) {
      if (!RULE_FIELDS.includes(key)) r.error([...path, key], `unknown field "${key}" in a ${this.kind} rule`);
    }
    const hasEndpoint = isPresent(obj.endpointSelector);
    const hasNode = isPresent(obj.nodeSelector);
    if (!hasEndpoint && !hasNode) return r.error(path, "rule must have one of endpointSelector or nodeSelector");
    if (hasEndpoint && hasNode) return r.error([...path, "nodeSelector"], "rule cannot have both endpointSelector and nodeSelector");
    if (hasNode && this.kind === "CiliumNetworkPolicy") {
      return r.error([...path, "nodeSelector"], "nodeSelector (a host policy) is only allowed in a CiliumClusterwideNetworkPolicy");
    }

    // Sections: at least one must be non-empty (v1.19.4 Rule.Sanitize, §3.2 r3).
    const lists: Record<Section, unknown[] | undefined> = {
      ingress: r.array([...path, "ingress"]),
      ingressDeny: r.array([...path, "ingressDeny"]),
      egress: r.array([...path, "egress"]),
      egressDeny: r.array([...path, "egressDeny"]),
    };
    if (SECTIONS.every((s) => (lists[s] ?? []).length === 0)) {
      return r.error(path, "rule must have at least one of ingress, ingressDeny, egress, egressDeny (write `ingress: [{}]` for a default-deny rule)");
    }

    let subject: CiliumSpec["subject"];
    if (hasEndpoint) {
      const sel = this.selector([...path, "endpointSelector"]);
      if (this.namespace !== "") {
        // The selector always applies in the policy's namespace (§3.3 r19).
        const user = sel.requirements.find((q) => q.source === "k8s" && q.key === POD_NAMESPACE_LABEL && q.operator === "In");
        if (user && !(user.values.length === 1 && user.values[0] === this.namespace)) {
          r.warn([...path, "endpointSelector"], `a CiliumNetworkPolicy's endpointSelector always applies in its own namespace ${this.namespace}: the namespace ${user.values.join(",")} it names is replaced`);
        }
        subject = { type: "endpoints", selector: sel.without("k8s", POD_NAMESPACE_LABEL).and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "In", values: [this.namespace] }) };
      } else subject = { type: "endpoints", selector: sel };
    } else {
      subject = { type: "nodes", selector: this.selector([...path, "nodeSelector"]) };
    }
    const matchesInit = subject.selector.hasKey("init", ["reserved"]);
    const hostPolicy = subject.type === "nodes";

    const rules: CiliumRule[] = [];
    for (const section of SECTIONS) {
      (lists[section] ?? []).forEach((_, i) => {
        const rule = this.readRule(section, [...path, section, i], i, specIndex, matchesInit, hostPolicy);
        if (rule) rules.push(rule);
      });
    }

    // enableDefaultDeny (§3.1 r2): unset means "has rules in that direction".
    const edd = r.object([...path, "enableDefaultDeny"]);
    if (edd) for (const k of Object.keys(edd)) if (k !== "ingress" && k !== "egress") r.error([...path, "enableDefaultDeny", k], `unknown field "${k}" in enableDefaultDeny`);
    const explicitIngress = r.boolean([...path, "enableDefaultDeny", "ingress"]);
    const explicitEgress = r.boolean([...path, "enableDefaultDeny", "egress"]);
    const hasRules = {
      ingress: (lists.ingress ?? []).length + (lists.ingressDeny ?? []).length > 0,
      egress: (lists.egress ?? []).length + (lists.egressDeny ?? []).length > 0,
    };
    const defaultDeny = this.switches.enableNonDefaultDenyPolicies
      ? { ingress: explicitIngress ?? hasRules.ingress, egress: explicitEgress ?? hasRules.egress }
      : { ingress: true, egress: true };
    r.string([...path, "description"]);
    return lazyLine({ policy, specIndex, subject, defaultDeny, rules, hasRules }, r.manifest, path) as CiliumSpec;
  }

  /** A label selector with Cilium's source-prefixed keys; an invalid one selects nothing. */
  private selector(path: FieldPath): IdentitySelector {
    const sel = LabelSelector.read(this.r, path) ?? LabelSelector.everything;
    return IdentitySelector.fromLabelSelector(sel);
  }

  /**
   * from/toEndpoints: the policy's namespace (CNP) or "any namespace" (CCNP) is
   * added unless the selector names one, or a reserved label; then the local
   * cluster (§3.3 r20–22, v1.19.4 `getEndpointSelector`).
   */
  private endpointSelector(path: FieldPath, matchesInit: boolean): IdentitySelector {
    let sel = this.selector(path);
    if (sel.nothing || sel.hasSource("reserved")) return sel;
    if (!sel.hasKey(POD_NAMESPACE_LABEL, ["k8s", "any"])) {
      if (this.namespace === "") {
        if (!matchesInit) sel = sel.and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "Exists", values: [] });
      } else if (this.switches.namespaceLabelsInCnp === "namespace" || !sel.hasKeyPrefix(NAMESPACE_LABELS_PREFIX, ["k8s", "any"])) {
        sel = sel.and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "In", values: [this.namespace] });
      }
    }
    return this.clusterScoped(sel);
  }

  private clusterScoped(sel: IdentitySelector): IdentitySelector {
    if (!this.switches.policyDefaultLocalCluster || sel.hasKey(CLUSTER_LABEL, ["k8s", "any"])) return sel;
    return sel.and({ source: "k8s", key: CLUSTER_LABEL, operator: "In", values: [this.switches.clusterName] });
  }

  private readRule(section: Section, path: (string | number)[], index: number, specIndex: number | null, matchesInit: boolean, hostPolicy: boolean): CiliumRule | undefined {
    const { r } = this;
    const direction = sectionDirection(section);
    const deny = section.endsWith("Deny");
    const label = `${specIndex === null ? "" : `specs[${specIndex}].`}${section}[${index}]`;
    const raw = r.get(path);
    const obj = raw === null ? {} : r.object(path);
    if (!obj) return undefined;
    const l3Keys: readonly string[] = direction === "ingress" ? INGRESS_L3 : EGRESS_L3;
    const allowed = new Set<string>([...l3Keys, "toPorts", "icmps", direction === "ingress" ? "fromRequires" : "toRequires"]);
    if (!deny) allowed.add("authentication");
    if (deny && direction === "egress") allowed.delete("toFQDNs");
    for (const key of Object.keys(obj)) {
      if (!allowed.has(key)) {
        const hint = deny && key === "toFQDNs" ? " (deny rules have no toFQDNs, §3.1 r6)" : "";
        r.error([...path, key], `unknown field "${key}" in an ${section} rule${hint}`);
      }
    }
    const requires = direction === "ingress" ? "fromRequires" : "toRequires";
    if ((r.array([...path, requires]) ?? []).length > 0) {
      r.error([...path, requires], `${requires} was removed in Cilium 1.19 (the CRD allows no items): use ${direction === "ingress" ? "fromEndpoints" : "toEndpoints"} with the extra labels`);
    }

    // One L3 member per rule (§3.2 r11); nil and empty lists differ (§3.2 r13).
    const present = l3Keys.filter((k) => isPresent(obj[k]) && !(deny && k === "toFQDNs"));
    const nonEmpty = present.filter((k) => Array.isArray(obj[k]) && (obj[k] as unknown[]).length > 0);
    if (nonEmpty.length > 1) {
      return r.error([...path, nonEmpty[1]!], `combining ${nonEmpty[0]} and ${nonEmpty[1]} in one rule is not supported by Cilium: write two rules`);
    }
    const toPortsList = r.array([...path, "toPorts"]);
    const icmps = r.array([...path, "icmps"]);
    if ((icmps ?? []).length > 0 && (toPortsList ?? []).length > 0) {
      return r.error([...path, "icmps"], "icmps may only be present without toPorts: define a separate rule for toPorts");
    }
    if (nonEmpty[0] === "toServices" && (toPortsList ?? []).length > 0 && !this.switches.toServicesWithToPorts) {
      return r.error([...path, "toPorts"], "combining toServices and toPorts is not supported by this Cilium version (profile: toServicesWithToPorts)");
    }
    const hasPorts = (toPortsList ?? []).length > 0;

    const peers: PeerPart[] = [];
    if (present.length === 0) {
      // No L3 member: a wildcard only together with toPorts (or icmps).
      if (hasPorts || (icmps ?? []).length > 0) peers.push({ type: "all" });
    }
    for (const member of present) {
      (r.array([...path, member]) ?? []).forEach((_, j) => {
        const part = this.readPeer(member, [...path, member, j], matchesInit);
        if (part) peers.push(part);
      });
    }

    let ports: CiliumPortRule[] | undefined;
    if (hasPorts) {
      ports = [];
      toPortsList!.forEach((_, k) => {
        const pr = this.readPortRule([...path, "toPorts", k], direction, deny, hostPolicy);
        if (pr) ports!.push(pr);
      });
    }
    (icmps ?? []).forEach((_, k) => this.readIcmp([...path, "icmps", k]));
    const icmpOnly = (icmps ?? []).length > 0;
    const rule = { section, direction, deny, index, peers, ports, icmpOnly, label };
    return lazyLine(rule, r.manifest, path) as CiliumRule;
  }

  private readPeer(member: string, path: FieldPath, matchesInit: boolean): PeerPart | undefined {
    const { r } = this;
    switch (member) {
      case "fromEndpoints":
      case "toEndpoints": {
        if (!r.object(path)) return r.error(path, "expected a label selector");
        const selector = this.endpointSelector(path, matchesInit);
        // The local-cluster requirement is implicit for every in-cluster peer: the text leaves it out.
        const shown = selector.requirements.filter((q) => !(q.key === CLUSTER_LABEL && q.values.length === 1 && q.values[0] === this.switches.clusterName && q.operator === "In"));
        return { type: "selector", selector, text: `endpoints {${IdentitySelector.of(shown)}}` };
      }
      case "fromNodes":
      case "toNodes": {
        if (!this.switches.enableNodeSelectorLabels) {
          return r.error(path, `${member} requires the agent option enable-node-selector-labels (off by default; profile: enableNodeSelectorLabels)`);
        }
        const selector = this.clusterScoped(this.selector(path).and({ source: "reserved", key: "remote-node", operator: "Exists", values: [] }));
        return { type: "node", selector, text: `nodes {${selector}}` };
      }
      case "fromEntities":
      case "toEntities": {
        const e = r.string(path);
        if (e === undefined) return undefined;
        if (!(ENTITIES as readonly string[]).includes(e)) return r.error(path, `unsupported entity ${describe(e)} (expected one of ${ENTITIES.filter((x) => !x.startsWith("world-")).join(", ")})`);
        if ((e === "world-ipv4" || e === "world-ipv6") && !this.switches.worldFamilyEntities) {
          return r.error(path, `entity ${e} is not in the CiliumNetworkPolicy CRD's enum (v1.19.4): the API server rejects it (profile: worldFamilyEntities)`);
        }
        return { type: "entity", entity: e as Entity };
      }
      case "fromCIDR":
      case "toCIDR": {
        const s = r.string(path);
        if (s === undefined) return undefined;
        const ips = cidrOrAddress(s);
        if (typeof ips === "string") return r.error(path, ips);
        return { type: "cidr", ips, text: s };
      }
      case "fromCIDRSet":
      case "toCIDRSet":
        return this.readCidrRule(path);
      case "fromGroups":
      case "toGroups":
        r.warn(path, `${member} names cloud provider groups, which Palisade cannot resolve offline: the rule matches no address here`);
        return { type: "unresolved", text: `${member} (cloud groups)` };
      case "toServices":
        return this.readService(path);
      case "toFQDNs":
        return this.readFqdn(path);
    }
    return undefined;
  }

  private readCidrRule(path: FieldPath): PeerPart | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    for (const k of Object.keys(obj)) if (!["cidr", "cidrGroupRef", "cidrGroupSelector", "except"].includes(k)) r.error([...path, k], `unknown field "${k}" in a CIDR rule`);
    const given = ["cidr", "cidrGroupRef", "cidrGroupSelector"].filter((k) => isPresent(obj[k]));
    if (given.length !== 1) return r.error(path, "a CIDR rule needs exactly one of cidr, cidrGroupRef, cidrGroupSelector");
    if (given[0] !== "cidr") {
      r.warn([...path, given[0]!], `${given[0]} refers to CiliumCIDRGroup objects, which Palisade does not read: the rule matches no address here`);
      return { type: "unresolved", text: `${given[0]}` };
    }
    const cidr = r.string([...path, "cidr"]);
    if (cidr === undefined) return undefined;
    let base: ReturnType<typeof parseCidr>;
    let ips: IPSet;
    try {
      base = parseCidr(cidr);
      ips = IPSet.fromCidr(cidr);
    } catch (e) {
      return r.error([...path, "cidr"], e instanceof CidrError ? e.message : String(e));
    }
    const except: string[] = [];
    (r.array([...path, "except"]) ?? []).forEach((raw, i) => {
      const p = [...path, "except", i];
      if (typeof raw !== "string") return void r.error(p, `expected a CIDR string, got ${describe(raw)}`);
      try {
        const ex = parseCidr(raw);
        // CIDRRule.sanitize: the except's address must lie in the cidr (same family).
        if (ex.family !== base.family || !ips.contains(raw.slice(0, raw.indexOf("/")))) {
          return void r.error(p, `allow CIDR prefix ${cidr} does not contain exclude CIDR prefix ${raw}`);
        }
        except.push(raw);
      } catch (e) {
        r.error(p, e instanceof CidrError ? e.message : String(e));
      }
    });
    for (const ex of except) ips = ips.subtract(IPSet.fromCidr(ex));
    return { type: "cidr", ips, text: `${cidr}${except.length ? ` except ${except.join(",")}` : ""}` };
  }

  private readService(path: FieldPath): PeerPart | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    for (const k of Object.keys(obj)) if (k !== "k8sService" && k !== "k8sServiceSelector") r.error([...path, k], `unknown field "${k}" in toServices`);
    if (isPresent(obj.k8sService) === isPresent(obj.k8sServiceSelector)) return r.error(path, "toServices needs exactly one of k8sService, k8sServiceSelector");
    const defaultNs = this.namespace === "" ? undefined : this.namespace;
    if (isPresent(obj.k8sService)) {
      const name = r.string([...path, "k8sService", "serviceName"]);
      const ns = r.string([...path, "k8sService", "namespace"]) ?? defaultNs;
      if (!name) return r.error([...path, "k8sService", "serviceName"], "k8sService needs a serviceName");
      return { type: "service", namespace: ns, name, selector: undefined, text: `Service ${ns ?? "*"}/${name}` };
    }
    const sel = LabelSelector.read(r, [...path, "k8sServiceSelector", "selector"]);
    if (!sel) return r.error([...path, "k8sServiceSelector", "selector"], "k8sServiceSelector needs a selector");
    const ns = r.string([...path, "k8sServiceSelector", "namespace"]) ?? defaultNs;
    return { type: "service", namespace: ns, name: undefined, selector: sel, text: `Services {${sel}} in ${ns ?? "every namespace"}` };
  }

  private readFqdn(path: FieldPath): PeerPart | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    for (const k of Object.keys(obj)) if (k !== "matchName" && k !== "matchPattern") r.error([...path, k], `unknown field "${k}" in toFQDNs`);
    const matchName = r.string([...path, "matchName"]);
    const matchPattern = r.string([...path, "matchPattern"]);
    if ((matchName === undefined) === (matchPattern === undefined)) return r.error(path, "a toFQDNs selector needs exactly one of matchName, matchPattern");
    const bad = dnsNameProblem(matchName ?? matchPattern!, matchPattern !== undefined);
    if (bad) return r.error([...path, matchName !== undefined ? "matchName" : "matchPattern"], bad);
    return { type: "fqdn", matchName, matchPattern, text: matchName !== undefined ? `FQDN ${matchName}` : `FQDN pattern ${matchPattern}` };
  }

  private readIcmp(path: FieldPath): void {
    const { r } = this;
    (r.array([...path, "fields"]) ?? []).forEach((_, k) => {
      const fam = r.string([...path, "fields", k, "family"]);
      if (fam !== undefined && fam !== "IPv4" && fam !== "IPv6") r.error([...path, "fields", k, "family"], `wrong family: ${fam} (expected IPv4 or IPv6)`);
    });
  }

  private readPortRule(path: FieldPath, direction: Direction, deny: boolean, hostPolicy: boolean): CiliumPortRule | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    const fields = deny ? ["ports"] : ["ports", "rules", "serverNames", "listener", "terminatingTLS", "originatingTLS"];
    for (const k of Object.keys(obj)) {
      if (!fields.includes(k)) r.error([...path, k], `unknown field "${k}" in a toPorts entry${deny && k === "rules" ? " (deny rules have no L7 rules, §3.1 r6)" : ""}`);
    }
    const list = r.array([...path, "ports"]) ?? [];
    if (list.length > 40) return r.error([...path, "ports"], "too many ports, the max is 40");
    const ports: CiliumPort[] = [];
    let zero = false;
    list.forEach((_, i) => {
      const p = this.readPortProtocol([...path, "ports", i]);
      if (p) {
        ports.push(p);
        if (p.port === 0) zero = true;
      }
    });
    const serverNames = (r.array([...path, "serverNames"]) ?? []).map((s, i) => {
      if (typeof s !== "string" || s === "") r.error([...path, "serverNames", i], "empty server name is not allowed");
      return String(s);
    });
    if (isPresent(obj.listener) && direction === "ingress") r.error([...path, "listener"], "listener is not allowed on ingress");
    let l7: L7Rules | undefined;
    if (isPresent(obj.rules)) {
      l7 = this.readL7([...path, "rules"], ports, direction, hostPolicy);
      if (l7 && zero) r.error([...path, "rules"], "L7 rules can not be used when a port is 0");
      if (l7 && serverNames.length > 0 && !isPresent(obj.terminatingTLS)) r.error([...path, "serverNames"], "serverNames are not allowed with L7 rules without TLS termination");
      if (l7 && isPresent(obj.listener)) r.error([...path, "listener"], "listener is not allowed with L7 rules");
    }
    return { ports, l7, serverNames };
  }

  private readPortProtocol(path: FieldPath): CiliumPort | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    for (const k of Object.keys(obj)) if (!["port", "endPort", "protocol"].includes(k)) r.error([...path, k], `unknown field "${k}" in a port`);
    const rawPort = r.get([...path, "port"]);
    let port: number | string;
    if (rawPort === undefined || rawPort === null || rawPort === "") {
      // Optional in the CRD since 1.16: omitted means every port.
      port = 0;
    } else if (typeof rawPort === "number") {
      return r.error([...path, "port"], `the CRD declares port a string: quote it ("${rawPort}"), or the API server rejects the policy`);
    } else if (typeof rawPort !== "string") {
      return r.error([...path, "port"], `expected a port number or name as a string, got ${describe(rawPort)}`);
    } else if (/^\d+$/.test(rawPort)) {
      const n = Number(rawPort);
      if (n > 65535) return r.error([...path, "port"], `port ${rawPort} is out of range 0-65535`);
      port = n;
    } else {
      const name = rawPort.toLowerCase();
      if (portNameProblem(name)) return r.error([...path, "port"], `unable to parse port ${describe(rawPort)}: neither a number nor a port name`);
      port = name;
    }
    const protocolText = (r.string([...path, "protocol"]) ?? "ANY") || "ANY";
    if (protocolText.toUpperCase() === "ICMP" || protocolText.toUpperCase() === "ICMPV6") {
      return r.error([...path, "protocol"], `${protocolText} is not a toPorts protocol: use icmps (§3.8 r33)`);
    }
    if (!CRD_PROTOCOLS.includes(protocolText)) return r.error([...path, "protocol"], `unsupported protocol ${describe(protocolText)} (expected ${CRD_PROTOCOLS.join(", ")})`);
    const protocols: Protocol[] = protocolText === "ANY" ? ["TCP", "UDP", "SCTP"] : protocolText === "TCP" || protocolText === "UDP" || protocolText === "SCTP" ? [protocolText] : [];
    let endPort = r.integer([...path, "endPort"]);
    if (endPort !== undefined) {
      if (typeof port === "string") {
        r.warn([...path, "endPort"], `endPort is ignored with the named port "${port}"`);
        endPort = undefined;
      } else if (endPort > 65535 || endPort < 0) {
        return r.error([...path, "endPort"], `endPort ${endPort} is out of range 0-65535`);
      } else if (port !== 0 && endPort < port) {
        r.warn([...path, "endPort"], `endPort ${endPort} is below port ${port}: only port ${port} is covered`);
        endPort = undefined;
      }
    }
    return { port, endPort, protocols, protocolText };
  }

  private readL7(path: FieldPath, ports: readonly CiliumPort[], direction: Direction, hostPolicy: boolean): L7Rules | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    const types = ["http", "kafka", "dns", "l7proto"].filter((k) => isPresent(obj[k]));
    for (const k of Object.keys(obj)) if (!["http", "kafka", "dns", "l7proto", "l7"].includes(k)) r.error([...path, k], `unknown field "${k}" in L7 rules`);
    if (isPresent(obj.l7) && !isPresent(obj.l7proto)) return r.error([...path, "l7"], "'l7' may only be specified when a 'l7proto' is also specified");
    if (types.length > 1) return r.error(path, `multiple L7 protocol rule types specified in one rule (${types.join(", ")})`);
    if (types.length === 0) return undefined;
    if (!this.switches.enableL7Proxy) return r.error(path, "L7 policy is not supported since the L7 proxy is not enabled (profile: enableL7Proxy)");
    const type = types[0]!;
    if (type === "dns") {
      if (direction === "ingress") return r.error([...path, "dns"], "DNS rules are not allowed on ingress");
      if (ports.length === 0) return r.error([...path, "dns"], "port 53 must be specified for DNS rules");
      if (ports.some((p) => p.endPort !== undefined)) return r.error([...path, "dns"], "DNS rules cannot use port ranges");
    } else {
      if (hostPolicy) return r.error(path, "host policies support only DNS L7 rules");
      const notTcp = ports.find((p) => p.protocolText !== "TCP");
      if (notTcp) return r.error(path, `L7 rules can only apply to TCP (not ${notTcp.protocolText}) except for DNS rules`);
    }
    const items = r.array([...path, type]) ?? [];
    if (type === "http") return { type: "http", rules: items.map((_, i) => this.readHttp([...path, "http", i])).filter((x): x is HttpRule => !!x) };
    if (type === "dns") return { type: "dns", rules: items.map((_, i) => this.readDns([...path, "dns", i])).filter((x): x is DnsRule => !!x) };
    return { type: type === "kafka" ? "kafka" : "l7proto", count: items.length };
  }

  private readHttp(path: FieldPath): HttpRule | undefined {
    const { r } = this;
    const obj = r.object(path) ?? (r.get(path) === null ? {} : undefined);
    if (!obj) return undefined;
    for (const k of Object.keys(obj)) if (!["method", "path", "host", "headers", "headerMatches"].includes(k)) r.error([...path, k], `unknown field "${k}" in an HTTP rule`);
    let unsupported: string | undefined;
    const regex = (field: string): SafeRegex | undefined => {
      const s = r.string([...path, field]);
      if (s === undefined || s === "") return undefined;
      try {
        return SafeRegex.compile(s);
      } catch (e) {
        if (e instanceof RegexUnsupportedError) {
          unsupported = `${field} ${JSON.stringify(s)}: ${e.message}`;
          r.warn([...path, field], `${e.message}: requests on this rule are assumed to match`);
          return undefined;
        }
        r.error([...path, field], `invalid regular expression ${JSON.stringify(s)}: ${e instanceof RegexSyntaxError ? e.message : String(e)}`);
        return undefined;
      }
    };
    const method = regex("method");
    const p = regex("path");
    if (p && !p.source.startsWith("/")) r.error([...path, "path"], `path ${JSON.stringify(p.source)} must begin with '/'`);
    const host = regex("host");
    const headers: { name: string; value: string | undefined; secret: boolean }[] = [];
    (r.array([...path, "headers"]) ?? []).forEach((h, i) => {
      if (typeof h !== "string") return void r.error([...path, "headers", i], "expected a header name or \"Name: value\"");
      const colon = h.indexOf(":");
      headers.push(colon < 0 ? { name: h.trim(), value: undefined, secret: false } : { name: h.slice(0, colon).trim(), value: h.slice(colon + 1).trim(), secret: false });
    });
    (r.array([...path, "headerMatches"]) ?? []).forEach((_, i) => {
      const hp = [...path, "headerMatches", i];
      const name = r.string([...hp, "name"]);
      if (!name) return void r.error([...hp, "name"], "a headerMatch needs a name");
      const mismatch = r.string([...hp, "mismatch"]);
      if (mismatch !== undefined && !["LOG", "ADD", "DELETE", "REPLACE"].includes(mismatch)) r.error([...hp, "mismatch"], `unknown mismatch action ${describe(mismatch)}`);
      // A mismatch action other than the default (reject) does not deny the request.
      if (mismatch !== undefined) return;
      const secret = isPresent(r.get([...hp, "secret"]));
      headers.push({ name, value: secret ? undefined : (r.string([...hp, "value"]) ?? ""), secret });
    });
    const parts = [method && `method ${method.source}`, p && `path ${p.source}`, host && `host ${host.source}`, ...headers.map((h) => `header ${h.name}${h.value !== undefined ? `: ${h.value}` : ""}`)].filter(Boolean);
    return { method, path: p, host, headers, unsupported, text: parts.length ? parts.join(", ") : "any request" };
  }

  private readDns(path: FieldPath): DnsRule | undefined {
    const { r } = this;
    const obj = r.object(path);
    if (!obj) return undefined;
    const matchName = r.string([...path, "matchName"]);
    const matchPattern = r.string([...path, "matchPattern"]);
    if ((matchName === undefined) === (matchPattern === undefined)) return r.error(path, "a DNS rule needs exactly one of matchName, matchPattern");
    const bad = dnsNameProblem(matchName ?? matchPattern!, matchPattern !== undefined);
    if (bad) return r.error([...path, matchName !== undefined ? "matchName" : "matchPattern"], bad);
    return { matchName, matchPattern, text: matchName !== undefined ? `name ${matchName}` : `pattern ${matchPattern}` };
  }
}

/** `fromCIDR` accepts a prefix or a bare address (a /32 or /128). */
function cidrOrAddress(s: string): IPSet | string {
  if (s === "") return "IP must be specified";
  try {
    if (s.includes("/")) return IPSet.fromCidr(s);
    if (parseIP(s)) return IPSet.fromIP(s);
    return `unable to parse CIDR ${JSON.stringify(s)}`;
  } catch (e) {
    return e instanceof CidrError ? e.message : String(e);
  }
}

/** Cilium's FQDN validation: DNS characters, and `*` only in patterns. */
function dnsNameProblem(name: string, pattern: boolean): string | undefined {
  const allowed = pattern ? /^[-a-zA-Z0-9_.*]+$/ : /^[-a-zA-Z0-9_.]+$/;
  if (name.length > 255) return `${JSON.stringify(name)} is longer than 255 characters`;
  if (!allowed.test(name)) return `${JSON.stringify(name)} is not a valid DNS ${pattern ? "pattern" : "name"}`;
  return undefined;
}

// ---------------------------------------------------------------------------
// Kubernetes NetworkPolicy, as Cilium translates it (pkg/k8s network_policy.go)

function fromNetworkPolicy(np: NetworkPolicy): CiliumPolicy {
  const policy: CiliumPolicy = {
    kind: "NetworkPolicy",
    namespace: np.namespace,
    name: np.name,
    specs: [],
    file: np.file,
    line: np.line,
    manifest: np.manifest,
  };
  const subject = IdentitySelector.fromK8s(np.podSelector).and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "In", values: [np.namespace] });
  const rules: CiliumRule[] = [];
  for (const direction of ["ingress", "egress"] as const) {
    // Only the directions in policyTypes count (§1.1 r2).
    if (!np.policyTypes.has(direction)) continue;
    for (const rule of np[direction]) rules.push(npRule(np, direction, rule));
  }
  const spec = {
    policy,
    specIndex: null,
    subject: { type: "endpoints" as const, selector: subject },
    defaultDeny: { ingress: np.policyTypes.has("ingress"), egress: np.policyTypes.has("egress") },
    rules,
    hasRules: { ingress: np.policyTypes.has("ingress"), egress: np.policyTypes.has("egress") },
  };
  Object.defineProperty(spec, "line", { enumerable: true, get: () => np.line });
  policy.specs.push(spec as unknown as CiliumSpec);
  return policy;
}

function npRule(np: NetworkPolicy, direction: Direction, rule: NetworkPolicyRule): CiliumRule {
  const peers: PeerPart[] = rule.peers ? rule.peers.map((p) => npPeer(np, p)) : [{ type: "all" }];
  const ports: CiliumPortRule[] | undefined = rule.ports
    ? [
        {
          ports: rule.ports.map((p) => ({ port: p.port ?? 0, endPort: p.endPort, protocols: [p.protocol], protocolText: p.protocol })),
          l7: undefined,
          serverNames: [],
        },
      ]
    : undefined;
  const out = { section: direction, direction, deny: false, index: rule.index, peers, ports, icmpOnly: false, label: `${direction}[${rule.index}]` };
  Object.defineProperty(out, "line", { enumerable: true, get: () => rule.line });
  return out as unknown as CiliumRule;
}

/** A NetworkPolicy peer as Cilium's selector: namespace labels under `io.cilium.k8s.namespace.labels.` (§3.3 r18). */
function npPeer(np: NetworkPolicy, peer: NetworkPolicyPeer): PeerPart {
  if (peer.type === "ipBlock") return { type: "cidr", ips: peer.ips, text: `ipBlock ${peer.cidr}${peer.except.length ? ` except ${peer.except.join(",")}` : ""}` };
  let sel = peer.podSelector ? IdentitySelector.fromK8s(peer.podSelector) : IdentitySelector.everything;
  if (peer.namespaceSelector) {
    const ns = IdentitySelector.fromK8s(peer.namespaceSelector, NAMESPACE_LABELS_PREFIX);
    sel = ns.nothing || sel.nothing ? IdentitySelector.none : sel.and(...ns.requirements);
    // namespaceSelector {}: every pod of every namespace, nothing else.
    sel = sel.and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "Exists", values: [] });
  } else {
    sel = sel.and({ source: "k8s", key: POD_NAMESPACE_LABEL, operator: "In", values: [np.namespace] });
  }
  const ns = peer.namespaceSelector ? `namespaces {${peer.namespaceSelector}}` : `namespace ${np.namespace}`;
  return { type: "selector", selector: sel, text: peer.podSelector ? `pods {${peer.podSelector}} in ${ns}` : `all pods in ${ns}` };
}
