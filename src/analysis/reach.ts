import type { Direction, LayerId, PolicyRef } from "../layers/types.js";
import type { ContainerPort, ServicePort } from "../model/types.js";
import { traceFlow, type FlowSource, type FlowTarget, type Hop, type Observed } from "../path/index.js";
import { isProtocol, type Protocol } from "../sets/index.js";
import { asSource, asTarget, ReferenceError, resolutionNote, resolveReference, splitPort } from "./reference.js";
import type { Scenario } from "./scenario.js";

export interface ReachRequest {
  from: string;
  to: string;
  port?: string;
  protocol?: string;
  /** HTTP attributes for the L7 layers (Istio AuthorizationPolicy at sidecars and waypoints). */
  method?: string;
  path?: string;
  host?: string;
}

export interface BlockedBy {
  layer: LayerId;
  direction: Direction | null;
  workload: string;
  port: number;
  protocol: Protocol;
  policies: PolicyRef[];
  observed: Observed;
  reason: string;
}

/** The `reach -o json` object of the command-line contract. */
export interface ReachResult {
  verdict: "allowed" | "denied";
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  blockedBy: BlockedBy | null;
  hops: Hop[];
  assumptions: string[];
}

/** Answers one flow: resolves the references and port, traces the wire path. */
export function reach(scenario: Scenario, req: ReachRequest): ReachResult {
  const split = splitPort(req.to);
  if (split.port !== undefined && req.port !== undefined && split.port !== req.port) {
    throw new ReferenceError(`two ports given: ":${split.port}" and "--port ${req.port}"`);
  }
  const portText = split.port ?? req.port;
  if (req.protocol !== undefined && !isProtocol(req.protocol.toUpperCase())) {
    throw new ReferenceError(`unknown protocol "${req.protocol}" (expected TCP, UDP or SCTP)`);
  }
  const protocolFlag = req.protocol?.toUpperCase() as Protocol | undefined;
  const resolvedFrom = resolveReference(scenario, req.from);
  const source = asSource(resolvedFrom, req.from);
  const resolvedTo = resolveReference(scenario, split.ref);
  const target = asTarget(resolvedTo, split.ref);
  // How the references were read comes first: the rest of the answer depends on it.
  const readAs = [resolutionNote(resolvedFrom), resolutionNote(resolvedTo)].filter((n): n is string => n !== undefined);

  let flowTarget: FlowTarget;
  let port: number;
  let protocol: Protocol;
  if (target.kind === "service") {
    const sp = pickServicePort(target.service.ports, portText, protocolFlag, target.service.id, readAs);
    flowTarget = { kind: "service", service: target.service, port: sp };
    port = sp.port;
    protocol = sp.protocol;
  } else {
    const declared = target.kind === "workload" ? target.workload.ports : [];
    ({ port, protocol } = pickPort(declared, portText, protocolFlag, split.ref, readAs));
    flowTarget = target;
  }

  const http = {
    ...(req.method !== undefined ? { method: req.method } : {}),
    ...(req.path !== undefined ? { path: req.path } : {}),
    ...(req.host !== undefined ? { host: req.host } : {}),
  };
  const paths = traceFlow(scenario, source, flowTarget, { port, protocol }, http);
  const denied = paths.find((p) => p.verdict === "denied");
  const blocked = denied?.blocked ?? null;
  const hops = paths.flatMap((p) => p.hops);
  const assumptions = [
    ...new Set([
      ...readAs,
      ...scenario.notes,
      ...paths.flatMap((p) => p.assumptions),
      ...profileAssumptions(scenario, hops),
      ...meshAssumptions(scenario, source, flowTarget, hops),
    ]),
  ];
  return {
    verdict: denied ? "denied" : "allowed",
    from: req.from,
    to: split.ref,
    port,
    protocol,
    blockedBy:
      blocked && denied
        ? {
            layer: layerOf(blocked),
            direction: blocked.direction,
            workload: blocked.at,
            port: blocked.wire.port,
            protocol: blocked.wire.protocol,
            policies: blocked.policies,
            observed: denied.observed ?? "timeout",
            reason: blocked.reason,
          }
        : null,
    hops: paths.flatMap((p) => p.hops),
    assumptions,
  };
}

