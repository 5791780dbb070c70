/**
 * IPSet, parseIP/formatIP and parseCidr: round trips, RFC 5952 output, rejection
 * of malformed input, CIDR masking, minimal toCidrs(), and membership against a
 * brute-force model over one /24.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CidrError, IPSet, formatIP, parseCidr, parseIP, type IPFamily } from "../../src/sets/index.js";

const RUNS = { numRuns: 300 };

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;
const bitsOf = (f: IPFamily) => (f === 4 ? 32n : 128n);

const v4 = fc.bigInt({ min: 0n, max: V4_MAX });
/** Eight 16-bit groups, zero-heavy so that compression has runs to choose from. */
const v6Groups = fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }) }), {
  minLength: 8,
  maxLength: 8,
});
const fromGroups = (g: readonly number[]) => g.reduce((v, x) => (v << 16n) | BigInt(x), 0n);
const v6 = fc.oneof(v6Groups.map(fromGroups), fc.bigInt({ min: 0n, max: V6_MAX }));

describe("parseIP / formatIP", () => {
  it("IPv4 round trip", () => {
    fc.assert(
      fc.property(v4, (value) => {
        const text = formatIP(4, value);
        expect(text).toMatch(/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/);
        expect(parseIP(text)).toEqual({ family: 4, value });
      }),
      RUNS,
    );
  });

  it("IPv6 round trip, and the output is RFC 5952 canonical", () => {
    fc.assert(
      fc.property(v6, (value) => {
        const text = formatIP(6, value);
        expect(parseIP(text)).toEqual({ family: 6, value });
        // lowercase, no leading zeros, at most one "::"
        expect(text).toMatch(/^[0-9a-f:]+$/);
        expect(text.split("::").length).toBeLessThanOrEqual(2);
        for (const g of text.split(":")) if (g !== "") expect(g).toMatch(/^(0|[1-9a-f][0-9a-f]{0,3})$/);
        // "::" replaces the longest run of zero groups (leftmost on a tie), never a single group
        const groups = Array.from({ length: 8 }, (_, k) => Number((value >> BigInt(112 - 16 * k)) & 0xffffn));
        let best = -1;
        let bestLen = 0;
        for (let i = 0; i < 8; i++) {
          let j = i;
          while (j < 8 && groups[j] === 0) j++;
          if (j - i > bestLen) [best, bestLen] = [i, j - i];
        }
        if (bestLen < 2) {
          expect(text).not.toContain("::");
          expect(text.split(":")).toHaveLength(8);
        } else {
          const left = groups.slice(0, best).map((g) => g.toString(16)).join(":");
          const right = groups.slice(best + bestLen).map((g) => g.toString(16)).join(":");
          expect(text).toBe(`${left}::${right}`);
        }
      }),
      RUNS,
    );
  });

  it("IPv6: non-canonical spellings parse to the same value", () => {
    const spelling = fc.record({
      groups: v6Groups,
      pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
      upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      compressAt: fc.integer({ min: 0, max: 7 }),
      compress: fc.boolean(),
      dottedTail: fc.boolean(),
    });
    fc.assert(
      fc.property(spelling, ({ groups, pad, upper, compressAt, compress, dottedTail }) => {
        const value = fromGroups(groups);
        let parts = groups.map((g, k) => {
          const hex = g.toString(16).padStart(Math.min(4, g.toString(16).length + pad[k]!), "0");
          return upper[k] ? hex.toUpperCase() : hex;
        });
        let tail: string | null = null;
        if (dottedTail) {
          const lo = value & V4_MAX;
          tail = formatIP(4, lo);
          parts = parts.slice(0, 6);
        }
        let text: string;
        // Compress any run of zero groups (not necessarily the longest, possibly a single one).
        let i = compressAt;
        while (i < parts.length && groups[i] !== 0) i++;
        if (compress && i < parts.length) {
          let j = i;
          while (j < parts.length && groups[j] === 0) j++;
          text = `${parts.slice(0, i).join(":")}::${parts.slice(j).join(":")}`;
          if (tail !== null) text += (j === parts.length ? "" : ":") + tail;
        } else {
          text = parts.join(":");
          if (tail !== null) text += `:${tail}`;
        }
        expect(parseIP(text), text).toEqual({ family: 6, value });
      }),
      RUNS,
    );
  });

  it("RFC 5952 examples", () => {
    const fmt = (s: string) => formatIP(6, parseIP(s)!.value);
    expect(fmt("2001:0db8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(fmt("2001:DB8::1")).toBe("2001:db8::1");
    expect(fmt("0:0:0:0:0:0:0:0")).toBe("::");
    expect(fmt("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(fmt("fe80:0:0:0:0:0:0:0")).toBe("fe80::");
    expect(fmt("1:0:0:1:0:0:0:1")).toBe("1:0:0:1::1");
    expect(fmt("1:0:0:0:1:0:0:1")).toBe("1::1:0:0:1"); // tie: the first run
    expect(fmt("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // a single zero group stays
    expect(formatIP(6, 0n)).toBe("::");
    expect(formatIP(6, 1n)).toBe("::1");
    expect(formatIP(6, V6_MAX)).toBe("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    expect(formatIP(4, 0n)).toBe("0.0.0.0");
    expect(formatIP(4, V4_MAX)).toBe("255.255.255.255");
    expect(parseIP("10.0.0.1")).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIP("::ffff:1.2.3.4")).toEqual({ family: 6, value: 0xffff01020304n });
    expect(parseIP("::1.2.3.4")).toEqual({ family: 6, value: 0x01020304n });
    expect(parseIP("1:2:3:4:5:6:7::")).toEqual({ family: 6, value: fromGroups([1, 2, 3, 4, 5, 6, 7, 0]) });
    expect(parseIP("::2:3:4:5:6:7:8")).toEqual({ family: 6, value: fromGroups([0, 2, 3, 4, 5, 6, 7, 8]) });
  });

  it("rejects malformed addresses", () => {
    const bad = [
      "1.2.3",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4.5",
      "1.2.3.-4",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1..2.3",
      "1.2.3.",
      "",
      "::ffff:1.2.3",
      "::ffff:256.1.1.1",
      "1.2.3.4::",
      "1::2::3",
      "g::1",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1::2:3:4:5:6:7:8",
      "12345::",
      ":",
      ":::",
      ":1::2",
      "1::2:",
      "1:2:3:4:5:6:7:8::",
      "::1%eth0",
      "1:2:3:4:5:6:7:1.2.3.4",
    ];
    for (const s of bad) expect(parseIP(s), JSON.stringify(s)).toBeNull();
  });

  it("rejects IPv4 octets with leading zeros or out of range, whatever the position", () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 3 }), fc.oneof(fc.constantFrom("00", "01", "007", "0255"), fc.integer({ min: 256, max: 999 }).map(String)), (value, k, octet) => {
        const parts = formatIP(4, value).split(".");
        parts[k] = octet;
        expect(parseIP(parts.join("."))).toBeNull();
      }),
      RUNS,
    );
  });
});

describe("CIDRs", () => {
  it("fromCidr masks host bits", () => {
    const s = IPSet.fromCidr("10.0.0.1/8");
    expect(s.contains("10.0.0.0")).toBe(true);
    expect(s.contains("10.255.255.255")).toBe(true);
    expect(s.contains("11.0.0.0")).toBe(false);
    expect(s.contains("9.255.255.255")).toBe(false);
    expect(s.equals(IPSet.fromCidr("10.0.0.0/8"))).toBe(true);
    expect(IPSet.fromCidr("1.2.3.4/0").equals(IPSet.allOf(4))).toBe(true);
    expect(IPSet.fromCidr("1::/0").equals(IPSet.allOf(6))).toBe(true);
    expect(IPSet.fromCidr("2001:db8::1/32").toCidrs()).toEqual(["2001:db8::/32"]);
    expect(IPSet.fromCidr("1.2.3.4/32").toRanges()).toEqual(["1.2.3.4-1.2.3.4"]);
  });

  it("fromCidr is the aligned block containing the address, for any prefix", () => {
    const input = fc.oneof(
      fc.tuple(fc.constant<IPFamily>(4), v4, fc.integer({ min: 0, max: 32 })),
      fc.tuple(fc.constant<IPFamily>(6), v6, fc.integer({ min: 0, max: 128 })),
    );
    fc.assert(
      fc.property(input, ([family, addr, prefix]) => {
        const host = bitsOf(family) - BigInt(prefix);
        const lo = (addr >> host) << host;
        const hi = lo + (1n << host) - 1n;
        const set = IPSet.fromCidr(`${formatIP(family, addr)}/${prefix}`);
        expect(set.equals(IPSet.range(family, lo, hi))).toBe(true);
        expect(set.contains(formatIP(family, addr))).toBe(true);
        expect(set.toCidrs()).toEqual([`${formatIP(family, lo)}/${prefix}`]);
        expect(parseCidr(`${formatIP(family, addr)}/${prefix}`)).toEqual({ family, network: addr, prefix });
        if (lo > 0n) expect(set.contains(formatIP(family, lo - 1n))).toBe(false);
        if (hi < (1n << bitsOf(family)) - 1n) expect(set.contains(formatIP(family, hi + 1n))).toBe(false);
      }),
      RUNS,
    );
  });

  it("invalid CIDRs throw CidrError naming the input", () => {
    const bad = [
      "10.0.0.0/33",
      "10.0.0.0",
      "foo/8",
      "10.0.0.0/-1",
      "10.0.0.0/",
      "/8",
      "10.0.0.0/8/8",
      "10.0.0.0/ 8",
      "10.0.0.0/1e1",
      "::/129",
      "::1",
      "10.0.0/8",
      "",
    ];
    for (const cidr of bad) {
      let caught: unknown;
      try {
        IPSet.fromCidr(cidr);
      } catch (e) {
        caught = e;
      }
      expect(caught, cidr).toBeInstanceOf(CidrError);
      expect(caught, cidr).toBeInstanceOf(Error);
      expect((caught as Error).message, cidr).toContain(`"${cidr}"`);
      expect(() => parseCidr(cidr)).toThrow(CidrError);
    }
    expect(() => IPSet.fromIP("1.2.3")).toThrow(CidrError);
    expect(() => IPSet.fromIP("1.2.3")).toThrow(/"1\.2\.3"/);
  });
});

// ---------------------------------------------------------------------------
// toCidrs
// ---------------------------------------------------------------------------

/** Bounds biased toward powers of two and their neighbours, where block splitting is interesting. */
function boundary(bits: number): fc.Arbitrary<bigint> {
  const max = (1n << BigInt(bits)) - 1n;
  const aligned = fc
    .tuple(fc.integer({ min: 0, max: bits }), fc.bigInt({ min: 0n, max }), fc.integer({ min: -1, max: 1 }))
    .map(([k, x, d]) => {
      const v = ((x >> BigInt(k)) << BigInt(k)) + BigInt(d);
      return v < 0n ? 0n : v > max ? max : v;
    });
  return fc.oneof(aligned, fc.bigInt({ min: 0n, max }));
}

const rangeOf = (family: IPFamily) =>
  fc.tuple(boundary(Number(bitsOf(family))), boundary(Number(bitsOf(family)))).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [bigint, bigint]);

