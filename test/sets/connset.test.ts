/**
 * ConnSet against a brute-force model.
 *
 * Range endpoints are drawn from a small pool (0..40, 65530..65536 and a few
 * out-of-range values to exercise clamping). Every endpoint then lies in the
 * pool, so all ports strictly between 40 and 65530 behave alike; the model keeps
 * one boolean per (protocol, probe port) where the probes are the pool's valid
 * ports plus three representatives of that middle stretch. That makes the model
 * exact, so equals/isAll/isSubsetOf can be decided on it too.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnSet, MAX_PORT, MIN_PORT, PROTOCOLS, isProtocol, type Protocol } from "../../src/sets/index.js";

const RUNS = { numRuns: 300 };

const LOW = Array.from({ length: 40 }, (_, k) => k + 1); // 1..40
const HIGH = [65530, 65531, 65532, 65533, 65534, 65535];
const PROBES = [...LOW, 41, 30000, 65529, ...HIGH];

const endpoint = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 3, arbitrary: fc.integer({ min: 65530, max: 65535 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -5, 65536, 70000) },
);
const protocol = fc.constantFrom(...PROTOCOLS);

type Model = ReadonlyMap<Protocol, readonly boolean[]>; // aligned with PROBES

const modelOfPred = (f: (p: Protocol, port: number) => boolean): Model =>
  new Map(PROTOCOLS.map((p) => [p, PROBES.map((port) => f(p, port))]));
const get = (m: Model, p: Protocol) => m.get(p)!;
const zip = (a: Model, b: Model, f: (x: boolean, y: boolean) => boolean): Model =>
  new Map(PROTOCOLS.map((p) => [p, get(a, p).map((x, i) => f(x, get(b, p)[i]!))]));

type Op = "union" | "intersect" | "subtract";

interface Case {
  set: ConnSet;
  model: Model;
  expr: string;
}

/** Leaves: every constructor, with the model written directly from its documented meaning. */
const leaf: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(protocol, endpoint, endpoint).map(([p, lo, hi]) => ({
    set: ConnSet.ports(p, lo, hi),
    model: modelOfPred((q, port) => q === p && lo <= port && port <= hi),
    expr: `ports(${p},${lo},${hi})`,
  })),
  fc.tuple(protocol, endpoint).map(([p, port0]) => ({
    set: ConnSet.ports(p, port0),
    model: modelOfPred((q, port) => q === p && port === port0),
    expr: `ports(${p},${port0})`,
  })),
  protocol.map((p) => ({ set: ConnSet.protocol(p), model: modelOfPred((q) => q === p), expr: `protocol(${p})` })),
  fc.constant({ set: ConnSet.all(), model: modelOfPred(() => true), expr: "all" }),
  fc.constant({ set: ConnSet.none(), model: modelOfPred(() => false), expr: "none" }),
);

/** Expression trees over union/intersect/subtract, so shortcuts on all()/none() get exercised too. */
const { conn } = fc.letrec<{ conn: Case }>((tie) => ({
  conn: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.tuple(fc.constantFrom<Op>("union", "intersect", "subtract"), tie("conn"), tie("conn")).map(
      ([op, a, b]) => ({
        set: a.set[op](b.set),
        model: zip(a.model, b.model, op === "union" ? (x, y) => x || y : op === "intersect" ? (x, y) => x && y : (x, y) => x && !y),
        expr: `(${a.expr} ${op} ${b.expr})`,
      }),
    ),
  ),
}));

/** Pairs that are often equal or nested. */
const pair: fc.Arbitrary<[Case, Case]> = fc.oneof(
  fc.tuple(conn, conn),
  fc.tuple(conn, conn).map(([a, b]): [Case, Case] => [a, { set: a.set.union(b.set), model: zip(a.model, b.model, (x, y) => x || y), expr: "a∪b" }]),
  fc.tuple(conn, conn).map(([a, b]): [Case, Case] => [
    a,
    // the same set, built another way: (a − b) ∪ (a ∩ b)
    { set: a.set.subtract(b.set).union(a.set.intersect(b.set)), model: a.model, expr: "(a−b)∪(a∩b)" },
  ]),
);

