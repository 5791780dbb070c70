import { execFile } from "node:child_process";
import { InputDiagnostic } from "./types.js";

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
  diagnostics: InputDiagnostic[];
}

function kubectl(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.env.PALISADE_KUBECTL ?? "kubectl", args, { maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout, stderr: stderr || (err ? err.message : "") });
    });
  });
}

/**
 * Reads the objects Palisade needs from a live cluster through kubectl, which
 * brings the user's kubeconfig, auth plugins and contexts for free.
 */
export async function readCluster(context: string | undefined): Promise<ClusterSnapshot> {
  const ctx = context ? ["--context", context] : [];
  const name = `cluster${context ? `:${context}` : ""}`;
  const diagnostics: InputDiagnostic[] = [];
  const documents: ClusterSnapshot["documents"] = [];
  const core = await kubectl([...ctx, "get", CORE_RESOURCES.join(","), "--all-namespaces", "-o", "json"]);
  if (!core.ok) {
    diagnostics.push(new InputDiagnostic("error", `kubectl failed: ${core.stderr.trim().split("\n")[0]}`, { file: name, line: 1 }));
    return { documents, diagnostics };
  }
  documents.push({ name, text: core.stdout });
  for (const resource of OPTIONAL_RESOURCES) {
    const r = await kubectl([...ctx, "get", resource, "--all-namespaces", "-o", "json"]);
    // A CRD that is not installed is normal: that layer simply has no objects.
    if (r.ok) documents.push({ name: `${name}/${resource.split(".")[0]}`, text: r.stdout });
  }
  return { documents, diagnostics };
}
