/**
 * A linear-time matcher for the RE2 syntax Cilium's HTTP rules use (Go
 * `regexp`, Envoy `safe_regex`). Policies are user input: a backtracking engine
 * (JavaScript's RegExp) can take exponential time on patterns like `(a+)+$`,
 * so Palisade compiles patterns to an NFA and simulates it (Thompson/Pike),
 * whose cost is bounded by pattern size × input length.
 *
 * Supported: literals and escapes (`\.`, `\t`, `\x41`, `\x{263a}`), `.`,
 * classes (`[a-z]`, `[^/]`, `[[:alpha:]]`, `\d \w \s` and negations), groups
 * (`(…)`, `(?:…)`, `(?P<n>…)`, `(?<n>…)`), flags `i s m U` (`(?i)`, `(?i:…)`),
 * alternation, `* + ? {n} {n,} {n,m}` (lazy forms too), `^ $ \A \z \b \B`.
 * Rejected as RE2 rejects them: backreferences, lookaround, repeat counts over
 * 1000, unbalanced brackets. Unicode classes (`\p{…}`) are reported as
 * unsupported rather than guessed.
 */

export class RegexSyntaxError extends Error {}

/** A pattern the matcher does not implement although RE2 accepts it. */
export class RegexUnsupportedError extends Error {}

type CharPred = (c: number) => boolean;

type Node =
  | { t: "char"; pred: CharPred }
  | { t: "empty" }
  | { t: "assert"; kind: "bol" | "eol" | "bot" | "eot" | "wordb" | "nwordb" }
  | { t: "cat"; items: Node[] }
  | { t: "alt"; items: Node[] }
  | { t: "rep"; node: Node; min: number; max: number /* -1: unbounded */ };

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
}

const MAX_REPEAT = 1000;
/** Compiled programs larger than this are refused (RE2 has a similar budget). */
const MAX_STATES = 50_000;

const isWord = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

