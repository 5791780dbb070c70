import type { InputDiagnostic, Manifest } from "../../load/types.js";
import { FieldReader, describe } from "../../model/fields.js";
import { LabelSelector } from "../../model/selector.js";
import { CidrError, IPSet, isProtocol, parseCidr, type Protocol } from "../../sets/index.js";
import type { Direction } from "../types.js";

export interface PodPeer {
  type: "pods";
  /** Undefined: the policy's own namespace only. */
  namespaceSelector: LabelSelector | undefined;
  /** Undefined: every pod of the selected namespaces. */
  podSelector: LabelSelector | undefined;
}

export interface IPBlockPeer {
  type: "ipBlock";
  cidr: string;
  except: readonly string[];
  ips: IPSet;
}

export type NetworkPolicyPeer = PodPeer | IPBlockPeer;

export interface NetworkPolicyPort {
  protocol: Protocol;
  /** Undefined: every port of the protocol. A string is a container port name. */
  port: number | string | undefined;
  endPort: number | undefined;
}

export interface NetworkPolicyRule {
  index: number;
  /** Undefined (or empty in the manifest): every peer. */
  peers: readonly NetworkPolicyPeer[] | undefined;
  /** Undefined (or empty in the manifest): every port. */
  ports: readonly NetworkPolicyPort[] | undefined;
  line: number;
}

export interface NetworkPolicy {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** After API defaulting (`Ingress`, plus `Egress` when the egress list is non-empty). */
  policyTypes: ReadonlySet<Direction>;
  /** Whether policyTypes came from the manifest or from defaulting (explanations mention it). */
  policyTypesDefaulted: boolean;
  ingress: readonly NetworkPolicyRule[];
  egress: readonly NetworkPolicyRule[];
  file: string;
  line: number;
  manifest: Manifest;
}

export interface ScanResult {
  policies: NetworkPolicy[];
  diagnostics: InputDiagnostic[];
}

export function isNetworkPolicy(m: Manifest): boolean {
  return m.kind === "NetworkPolicy" && m.apiVersion.startsWith("networking.k8s.io/");
}

/**
 * Reads NetworkPolicies with the API server's validation and defaulting. A policy
 * the API server would reject is reported and left out, as it could not exist in a
 * cluster; the other policies are still analysed.
 */
export function scanNetworkPolicies(manifests: readonly Manifest[]): ScanResult {
  const policies: NetworkPolicy[] = [];
  const diagnostics: InputDiagnostic[] = [];
  for (const m of manifests) {
    if (!isNetworkPolicy(m)) continue;
    const r = new FieldReader(m);
    const policy = readPolicy(r);
    diagnostics.push(...r.diagnostics);
    if (policy && !r.hasErrors) policies.push(policy);
  }
  return { policies, diagnostics };
}

function readPolicy(r: FieldReader): NetworkPolicy | undefined {
  const m = r.manifest;
  if (!m.name) return r.error(["metadata", "name"], "a NetworkPolicy needs a name");
  if (r.get(["spec"]) === undefined) return r.error(["spec"], "a NetworkPolicy needs a spec");
  if (!r.object(["spec"])) return undefined;
  const podSelector = LabelSelector.read(r, ["spec", "podSelector"]) ?? LabelSelector.everything;

  const ingress = readRules(r, "ingress");
  const egress = readRules(r, "egress");

  const declaredTypes = r.array(["spec", "policyTypes"]);
  const policyTypes = new Set<Direction>();
  (declaredTypes ?? []).forEach((t, i) => {
    if (t === "Ingress") policyTypes.add("ingress");
    else if (t === "Egress") policyTypes.add("egress");
    else r.error(["spec", "policyTypes", i], `expected Ingress or Egress, got ${describe(t)}`);
  });
  const policyTypesDefaulted = policyTypes.size === 0;
  if (policyTypesDefaulted) {
    // API defaulting (SetDefaults_NetworkPolicy): Ingress always, Egress only with egress rules.
    policyTypes.add("ingress");
    if (egress.length > 0) policyTypes.add("egress");
  }
  for (const key of Object.keys(r.object(["spec"]) ?? {})) {
    if (!["podSelector", "policyTypes", "ingress", "egress"].includes(key)) {
      r.error(["spec", key], `unknown field "${key}" in a NetworkPolicy spec`);
    }
  }
  return {
    namespace: m.namespace ?? "default",
    name: m.name,
    podSelector,
    policyTypes,
    policyTypesDefaulted,
    ingress,
    egress,
    file: m.source.file,
    line: m.source.line,
    manifest: m,
  };
}