/** Random IPSets made of up to four ranges per family, some subtracted. */
const ipSetArb = fc
  .tuple(
    fc.array(fc.tuple(rangeOf(4), fc.boolean()), { maxLength: 4 }),
    fc.array(fc.tuple(rangeOf(6), fc.boolean()), { maxLength: 4 }),
  )
  .map(([r4, r6]) => {
    let s = IPSet.none();
    for (const [[lo, hi], except] of r4) s = except ? s.subtract(IPSet.range(4, lo, hi)) : s.union(IPSet.range(4, lo, hi));
    for (const [[lo, hi], except] of r6) s = except ? s.subtract(IPSet.range(6, lo, hi)) : s.union(IPSet.range(6, lo, hi));
    return s;
  });

function checkCidrs(set: IPSet): void {
  const cidrs = set.toCidrs();
  // exact cover
  const union = cidrs.reduce((acc, c) => acc.union(IPSet.fromCidr(c)), IPSet.none());
  expect(union.equals(set), `${cidrs.join(" ")} vs ${set.toRanges().join(" ")}`).toBe(true);
  // canonical, disjoint and minimal
  const blocks = cidrs.map((c) => {
    const { family, network, prefix } = parseCidr(c);
    const size = 1n << (bitsOf(family) - BigInt(prefix));
    if (network % size !== 0n) expect.fail(`${c} has host bits set`);
    if (`${formatIP(family, network)}/${prefix}` !== c) expect.fail(`${c} is not canonically formatted`);
    return { family, lo: network, size, key: `${family}|${network}|${size}` };
  });
  const present = new Set(blocks.map((b) => b.key));
  expect(present.size).toBe(blocks.length);
  for (const b of blocks) {
    // b and its buddy (the other half of the aligned block of twice the size) are never both present
    const buddy = b.lo ^ b.size;
    if (b.size < 1n << bitsOf(b.family) && present.has(`${b.family}|${buddy}|${b.size}`)) {
      expect.fail(`${cidrs.join(" ")}: ${formatIP(b.family, b.lo)} and ${formatIP(b.family, buddy)} could merge`);
    }
  }
  // sorted and pairwise disjoint, IPv4 first
  for (let k = 1; k < blocks.length; k++) {
    const [p, q] = [blocks[k - 1]!, blocks[k]!];
    if (p.family === q.family && !(p.lo + p.size <= q.lo)) expect.fail(`${cidrs[k - 1]} and ${cidrs[k]} overlap or are out of order`);
    if (p.family === 6 && q.family === 4) expect.fail("IPv6 before IPv4");
  }
}