const POSIX: Record<string, CharPred> = {
  alnum: (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  ascii: (c) => c <= 0x7f,
  blank: (c) => c === 32 || c === 9,
  cntrl: (c) => c < 32 || c === 127,
  digit: isDigit,
  graph: (c) => c > 32 && c < 127,
  lower: (c) => c >= 97 && c <= 122,
  print: (c) => c >= 32 && c < 127,
  punct: (c) => c > 32 && c < 127 && !isWord(c) || c === 95,
  space: isSpace,
  upper: (c) => c >= 65 && c <= 90,
  word: isWord,
  xdigit: (c) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
};

function caseless(pred: CharPred): CharPred {
  return (c) => {
    if (pred(c)) return true;
    const s = String.fromCodePoint(c);
    const lower = s.toLowerCase().codePointAt(0)!;
    const upper = s.toUpperCase().codePointAt(0)!;
    return (lower !== c && pred(lower)) || (upper !== c && pred(upper));
  };
}

class Parser {
  private pos = 0;
  private readonly cps: number[];

  constructor(private readonly src: string) {
    this.cps = Array.from(src, (ch) => ch.codePointAt(0)!);
  }

  parse(): Node {
    const node = this.parseAlt({ i: false, s: false, m: false });
    if (this.pos < this.cps.length) {
      // Only an unmatched ')' stops the top level early.
      throw new RegexSyntaxError(`unexpected ) at offset ${this.pos}`);
    }
    return node;
  }

  private peek(): number | undefined {
    return this.cps[this.pos];
  }

  private ch(c: string): boolean {
    return this.cps[this.pos] === c.codePointAt(0);
  }

  private parseAlt(flags: Flags): Node {
    const branches: Node[] = [this.parseConcat(flags)];
    while (this.ch("|")) {
      this.pos++;
      branches.push(this.parseConcat(flags));
    }
    return branches.length === 1 ? branches[0]! : { t: "alt", items: branches };
  }

  private parseConcat(flags: Flags): Node {
    const items: Node[] = [];
    while (this.pos < this.cps.length && !this.ch("|") && !this.ch(")")) {
      // Inline flags `(?i)` change the rest of the enclosing group.
      if (this.ch("(") && this.cps[this.pos + 1] === 63 /* ? */) {
        const save = this.pos;
        const set = this.tryFlagsOnly(flags);
        if (set) {
          Object.assign(flags, set);
          continue;
        }
        this.pos = save;
      }
      let atom = this.parseAtom(flags);
      atom = this.parseQuantifiers(atom);
      items.push(atom);
    }
    if (items.length === 0) return { t: "empty" };
    return items.length === 1 ? items[0]! : { t: "cat", items };
  }

  /** `(?flags)` alone: the new flags; undefined when it is a group. */
  private tryFlagsOnly(flags: Flags): Flags | undefined {
    this.pos += 2;
    const next = { ...flags };
    let negate = false;
    let any = false;
    while (this.pos < this.cps.length) {
      const c = String.fromCodePoint(this.cps[this.pos]!);
      if (c === ")") {
        if (!any) throw new RegexSyntaxError("missing flags in (?)");
        this.pos++;
        return next;
      }
      if (c === ":") return undefined;
      if (c === "-") {
        if (negate) throw new RegexSyntaxError("invalid flag group");
        negate = true;
      } else if (c === "i" || c === "s" || c === "m") {
        next[c] = !negate;
        any = true;
      } else if (c === "U") {
        any = true; // Greediness does not change whether a full match exists.
      } else return undefined;
      this.pos++;
    }
    throw new RegexSyntaxError("missing closing )");
  }

  private parseQuantifiers(atom: Node): Node {
    for (let count = 0; ; count++) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === 42 /* * */) [min, max] = [0, -1];
      else if (c === 43 /* + */) [min, max] = [1, -1];
      else if (c === 63 /* ? */) [min, max] = [0, 1];
      else if (c === 123 /* { */) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.offsetOf(this.pos)));
        if (!m) return atom; // A literal `{` in Go's syntax.
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? -1 : Number(m[3]);
        if (min > MAX_REPEAT || max > MAX_REPEAT) throw new RegexSyntaxError(`invalid repeat count ${m[0]} (at most ${MAX_REPEAT})`);
        if (max !== -1 && max < min) throw new RegexSyntaxError(`invalid repeat count ${m[0]}`);
        this.pos += Array.from(m[0]).length - 1;
      } else return atom;
      this.pos++;
      if (atom.t === "assert" || atom.t === "empty") {
        if (atom.t === "empty") throw new RegexSyntaxError("missing argument to repetition operator");
      }
      // `a**` and `a+*` are rejected by RE2 (`(a*)*` is fine).
      if (count > 0) throw new RegexSyntaxError("invalid nested repetition operator");
      if (this.ch("?")) this.pos++; // lazy: same language
      atom = { t: "rep", node: atom, min, max };
    }
  }

  /** Index into `src` (UTF-16) of code point index `cp`. */
  private offsetOf(cp: number): number {
    let off = 0;
    for (let k = 0; k < cp; k++) off += this.cps[k]! > 0xffff ? 2 : 1;
    return off;
  }

  private parseAtom(flags: Flags): Node {
    const c = this.cps[this.pos]!;
    const s = String.fromCodePoint(c);
    switch (s) {
      case "(":
        return this.parseGroup(flags);
      case "[":
        return this.charNode(this.parseClass(flags), flags, false);
      case ".":
        this.pos++;
        return { t: "char", pred: flags.s ? () => true : (x) => x !== 10 };
      case "^":
        this.pos++;
        return { t: "assert", kind: flags.m ? "bol" : "bot" };
      case "$":
        this.pos++;
        return { t: "assert", kind: flags.m ? "eol" : "eot" };
      case "\\":
        return this.parseEscape(flags);
      case "*":
      case "+":
      case "?":
        throw new RegexSyntaxError(`missing argument to repetition operator: ${s}`);
      default:
        this.pos++;
        return this.charNode((x) => x === c, flags, true);
    }
  }

  private charNode(pred: CharPred, flags: Flags, literal: boolean): Node {
    if (!flags.i) return { t: "char", pred };
    if (literal) {
      // Literal: compare folded.
      return { t: "char", pred: caseless(pred) };
    }
    return { t: "char", pred: caseless(pred) };
  }

  private parseGroup(flags: Flags): Node {
    this.pos++; // (
    const inner: Flags = { ...flags };
    if (this.ch("?")) {
      this.pos++;
      const rest = this.src.slice(this.offsetOf(this.pos));
      if (rest.startsWith("P<") || (rest.startsWith("<") && !rest.startsWith("<=") && !rest.startsWith("<!"))) {
        const m = /^P?<([A-Za-z0-9_]+)>/.exec(rest);
        if (!m) throw new RegexSyntaxError("invalid named capture");
        this.pos += m[0].length;
      } else if (rest.startsWith("=") || rest.startsWith("!") || rest.startsWith("<=") || rest.startsWith("<!")) {
        throw new RegexSyntaxError("invalid or unsupported Perl syntax: lookaround");
      } else {
        // Flags followed by ':'.
        let negate = false;
        for (;;) {
          const f = this.peek();
          if (f === undefined) throw new RegexSyntaxError("missing closing )");
          const fs = String.fromCodePoint(f);
          this.pos++;
          if (fs === ":") break;
          if (fs === "-") negate = true;
          else if (fs === "i" || fs === "s" || fs === "m") inner[fs] = !negate;
          else if (fs === "U") continue;
          else throw new RegexSyntaxError(`invalid or unsupported Perl syntax: (?${fs}`);
        }
      }
    }
    const node = this.parseAlt(inner);
    if (!this.ch(")")) throw new RegexSyntaxError("missing closing )");
    this.pos++;
    return node;
  }

  private parseEscape(flags: Flags): Node {
    this.pos++; // backslash
    const c = this.peek();
    if (c === undefined) throw new RegexSyntaxError("trailing backslash at end of expression");
    const s = String.fromCodePoint(c);
    switch (s) {
      case "A":
        this.pos++;
        return { t: "assert", kind: "bot" };
      case "z":
        this.pos++;
        return { t: "assert", kind: "eot" };
      case "b":
        this.pos++;
        return { t: "assert", kind: "wordb" };
      case "B":
        this.pos++;
        return { t: "assert", kind: "nwordb" };
      case "Q": {
        // \Q...\E literal text.
        this.pos++;
        const items: Node[] = [];
        while (this.pos < this.cps.length && !(this.ch("\\") && this.cps[this.pos + 1] === 69 /* E */)) {
          const lit = this.cps[this.pos++]!;
          items.push(this.charNode((x) => x === lit, flags, true));
        }
        if (this.pos < this.cps.length) this.pos += 2;
        return items.length === 1 ? items[0]! : items.length === 0 ? { t: "empty" } : { t: "cat", items };
      }
    }
    const pred = this.escapePred(false);
    return this.charNode(pred, flags, false);
  }

  /** After the backslash: one escape as a character predicate (inside or outside a class). */
  private escapePred(inClass: boolean): CharPred {
    const c = this.cps[this.pos++]!;
    const s = String.fromCodePoint(c);
    switch (s) {
      case "d":
        return isDigit;
      case "D":
        return (x) => !isDigit(x);
      case "w":
        return isWord;
      case "W":
        return (x) => !isWord(x);
      case "s":
        return isSpace;
      case "S":
        return (x) => !isSpace(x);
      case "t":
        return (x) => x === 9;
      case "n":
        return (x) => x === 10;
      case "r":
        return (x) => x === 13;
      case "f":
        return (x) => x === 12;
      case "v":
        return (x) => x === 11;
      case "a":
        return (x) => x === 7;
      case "x": {
        const rest = this.src.slice(this.offsetOf(this.pos));
        const m = /^\{([0-9A-Fa-f]{1,8})\}/.exec(rest) ?? /^([0-9A-Fa-f]{2})/.exec(rest);
        if (!m) throw new RegexSyntaxError("invalid escape sequence: \\x");
        this.pos += m[0].length;
        const v = parseInt(m[1]!, 16);
        if (v > 0x10ffff) throw new RegexSyntaxError("invalid escape sequence: \\x");
        return (x) => x === v;
      }
      case "p":
      case "P":
        throw new RegexUnsupportedError("Unicode character classes (\\p) are not supported by Palisade's matcher");
      case "C":
        return () => true;
    }
    if (s >= "1" && s <= "9") throw new RegexSyntaxError(`invalid escape sequence: \\${s} (RE2 has no backreferences)`);
    if (s === "0") {
      // Octal \0, \012 (Go accepts \0 followed by up to two octal digits).
      const rest = this.src.slice(this.offsetOf(this.pos));
      const m = /^[0-7]{0,2}/.exec(rest)!;
      this.pos += m[0].length;
      const v = parseInt(`0${m[0]}`, 8);
      return (x) => x === v;
    }
    // Any punctuation may be escaped; letters and digits may not (RE2).
    if (c < 128 && !isWord(c)) return (x) => x === c;
    void inClass;
    throw new RegexSyntaxError(`invalid escape sequence: \\${s}`);
  }

  private parseClass(flags: Flags): CharPred {
    this.pos++; // [
    let negated = false;
    if (this.ch("^")) {
      negated = true;
      this.pos++;
    }
    const preds: CharPred[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new RegexSyntaxError("missing closing ]");
      if (c === 93 /* ] */ && !first) {
        this.pos++;
        break;
      }
      first = false;
      const rest = this.src.slice(this.offsetOf(this.pos));
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(rest);
      if (posix) {
        const p = POSIX[posix[2]!];
        if (!p) throw new RegexSyntaxError(`invalid character class range: [:${posix[2]}:]`);
        preds.push(posix[1] ? (x) => !p(x) : p);
        this.pos += posix[0].length;
        continue;
      }
      let lo: number | CharPred;
      if (c === 92 /* \ */) {
        this.pos++;
        if (this.peek() === undefined) throw new RegexSyntaxError("missing closing ]");
        const save = this.pos;
        const single = this.singleEscape();
        if (single === undefined) {
          this.pos = save;
          preds.push(this.escapePred(true));
          continue;
        }
        lo = single;
      } else {
        this.pos++;
        lo = c;
      }
      if (this.ch("-") && this.cps[this.pos + 1] !== undefined && this.cps[this.pos + 1] !== 93) {
        this.pos++;
        let hi: number;
        if (this.ch("\\")) {
          this.pos++;
          const single = this.singleEscape();
          if (single === undefined) throw new RegexSyntaxError("invalid character class range");
          hi = single;
        } else hi = this.cps[this.pos++]!;
        if (hi < lo) throw new RegexSyntaxError(`invalid character class range: ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`);
        const [a, b] = [lo, hi];
        preds.push((x) => x >= a && x <= b);
      } else {
        const v = lo;
        preds.push((x) => x === v);
      }
    }
    const base: CharPred = (x) => preds.some((p) => p(x));
    const withCase = flags.i ? caseless(base) : base;
    // A negated class does not match a newline only when it lists one; Go's `[^a]` matches \n.
    return negated ? (x) => !withCase(x) : withCase;
  }

  /** A single-character escape (after the backslash) as its code point, or undefined for a class escape. */
  private singleEscape(): number | undefined {
    const c = this.peek();
    if (c === undefined) throw new RegexSyntaxError("missing closing ]");
    const s = String.fromCodePoint(c);
    if ("dDwWsSpP".includes(s)) return undefined;
    const map: Record<string, number> = { t: 9, n: 10, r: 13, f: 12, v: 11, a: 7 };
    if (s in map) {
      this.pos++;
      return map[s];
    }
    if (s === "x") {
      this.pos++;
      const rest = this.src.slice(this.offsetOf(this.pos));
      const m = /^\{([0-9A-Fa-f]{1,8})\}/.exec(rest) ?? /^([0-9A-Fa-f]{2})/.exec(rest);
      if (!m) throw new RegexSyntaxError("invalid escape sequence: \\x");
      this.pos += m[0].length;
      return parseInt(m[1]!, 16);
    }
    if (c < 128 && !isWord(c)) {
      this.pos++;
      return c;
    }
    throw new RegexSyntaxError(`invalid escape sequence: \\${s}`);
  }
}

