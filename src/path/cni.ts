import type { CniLayer, Decision, Direction, L7Request, LayerId, Peer, PolicyRef, WireConn } from "../layers/types.js";
import type { Workload } from "../model/types.js";
import { IPSet, parseIP } from "../sets/index.js";
import type { Hop, Wire } from "./types.js";

export function sameIP(a: string, b: string): boolean {
  const x = parseIP(a);
  const y = parseIP(b);
  return !!x && !!y && x.family === y.family && x.value === y.value;
}

export /** Whether every pod of `w` is known to run on the node with address `ip`. */
function runsOnlyOn(w: Workload, ip: string): boolean {
  return w.hostIPs.length > 0 && w.hostIPs.every((h) => sameIP(h, ip));
}

/**
 * Traffic from a node's address to `w`: local node traffic when every pod of `w`
 * runs on that node (status.hostIP), so NetworkPolicy always admits it (§1.6 r27).
 * When only some do, the answer is for the others and an assumption says so.
 */
export function nodePeer(ip: string, w: Workload, assumptions: string[]): Peer {
  const local = runsOnlyOn(w, ip);
  if (!local && w.hostIPs.some((h) => sameIP(h, ip))) {
    assumptions.push(
      `some pods of ${w.id} run on node ${ip} and always accept its traffic (local node); the answer is for its pods on other nodes (${w.hostIPs.filter((h) => !sameIP(h, ip)).join(", ")})`,
    );
  }
  return { kind: "node", local, ip };
}

/** Addresses for examples in explanations, when nothing in the policies covers them. */
const DOCUMENTATION_IPS = ["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"];

/** The lowest address of a non-empty set. */
function firstAddress(ips: IPSet): string {
  return ips.toRanges()[0]!.split("-")[0]!;
}

/** An address outside `ips`, a documentation address when one is; undefined when `ips` is everything. */
function addressOutside(ips: IPSet): string | undefined {
  const doc = DOCUMENTATION_IPS.find((ip) => !ips.contains(ip));
  if (doc) return doc;
  const rest = IPSet.all().subtract(ips);
  return rest.isEmpty() ? undefined : firstAddress(rest);
}

/**
 * `0.0.0.0/0 except 10.0.0.0/8,192.168.0.0/16` rather than the CIDRs of the
 * difference: the shape people write ipBlocks in.
 */
export function describeAddresses(ips: IPSet): string {
  const parts: string[] = [];
  for (const family of [4, 6] as const) {
    const part = ips.intersect(IPSet.allOf(family));
    if (part.isEmpty()) continue;
    const cidrs = part.toCidrs();
    if (cidrs.length <= 2) {
      parts.push(cidrs.join(","));
      continue;
    }
    // The smallest CIDR holding the whole part, minus what it does not cover.
    const ranges = part.toRanges();
    const lo = parseIP(ranges[0]!.split("-")[0]!)!.value;
    const hi = parseIP(ranges[ranges.length - 1]!.split("-")[1]!)!.value;
    const bits = family === 4 ? 32 : 128;
    let prefix = bits;
    while (prefix > 0 && lo >> BigInt(bits - prefix) !== hi >> BigInt(bits - prefix)) prefix--;
    const base = (lo >> BigInt(bits - prefix)) << BigInt(bits - prefix);
    const hull = IPSet.range(family, base, base + (1n << BigInt(bits - prefix)) - 1n);
    const except = hull.subtract(part).toCidrs();
    const [hullCidr] = hull.toCidrs();
    parts.push(except.length < cidrs.length ? `${hullCidr} except ${except.join(",")}` : part.toString());
  }
  return parts.length > 0 ? parts.join(" and ") : "no addresses";
}

function policyNames(refs: readonly PolicyRef[]): string {
  const seen = new Set<string>();
  for (const r of refs) seen.add(`${r.namespace ? `${r.namespace}/` : ""}${r.name}${r.rule === null ? "" : `[${r.rule}]`}`);
  return [...seen].join(", ");
}