function readRules(r: FieldReader, direction: Direction): NetworkPolicyRule[] {
  const peersKey = direction === "ingress" ? "from" : "to";
  const rules: NetworkPolicyRule[] = [];
  (r.array(["spec", direction]) ?? []).forEach((raw, index) => {
    const path = ["spec", direction, index];
    if (raw === null || raw === undefined) {
      // `- {}` written as `-` in YAML: an empty rule, which allows everything.
      rules.push(withLazyLine({ index, peers: undefined, ports: undefined }, r.manifest, path));
      return;
    }
    if (!r.object(path)) return;
    for (const key of Object.keys(raw as object)) {
      if (key !== peersKey && key !== "ports") {
        const hint = key === "from" || key === "to" ? ` (an ${direction} rule uses "${peersKey}")` : "";
        r.error([...path, key], `unknown field "${key}" in an ${direction} rule${hint}`);
      }
    }
    const peerList = r.array([...path, peersKey]);
    const portList = r.array([...path, "ports"]);
    const peers = peerList?.map((_, j) => readPeer(r, [...path, peersKey, j])).filter((p): p is NetworkPolicyPeer => !!p);
    const ports = portList?.map((_, k) => readPort(r, [...path, "ports", k])).filter((p): p is NetworkPolicyPort => !!p);
    rules.push(
      withLazyLine(
        {
          index,
          // An empty list means the same as an absent one: everything.
          peers: peerList && peerList.length > 0 ? peers : undefined,
          ports: portList && portList.length > 0 ? ports : undefined,
        },
        r.manifest,
        path,
      ),
    );
  });
  return rules;
}

/**
 * A rule's line is needed only when a trace names the rule; finding it means
 * parsing the document again with positions, so it is looked up on first use.
 */
function withLazyLine(rule: Omit<NetworkPolicyRule, "line">, manifest: Manifest, path: (string | number)[]): NetworkPolicyRule {
  let line: number | undefined;
  return Object.defineProperty(rule, "line", {
    enumerable: true,
    get: () => (line ??= manifest.lineOf(path)),
  }) as NetworkPolicyRule;
}

function readPeer(r: FieldReader, path: (string | number)[]): NetworkPolicyPeer | undefined {
  const obj = r.object(path);
  if (!obj) return r.error(path, "a peer must be a mapping with podSelector, namespaceSelector or ipBlock");
  for (const key of Object.keys(obj)) {
    if (!["podSelector", "namespaceSelector", "ipBlock"].includes(key)) r.error([...path, key], `unknown field "${key}" in a peer`);
  }
  const hasIPBlock = obj.ipBlock !== undefined && obj.ipBlock !== null;
  const hasPod = obj.podSelector !== undefined && obj.podSelector !== null;
  const hasNs = obj.namespaceSelector !== undefined && obj.namespaceSelector !== null;
  if (hasIPBlock) {
    if (hasPod || hasNs) return r.error(path, "ipBlock cannot be combined with podSelector or namespaceSelector in one peer");
    return readIPBlock(r, [...path, "ipBlock"]);
  }
  if (!hasPod && !hasNs) return r.error(path, "a peer must specify podSelector, namespaceSelector or ipBlock");
  return {
    type: "pods",
    namespaceSelector: LabelSelector.read(r, [...path, "namespaceSelector"]),
    podSelector: LabelSelector.read(r, [...path, "podSelector"]),
  };
}

function readIPBlock(r: FieldReader, path: (string | number)[]): IPBlockPeer | undefined {
  if (!r.object(path)) return undefined;
  const cidr = r.string([...path, "cidr"]);
  if (cidr === undefined) return r.error([...path, "cidr"], "ipBlock needs a cidr");
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
      const exIPs = IPSet.fromCidr(raw);
      // ValidateIPBlock: each except must be a strict subset of cidr.
      if (ex.family !== base.family || ex.prefix <= base.prefix || !exIPs.isSubsetOf(IPSet.fromCidr(cidr))) {
        return void r.error(p, `except ${raw} must be a strict subset of cidr ${cidr}`);
      }
      except.push(raw);
      ips = ips.subtract(exIPs);
    } catch (e) {
      r.error(p, e instanceof CidrError ? e.message : String(e));
    }
  });
  return { type: "ipBlock", cidr, except, ips };
}

function readPort(r: FieldReader, path: (string | number)[]): NetworkPolicyPort | undefined {
  if (!r.object(path)) return undefined;
  const protocol = r.string([...path, "protocol"]) ?? "TCP";
  if (!isProtocol(protocol)) return r.error([...path, "protocol"], `unsupported protocol ${describe(protocol)} (expected TCP, UDP or SCTP)`);
  // ValidateNetworkPolicyPort: a number in range, or a valid port name; a quoted
  // number ("80") is a string to the API server, hence an invalid name.
  const hasPort = r.get([...path, "port"]) !== undefined && r.get([...path, "port"]) !== null;
  const port = r.portNumberOrName([...path, "port"]);
  if (hasPort && port === undefined) return undefined;
  const endPort = r.integer([...path, "endPort"]);
  if (endPort !== undefined) {
    if (port === undefined) return r.error([...path, "endPort"], "endPort requires port");
    if (typeof port === "string") return r.error([...path, "endPort"], `endPort requires a numeric port, not the name "${port}"`);
    if (endPort < port) return r.error([...path, "endPort"], `endPort ${endPort} is less than port ${port}`);
    if (endPort > 65535) return r.error([...path, "endPort"], `endPort ${endPort} is out of range 1-65535`);
  }
  return { protocol, port, endPort };
}