// ---------------------------------------------------------------------------
// NFA

type State =
  | { op: "char"; pred: CharPred; out: number }
  | { op: "split"; out: number; out1: number }
  | { op: "jump"; out: number }
  | { op: "assert"; kind: "bol" | "eol" | "bot" | "eot" | "wordb" | "nwordb"; out: number }
  | { op: "match" };

class Compiler {
  readonly states: State[] = [];

  private add(s: State): number {
    if (this.states.length >= MAX_STATES) throw new RegexSyntaxError("expression too large");
    this.states.push(s);
    return this.states.length - 1;
  }

  /** Compiles `node` so that it continues at `next`; returns its entry state. */
  compile(node: Node, next: number): number {
    switch (node.t) {
      case "empty":
        return next;
      case "char":
        return this.add({ op: "char", pred: node.pred, out: next });
      case "assert":
        return this.add({ op: "assert", kind: node.kind, out: next });
      case "cat": {
        let entry = next;
        for (let k = node.items.length - 1; k >= 0; k--) entry = this.compile(node.items[k]!, entry);
        return entry;
      }
      case "alt": {
        const entries = node.items.map((n) => this.compile(n, next));
        let entry = entries[entries.length - 1]!;
        for (let k = entries.length - 2; k >= 0; k--) entry = this.add({ op: "split", out: entries[k]!, out1: entry });
        return entry;
      }
      case "rep": {
        const { min, max } = node;
        let entry = next;
        if (max === -1) {
          // x* : a loop that may leave at any time.
          const loop = this.add({ op: "split", out: -1, out1: next });
          (this.states[loop] as { out: number }).out = this.compile(node.node, loop);
          entry = loop;
        } else {
          // x{0,k}: nested optional copies (x(x(x)?)?)?
          for (let k = 0; k < max - min; k++) entry = this.add({ op: "split", out: this.compile(node.node, entry), out1: next });
        }
        for (let k = 0; k < min; k++) entry = this.compile(node.node, entry);
        return entry;
      }
    }
  }
}

