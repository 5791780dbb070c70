/**
 * Where input comes from: stdin (`-`), directories (recursive), several `-f`, JSON and
 * YAML side by side — through `loadInputs` and end to end through `palisade`.
 */
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildScenario } from "../../src/analysis/scenario.js";
import { loadInputs, loadText } from "../../src/load/index.js";
import { messages, palisade, STACK_TRACE, summary, tempDir } from "./helpers.js";

const tmp = tempDir();

const POD = (name: string, ns: string, labels = `{app: ${name}}`) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: ${labels}
spec:
  containers: [{name: c, image: i, ports: [{containerPort: 80}]}]
`;

describe("stdin", () => {
  it("`-f -` reads standard input, named <stdin> in messages", async () => {
    const text = `${POD("web", "shop")}---\napiVersion: v1\nkind: Mystery\nmetadata: {name: m}\n`;
    const r = await palisade(["matrix", "-f", "-", "-o", "json"], text);
    expect(r.stderr).toBe("<stdin>:11: warning: kind: unknown kind Mystery (apiVersion v1): ignored\n");
    expect(JSON.parse(r.stdout).workloads).toEqual(["shop/web"]);
    expect(r.code).toBe(0);
  });

  it("stdin combines with files", async () => {
    const file = tmp.write("api.yaml", POD("api", "shop"));
    const r = await palisade(["reach", "shop/web", "shop/api:80", "-f", "-", "-f", file], POD("web", "shop"));
    expect(r.stdout).toMatch(/^ALLOWED/);
    expect(r.code).toBe(0);
  });

  it("empty stdin is no objects, not an error", async () => {
    const r = await loadInputs(["-"], { readStdin: async () => "" });
    expect(r).toEqual({ manifests: [], diagnostics: [] });
  });
});

describe("directories", () => {
  const root = join(tmp.dir, "tree");
  tmp.write("tree/00-namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n");
  tmp.write("tree/apps/web.yml", POD("web", "shop"));
  tmp.write("tree/apps/deeper/still/api.json", JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "api", namespace: "shop" } }, null, 2));
  tmp.write("tree/apps/UPPER.YAML", POD("upper", "shop"));
  tmp.write("tree/README.md", "# not read\nkind: Pod\n");
  tmp.write("tree/notes.txt", "kind: Pod\n");
  tmp.write("tree/kustomization.yaml.bak", "kind: Pod\n");
  tmp.write("tree/.git/config.yaml", POD("hidden", "shop"));
  tmp.write("tree/node_modules/pkg/x.yaml", POD("dependency", "shop"));

  it("are read recursively for *.yaml, *.yml and *.json only, in a stable order", async () => {
    const r = await loadInputs([root]);
    expect(messages(r)).toEqual([]);
    expect(summary(r).map((s) => s.replace(/ @\d+$/, ""))).toEqual(["Namespace -/shop", "Pod shop/upper", "Pod shop/api", "Pod shop/web"]);
    expect(r.manifests.map((m) => m.source.file.slice(root.length + 1))).toEqual([
      "00-namespace.yaml",
      "apps/UPPER.YAML",
      "apps/deeper/still/api.json",
      "apps/web.yml",
    ]);
  });

  it("a symbolic link back up the tree is read once, not forever", async () => {
    const loop = join(tmp.dir, "loop");
    tmp.write("loop/a.yaml", POD("a", "x"));
    symlinkSync(loop, join(loop, "again"));
    const r = await loadInputs([loop]);
    expect(messages(r)).toEqual([]);
    expect(r.manifests.map((m) => m.name)).toEqual(["a"]);
  });

  it("end to end: `-f DIR` analyses the whole tree", async () => {
    const r = await palisade(["matrix", "-f", root, "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).workloads).toEqual(["shop/api", "shop/upper", "shop/web"]);
    expect(r.code).toBe(0);
  });
});

describe("kubectl exports", () => {
  // `kubectl get ns,pods -A -o json` from the API: typed lists with kind-less items,
  // a static pod owned by its Node, and pods of a ReplicaSet whose Deployment is not exported.
  const podList = {
    apiVersion: "v1",
    kind: "PodList",
    items: [
      {
        metadata: {
          name: "etcd-minikube",
          namespace: "kube-system",
          labels: { component: "etcd", tier: "control-plane" },
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "minikube", controller: true }],
        },
        spec: { containers: [{ name: "etcd", ports: [{ containerPort: 2379 }] }] },
      },
      {
        metadata: {
          name: "kube-apiserver-minikube",
          namespace: "kube-system",
          labels: { component: "kube-apiserver", tier: "control-plane" },
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "minikube", controller: true }],
        },
        spec: { containers: [{ name: "apiserver", ports: [{ containerPort: 8443 }] }] },
      },
      {
        metadata: {
          name: "coredns-5d78c9869d-x2x7v",
          namespace: "kube-system",
          labels: { "k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d" },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "coredns-5d78c9869d", controller: true }],
        },
        spec: { containers: [{ name: "coredns", ports: [{ containerPort: 53, protocol: "UDP" }] }] },
      },
      {
        metadata: {
          name: "operator-managed",
          namespace: "kube-system",
          labels: { app: "managed" },
          ownerReferences: [{ apiVersion: "example.com/v1", kind: "Widget", name: "w", controller: true }],
        },
        spec: { containers: [{ name: "m" }] },
      },
    ],
  };
  const nsList = { apiVersion: "v1", kind: "NamespaceList", items: [{ metadata: { name: "kube-system", labels: { team: "platform" } } }] };

  it("typed lists load; a pod owned by a Node or a custom resource stays a bare Pod with its own name", async () => {
    const pods = tmp.write("export/pods.json", JSON.stringify(podList, null, 2));
    tmp.write("export/ns.json", JSON.stringify(nsList, null, 2));
    const load = await loadInputs([join(tmp.dir, "export")]);
    expect(messages(load)).toEqual([]);
    const scenario = buildScenario(load);
    expect(scenario.diagnostics.map((d) => d.format())).toEqual([]);
    expect(scenario.cluster.workloads.map((w) => `${w.kind} ${w.id}`)).toEqual([
      "Deployment kube-system/coredns",
      "Pod kube-system/etcd-minikube",
      "Pod kube-system/kube-apiserver-minikube",
      "Pod kube-system/operator-managed",
    ]);
    const etcd = scenario.cluster.workloads.find((w) => w.name === "etcd-minikube")!;
    expect(etcd.labels).toEqual({ component: "etcd", tier: "control-plane" });
    expect(etcd.source.file).toBe(pods);
    expect(scenario.cluster.namespaces.get("kube-system")?.labels).toEqual({ team: "platform", "kubernetes.io/metadata.name": "kube-system" });

    const r = await palisade(["reach", "kube-system/etcd-minikube", "kube-system/kube-apiserver-minikube:8443", "-f", join(tmp.dir, "export")]);
    expect(r.stdout).toMatch(/^ALLOWED/);
    expect(r.code).toBe(0);
  });

  it("a typed list in YAML gives each pod the line of its item", () => {
    const text = `apiVersion: v1
kind: PodList
items:
- metadata:
    name: a
    namespace: x
- metadata:
    name: b
    namespace: x
`;
    expect(summary(loadText(text, "pods.yaml"))).toEqual(["Pod x/a @4", "Pod x/b @7"]);
  });

  it("never prints a stack trace, even for a file that is a JSON array of strings", async () => {
    const r = await palisade(["analyze", "-f", tmp.write("weird.json", '["a", "b"]')]);
    expect(r.stderr.split(tmp.dir).join("TMP")).toBe("TMP/weird.json:1: error: expected a Kubernetes object (a mapping with apiVersion and kind)\n");
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(2);
  });
});