function dedupeRefs(refs: readonly PolicyRef[]): PolicyRef[] {
  const seen = new Map<string, PolicyRef>();
  for (const r of refs) seen.set(`${r.kind}|${r.namespace}|${r.name}|${r.rule}|${r.file}|${r.line}`, r);
  return [...seen.values()];
}

/** IPv4 addresses that are not private, loopback, link-local, shared (CGNAT), multicast or reserved. */
const PUBLIC_IPV4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3"].reduce(
  (set, cidr) => set.subtract(IPSet.fromCidr(cidr)),
  IPSet.allOf(4),
);

/** Names under suffixes that are private by convention resolve to private addresses. */
function looksPublic(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return !/(^|\.)(local|internal|intranet|corp|lan|home|private|localdomain|cluster\.local|svc)$/.test(h) && h.includes(".");
}

/**
 * Egress from `endpoint` to a DNS name. Its addresses are unknown offline, so
 * a layer that isolates the endpoint allows the flow only when it admits the
 * port to every address (every IPv4 address suffices, with an assumption that
 * the name resolves to IPv4), or, for a name that is not private by convention,
 * to every public IPv4 address (with an assumption saying so). When only some
 * ipBlocks admit the port, the flow cannot be shown to be allowed: it is denied,
 * and the assumptions say which ipBlocks would allow it and how to decide (give
 * an address).
 */