/** When the mesh took part: each end's data plane and why, and the mesh settings that were assumed. */
function meshAssumptions(scenario: Scenario, source: FlowSource, target: FlowTarget, hops: Hop[]): string[] {
  const mesh = scenario.mesh;
  if (!mesh || !hops.some((h) => h.proxy !== undefined)) return [];
  const ends = [source.kind === "workload" ? source.workload : undefined, target.kind === "workload" ? target.workload : undefined];
  const backends = target.kind === "service" ? [...new Set(hops.filter((h) => h.step === "ingress").map((h) => h.at))] : [];
  const out: string[] = [];
  for (const w of ends) if (w) out.push(`data plane: ${mesh.membership(w).reason}`);
  for (const id of backends) {
    const w = scenario.cluster.workloads.find((x) => x.id === id);
    if (w) out.push(`data plane: ${mesh.membership(w).reason}`);
  }
  return [...out, ...mesh.settings.assumptions];
}

/** Only policy hops deny, and their enforcer is the policy layer. */
function layerOf(hop: Hop): LayerId {
  if (hop.step === "tunnel") throw new Error(`a tunnel hop at ${hop.at} cannot deny`);
  return hop.enforcer as LayerId;
}

function profileAssumptions(scenario: Scenario, hops: Hop[]): string[] {
  const out: string[] = [];
  const { profile } = scenario;
  if (hops.some((h) => h.enforcer === "networkpolicy" && h.policies.length + h.misses.length > 0)) {
    out.push(
      profile.cni === "generic"
        ? "CNI: generic (Kubernetes reference semantics); pass --cni cilium for Cilium's reading"
        : `CNI: cilium (${profile.cniSource}): ipBlock never matches pods`,
    );
  }
  return out;
}

/**
 * The protocol of a numeric port given without --protocol, the same way for a
 * Service and a workload: TCP (the contract's default), unless the destination
 * declares that port only for another protocol, which is then used and stated.
 */
function defaultProtocol(declared: readonly Protocol[], port: number, what: string, assumptions: string[]): Protocol {
  const protocols = [...new Set(declared)];
  if (protocols.length === 0 || protocols.includes("TCP")) return "TCP";
  if (protocols.length === 1) {
    assumptions.push(`no --protocol given: ${what} has port ${port} only for ${protocols[0]}, so ${protocols[0]} is used (TCP otherwise)`);
    return protocols[0]!;
  }
  throw new ReferenceError(`${what} has port ${port} for ${protocols.join(" and ")}, not TCP: give --protocol`);
}

function pickServicePort(ports: readonly ServicePort[], text: string | undefined, protocol: Protocol | undefined, id: string, assumptions: string[]): ServicePort {
  const list = ports.map((p) => `${p.port}${p.name ? ` (${p.name})` : ""}/${p.protocol}`).join(", ");
  if (text === undefined) {
    const candidates = ports.filter((p) => !protocol || p.protocol === protocol);
    if (candidates.length === 1) return candidates[0]!;
    throw new ReferenceError(candidates.length === 0 ? `Service ${id} has no ports` : `Service ${id} has ports ${list}: give one, e.g. svc:${id}:${candidates[0]!.port}`);
  }
  const numeric = /^\d+$/.test(text);
  const same = ports.filter((p) => (numeric ? p.port === Number(text) : p.name === text));
  const chosen = protocol ?? (numeric && same.length > 0 ? defaultProtocol(same.map((p) => p.protocol), Number(text), `Service ${id}`, assumptions) : undefined);
  const found = same.find((p) => !chosen || p.protocol === chosen);
  if (!found) throw new ReferenceError(`Service ${id} has no port ${text}${protocol ? `/${protocol}` : ""}; its ports: ${list || "none"}`);
  return found;
}

function pickPort(declared: readonly ContainerPort[], text: string | undefined, protocol: Protocol | undefined, ref: string, assumptions: string[]): { port: number; protocol: Protocol } {
  if (text === undefined) {
    const candidates = declared.filter((p) => !protocol || p.protocol === protocol);
    if (candidates.length === 1) return { port: candidates[0]!.port, protocol: candidates[0]!.protocol };
    const list = candidates.map((p) => `${p.port}/${p.protocol}`).join(", ");
    throw new ReferenceError(list ? `${ref} declares ports ${list}: give one as ${ref}:PORT or --port` : `give a port for ${ref}: ${ref}:PORT or --port PORT`);
  }
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port < 1 || port > 65535) throw new ReferenceError(`port ${port} is out of range 1-65535`);
    const chosen = protocol ?? defaultProtocol(declared.filter((p) => p.port === port).map((p) => p.protocol), port, ref, assumptions);
    return { port, protocol: chosen };
  }
  const named = declared.find((p) => p.name === text && (!protocol || p.protocol === protocol));
  if (!named) {
    const names = declared.filter((p) => p.name).map((p) => p.name);
    throw new ReferenceError(`${ref} has no container port named "${text}"${names.length ? `; named ports: ${names.join(", ")}` : ""}`);
  }
  return { port: named.port, protocol: named.protocol };
}
