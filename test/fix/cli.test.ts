import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { palisade } from "../helpers/cli.js";
import { lineOf } from "../helpers/cluster.js";
import { deployment, namespace } from "./helpers.js";

const policy = `# API ingress: the gateway only
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-ingress
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: api}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: gateway}
`;
const input = namespace("shop") + namespace("front") + deployment("shop", "api", { port: 8080 }) + deployment("front", "web") + policy;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function inputDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-fix-cli-"));
  dirs.push(dir);
  writeFileSync(join(dir, "all.yaml"), input);
  return dir;
}

describe("palisade fix", () => {
  it("prints the JSON of the contract and exits 0 when the fix is verified", async () => {
    const dir = inputDir();
    const r = await palisade(["fix", "front/web", "shop/api:8080", "-f", dir, "-o", "json"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ verdictBefore: "denied", verdictAfter: "allowed", closed: [] });
    expect(json.changes).toHaveLength(1);
    expect(Object.keys(json.changes[0])).toEqual(expect.arrayContaining(["layer", "enforcer", "direction", "workload", "file", "kind", "namespace", "name", "action", "yaml", "diff"]));
    expect(json.changes[0]).toMatchObject({ layer: "networkpolicy", direction: "ingress", workload: "shop/api", file: join(dir, "all.yaml"), kind: "NetworkPolicy", namespace: "shop", name: "api-ingress", action: "edit" });
    expect(json.opened).toEqual([{ from: "front/web", to: "shop/api", port: 8080, protocol: "TCP", requested: true }]);
    // Without --write the input is left alone.
    expect(readFileSync(join(dir, "all.yaml"), "utf8")).toBe(input);
  });

  it("prints only the YAML to apply with -o yaml", async () => {
    const r = await palisade(["fix", "front/web", "shop/api", "--port", "8080", "-f", inputDir(), "-o", "yaml"]);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout);
    expect(Array.isArray(docs) && docs.map((d) => d.toJS().metadata.name)).toEqual(["api-ingress"]);
    expect(r.stdout).toContain("kubernetes.io/metadata.name: front");
  });

  it("says what it changes, that it verified it, and what else opens, in text", async () => {
    const dir = inputDir();
    const r = await palisade(["fix", "front/web", "shop/api:8080", "-f", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Change 1: networkpolicy ingress at shop/api, enforced by the CNI");
    expect(r.stdout).toContain(`blocked by NetworkPolicy shop/api-ingress (${join(dir, "all.yaml")}:${lineOf(input, "kind: NetworkPolicy") - 1})`);
    expect(r.stdout).toContain("Verified: with this change, front/web → shop/api TCP/8080 is now allowed.");
    expect(r.stdout).toContain("+ front/web → shop/api TCP/8080  (the requested flow)");
    expect(r.stdout).toContain("nothing else is opened or closed.");
  });

  it("writes the change with --write, keeping the comments, and reach agrees", async () => {
    const dir = inputDir();
    expect((await palisade(["fix", "front/web", "shop/api:8080", "-f", dir, "--write"])).code).toBe(0);
    const written = readFileSync(join(dir, "all.yaml"), "utf8");
    expect(written.startsWith(input.slice(0, input.length - 1))).toBe(true);
    expect(written).toContain("# API ingress: the gateway only");
    expect((await palisade(["reach", "front/web", "shop/api:8080", "-f", dir])).code).toBe(0);
  });

  it("appends a new document to an existing file of the suggested name with --write", async () => {
    const dir = mkdtempSync(join(tmpdir(), "palisade-fix-cli-"));
    dirs.push(dir);
    const defaultDeny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";
    // The default deny selects two workloads: the rule for one goes to a new policy.
    writeFileSync(join(dir, "all.yaml"), namespace("shop") + namespace("front") + deployment("shop", "api", { port: 8080 }) + deployment("shop", "worker") + deployment("front", "web") + defaultDeny);
    writeFileSync(join(dir, "allow-web-to-api.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: shop}");
    const r = await palisade(["fix", "front/web", "shop/api:8080", "-f", dir, "--write"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`wrote ${join(dir, "allow-web-to-api.yaml")}`);
    const written = readFileSync(join(dir, "allow-web-to-api.yaml"), "utf8");
    expect(written.startsWith("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: shop}\n---\n")).toBe(true);
    const after = await palisade(["reach", "front/web", "shop/api:8080", "-f", dir]);
    expect(after.code).toBe(0);
    expect(after.stderr).toBe("");
  });

  it("edits standard input like a file", async () => {
    const r = await palisade(["fix", "front/web", "shop/api:8080", "-f", "-", "-o", "json"], input);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).changes[0]).toMatchObject({ file: "<stdin>", action: "edit" });
  });

  it("leaves a JSON file as it is and puts the rule in a new document", async () => {
    const dir = mkdtempSync(join(tmpdir(), "palisade-fix-json-"));
    dirs.push(dir);
    const items = parseAllDocuments(input);
    writeFileSync(join(dir, "all.json"), JSON.stringify({ apiVersion: "v1", kind: "List", items: (Array.isArray(items) ? items : []).map((d) => d.toJS()) }, null, 2));
    const r = await palisade(["fix", "front/web", "shop/api:8080", "-f", dir, "-o", "json"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.changes).toHaveLength(1);
    expect(json.changes[0]).toMatchObject({ action: "create", kind: "NetworkPolicy", namespace: "shop", name: "allow-web-to-api" });
  });

  it("exits 0 and says so for a flow that is already allowed", async () => {
    const r = await palisade(["fix", "shop/api", "front/web:80", "-f", inputDir()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("already allowed, nothing to change");
  });

  it("exits 1 with the reason when no verified fix exists", async () => {
    const egress = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: front}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
`;
    const r = await palisade(["fix", "front/web", "api.example.com:443", "-f", "-"], input + egress);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("No verified fix");
    expect(r.stdout).toContain("cannot match the DNS name api.example.com");
  });

  it("exits 2 for usage and reference errors", async () => {
    expect((await palisade(["fix", "front/web", "shop/api:8080"])).code).toBe(2);
    const r = await palisade(["fix", "front/nothing", "shop/api:8080", "-f", inputDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("front/nothing");
    expect((await palisade(["fix", "front/web", "shop/api:8080", "-f", inputDir(), "-o", "xml"])).code).toBe(2);
  });
});