export function dnsEgressHops(layers: readonly CniLayer[], endpoint: Workload, host: string, conn: WireConn, wire: Wire): { hops: Hop[]; assumptions: string[] } {
  const hops: Hop[] = [];
  const assumptions = [`${host} is a DNS name: its addresses are unknown offline, so it can only match a rule that allows every address (pod and namespace selectors never match it)`];
  const what = `${conn.protocol}/${conn.port}`;
  for (const layer of layers) {
    if (layer.evaluateName) {
      hops.push(toHop(layer.id, endpoint, "egress", layer.evaluateName(endpoint, host, conn), wire));
      continue;
    }
    if (!layer.isolates(endpoint, "egress")) {
      // Nothing restricts this endpoint's egress: the address does not matter.
      const d = layer.evaluate(endpoint, "egress", { kind: "external", ip: DOCUMENTATION_IPS[0]! }, conn);
      hops.push(toHop(layer.id, endpoint, "egress", { ...d, reason: d.reason.replaceAll(DOCUMENTATION_IPS[0]!, host) }, wire));
      continue;
    }
    const all = layer.externalAllowances(endpoint, "egress");
    const onPort = all.filter((a) => !a.ips.isEmpty() && a.conns.contains(conn.protocol, conn.port));
    const covered = onPort.reduce((u, a) => u.union(a.ips), IPSet.none());
    // The rules behind each allowance: ask the layer about one address inside it.
    const contributions = onPort.map((a) => {
      const d = layer.evaluate(endpoint, "egress", { kind: "external", ip: firstAddress(a.ips) }, conn);
      return { ips: a.ips, policies: d.verdict === "allow" ? d.policies : [] };
    });
    const v4 = IPSet.allOf(4).isSubsetOf(covered);
    const v6 = IPSet.allOf(6).isSubsetOf(covered);
    // A public name resolves to public addresses: the usual "Internet except private ranges" rule covers it.
    const publicOnly = !v4 && looksPublic(host) && PUBLIC_IPV4.isSubsetOf(covered);
    if (publicOnly) {
      const policies = dedupeRefs(contributions.filter((c) => !c.ips.intersect(PUBLIC_IPV4).isEmpty()).flatMap((c) => c.policies));
      hops.push(
        toHop(
          layer.id,
          endpoint,
          "egress",
          {
            verdict: "allow",
            isolated: true,
            policies,
            reason: `allowed by ${policyNames(policies) || "the egress rules"}: ${what} is allowed to every public IPv4 address, where ${host} resolves`,
            misses: [],
          },
          wire,
        ),
      );
      assumptions.push(
        `${host} is assumed to resolve to public IPv4 addresses (not private, loopback, link-local or shared ranges): ${endpoint.id} may open ${what} to all of them, not to the private ranges`,
      );
      continue;
    }
    if (v4) {
      const policies = dedupeRefs(contributions.flatMap((c) => c.policies));
      hops.push(
        toHop(
          layer.id,
          endpoint,
          "egress",
          {
            verdict: "allow",
            isolated: true,
            policies,
            reason: `allowed by ${policyNames(policies) || "the egress rules"}: ${what} is allowed to every ${v6 ? "" : "IPv4 "}address, whatever ${host} resolves to`,
            misses: [],
          },
          wire,
        ),
      );
      if (!v6) assumptions.push(`${host} is assumed to resolve to IPv4 addresses: ${endpoint.id} may open ${what} to every IPv4 address, not to every IPv6 one`);
      continue;
    }
    const isolating = layer.isolatingPolicies(endpoint, "egress");
    if (covered.isEmpty()) {
      // No rule admits the port towards any address outside the cluster: denied whatever the name resolves to.
      const sample = addressOutside(all.reduce((u, a) => u.union(a.ips), IPSet.none())) ?? DOCUMENTATION_IPS[0]!;
      const d = layer.evaluate(endpoint, "egress", { kind: "external", ip: sample }, conn);
      hops.push(
        toHop(
          layer.id,
          endpoint,
          "egress",
          {
            verdict: "deny",
            isolated: true,
            policies: isolating,
            reason: `${endpoint.id} is isolated for egress by ${policyNames(isolating)} and no rule allows ${what} to any address outside the cluster, so not to ${host} either`,
            misses: d.verdict === "deny" ? d.misses.map((m) => m.replaceAll(sample, host)) : [],
          },
          wire,
        ),
      );
      continue;
    }
    // Some ipBlocks admit the port: the verdict depends on the addresses, which the manifests do not give.
    const would = contributions.map((c) => `${describeAddresses(c.ips)}${c.policies.length ? ` (${policyNames(c.policies)})` : ""}`);
    hops.push(
      toHop(
        layer.id,
        endpoint,
        "egress",
        {
          verdict: "deny",
          isolated: true,
          policies: isolating,
          reason: `${endpoint.id} is isolated for egress by ${policyNames(isolating)}; their rules allow ${what} only to some addresses, and ${host}'s addresses are unknown offline, so the flow cannot be shown to be allowed`,
          misses: [
            ...would.map((w) => `would be allowed if ${host} resolves into ${w}`),
            `no rule allows ${what} to every address`,
          ],
        },
        wire,
      ),
    );
    assumptions.push(
      `undecidable offline: ${host} counts as denied because its addresses are unknown; ${endpoint.id} may open ${what} only to ${would.join("; ")}. ` +
        `To decide, give the address: palisade reach ${endpoint.id} ADDRESS:${conn.port}${conn.protocol === "TCP" ? "" : ` --protocol ${conn.protocol}`}`,
    );
  }
  return { hops, assumptions };
}

export function cniHops(layers: readonly CniLayer[], endpoint: Workload, direction: Direction, peer: Peer, conn: WireConn, wire: Wire, http?: L7Request): Hop[] {
  return layers.map((layer) => toHop(layer.id, endpoint, direction, layer.evaluate(endpoint, direction, peer, conn, http), wire));
}

export function toHop(layer: LayerId, endpoint: Workload, direction: Direction, d: Decision, wire: Wire): Hop {
  return {
    step: direction,
    enforcer: layer,
    direction,
    at: endpoint.id,
    verdict: d.verdict,
    wire,
    policies: d.policies,
    reason: d.reason,
    misses: d.misses,
    ...(d.verdict === "deny" && d.observed ? { observed: d.observed } : {}),
    ...(d.byDenyRule ? { byDenyRule: true } : {}),
  };
}

