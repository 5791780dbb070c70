import { IntervalSet } from "./interval.js";

export type IPFamily = 4 | 6;

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

/** A CIDR or address that could not be read; the message says why, for a human. */
export class CidrError extends Error {}

function parseV4(s: string): bigint | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    // Leading zeros are ambiguous (octal in some parsers); Kubernetes rejects them.
    if (p.length > 1 && p.startsWith("0")) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let head = s;
  let tailV4: bigint | null = null;
  // An embedded IPv4 tail such as ::ffff:10.0.0.1.
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === null) return null;
    head = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (x: string): string[] | null => (x === "" ? [] : x.split(":"));
  const left = parseGroups(halves[0]!);
  const right = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!left || !right) return null;
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== null) v = (v & ~V4_MAX) | tailV4;
  return v;
}

/** Parses an IPv4 or IPv6 address; null when it is neither. */
export function parseIP(s: string): { family: IPFamily; value: bigint } | null {
  const v4 = parseV4(s);
  if (v4 !== null) return { family: 4, value: v4 };
  if (!s.includes(":")) return null;
  const v6 = parseV6(s);
  return v6 === null ? null : { family: 6, value: v6 };
}

export function formatIP(family: IPFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** An immutable set of IPv4 and IPv6 addresses. */
export class IPSet {
  private constructor(
    private readonly v4: IntervalSet<bigint>,
    private readonly v6: IntervalSet<bigint>,
  ) {}

  static none(): IPSet {
    return new IPSet(IntervalSet.empty(), IntervalSet.empty());
  }

  static all(): IPSet {
    return new IPSet(IntervalSet.of(0n, V4_MAX), IntervalSet.of(0n, V6_MAX));
  }

  static allOf(family: IPFamily): IPSet {
    return family === 4 ? new IPSet(IntervalSet.of(0n, V4_MAX), IntervalSet.empty()) : new IPSet(IntervalSet.empty(), IntervalSet.of(0n, V6_MAX));
  }

  static fromIP(ip: string): IPSet {
    const parsed = parseIP(ip);
    if (!parsed) throw new CidrError(`"${ip}" is not an IP address`);
    return IPSet.range(parsed.family, parsed.value, parsed.value);
  }

  static range(family: IPFamily, lo: bigint, hi: bigint): IPSet {
    const set = IntervalSet.of(lo, hi);
    return family === 4 ? new IPSet(set, IntervalSet.empty()) : new IPSet(IntervalSet.empty(), set);
  }

  /**
   * Parses `addr/len`. Host bits after the prefix are ignored (masked), as the
   * Kubernetes API accepts `10.0.0.1/8` in ipBlock.
   */
  static fromCidr(cidr: string): IPSet {
    const { family, network, prefix } = parseCidr(cidr);
    const bits = family === 4 ? 32n : 128n;
    const hostBits = bits - BigInt(prefix);
    const lo = (network >> hostBits) << hostBits;
    const hi = lo + (1n << hostBits) - 1n;
    return IPSet.range(family, lo, hi);
  }

  union(o: IPSet): IPSet {
    return new IPSet(this.v4.union(o.v4), this.v6.union(o.v6));
  }
  intersect(o: IPSet): IPSet {
    return new IPSet(this.v4.intersect(o.v4), this.v6.intersect(o.v6));
  }
  subtract(o: IPSet): IPSet {
    return new IPSet(this.v4.subtract(o.v4), this.v6.subtract(o.v6));
  }
  isEmpty(): boolean {
    return this.v4.isEmpty() && this.v6.isEmpty();
  }
  equals(o: IPSet): boolean {
    return this.v4.equals(o.v4) && this.v6.equals(o.v6);
  }
  isSubsetOf(o: IPSet): boolean {
    return this.v4.isSubsetOf(o.v4) && this.v6.isSubsetOf(o.v6);
  }
  contains(ip: string): boolean {
    const parsed = parseIP(ip);
    if (!parsed) return false;
    return (parsed.family === 4 ? this.v4 : this.v6).contains(parsed.value);
  }

  /** `0.0.0.0-9.255.255.255` per interval, IPv4 first. */
  toRanges(): string[] {
    const out: string[] = [];
    for (const [family, set] of [[4, this.v4], [6, this.v6]] as const) {
      for (const [lo, hi] of set.intervals()) out.push(`${formatIP(family, lo)}-${formatIP(family, hi)}`);
    }
    return out;
  }

  /** The smallest list of CIDRs covering exactly this set. */
  toCidrs(): string[] {
    const out: string[] = [];
    for (const [family, set, bits] of [[4, this.v4, 32n], [6, this.v6, 128n]] as const) {
      for (const [lo0, hi] of set.intervals()) {
        let lo = lo0;
        while (lo <= hi) {
          // Largest aligned block starting at lo that fits in [lo, hi].
          let size = 0n;
          while (size < bits && (lo & ((1n << (size + 1n)) - 1n)) === 0n && lo + (1n << (size + 1n)) - 1n <= hi) size++;
          out.push(`${formatIP(family, lo)}/${bits - size}`);
          lo += 1n << size;
        }
      }
    }
    return out;
  }

  /** `0.0.0.0/0`, `10.0.0.0/8 except 10.1.0.0/16`-style summary for humans. */
  toString(): string {
    if (this.isEmpty()) return "no addresses";
    const cidrs = this.toCidrs();
    return cidrs.length <= 4 ? cidrs.join(",") : this.toRanges().join(",");
  }
}

export function parseCidr(cidr: string): { family: IPFamily; network: bigint; prefix: number } {
  const slash = cidr.indexOf("/");
  if (slash < 0) throw new CidrError(`"${cidr}" is not a CIDR (expected address/prefix, e.g. 10.0.0.0/8)`);
  const addr = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  const parsed = parseIP(addr);
  if (!parsed) throw new CidrError(`"${cidr}" is not a CIDR: "${addr}" is not an IP address`);
  const max = parsed.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw new CidrError(`"${cidr}" is not a CIDR: prefix length must be 0-${max}`);
  }
  return { family: parsed.family, network: parsed.value, prefix: Number(prefixText) };
}
