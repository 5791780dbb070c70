/**
 * IntervalSet against brute-force models.
 *
 * Numbers: every set lives in the universe 0..63 and is compared, point by point,
 * with a boolean array built from the same raw interval list. Bigints: values are
 * drawn near 0, near 2^64 and near 2^128-1; the model is the raw interval list
 * itself (a point is in the set iff some raw interval covers it), probed at every
 * breakpoint, which decides membership for every value in between.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IntervalSet, type Interval } from "../../src/sets/index.js";

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------
// number sets over 0..63
// ---------------------------------------------------------------------------

const N = 64;
type Model = boolean[];

/** Raw intervals as given to fromIntervals; reversed pairs (lo > hi) denote nothing. */
const rawIntervals = fc.array(fc.tuple(fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: N - 1 })), {
  maxLength: 8,
});

function modelOf(raw: readonly Interval<number>[]): Model {
  const m = Array<boolean>(N).fill(false);
  for (const [lo, hi] of raw) for (let x = lo; x <= hi; x++) m[x] = true;
  return m;
}

interface Case {
  raw: Interval<number>[];
  set: IntervalSet<number>;
  model: Model;
}

function caseOf(raw: Interval<number>[]): Case {
  return { raw, set: IntervalSet.fromIntervals(raw), model: modelOf(raw) };
}

const setArb: fc.Arbitrary<Case> = rawIntervals.map(caseOf);

/** Splits a model into singleton intervals, in a shuffled order: the same set spelled differently. */
function respell(model: Model, order: number[]): Interval<number>[] {
  const points = model.flatMap((b, x) => (b ? [x] : []));
  const out: Interval<number>[] = [];
  for (const k of order) if (points.length > 0) out.push([points[k % points.length]!, points[k % points.length]!]);
  // Make sure every point appears at least once.
  for (const x of points) out.push([x, x]);
  return out.reverse();
}

/** Pairs that are often equal or nested, not only independent. */
const pairArb: fc.Arbitrary<[Case, Case]> = fc.oneof(
  fc.tuple(setArb, setArb),
  fc
    .tuple(setArb, fc.array(fc.nat({ max: 100 }), { maxLength: 10 }))
    .map(([a, order]): [Case, Case] => [a, caseOf(respell(a.model, order))]),
  fc.tuple(setArb, fc.integer({ min: 0, max: N - 1 })).map(([a, x]): [Case, Case] => {
    // a with one point toggled
    const m = [...a.model];
    m[x] = !m[x];
    return [a, caseOf(m.flatMap((b, y): Interval<number>[] => (b ? [[y, y]] : [])))];
  }),
  fc.tuple(setArb, setArb).map(([a, b]): [Case, Case] => [a, caseOf([...a.raw, ...b.raw])]),
);

function modelFromSet(s: IntervalSet<number>): Model {
  const m = Array<boolean>(N).fill(false);
  for (const [lo, hi] of s.intervals()) {
    if (lo < 0 || hi >= N) expect.fail(`${s} escaped the universe`);
    for (let x = lo; x <= hi; x++) m[x] = true;
  }
  return m;
}

/** Sorted, disjoint and non-adjacent: lo <= hi and lo_{k} > hi_{k-1} + 1. */
function isNormalised<T extends number | bigint>(s: IntervalSet<T>): boolean {
  const iv = s.intervals();
  return iv.every(([lo, hi], k) => {
    if (lo > hi) return false;
    if (k === 0) return true;
    const prevHi = iv[k - 1]![1];
    return typeof lo === "bigint" ? lo > (prevHi as bigint) + 1n : lo > (prevHi as number) + 1;
  });
}

function expectNormalised<T extends number | bigint>(s: IntervalSet<T>): void {
  if (!isNormalised(s)) expect.fail(`not normalised: ${JSON.stringify(s.intervals(), (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`);
}

/** The set agrees with the model at every point, through intervals() and through contains(). */
function expectMatches(s: IntervalSet<number>, model: Model): void {
  expectNormalised(s);
  const probed = Array.from({ length: N + 2 }, (_, k) => s.contains(k - 1));
  expect({ intervals: modelFromSet(s), contains: probed, size: s.size(), empty: s.isEmpty() }).toEqual({
    intervals: model,
    contains: [false, ...model, false],
    size: BigInt(model.filter(Boolean).length),
    empty: !model.some(Boolean),
  });
}