function expectMatches(s: ConnSet, m: Model, what = ""): void {
  const actual = new Map(PROTOCOLS.map((p) => [p, PROBES.map((port) => s.contains(p, port))]));
  expect(actual, what).toEqual(m);
  // Nothing outside 1..65535, and the stored port sets agree with contains.
  for (const p of PROTOCOLS) {
    for (const [lo, hi] of s.portsOf(p).intervals()) {
      if (lo < MIN_PORT || hi > MAX_PORT || lo > hi) expect.fail(`${p} interval ${lo}-${hi} out of range in ${s}`);
    }
    if (s.contains(p, 0) || s.contains(p, 65536)) expect.fail(`${s} contains an invalid port`);
  }
  const all = [...m.values()].every((v) => v.every(Boolean));
  const none = [...m.values()].every((v) => v.every((x) => !x));
  expect({ isAll: s.isAll(), isEmpty: s.isEmpty() }, what).toEqual({ isAll: all, isEmpty: none });
}

const sameModel = (a: Model, b: Model) => PROTOCOLS.every((p) => get(a, p).every((x, i) => x === get(b, p)[i]));
const subModel = (a: Model, b: Model) => PROTOCOLS.every((p) => get(a, p).every((x, i) => !x || get(b, p)[i]));

describe("ConnSet vs a brute-force model", () => {
  it("constructors and expression trees agree with the model", () => {
    fc.assert(
      fc.property(conn, ({ set, model, expr }) => expectMatches(set, model, expr)),
      RUNS,
    );
  });

  it("union, intersect and subtract agree with the model", () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expectMatches(a.set.union(b.set), zip(a.model, b.model, (x, y) => x || y), "union");
        expectMatches(a.set.intersect(b.set), zip(a.model, b.model, (x, y) => x && y), "intersect");
        expectMatches(a.set.subtract(b.set), zip(a.model, b.model, (x, y) => x && !y), "subtract");
        expectMatches(b.set.subtract(a.set), zip(a.model, b.model, (x, y) => y && !x), "subtract");
      }),
      RUNS,
    );
  });

  it("equals, isSubsetOf and key() agree with the model", () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const same = sameModel(a.model, b.model);
        expect({
          equals: a.set.equals(b.set),
          equalsRev: b.set.equals(a.set),
          keyEq: a.set.key() === b.set.key(),
          stringEq: a.set.toString() === b.set.toString(),
          subset: a.set.isSubsetOf(b.set),
          superset: b.set.isSubsetOf(a.set),
        }).toEqual({
          equals: same,
          equalsRev: same,
          keyEq: same,
          stringEq: same,
          subset: subModel(a.model, b.model),
          superset: subModel(b.model, a.model),
        });
      }),
      RUNS,
    );
  });

  it("algebraic laws: De Morgan (via subtract from all()), absorption, idempotence, identities", () => {
    const A = ConnSet.all();
    const O = ConnSet.none();
    fc.assert(
      fc.property(conn, conn, conn, ({ set: a }, { set: b }, { set: c }) => {
        const laws: [string, ConnSet, ConnSet][] = [
          ["de morgan ∪", A.subtract(a.union(b)), A.subtract(a).intersect(A.subtract(b))],
          ["de morgan ∩", A.subtract(a.intersect(b)), A.subtract(a).union(A.subtract(b))],
          ["double complement", A.subtract(A.subtract(a)), a],
          ["absorption ∪", a.union(a.intersect(b)), a],
          ["absorption ∩", a.intersect(a.union(b)), a],
          ["idempotence ∪", a.union(a), a],
          ["idempotence ∩", a.intersect(a), a],
          ["commutativity ∪", a.union(b), b.union(a)],
          ["commutativity ∩", a.intersect(b), b.intersect(a)],
          ["associativity ∪", a.union(b).union(c), a.union(b.union(c))],
          ["distributivity", a.intersect(b.union(c)), a.intersect(b).union(a.intersect(c))],
          ["subtract as ∩ complement", a.subtract(b), a.intersect(A.subtract(b))],
          ["∪ none", a.union(O), a],
          ["none ∪", O.union(a), a],
          ["∩ all", a.intersect(A), a],
          ["all ∩", A.intersect(a), a],
          ["∪ all", a.union(A), A],
          ["∩ none", a.intersect(O), O],
          ["− self", a.subtract(a), O],
          ["− none", a.subtract(O), a],
          ["none −", O.subtract(a), O],
          ["− all", a.subtract(A), O],
        ];
        for (const [name, x, y] of laws) {
          if (!x.equals(y) || x.key() !== y.key()) expect.fail(`${name}: ${x} ≠ ${y}`);
        }
        expect(a.subtract(b).intersect(b).isEmpty()).toBe(true);
        expect(a.isSubsetOf(a.union(b)) && a.intersect(b).isSubsetOf(b) && O.isSubsetOf(a) && a.isSubsetOf(A)).toBe(true);
      }),
      RUNS,
    );
  });

  it("isAll and isEmpty on sets built the long way round", () => {
    const tcp = ConnSet.protocol("TCP");
    const built = PROTOCOLS.reduce((acc, p) => acc.union(ConnSet.ports(p, 1, 30000)).union(ConnSet.ports(p, 30001, 65535)), ConnSet.none());
    expect(built.isAll()).toBe(true);
    expect(built.equals(ConnSet.all())).toBe(true);
    expect(built.key()).toBe(ConnSet.all().key());
    expect(built.toString()).toBe("All Connections");
    const emptied = tcp.subtract(ConnSet.ports("TCP", 1, 65535));
    expect(emptied.isEmpty()).toBe(true);
    expect(emptied.equals(ConnSet.none())).toBe(true);
    expect(emptied.key()).toBe(ConnSet.none().key());
    expect(emptied.toString()).toBe("No Connections");
    expect(ConnSet.all().isEmpty()).toBe(false);
    expect(ConnSet.none().isAll()).toBe(false);
    expect(tcp.isAll()).toBe(false);
  });

  it("clamps ports to 1..65535", () => {
    expect(ConnSet.ports("TCP", 0).isEmpty()).toBe(true);
    expect(ConnSet.ports("TCP", 65536).isEmpty()).toBe(true);
    expect(ConnSet.ports("UDP", 0, 65536).equals(ConnSet.protocol("UDP"))).toBe(true);
    expect(ConnSet.ports("SCTP", -10, 3).toString()).toBe("SCTP 1-3");
    expect(ConnSet.ports("TCP", 90, 80).isEmpty()).toBe(true);
  });

  it("toString examples", () => {
    const ex = ConnSet.ports("TCP", 80).union(ConnSet.ports("TCP", 8080, 8090)).union(ConnSet.ports("UDP", 53));
    expect(ConnSet.all().toString()).toBe("All Connections");
    expect(ConnSet.none().toString()).toBe("No Connections");
    expect(ex.toString()).toBe("TCP 80,8080-8090,UDP 53");
    // order of construction does not matter
    expect(ConnSet.ports("UDP", 53).union(ConnSet.ports("TCP", 8080, 8090)).union(ConnSet.ports("TCP", 80)).toString()).toBe(
      "TCP 80,8080-8090,UDP 53",
    );
    expect(ConnSet.protocol("TCP").toString()).toBe("TCP 1-65535");
    expect(ConnSet.ports("TCP", 1, 65535).toString()).toBe("TCP 1-65535");
    expect(ConnSet.all().subtract(ConnSet.protocol("UDP")).toString()).toBe("TCP 1-65535,SCTP 1-65535");
    expect(ConnSet.ports("SCTP", 7).union(ConnSet.ports("TCP", 8, 9)).toString()).toBe("TCP 8-9,SCTP 7");
    expect(ConnSet.all().subtract(ConnSet.ports("TCP", 1)).toString()).toBe("TCP 2-65535,UDP 1-65535,SCTP 1-65535");
    expect(ConnSet.ports("TCP", 80, 81).union(ConnSet.ports("TCP", 82)).toString()).toBe("TCP 80-82");
  });

  it("toString lists exactly the model's members", () => {
    fc.assert(
      fc.property(conn, ({ set, model }) => {
        const s = set.toString();
        if (set.isAll() || set.isEmpty()) {
          expect(s).toBe(set.isAll() ? "All Connections" : "No Connections");
          return;
        }
        // Parse `P a,b-c,Q d` back into a predicate and compare it on the probes.
        const ranges: [Protocol, number, number][] = [];
        let current: Protocol | null = null;
        for (const tok of s.split(",")) {
          let t = tok;
          const m = /^([A-Z]+) (.*)$/.exec(tok);
          if (m) {
            if (!isProtocol(m[1])) expect.fail(`unknown protocol in ${s}`);
            current = m[1];
            t = m[2]!;
          }
          if (current === null) expect.fail(`no protocol before ${tok} in ${s}`);
          const [lo, hi = lo] = t.split("-").map(Number);
          ranges.push([current, lo!, hi!]);
        }
        expect(modelOfPred((p, port) => ranges.some(([q, lo, hi]) => q === p && lo <= port && port <= hi))).toEqual(model);
      }),
      RUNS,
    );
  });

  it("key() is equal iff equals()", () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(a.set.key() === b.set.key()).toBe(a.set.equals(b.set));
      }),
      RUNS,
    );
    // keys distinguish protocols carrying the same ports
    const keys = PROTOCOLS.map((p) => ConnSet.ports(p, 53).key());
    expect(new Set(keys).size).toBe(3);
    expect(ConnSet.none().key()).not.toBe(ConnSet.ports("TCP", 1).key());
  });
});
