import { IntervalSet } from "./interval.js";

/** The transport protocols Kubernetes NetworkPolicy, Cilium and Istio reason about. */
export const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const MIN_PORT = 1;
export const MAX_PORT = 65535;

type PortSets = Readonly<Record<Protocol, IntervalSet<number>>>;

const NO_PORTS = IntervalSet.empty<number>();
const ALL_PORTS = IntervalSet.of(MIN_PORT, MAX_PORT);

export function isProtocol(s: unknown): s is Protocol {
  return typeof s === "string" && (PROTOCOLS as readonly string[]).includes(s);
}

/**
 * An immutable set of connections: (protocol, port) pairs. What a rule admits,
 * what a pair of workloads may exchange, and what a matrix cell shows.
 */
export class ConnSet {
  private constructor(private readonly sets: PortSets) {}

  private static readonly ALL = new ConnSet({ TCP: ALL_PORTS, UDP: ALL_PORTS, SCTP: ALL_PORTS });
  private static readonly NONE = new ConnSet({ TCP: NO_PORTS, UDP: NO_PORTS, SCTP: NO_PORTS });

  static all(): ConnSet {
    return ConnSet.ALL;
  }

  static none(): ConnSet {
    return ConnSet.NONE;
  }

  /** Ports `lo..hi` (inclusive) of one protocol. */
  static ports(protocol: Protocol, lo: number, hi: number = lo): ConnSet {
    return ConnSet.NONE.with(protocol, IntervalSet.of(Math.max(lo, MIN_PORT), Math.min(hi, MAX_PORT)));
  }

  /** Every port of one protocol. */
  static protocol(protocol: Protocol): ConnSet {
    return ConnSet.NONE.with(protocol, ALL_PORTS);
  }

  private with(protocol: Protocol, ports: IntervalSet<number>): ConnSet {
    return new ConnSet({ ...this.sets, [protocol]: ports });
  }

  private combine(other: ConnSet, op: (a: IntervalSet<number>, b: IntervalSet<number>) => IntervalSet<number>): ConnSet {
    return new ConnSet({
      TCP: op(this.sets.TCP, other.sets.TCP),
      UDP: op(this.sets.UDP, other.sets.UDP),
      SCTP: op(this.sets.SCTP, other.sets.SCTP),
    });
  }

  portsOf(protocol: Protocol): IntervalSet<number> {
    return this.sets[protocol];
  }

  union(other: ConnSet): ConnSet {
    if (other === ConnSet.NONE || this === ConnSet.ALL) return this;
    if (this === ConnSet.NONE || other === ConnSet.ALL) return other;
    return this.combine(other, (a, b) => a.union(b));
  }

  intersect(other: ConnSet): ConnSet {
    if (other === ConnSet.ALL || this === ConnSet.NONE) return this;
    if (this === ConnSet.ALL || other === ConnSet.NONE) return other;
    return this.combine(other, (a, b) => a.intersect(b));
  }

  subtract(other: ConnSet): ConnSet {
    if (other === ConnSet.NONE) return this;
    return this.combine(other, (a, b) => a.subtract(b));
  }

  contains(protocol: Protocol, port: number): boolean {
    return this.sets[protocol].contains(port);
  }

  isEmpty(): boolean {
    return PROTOCOLS.every((p) => this.sets[p].isEmpty());
  }

  isAll(): boolean {
    return PROTOCOLS.every((p) => this.sets[p].equals(ALL_PORTS));
  }

  equals(other: ConnSet): boolean {
    return PROTOCOLS.every((p) => this.sets[p].equals(other.sets[p]));
  }

  isSubsetOf(other: ConnSet): boolean {
    return PROTOCOLS.every((p) => this.sets[p].isSubsetOf(other.sets[p]));
  }

  /** `All Connections`, `No Connections`, or `TCP 80,8080-8090,UDP 53`. */
  toString(): string {
    if (this.isAll()) return "All Connections";
    if (this.isEmpty()) return "No Connections";
    return PROTOCOLS.filter((p) => !this.sets[p].isEmpty())
      .map((p) => `${p} ${this.sets[p].toString()}`)
      .join(",");
  }

  /** A canonical string, usable as a Map key. */
  key(): string {
    return PROTOCOLS.map((p) => this.sets[p].toString()).join("|");
  }
}