describe("toCidrs", () => {
  it("covers single random ranges exactly, with no mergeable pair", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          rangeOf(4).map(([lo, hi]) => IPSet.range(4, lo, hi)),
          rangeOf(6).map(([lo, hi]) => IPSet.range(6, lo, hi)),
        ),
        checkCidrs,
      ),
      RUNS,
    );
  });

  it("covers random unions and excepts exactly, with no mergeable pair", () => {
    fc.assert(fc.property(ipSetArb, checkCidrs), { numRuns: 200 });
  });

  it("examples", () => {
    expect(IPSet.all().toCidrs()).toEqual(["0.0.0.0/0", "::/0"]);
    expect(IPSet.none().toCidrs()).toEqual([]);
    expect(IPSet.range(4, 0n, V4_MAX - 1n).toCidrs()).toHaveLength(32);
    expect(IPSet.range(6, 1n, V6_MAX).toCidrs()).toHaveLength(128);
    expect(IPSet.fromCidr("10.0.0.0/8").subtract(IPSet.fromCidr("10.1.0.0/16")).toCidrs()).toEqual([
      "10.0.0.0/16",
      "10.2.0.0/15",
      "10.4.0.0/14",
      "10.8.0.0/13",
      "10.16.0.0/12",
      "10.32.0.0/11",
      "10.64.0.0/10",
      "10.128.0.0/9",
    ]);
    expect(IPSet.fromCidr("10.0.0.0/25").union(IPSet.fromCidr("10.0.0.128/25")).toCidrs()).toEqual(["10.0.0.0/24"]);
    expect(IPSet.range(4, 1n, 6n).toCidrs()).toEqual(["0.0.0.1/32", "0.0.0.2/31", "0.0.0.4/31", "0.0.0.6/32"]);
    expect(IPSet.none().toString()).toBe("no addresses");
    expect(IPSet.fromCidr("10.0.0.0/8").subtract(IPSet.fromCidr("10.0.0.0/9")).toString()).toBe("10.128.0.0/9");
    expect(IPSet.range(4, 1n, 6n).union(IPSet.fromCidr("::1/128")).toString()).toBe("0.0.0.1-0.0.0.6,::1-::1");
  });
});

