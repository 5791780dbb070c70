import { execFile } from "node:child_process";
import { loadText } from "./index.js";
import { InputDiagnostic, type LoadResult, type Manifest } from "./types.js";

/** The kinds read from a live cluster; optional ones are CRDs that may not be installed. */
const CORE_RESOURCES = [
  "namespaces",
  "pods",
  "deployments",
  "statefulsets",
  "daemonsets",
  "replicasets",
  "replicationcontrollers",
  "jobs",
  "cronjobs",
  "services",
  "networkpolicies",
];
const OPTIONAL_RESOURCES = [
  "ciliumnetworkpolicies.cilium.io",
  "ciliumclusterwidenetworkpolicies.cilium.io",
  "authorizationpolicies.security.istio.io",
  "peerauthentications.security.istio.io",
  "sidecars.networking.istio.io",
  "serviceentries.networking.istio.io",
  "gateways.gateway.networking.k8s.io",
  "adminnetworkpolicies.policy.networking.k8s.io",
  "baselineadminnetworkpolicies.policy.networking.k8s.io",
];

export interface ClusterSnapshot {
  /** JSON texts of `kubectl get ... -o json` (each a List), with a display name. */
  documents: { name: string; text: string }[];
  /** Problems with optional resources (warnings); the snapshot is still usable. */
  diagnostics: InputDiagnostic[];
  /**
   * Why the cluster could not be read at all (kubectl missing, unknown context, API
   * unreachable, …): one line for people. When set, `documents` is empty.
   */
  error?: string;
}

/** The kubectl binary: `PALISADE_KUBECTL` when set (tests use a fake), else `kubectl` on the PATH. */
export function kubectlBinary(): string {
  return process.env.PALISADE_KUBECTL || "kubectl";
}

interface KubectlResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** The binary could not be started at all. */
  notFound: boolean;
  exitCode: number | undefined;
}

function kubectl(args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(kubectlBinary(), args, { maxBuffer: 512 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      const code = (err as (NodeJS.ErrnoException & { code?: unknown }) | null)?.code;
      resolve({
        ok: !err,
        stdout,
        stderr: stderr || (err ? err.message : ""),
        notFound: code === "ENOENT" || code === "EACCES",
        exitCode: typeof code === "number" ? code : undefined,
      });
    });
  });
}

/** A klog line (`E0101 12:00:00.000000   123 file.go:265] message`), which kubectl prints before its own error. */
const KLOG = /^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]]+\] /;

/**
 * kubectl's one meaningful stderr line: its own message (`error: context "prod" does not
 * exist`, `The connection to the server … was refused`) rather than the client-go log lines
 * that may precede it.
 */
function firstLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const own = lines.find((l) => !KLOG.test(l));
  if (own !== undefined) return own;
  const last = lines[lines.length - 1];
  return last !== undefined ? last.replace(KLOG, "") : "no message";
}

/** What `kubectl get` says when a resource type (a CRD) is not installed. */
const NOT_INSTALLED = /doesn't have a resource type|the server could not find the requested resource|no matches for kind/i;

/**
 * Reads the objects Palisade needs from a live cluster through kubectl, which
 * brings the user's kubeconfig, auth plugins and contexts for free. Never throws.
 */
export async function readCluster(context: string | undefined): Promise<ClusterSnapshot> {
  const ctx = context ? ["--context", context] : [];
  const name = clusterSourceName(context);
  const diagnostics: InputDiagnostic[] = [];
  const documents: ClusterSnapshot["documents"] = [];
  const core = await kubectl([...ctx, "get", CORE_RESOURCES.join(","), "--all-namespaces", "-o", "json"]);
  if (!core.ok) {
    const bin = kubectlBinary();
    const error = core.notFound
      ? `cannot run ${bin}: not found or not executable (install kubectl, or set PALISADE_KUBECTL to its path)`
      : `kubectl get${context ? ` --context ${context}` : ""} failed${core.exitCode !== undefined ? ` (exit code ${core.exitCode})` : ""}: ${firstLine(core.stderr)}`;
    return { documents, diagnostics, error };
  }
  documents.push({ name, text: core.stdout });
  for (const resource of OPTIONAL_RESOURCES) {
    const r = await kubectl([...ctx, "get", resource, "--all-namespaces", "-o", "json"]);
    if (r.ok) {
      documents.push({ name: `${name}/${resource.split(".")[0]}`, text: r.stdout });
    } else if (!NOT_INSTALLED.test(r.stderr)) {
      // A CRD that is not installed is normal: that layer simply has no objects. Anything
      // else (no permission, say) means objects may be missing from the analysis.
      diagnostics.push(
        new InputDiagnostic("warning", `cannot list ${resource}: ${firstLine(r.stderr)}; analysed without them`, { file: name, line: 1 }),
      );
    }
  }
  return { documents, diagnostics };
}

/** The name diagnostics give to objects read from the cluster: `cluster` or `cluster:CONTEXT`. */
export function clusterSourceName(context: string | undefined): string {
  return `cluster${context ? `:${context}` : ""}`;
}

/** A live cluster read as input: `readCluster`, then every document through the loader. */
export async function loadCluster(context: string | undefined): Promise<LoadResult & { error?: string }> {
  const snapshot = await readCluster(context);
  const manifests: Manifest[] = [];
  const diagnostics: InputDiagnostic[] = [...snapshot.diagnostics];
  for (const doc of snapshot.documents) {
    const r = loadText(doc.text, doc.name);
    manifests.push(...r.manifests);
    diagnostics.push(...r.diagnostics);
  }
  return { manifests, diagnostics, ...(snapshot.error !== undefined ? { error: snapshot.error } : {}) };
}
