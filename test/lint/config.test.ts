import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRule, LintConfigError, parseLintConfig, rules, runLint } from "../../src/lint/index.js";
import egressWithoutDns from "../../src/lint/rules/egress-without-dns.js";
import { palisade } from "../helpers/cli.js";
import { lineOf, scenarioFromYaml } from "../helpers/cluster.js";

/** A rule with an option, so that options can be checked end to end. */
const labelled = createRule({
  id: "test-labelled",
  description: "every Pod carrying the label named by the option",
  severity: "warning",
  defaultOptions: { label: "example.com/flag", names: [] as readonly string[] },
  messages: { found: "{{pod}} carries {{label}}" },
  check({ scenario, options, report }) {
    for (const m of scenario.manifests) {
      const labels = ((m.raw.metadata as { labels?: Record<string, string> }).labels ?? {}) as Record<string, string>;
      if (m.kind === "Pod" && options.label in labels && (options.names.length === 0 || options.names.includes(m.name))) {
        report({ messageId: "found", data: { pod: m.name, label: options.label }, resource: { kind: "Pod", namespace: m.namespace ?? "default", name: m.name }, workloads: [], file: m.source.file, line: m.source.line });
      }
    }
  },
});
const known = [...rules, labelled];

const pods = `apiVersion: v1
kind: Pod
metadata:
  name: a
  namespace: app
  labels: {example.com/flag: "x", other.io/mark: "y"}
  annotations:
    palisade.dev/lint-severity: "test-labelled=error"
spec: {containers: [{name: c, image: c}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  namespace: app
  labels: {example.com/flag: "x", other.io/mark: "y"}
  annotations:
    palisade.dev/lint-disable: "test-labelled"
spec: {containers: [{name: c, image: c}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: c
  namespace: app
  labels: {example.com/flag: "x", other.io/mark: "y"}
spec: {containers: [{name: c, image: c}]}
`;

