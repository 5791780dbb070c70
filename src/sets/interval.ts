/**
 * An immutable set of integers stored as sorted, disjoint, non-adjacent closed
 * intervals. Generic over `number` (ports) and `bigint` (IP addresses); a set
 * never mixes the two.
 */
export type Bound = number | bigint;
export type Interval<T extends Bound> = readonly [lo: T, hi: T];

function succ<T extends Bound>(x: T): T {
  return (typeof x === "bigint" ? x + 1n : (x as number) + 1) as T;
}
function pred<T extends Bound>(x: T): T {
  return (typeof x === "bigint" ? x - 1n : (x as number) - 1) as T;
}

export class IntervalSet<T extends Bound> {
  private constructor(private readonly items: readonly Interval<T>[]) {}

  static empty<T extends Bound>(): IntervalSet<T> {
    return new IntervalSet<T>([]);
  }

  static of<T extends Bound>(lo: T, hi: T = lo): IntervalSet<T> {
    return lo > hi ? IntervalSet.empty() : new IntervalSet<T>([[lo, hi]]);
  }

  /** Accepts intervals in any order, overlapping or adjacent; normalises them. */
  static fromIntervals<T extends Bound>(intervals: Iterable<Interval<T>>): IntervalSet<T> {
    const sorted = [...intervals].filter(([lo, hi]) => lo <= hi).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new IntervalSet<T>(IntervalSet.merge(sorted));
  }

  /** Merges sorted intervals that overlap or touch. */
  private static merge<T extends Bound>(sorted: readonly Interval<T>[]): Interval<T>[] {
    const out: [T, T][] = [];
    for (const [lo, hi] of sorted) {
      const last = out[out.length - 1];
      if (last && lo <= succ(last[1])) {
        if (hi > last[1]) last[1] = hi;
      } else {
        out.push([lo, hi]);
      }
    }
    return out;
  }

  intervals(): readonly Interval<T>[] {
    return this.items;
  }

  isEmpty(): boolean {
    return this.items.length === 0;
  }

  contains(x: T): boolean {
    // Binary search: sets can hold many intervals (IP blocks with excepts).
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = this.items[mid]!;
      if (x < a) hi = mid - 1;
      else if (x > b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  union(other: IntervalSet<T>): IntervalSet<T> {
    if (other.items.length === 0) return this;
    if (this.items.length === 0) return other;
    const all: Interval<T>[] = [];
    let i = 0;
    let j = 0;
    while (i < this.items.length || j < other.items.length) {
      const a = this.items[i];
      const b = other.items[j];
      if (b === undefined || (a !== undefined && a[0] <= b[0])) {
        all.push(a!);
        i++;
      } else {
        all.push(b);
        j++;
      }
    }
    return new IntervalSet<T>(IntervalSet.merge(all));
  }

  intersect(other: IntervalSet<T>): IntervalSet<T> {
    const out: Interval<T>[] = [];
    let i = 0;
    let j = 0;
    while (i < this.items.length && j < other.items.length) {
      const [a0, a1] = this.items[i]!;
      const [b0, b1] = other.items[j]!;
      const lo = a0 > b0 ? a0 : b0;
      const hi = a1 < b1 ? a1 : b1;
      if (lo <= hi) out.push([lo, hi]);
      if (a1 < b1) i++;
      else j++;
    }
    return new IntervalSet<T>(out);
  }

  subtract(other: IntervalSet<T>): IntervalSet<T> {
    if (this.items.length === 0 || other.items.length === 0) return this;
    const out: Interval<T>[] = [];
    let j = 0;
    for (const [lo0, hi] of this.items) {
      let lo = lo0;
      while (j < other.items.length && other.items[j]![1] < lo) j++;
      let k = j;
      while (k < other.items.length && other.items[k]![0] <= hi) {
        const [b0, b1] = other.items[k]!;
        if (b0 > lo) out.push([lo, pred(b0)]);
        if (b1 >= hi) {
          lo = succ(hi);
          break;
        }
        lo = succ(b1);
        k++;
      }
      if (lo <= hi) out.push([lo, hi]);
    }
    return new IntervalSet<T>(out);
  }

  /** The complement within the universe [min, max]. */
  complement(min: T, max: T): IntervalSet<T> {
    return IntervalSet.of(min, max).subtract(this);
  }

  equals(other: IntervalSet<T>): boolean {
    if (this.items.length !== other.items.length) return false;
    return this.items.every(([lo, hi], k) => lo === other.items[k]![0] && hi === other.items[k]![1]);
  }

  isSubsetOf(other: IntervalSet<T>): boolean {
    return this.subtract(other).isEmpty();
  }

  /** Number of members, as a bigint so IPv6 sets cannot overflow. */
  size(): bigint {
    let n = 0n;
    for (const [lo, hi] of this.items) n += BigInt(hi) - BigInt(lo) + 1n;
    return n;
  }

  /** `80,8080-8090` (numbers only; callers format bigints themselves). */
  toString(): string {
    return this.items.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(",");
  }
}