// ---------------------------------------------------------------------------
// membership over one /24, against a boolean array
// ---------------------------------------------------------------------------

const BASE = parseIP("10.1.2.0")!.value;
const addr = (k: number) => formatIP(4, BASE + BigInt(k));

type Op = "union" | "intersect" | "subtract";
interface Cidr24 {
  text: string;
  lo: number; // offset of the block in the /24
  size: number;
}

/** A CIDR inside 10.1.2.0/24, written with random host bits (fromCidr masks them). */
const cidr24: fc.Arbitrary<Cidr24> = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 })).map(([k, prefix]) => ({
  text: `${addr(k)}/${prefix}`,
  lo: k & ~((1 << (32 - prefix)) - 1),
  size: 1 << (32 - prefix),
}));

/** An ipBlock-like term: a CIDR minus some excepts. */
const block = fc.tuple(cidr24, fc.array(cidr24, { maxLength: 3 }));

/** A left fold of blocks into an empty set. */
const ops = fc.array(fc.tuple(fc.constantFrom<Op>("union", "intersect", "subtract"), block), { minLength: 1, maxLength: 5 });

function build(terms: readonly (readonly [Op, readonly [Cidr24, readonly Cidr24[]]])[]): { set: IPSet; model: boolean[] } {
  let set = IPSet.none();
  let model = Array<boolean>(256).fill(false);
  for (const [op, [cidr, excepts]] of terms) {
    let s = IPSet.fromCidr(cidr.text);
    const m = Array.from({ length: 256 }, (_, k) => k >= cidr.lo && k < cidr.lo + cidr.size);
    for (const e of excepts) {
      s = s.subtract(IPSet.fromCidr(e.text));
      for (let k = e.lo; k < e.lo + e.size; k++) m[k] = false;
    }
    set = set[op](s);
    model = model.map((x, k) => (op === "union" ? x || m[k]! : op === "intersect" ? x && m[k]! : x && !m[k]));
  }
  return { set, model };
}