const denyEgress = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec: {containers: [{name: w, image: w}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-out
  namespace: app
ANNOTATIONS
spec:
  podSelector: {}
  policyTypes: [Egress]
`;

function configError(text: string): string[] {
  try {
    parseLintConfig(text, "cfg.yaml", known);
  } catch (e) {
    if (e instanceof LintConfigError) return e.diagnostics.map((d) => d.format());
    throw e;
  }
  throw new Error("expected a LintConfigError");
}

describe("lint config file", () => {
  it("turns a rule off, changes a severity and sets options", async () => {
    const scenario = await scenarioFromYaml(pods);
    const base = runLint(scenario, { rules: [labelled] }).findings;
    expect(base.map((f) => `${f.resource.name} ${f.severity}`)).toEqual(["a error", "c warning"]);

    const off = parseLintConfig("lint:\n  rules:\n    test-labelled: off\n", "cfg.yaml", known);
    expect(runLint(scenario, { rules: [labelled], config: off }).findings).toEqual([]);

    const info = parseLintConfig("lint:\n  rules:\n    test-labelled: info\n", "cfg.yaml", known);
    // The resource's own annotation wins over the config file.
    expect(runLint(scenario, { rules: [labelled], config: info }).findings.map((f) => `${f.resource.name} ${f.severity}`)).toEqual(["a error", "c info"]);

    const opts = parseLintConfig("lint:\n  rules:\n    test-labelled:\n      label: other.io/mark\n      names: [c]\n", "cfg.yaml", known);
    const found = runLint(scenario, { rules: [labelled], config: opts }).findings;
    expect(found.map((f) => f.message)).toEqual(["c carries other.io/mark"]);
  });

  it("accepts an empty file and an empty rules map", () => {
    expect(parseLintConfig("", "cfg.yaml", known).rules.size).toBe(0);
    expect(parseLintConfig("lint:\n  rules:\n", "cfg.yaml", known).rules.size).toBe(0);
  });

  it("locates an unknown rule and suggests the near miss", () => {
    expect(configError("lint:\n  rules:\n    egress-without-dsn: off\n")).toEqual([
      'cfg.yaml:3: error: lint.rules.egress-without-dsn: unknown rule "egress-without-dsn" (did you mean "egress-without-dns"?)',
    ]);
  });

  it("locates a bad severity, an unknown option and an option of the wrong type", () => {
    const text = "lint:\n  rules:\n    egress-without-dns: loud\n    test-labelled:\n      colour: red\n      label: 3\n";
    expect(configError(text)).toEqual([
      'cfg.yaml:3: error: lint.rules.egress-without-dns: expected error, warning, info or off, got "loud"',
      'cfg.yaml:5: error: lint.rules.test-labelled.colour: rule test-labelled has no option "colour" (options: severity, label, names)',
      "cfg.yaml:6: error: lint.rules.test-labelled.label: expected a string",
    ]);
  });

  it("refuses malformed YAML and unknown top-level keys with their lines", () => {
    expect(configError("lint: [\n")[0]).toMatch(/^cfg\.yaml:\d+: error: malformed YAML/);
    expect(configError("lints:\n  rules: {}\n")).toEqual(['cfg.yaml:1: error: lints: unknown key "lints" (expected: lint)']);
  });
});

describe("lint annotations on a resource", () => {
  it("turns a rule off for that resource only", async () => {
    const annotated = await scenarioFromYaml(denyEgress.replace("ANNOTATIONS", "  annotations:\n    palisade.dev/lint-disable: egress-without-dns"));
    expect(runLint(annotated, { rules: [egressWithoutDns] }).findings).toEqual([]);
    const plain = await scenarioFromYaml(denyEgress.replace("ANNOTATIONS\n", ""));
    expect(runLint(plain, { rules: [egressWithoutDns] }).findings.map((f) => f.rule)).toEqual(["egress-without-dns"]);
  });

  it("turns every rule off with all", async () => {
    const annotated = await scenarioFromYaml(denyEgress.replace("ANNOTATIONS", '  annotations:\n    palisade.dev/lint-disable: "all"'));
    expect(runLint(annotated).findings.filter((f) => f.resource.name === "deny-out")).toEqual([]);
  });

  it("warns, with the annotation's line, about an id that names no rule", async () => {
    const text = denyEgress.replace("ANNOTATIONS", "  annotations:\n    palisade.dev/lint-disable: egress-without-dsn");
    const { findings, diagnostics } = runLint(await scenarioFromYaml(text), { rules: [egressWithoutDns] });
    expect(findings.map((f) => f.rule)).toEqual(["egress-without-dns"]);
    expect(diagnostics.map((d) => d.format())).toEqual([
      `test.yaml:${lineOf(text, "palisade.dev/lint-disable")}: warning: metadata.annotations.palisade.dev/lint-disable: unknown rule "egress-without-dsn" (did you mean "egress-without-dns"?): ignored`,
    ]);
  });
});

describe("palisade lint --config", () => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-config-"));
  const input = join(dir, "in.yaml");
  writeFileSync(input, denyEgress.replace("ANNOTATIONS\n", ""));

  it("downgrades an error so that --fail-on error passes", async () => {
    const cfg = join(dir, "warn.yaml");
    writeFileSync(cfg, "lint:\n  rules:\n    egress-without-dns: warning\n");
    const before = await palisade(["lint", "-f", input, "--no-config"]);
    expect(before.code).toBe(1);
    const after = await palisade(["lint", "-f", input, "--config", cfg, "-o", "json"]);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).findings.map((f: { rule: string; severity: string }) => `${f.rule} ${f.severity}`)).toContain("egress-without-dns warning");
    expect((await palisade(["lint", "-f", input, "--config", cfg, "--fail-on", "warning"])).code).toBe(1);
  });

  it("exits 2 with located errors for an invalid config", async () => {
    const cfg = join(dir, "bad.yaml");
    writeFileSync(cfg, "lint:\n  rules:\n    no-such-rule: off\n");
    const r = await palisade(["lint", "-f", input, "--config", cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${cfg}:3: error: lint.rules.no-such-rule: unknown rule "no-such-rule"`);
  });

  it("exits 2 when the named config file does not exist", async () => {
    const r = await palisade(["lint", "-f", input, "--config", join(dir, "absent.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read");
  });

  it("applies to the findings analyze shows", async () => {
    const cfg = join(dir, "off.yaml");
    writeFileSync(cfg, "lint:\n  rules:\n    egress-without-dns: off\n");
    const shown = JSON.parse((await palisade(["analyze", "-f", input, "-o", "json", "--no-config"])).stdout);
    expect(shown.findings.map((f: { rule: string }) => f.rule)).toContain("egress-without-dns");
    const hidden = JSON.parse((await palisade(["analyze", "-f", input, "-o", "json", "--config", cfg])).stdout);
    expect(hidden.findings.map((f: { rule: string }) => f.rule)).not.toContain("egress-without-dns");
    const text = (await palisade(["analyze", "-f", input, "--no-config"])).stdout;
    expect(text).toMatch(/\nLint\n {2}.*in\.yaml:\d+: error: .*\[egress-without-dns\]/);
  });
});

describe("palisade analyze --no-lint", () => {
  it("leaves the findings out and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "palisade-nolint-"));
    const input = join(dir, "in.yaml");
    writeFileSync(input, denyEgress.replace("ANNOTATIONS\n", ""));
    const json = JSON.parse((await palisade(["analyze", "-f", input, "-o", "json", "--no-lint"])).stdout);
    expect(json.findings).toEqual([]);
    expect(json.lintSkipped).toBe(true);
    expect((await palisade(["analyze", "-f", input, "--no-lint"])).stdout).toContain("\nLint\n  not run (--no-lint)");
  });
});