const zip = (a: Model, b: Model, f: (x: boolean, y: boolean) => boolean): Model => a.map((x, i) => f(x, b[i]!));

describe("IntervalSet<number> vs a boolean-array model over 0..63", () => {
  it("fromIntervals normalises overlapping, adjacent, unordered and reversed input", () => {
    fc.assert(
      fc.property(setArb, ({ set, model }) => expectMatches(set, model)),
      RUNS,
    );
  });

  it("fromIntervals does not depend on the order of its input and is idempotent", () => {
    fc.assert(
      fc.property(
        rawIntervals.chain((raw) => fc.tuple(fc.constant(raw), fc.shuffledSubarray(raw, { minLength: raw.length }))),
        ([raw, shuffled]) => {
          const a = IntervalSet.fromIntervals(raw);
          const b = IntervalSet.fromIntervals(shuffled);
          expect(b.intervals()).toEqual(a.intervals());
          expect(IntervalSet.fromIntervals(a.intervals()).intervals()).toEqual(a.intervals());
        },
      ),
      RUNS,
    );
  });

  it("fromIntervals examples", () => {
    const iv = (raw: Interval<number>[]) => IntervalSet.fromIntervals(raw).intervals();
    expect(iv([])).toEqual([]);
    expect(iv([[5, 3]])).toEqual([]); // reversed: empty, like IntervalSet.of(5, 3)
    expect(iv([[1, 3], [4, 6]])).toEqual([[1, 6]]); // adjacent
    expect(iv([[1, 3], [5, 6]])).toEqual([[1, 3], [5, 6]]); // gap of one
    expect(iv([[10, 20], [1, 3], [2, 12]])).toEqual([[1, 20]]); // unordered, overlapping
    expect(iv([[1, 10], [3, 4]])).toEqual([[1, 10]]); // nested
    expect(iv([[7, 7], [7, 7], [6, 6], [8, 8]])).toEqual([[6, 8]]);
    expect(iv([[9, 2], [3, 3]])).toEqual([[3, 3]]);
    expect(IntervalSet.of(4).intervals()).toEqual([[4, 4]]);
    expect(IntervalSet.of(5, 4).isEmpty()).toBe(true);
  });

  it("does not mutate the intervals it was given", () => {
    fc.assert(
      fc.property(rawIntervals, (raw) => {
        const copy = raw.map(([lo, hi]) => [lo, hi] as const);
        const s = IntervalSet.fromIntervals(raw);
        s.union(IntervalSet.fromIntervals(raw));
        expect(raw).toEqual(copy);
      }),
      RUNS,
    );
  });

  it("union, intersect and subtract agree with the model", () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        expectMatches(a.set.union(b.set), zip(a.model, b.model, (x, y) => x || y));
        expectMatches(a.set.intersect(b.set), zip(a.model, b.model, (x, y) => x && y));
        expectMatches(a.set.subtract(b.set), zip(a.model, b.model, (x, y) => x && !y));
        expectMatches(b.set.subtract(a.set), zip(a.model, b.model, (x, y) => y && !x));
      }),
      RUNS,
    );
  });

  it("operations leave their operands unchanged", () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const before = [a.set.intervals().map((i) => [...i]), b.set.intervals().map((i) => [...i])];
        a.set.union(b.set);
        a.set.intersect(b.set);
        a.set.subtract(b.set);
        b.set.union(a.set);
        a.set.complement(0, N - 1);
        expect([a.set.intervals(), b.set.intervals()]).toEqual(before);
      }),
      RUNS,
    );
  });

  it("complement within the universe and within random sub-ranges agrees with the model", () => {
    fc.assert(
      fc.property(setArb, fc.integer({ min: -3, max: N + 2 }), fc.integer({ min: -3, max: N + 2 }), ({ set, model }, min, max) => {
        expectMatches(
          set.complement(0, N - 1),
          model.map((x) => !x),
        );
        expectMatches(set.complement(0, N - 1).complement(0, N - 1), model);
        // A sub-range [min, max] (possibly empty, possibly reaching past the universe).
        const c = set.complement(min, max);
        expectNormalised(c);
        const xs = Array.from({ length: Math.max(0, max - min + 3) }, (_, k) => min - 1 + k);
        expect(xs.map((x) => c.contains(x))).toEqual(
          xs.map((x) => x >= min && x <= max && !(x >= 0 && x < N && model[x]!)),
        );
      }),
      RUNS,
    );
  });

  it("equals, isSubsetOf and size agree with the model", () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const same = a.model.every((x, i) => x === b.model[i]);
        const subset = a.model.every((x, i) => !x || b.model[i]);
        expect(a.set.equals(b.set)).toBe(same);
        expect(b.set.equals(a.set)).toBe(same);
        expect(a.set.isSubsetOf(b.set)).toBe(subset);
        expect(a.set.size()).toBe(BigInt(a.model.filter(Boolean).length));
        // equality is structural on the normal form
        expect(a.set.intervals().length === b.set.intervals().length && a.set.toString() === b.set.toString()).toBe(same);
      }),
      RUNS,
    );
  });

  it("algebraic laws", () => {
    const U = IntervalSet.of(0, N - 1);
    const E = IntervalSet.empty<number>();
    fc.assert(
      fc.property(setArb, setArb, setArb, ({ set: a }, { set: b }, { set: c }) => {
        const eq = (x: IntervalSet<number>, y: IntervalSet<number>) => expect(x.intervals()).toEqual(y.intervals());
        eq(a.union(b), b.union(a));
        eq(a.intersect(b), b.intersect(a));
        eq(a.union(b).union(c), a.union(b.union(c)));
        eq(a.intersect(b).intersect(c), a.intersect(b.intersect(c)));
        eq(a.union(a), a);
        eq(a.intersect(a), a);
        eq(a.union(a.intersect(b)), a);
        eq(a.intersect(a.union(b)), a);
        eq(a.intersect(b.union(c)), a.intersect(b).union(a.intersect(c)));
        eq(a.union(E), a);
        eq(a.intersect(E), E);
        eq(a.intersect(U), a);
        eq(a.subtract(a), E);
        eq(a.subtract(E), a);
        eq(E.subtract(a), E);
        eq(a.subtract(b), a.intersect(b.complement(0, N - 1)));
        eq(U.subtract(a.union(b)), U.subtract(a).intersect(U.subtract(b)));
        eq(U.subtract(a.intersect(b)), U.subtract(a).union(U.subtract(b)));
        expect(a.isSubsetOf(a.union(b))).toBe(true);
        expect(a.intersect(b).isSubsetOf(a)).toBe(true);
        expect(a.subtract(b).intersect(b).isEmpty()).toBe(true);
        expect(a.size() + b.size()).toBe(a.union(b).size() + a.intersect(b).size());
      }),
      RUNS,
    );
  });

  it("toString", () => {
    expect(IntervalSet.empty<number>().toString()).toBe("");
    expect(IntervalSet.fromIntervals<number>([[8080, 8090], [80, 80]]).toString()).toBe("80,8080-8090");
    fc.assert(
      fc.property(setArb, ({ set }) => {
        const back = set
          .toString()
          .split(",")
          .filter((p) => p !== "")
          .map((p): Interval<number> => {
            const [lo, hi = lo] = p.split("-");
            return [Number(lo), Number(hi)];
          });
        expect(back).toEqual(set.intervals());
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------
// bigint sets near 0, 2^64 and 2^128-1
// ---------------------------------------------------------------------------

const MAX = (1n << 128n) - 1n;
const MID = 1n << 64n;
const W = 24n;

/** A value as (anchor, offset): near 0, near 2^64, or near 2^128-1. */
const big = fc.oneof(
  fc.bigInt({ min: 0n, max: W }),
  fc.bigInt({ min: MID - W, max: MID + W }),
  fc.bigInt({ min: MAX - W, max: MAX }),
);
const bigRaw = fc.array(fc.tuple(big, big), { maxLength: 6 });

/** Model: the raw list (reversed pairs ignored). */
const has = (raw: readonly Interval<bigint>[], x: bigint) => raw.some(([lo, hi]) => lo <= x && x <= hi);

/** Breakpoints: a model is constant between consecutive ones, so probing them (and their neighbours) decides every value. */
function probes(...raws: (readonly Interval<bigint>[])[]): bigint[] {
  const pts = new Set<bigint>([0n, 1n, MID - 1n, MID, MAX - 1n, MAX]);
  for (const raw of raws) {
    for (const [lo, hi] of raw) for (const x of [lo - 1n, lo, lo + 1n, hi - 1n, hi, hi + 1n]) if (x >= 0n && x <= MAX) pts.add(x);
  }
  return [...pts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Exact size of a model: sum of the lengths of the member segments between breakpoints. */
function modelSize(pred: (x: bigint) => boolean, raws: (readonly Interval<bigint>[])[]): bigint {
  const cuts = new Set<bigint>([0n, MAX + 1n]);
  for (const raw of raws) for (const [lo, hi] of raw) if (lo <= hi) cuts.add(lo).add(hi + 1n);
  const sorted = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let n = 0n;
  for (let k = 0; k + 1 < sorted.length; k++) if (pred(sorted[k]!)) n += sorted[k + 1]! - sorted[k]!;
  return n;
}

function expectBigMatches(s: IntervalSet<bigint>, pred: (x: bigint) => boolean, raws: (readonly Interval<bigint>[])[]): void {
  expectNormalised(s);
  if (!s.intervals().every(([lo, hi]) => lo >= 0n && hi <= MAX)) expect.fail(`out of range: ${s}`);
  const xs = probes(...raws);
  expect({ contains: xs.map((x) => s.contains(x)), size: s.size() }).toEqual({
    contains: xs.map(pred),
    size: modelSize(pred, raws),
  });
}

describe("IntervalSet<bigint> near 0, 2^64 and 2^128-1", () => {
  it("fromIntervals agrees with the raw-list model", () => {
    fc.assert(
      fc.property(bigRaw, (raw) => expectBigMatches(IntervalSet.fromIntervals(raw), (x) => has(raw, x), [raw])),
      RUNS,
    );
  });

  it("union, intersect, subtract and complement agree with the model", () => {
    fc.assert(
      fc.property(bigRaw, bigRaw, (ra, rb) => {
        const a = IntervalSet.fromIntervals(ra);
        const b = IntervalSet.fromIntervals(rb);
        const inA = (x: bigint) => has(ra, x);
        const inB = (x: bigint) => has(rb, x);
        const raws = [ra, rb];
        expectBigMatches(a.union(b), (x) => inA(x) || inB(x), raws);
        expectBigMatches(a.intersect(b), (x) => inA(x) && inB(x), raws);
        expectBigMatches(a.subtract(b), (x) => inA(x) && !inB(x), raws);
        expectBigMatches(a.complement(0n, MAX), (x) => !inA(x), raws);
        expect(a.complement(0n, MAX).size()).toBe((1n << 128n) - a.size());
        expect(a.union(b).equals(b.union(a))).toBe(true);
        const same = probes(ra, rb).every((x) => inA(x) === inB(x));
        expect(a.equals(b)).toBe(same);
        expect(a.isSubsetOf(b)).toBe(probes(ra, rb).every((x) => !inA(x) || inB(x)));
        expect(a.equals(IntervalSet.fromIntervals([...ra].reverse()))).toBe(true);
      }),
      RUNS,
    );
  });

  it("edges of the 128-bit universe", () => {
    const all = IntervalSet.of(0n, MAX);
    expect(all.size()).toBe(1n << 128n);
    expect(all.complement(0n, MAX).isEmpty()).toBe(true);
    expect(IntervalSet.of(MAX).complement(0n, MAX).intervals()).toEqual([[0n, MAX - 1n]]);
    expect(IntervalSet.of<bigint>(0n).complement(0n, MAX).intervals()).toEqual([[1n, MAX]]);
    expect(all.subtract(IntervalSet.fromIntervals([[0n, 0n], [MAX, MAX]])).intervals()).toEqual([[1n, MAX - 1n]]);
    expect(IntervalSet.fromIntervals([[0n, MID - 1n], [MID, MAX]]).intervals()).toEqual([[0n, MAX]]);
    expect(IntervalSet.fromIntervals([[MAX, MAX], [MAX - 1n, MAX - 1n]]).intervals()).toEqual([[MAX - 1n, MAX]]);
    expect(all.contains(MAX)).toBe(true);
    expect(all.contains(MAX + 1n)).toBe(false);
    expect(all.contains(-1n)).toBe(false);
  });
});