describe("IPSet vs a boolean array over 10.1.2.0/24", () => {
  it("contains agrees with the model, and nothing leaks outside the /24", () => {
    fc.assert(
      fc.property(ops, (terms) => {
        const { set, model } = build(terms);
        expect(Array.from({ length: 256 }, (_, k) => set.contains(addr(k)))).toEqual(model);
        expect([set.contains("10.1.1.255"), set.contains("10.1.3.0"), set.contains("::a01:200")]).toEqual([false, false, false]);
        expect(set.isEmpty()).toBe(!model.some(Boolean));
        expect(set.isSubsetOf(IPSet.fromCidr("10.1.2.0/24"))).toBe(true);
        // toCidrs is the optimum: one CIDR per maximal aligned block inside the set
        let optimum = 0;
        for (let size = 1; size <= 256; size *= 2) {
          for (let lo = 0; lo < 256; lo += size) {
            const inside = (l: number, n: number) => model.slice(l, l + n).every(Boolean);
            const parent = size * 2;
            if (inside(lo, size) && (size === 256 || !inside(lo - (lo % parent), parent))) optimum++;
          }
        }
        expect(set.toCidrs()).toHaveLength(optimum);
        checkCidrs(set);
      }),
      RUNS,
    );
  });

  it("equals and isSubsetOf agree with the model", () => {
    fc.assert(
      fc.property(ops, ops, (ta, tb) => {
        const a = build(ta);
        const b = build(tb);
        expect({ eq: a.set.equals(b.set), sub: a.set.isSubsetOf(b.set) }).toEqual({
          eq: a.model.every((x, k) => x === b.model[k]),
          sub: a.model.every((x, k) => !x || b.model[k]),
        });
        const i = a.set.intersect(b.set);
        expect(Array.from({ length: 256 }, (_, k) => i.contains(addr(k)))).toEqual(a.model.map((x, k) => x && b.model[k]!));
      }),
      RUNS,
    );
  });
});

describe("IPv4 and IPv6 never mix", () => {
  it("examples", () => {
    const v4only = IPSet.fromCidr("1.2.3.4/32");
    expect(v4only.contains("1.2.3.4")).toBe(true);
    expect(v4only.contains("::ffff:1.2.3.4")).toBe(false);
    expect(v4only.contains("::1.2.3.4")).toBe(false);
    expect(v4only.contains("::102:304")).toBe(false);
    expect(IPSet.allOf(4).contains("::")).toBe(false);
    expect(IPSet.allOf(4).contains("::ffff:0.0.0.0")).toBe(false);
    expect(IPSet.allOf(6).contains("0.0.0.0")).toBe(false);
    expect(IPSet.allOf(6).contains("1.2.3.4")).toBe(false);
    expect(IPSet.allOf(4).intersect(IPSet.allOf(6)).isEmpty()).toBe(true);
    expect(IPSet.allOf(4).union(IPSet.allOf(6)).equals(IPSet.all())).toBe(true);
    expect(IPSet.all().subtract(IPSet.allOf(6)).equals(IPSet.allOf(4))).toBe(true);
    expect(IPSet.fromCidr("::/96").contains("0.0.0.1")).toBe(false);
    expect(IPSet.fromCidr("0.0.0.0/0").isSubsetOf(IPSet.fromCidr("::/0"))).toBe(false);
    expect(IPSet.none().contains("not an address")).toBe(false);
    expect(IPSet.all().contains("not an address")).toBe(false);
  });

  it("an IPv4 set never contains an IPv6 address with the same numeric value, and vice versa", () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), (value, prefix) => {
        const text = formatIP(4, value);
        const four = IPSet.fromCidr(`${text}/${prefix}`);
        const six = IPSet.fromCidr(`${formatIP(6, value)}/${96 + prefix}`);
        expect([
          four.contains(text),
          four.contains(`::ffff:${text}`),
          four.contains(`::${text}`),
          four.contains(formatIP(6, value)),
          six.contains(formatIP(6, value)),
          six.contains(text),
          four.intersect(six).isEmpty(),
          four.union(six).subtract(six).equals(four),
        ]).toEqual([true, false, false, false, true, false, true, true]);
      }),
      RUNS,
    );
  });
});