/** A compiled pattern: `test` is a full match in time linear in the input. */
export class SafeRegex {
  private constructor(
    readonly source: string,
    private readonly states: readonly State[],
    private readonly start: number,
  ) {}

  /** Compiles with RE2's syntax; throws RegexSyntaxError (RE2 would reject it too) or RegexUnsupportedError. */
  static compile(pattern: string): SafeRegex {
    const ast = new Parser(pattern).parse();
    const c = new Compiler();
    const match = c.states.length;
    c.states.push({ op: "match" });
    const start = c.compile(ast, match);
    return new SafeRegex(pattern, c.states, start);
  }

  /** Whether the whole of `input` matches (Envoy `safe_regex` semantics). */
  test(input: string): boolean {
    const text = Array.from(input, (ch) => ch.codePointAt(0)!);
    const n = this.states.length;
    let current: number[] = [];
    let next: number[] = [];
    const mark = new Int32Array(n).fill(-1);
    let generation = 0;
    const addState = (list: number[], s: number, i: number): void => {
      // Iterative epsilon closure with assertions evaluated at position i.
      const stack = [s];
      while (stack.length > 0) {
        const x = stack.pop()!;
        if (mark[x] === generation) continue;
        mark[x] = generation;
        const st = this.states[x]!;
        switch (st.op) {
          case "jump":
            stack.push(st.out);
            break;
          case "split":
            stack.push(st.out1, st.out);
            break;
          case "assert":
            if (assertionHolds(st.kind, text, i)) stack.push(st.out);
            break;
          default:
            list.push(x);
        }
      }
    };
    addState(current, this.start, 0);
    for (let i = 0; i < text.length; i++) {
      generation++;
      next = [];
      const c = text[i]!;
      for (const x of current) {
        const st = this.states[x]!;
        if (st.op === "char" && st.pred(c)) addState(next, st.out, i + 1);
      }
      if (next.length === 0) return false;
      current = next;
    }
    return current.some((x) => this.states[x]!.op === "match");
  }
}

function assertionHolds(kind: "bol" | "eol" | "bot" | "eot" | "wordb" | "nwordb", text: number[], i: number): boolean {
  switch (kind) {
    case "bot":
      return i === 0;
    case "eot":
      return i === text.length;
    case "bol":
      return i === 0 || text[i - 1] === 10;
    case "eol":
      return i === text.length || text[i] === 10;
    case "wordb":
    case "nwordb": {
      const before = i > 0 && isWord(text[i - 1]!);
      const after = i < text.length && isWord(text[i]!);
      return (before !== after) === (kind === "wordb");
    }
  }
}

