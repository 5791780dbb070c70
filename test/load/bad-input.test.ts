/**
 * Bad input, end to end through `palisade` (src/cli/cli.ts `run`) and the loader API:
 * every problem is one located line on stderr (`file:line: severity: field: message`),
 * the rest of the input is still analysed, errors end the run with exit code 2, and no
 * stack trace is ever printed.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadInputs, loadText } from "../../src/load/index.js";
import { lineOfText, messages, palisade, STACK_TRACE, tempDir, type CliResult } from "./helpers.js";

const tmp = tempDir();

const DEPLOY = (name: string, port = 8080) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: shop
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - name: ${name}
        image: ${name}
        ports: [{containerPort: ${port}}]
`;

/** Workloads of `palisade matrix -o json`: what was analysed. */
function workloads(r: CliResult): string[] {
  return (JSON.parse(r.stdout) as { workloads: string[] }).workloads;
}

/** stderr lines, with the temporary directory shown as `TMP`. */
function errLines(r: CliResult): string[] {
  return r.stderr
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split(tmp.dir).join("TMP"));
}

function expectNoStack(r: CliResult): void {
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stdout).not.toMatch(STACK_TRACE);
}

describe("malformed YAML in the 2nd of 3 documents", () => {
  const text = `${DEPLOY("web")}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
   namespace: shop
spec: {}
---
${DEPLOY("api", 9090)}`;
  const file = tmp.write("three.yaml", text);

  it("names the file and the line of the syntax error; documents 1 and 3 are analysed; exit code 2", async () => {
    const r = await palisade(["matrix", "-f", file, "-o", "json"]);
    expect(errLines(r)).toEqual([`TMP/three.yaml:${lineOfText(text, "   namespace: shop")}: error: malformed YAML: bad indentation of a mapping entry`]);
    expect(lineOfText(text, "   namespace: shop")).toBe(20);
    expect(workloads(r)).toEqual(["shop/api", "shop/web"]);
    expect(r.code).toBe(2);
    expectNoStack(r);
  });

  it("reach still prints its verdict before exiting with 2", async () => {
    const r = await palisade(["reach", "shop/web", "shop/api:9090", "-f", file]);
    expect(r.stdout).toMatch(/^ALLOWED/);
    expect(r.code).toBe(2);
  });

  it("points at an unclosed bracket or quote where it opens, not where the parser gives up", () => {
    const flow = `${DEPLOY("web")}---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop
spec:
  selector: {app: web}
`;
    const opened = lineOfText(flow, "metadata: {name: web");
    expect(opened).toBe(18);
    expect(messages(loadText(flow, "svc.yaml"))).toEqual([
      `svc.yaml:18: error: malformed YAML: the "{" on this line is never closed (the parser gave up at line 19: missed comma between flow collection entries)`,
    ]);
    const quote = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "cfg\ndata:\n  a: b\n`;
    expect(messages(loadText(quote, "cm.yaml"))).toEqual([
      `cm.yaml:4: error: malformed YAML: the quote " on this line is never closed (the document ends first)`,
    ]);
  });

  it("a key without its colon is reported on the key's line", () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata\n  name: a\n`;
    expect(messages(loadText(text, "p.yaml"))).toEqual([
      'p.yaml:3: error: malformed YAML: can not read a block mapping entry; a multiline key may not be an implicit key (a key on this line is not followed by ":")',
    ]);
  });
});

describe("objects the loader cannot use", () => {
  it("missing kind: located error, the rest analysed", async () => {
    const text = `${DEPLOY("web")}---\napiVersion: v1\nmetadata:\n  name: what\n---\n${DEPLOY("api")}`;
    const r = await palisade(["matrix", "-f", tmp.write("nokind.yaml", text), "-o", "json"]);
    expect(errLines(r)).toEqual([`TMP/nokind.yaml:${lineOfText(text, "apiVersion: v1")}: error: kind: missing kind`]);
    expect(workloads(r)).toEqual(["shop/api", "shop/web"]);
    expect(r.code).toBe(2);
  });

  it("a kind that is not a string says what was expected", () => {
    const text = `apiVersion: v1\nkind: [Pod]\nmetadata: {name: x}\n`;
    expect(messages(loadText(text, "k.yaml"))).toEqual(["k.yaml:2: error: kind: expected a string, got a list"]);
  });

  it("unknown kind: a warning at its kind line, the rest analysed, exit code 0", async () => {
    const text = `${DEPLOY("web")}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolcy\nmetadata: {name: typo, namespace: shop}\n`;
    const r = await palisade(["matrix", "-f", tmp.write("unknown.yaml", text), "-o", "json"]);
    expect(errLines(r)).toEqual([
      `TMP/unknown.yaml:${lineOfText(text, "kind: NetworkPolcy")}: warning: kind: unknown kind NetworkPolcy (apiVersion networking.k8s.io/v1): ignored`,
    ]);
    expect(workloads(r)).toEqual(["shop/web"]);
    expect(r.code).toBe(0);
  });
});

describe("NetworkPolicy fields", () => {
  const policy = (spec: string) => `${DEPLOY("web")}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
${spec}`;

  async function check(name: string, spec: string, needle: string, expected: string): Promise<void> {
    const text = policy(spec);
    const r = await palisade(["matrix", "-f", tmp.write(`${name}.yaml`, text), "-o", "json"]);
    expect(errLines(r)).toEqual([`TMP/${name}.yaml:${lineOfText(text, needle)}: error: ${expected}`]);
    // The policy is left out (the API server would reject it); the workloads are still analysed.
    expect(workloads(r)).toEqual(["shop/web"]);
    expect(r.code).toBe(2);
    expectNoStack(r);
  }

  it("a field of the wrong type (a mapping where a list is expected)", async () => {
    await check(
      "wrong-type",
      `  ingress:
    from:
    - podSelector: {}
`,
      "ingress:",
      "spec.ingress: expected a list, got a mapping",
    );
  });

  it("an invalid CIDR", async () => {
    await check(
      "bad-cidr",
      `  egress:
  - to:
    - ipBlock:
        cidr: 198.51.100.0/33
`,
      "cidr:",
      'spec.egress[0].to[0].ipBlock.cidr: "198.51.100.0/33" is not a CIDR: prefix length must be 0-32',
    );
  });

  it("an except outside its cidr", async () => {
    await check(
      "except",
      `  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except:
        - 10.0.1.0/24
        - 10.1.0.0/24
`,
      "- 10.1.0.0/24",
      "spec.ingress[0].from[0].ipBlock.except[1]: except 10.1.0.0/24 must be a strict subset of cidr 10.0.0.0/16",
    );
  });
});

describe("hostile input", () => {
  // Nine levels of nine references: 9^9 (387 million) strings once expanded.
  const BOMB = [
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata: {name: lol, namespace: shop}",
    "data:",
    '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ..."bcdefghi".split("").map((c, i) => {
      const prev = "abcdefghi"[i]!;
      return `  ${c}: &${c} [${Array(9).fill(`*${prev}`).join(",")}]`;
    }),
  ].join("\n");

  it("a YAML alias bomb (billion laughs) is refused quickly, with bounded memory", () => {
    const heap = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const r = loadText(`${DEPLOY("web")}---\n${BOMB}\n`, "bomb.yaml");
    const ms = performance.now() - t0;
    expect(messages(r)).toEqual([`bomb.yaml:16: error: YAML aliases expand to more than 1,000,000 extra nodes (an alias bomb?): document skipped`]);
    expect(r.manifests.map((m) => m.name)).toEqual(["web"]);
    expect(ms).toBeLessThan(2000);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 1024 * 1024);
  });

  it("the alias bomb through the CLI: one line, exit code 2, the other documents analysed", async () => {
    const r = await palisade(["matrix", "-f", tmp.write("bomb.yaml", `${DEPLOY("web")}---\n${BOMB}\n`), "-o", "json"]);
    expect(errLines(r)).toEqual(["TMP/bomb.yaml:16: error: YAML aliases expand to more than 1,000,000 extra nodes (an alias bomb?): document skipped"]);
    expect(workloads(r)).toEqual(["shop/web"]);
    expect(r.code).toBe(2);
  });

  it("ordinary aliases are fine, and a recursive alias is an error, not a crash", () => {
    const ok = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: &l {app: a}, annotations: *l}\n`;
    expect(messages(loadText(ok, "ok.yaml"))).toEqual([]);
    const loop = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &d\n  self: *d\n`;
    expect(messages(loadText(loop, "loop.yaml"))).toEqual(["loop.yaml:1: error: recursive YAML alias (a node that contains itself): document skipped"]);
  });

  it("a 50 MB file is refused naming the limit and --max-file-size; the other files are analysed", async () => {
    const big = join(tmp.dir, "big.yaml");
    // Generated here, never committed: 50 MiB of comments.
    writeFileSync(big, "# padding padding padding padding padding padding padding padding\n".repeat((50 * 1024 * 1024) / 66));
    const good = tmp.write("good/web.yaml", DEPLOY("web"));
    const r = await palisade(["matrix", "-f", big, "-f", good, "-o", "json"]);
    expect(errLines(r)).toEqual(["TMP/big.yaml:1: error: file is 50.0 MB, larger than the 32.0 MB limit (raise it with --max-file-size)"]);
    expect(workloads(r)).toEqual(["shop/web"]);
    expect(r.code).toBe(2);
  });

  it("--max-file-size sets the limit, for files and for stdin", async () => {
    const text = `${DEPLOY("web")}# ${"x".repeat(1024 * 1024)}\n`;
    const file = tmp.write("one-mb.yaml", text);
    const low = await palisade(["matrix", "-f", file, "-o", "json", "--max-file-size", "0.5"]);
    expect(errLines(low)).toEqual(["TMP/one-mb.yaml:1: error: file is 1.0 MB, larger than the 0.5 MB limit (raise it with --max-file-size)"]);
    expect(low.code).toBe(2);
    const high = await palisade(["matrix", "-f", file, "-o", "json", "--max-file-size", "2"]);
    expect(high.stderr).toBe("");
    expect(workloads(high)).toEqual(["shop/web"]);
    const stdin = await palisade(["matrix", "-f", "-", "-o", "json", "--max-file-size", "0.5"], text);
    expect(errLines(stdin)).toEqual(["<stdin>:1: error: file is 1.0 MB, larger than the 0.5 MB limit (raise it with --max-file-size)"]);
    const bad = await palisade(["matrix", "-f", file, "--max-file-size", "lots"]);
    expect(bad.stderr).toBe('palisade: --max-file-size needs a positive number of MB, got "lots"\n');
    expect(bad.code).toBe(2);
  });

  it("a NUL byte or a binary file is refused as not YAML or JSON", async () => {
    expect(messages(loadText("apiVersion: v1\nkind: Pod\u0000\n", "nul.yaml"))).toEqual([
      "nul.yaml:1: error: binary content (NUL bytes): not a YAML or JSON file",
    ]);
    const blob = tmp.write("dir-with-blob/image.yaml", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe]));
    tmp.write("dir-with-blob/web.yaml", DEPLOY("web"));
    const r = await palisade(["matrix", "-f", join(tmp.dir, "dir-with-blob"), "-o", "json"]);
    expect(errLines(r)).toEqual([`${blob.split(tmp.dir).join("TMP")}:1: error: binary content (NUL bytes): not a YAML or JSON file`]);
    expect(workloads(r)).toEqual(["shop/web"]);
    expect(r.code).toBe(2);
    expectNoStack(r);
  });

  it("a path that does not exist is a located error", async () => {
    const r = await loadInputs([join(tmp.dir, "nope.yaml")]);
    expect(messages(r).map((m) => m.split(tmp.dir).join("TMP"))).toEqual(["TMP/nope.yaml:1: error: no such file or directory"]);
  });
});
