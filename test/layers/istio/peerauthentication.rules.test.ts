/**
 * Istio PeerAuthentication, item by item: semantics.md §4.7 (modes, precedence,
 * portLevelMtls, STRICT vs plaintext; I21, I22) and §5.6 (ambient), plus the
 * scanner's validation with located diagnostics and the "oldest wins" tie-break.
 */
import { describe, expect, it } from "vitest";
import { loadText } from "../../../src/load/index.js";
import type { InputDiagnostic } from "../../../src/load/types.js";
import {
  evaluatePeerAuthentication,
  scanPeerAuthentications,
  type PeerAuthentication,
  type PeerAuthnDecision,
} from "../../../src/layers/istio/peerauthentication.js";
import { lineOf } from "../../helpers/cluster.js";

const FILE = "pa.yaml";

function scan(text: string, rootNamespace?: string): { policies: PeerAuthentication[]; diagnostics: InputDiagnostic[] } {
  const load = loadText(text, FILE);
  expect(load.diagnostics.map((d) => d.format())).toEqual([]);
  const diagnostics: InputDiagnostic[] = [];
  return { policies: scanPeerAuthentications(load.manifests, diagnostics, rootNamespace ? { rootNamespace } : {}), diagnostics };
}

function policies(text: string): PeerAuthentication[] {
  const { policies: ps, diagnostics } = scan(text);
  expect(diagnostics.filter((d) => d.severity === "error").map((d) => d.format())).toEqual([]);
  return ps;
}

function pa(name: string, namespace: string, spec: string, extraMeta = ""): string {
  return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: ${namespace}${extraMeta}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

const docs = (...d: string[]) => d.join("---\n");

type Destination = { namespace: string; labels: Record<string, string> };
const WEB: Destination = { namespace: "prod", labels: { app: "web" } };

function decide(text: string, opts: { port?: number; mtls?: boolean; dest?: Destination; ambient?: boolean; root?: string } = {}): PeerAuthnDecision {
  return evaluatePeerAuthentication(
    policies(text),
    opts.dest ?? WEB,
    opts.port ?? 8080,
    opts.mtls ?? false,
    opts.root ?? "istio-system",
    opts.ambient ? { dataplane: "ambient" } : {},
  );
}

/** `verdict mode` for a plaintext client, for short assertions. */
function plain(text: string, opts: Parameters<typeof decide>[1] = {}): string {
  const d = decide(text, { ...opts, mtls: false });
  return `${d.verdict} ${d.mode}`;
}

const MESH_STRICT = pa("default", "istio-system", "mtls: {mode: STRICT}");
const MESH_PERMISSIVE = pa("default", "istio-system", "mtls: {mode: PERMISSIVE}");
const NS_STRICT = pa("default", "prod", "mtls: {mode: STRICT}");
const NS_PERMISSIVE = pa("default", "prod", "mtls: {mode: PERMISSIVE}");
const NS_UNSET = pa("default", "prod", "mtls: {mode: UNSET}");

describe("modes and precedence (§4.7 r21)", () => {
  it("no PeerAuthentication: PERMISSIVE — plaintext and mTLS are both accepted", () => {
    const d = evaluatePeerAuthentication([], WEB, 8080, false);
    expect(d).toMatchObject({ verdict: "allow", mode: "PERMISSIVE", isolated: false, connectionMtls: false, policies: [] });
    expect(evaluatePeerAuthentication([], WEB, 8080, true).connectionMtls).toBe(true);
  });

  it("I21 (r22): STRICT rejects plaintext before any AuthorizationPolicy, with a reset; accepts mTLS", () => {
    const d = decide(NS_STRICT);
    expect(d.verdict).toBe("deny");
    expect(d.observed).toBe("reset");
    expect(d.policies).toEqual([{ kind: "PeerAuthentication", namespace: "prod", name: "default", rule: null, file: FILE, line: lineOf(NS_STRICT, "mode: STRICT") }]);
    expect(d.reason).toMatch(/requires mutual TLS \(STRICT, from prod\/default\)/);
    expect(decide(NS_STRICT, { mtls: true })).toMatchObject({ verdict: "allow", connectionMtls: true, observed: null });
  });

  it("namespace beats mesh (root namespace), workload beats namespace", () => {
    expect(plain(docs(MESH_STRICT, NS_PERMISSIVE))).toBe("allow PERMISSIVE");
    expect(plain(docs(MESH_PERMISSIVE, NS_STRICT))).toBe("deny STRICT");
    const wl = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: PERMISSIVE}");
    expect(plain(docs(MESH_STRICT, NS_STRICT, wl))).toBe("allow PERMISSIVE");
    expect(plain(docs(MESH_STRICT, NS_STRICT, wl), { dest: { namespace: "prod", labels: { app: "db" } } })).toBe("deny STRICT");
  });

  it("the mesh policy applies in every namespace; a namespace policy only in its own", () => {
    expect(plain(MESH_STRICT, { dest: { namespace: "staging", labels: {} } })).toBe("deny STRICT");
    expect(plain(NS_STRICT, { dest: { namespace: "staging", labels: {} } })).toBe("allow PERMISSIVE");
  });

  it("UNSET inherits from the parent; with nothing to inherit it is PERMISSIVE", () => {
    expect(plain(docs(MESH_STRICT, NS_UNSET))).toBe("deny STRICT");
    expect(plain(NS_UNSET)).toBe("allow PERMISSIVE");
    const wlUnset = pa("web", "prod", "selector:\n  matchLabels: {app: web}");
    expect(plain(docs(NS_STRICT, wlUnset))).toBe("deny STRICT");
    expect(plain(pa("mesh-unset", "istio-system", "{}"))).toBe("allow PERMISSIVE");
  });

  it("DISABLE accepts plaintext; an mTLS client's sidecar is assumed to fall back to plaintext", () => {
    const d = decide(pa("off", "prod", "mtls: {mode: DISABLE}"), { mtls: true });
    expect(d).toMatchObject({ verdict: "allow", mode: "DISABLE", connectionMtls: false });
    expect(d.assumptions[0]).toMatch(/automatic mTLS/);
  });

  it("I22: a selector policy in the root namespace is ignored (and the scanner warns)", () => {
    const text = pa("web", "istio-system", "selector:\n  matchLabels: {app: web}\nmtls: {mode: STRICT}");
    const { policies: ps, diagnostics } = scan(text);
    expect(plain(text)).toBe("allow PERMISSIVE");
    expect(ps).toHaveLength(1);
    expect(diagnostics.map((d) => d.format())).toEqual([
      `${FILE}:${lineOf(text, "selector:")}: warning: spec.selector: a PeerAuthentication with a selector in the root namespace istio-system is ignored (semantics.md §4.7 r21)`,
    ]);
  });

  it("the root namespace is a parameter", () => {
    const text = pa("default", "mesh-root", "mtls: {mode: STRICT}");
    expect(plain(text)).toBe("allow PERMISSIVE");
    expect(plain(text, { root: "mesh-root" })).toBe("deny STRICT");
  });

  it("an empty selector is namespace-wide", () => {
    expect(plain(pa("all", "prod", "selector: {}\nmtls: {mode: STRICT}"))).toBe("deny STRICT");
  });
});

describe("portLevelMtls (§4.7 r21)", () => {
  const WL = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: STRICT}\nportLevelMtls:\n  8080: {mode: PERMISSIVE}\n  9000: {mode: UNSET}");

  it("a port-level mode overrides the workload's for that container port only", () => {
    expect(plain(WL, { port: 8080 })).toBe("allow PERMISSIVE");
    expect(plain(WL, { port: 9090 })).toBe("deny STRICT");
    const d = decide(WL, { port: 8080 });
    expect(d.policies).toEqual([{ kind: "PeerAuthentication", namespace: "prod", name: "web", rule: null, file: FILE, line: lineOf(WL, "8080:") }]);
    expect(d.reason).toMatch(/portLevelMtls 8080/);
  });

  it("an UNSET port inherits the workload's effective mode", () => {
    expect(plain(WL, { port: 9000 })).toBe("deny STRICT");
    const inherit = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nportLevelMtls:\n  9000: {mode: UNSET}\n  8080: {mode: STRICT}");
    expect(plain(docs(NS_PERMISSIVE, inherit), { port: 9000 })).toBe("allow PERMISSIVE");
    expect(plain(docs(NS_PERMISSIVE, inherit), { port: 8080 })).toBe("deny STRICT");
  });

  it("the port is the workload port, not the Service port (I14 for PeerAuthentication)", () => {
    const text = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: STRICT}\nportLevelMtls:\n  80: {mode: DISABLE}");
    expect(plain(text, { port: 8080 })).toBe("deny STRICT");
  });
});

describe("oldest wins among equals", () => {
  it("by creationTimestamp, then by name; the newer namespace-wide policy gets a warning", () => {
    const older = pa("zz-old", "prod", "mtls: {mode: STRICT}", "\n  creationTimestamp: 2024-01-01T00:00:00Z");
    const newer = pa("aa-new", "prod", "mtls: {mode: PERMISSIVE}", "\n  creationTimestamp: '2025-01-01T00:00:00Z'");
    const text = docs(newer, older);
    const { diagnostics } = scan(text);
    expect(diagnostics.map((d) => `${d.severity} ${d.location.line} ${d.message}`)).toEqual([
      `warning ${lineOf(text, "name: aa-new")} ignored: namespace prod already has the namespace-wide PeerAuthentication zz-old, and the oldest one wins (oldest by metadata.creationTimestamp; a policy without one counts as newer than any with one; equal ages by name, then namespace)`,
    ]);
    const d = decide(text);
    expect(d.verdict).toBe("deny");
    expect(d.notes).toEqual([
      "2 namespace-wide PeerAuthentications apply; prod/zz-old is used (oldest by metadata.creationTimestamp; a policy without one counts as newer than any with one; equal ages by name, then namespace)",
    ]);
    // Without timestamps the name decides; a timestamp makes a policy older than one without.
    expect(plain(docs(pa("b", "prod", "mtls: {mode: STRICT}"), pa("a", "prod", "mtls: {mode: PERMISSIVE}")))).toBe("allow PERMISSIVE");
    expect(plain(docs(pa("b", "prod", "mtls: {mode: STRICT}", "\n  creationTimestamp: 2030-01-01T00:00:00Z"), pa("a", "prod", "mtls: {mode: PERMISSIVE}")))).toBe("deny STRICT");
  });

  it("two workload policies selecting one workload: the oldest is used", () => {
    const a = pa("a", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: DISABLE}");
    const b = pa("b", "prod", "selector:\n  matchLabels: {app: web, tier: front}\nmtls: {mode: STRICT}", "\n  creationTimestamp: 2020-01-01T00:00:00Z");
    expect(plain(docs(a, b), { dest: { namespace: "prod", labels: { app: "web", tier: "front" } } })).toBe("deny STRICT");
    expect(plain(docs(a, b))).toBe("allow DISABLE");
  });
});

describe("ambient (§5.6 r19)", () => {
  it("STRICT makes ztunnel reject plaintext; HBONE (mTLS) passes", () => {
    expect(decide(NS_STRICT, { ambient: true })).toMatchObject({ verdict: "deny", observed: "reset", mode: "STRICT" });
    expect(decide(NS_STRICT, { ambient: true, mtls: true })).toMatchObject({ verdict: "allow", connectionMtls: true });
  });

  it("M9: DISABLE is ignored — plaintext accepted as under PERMISSIVE, HBONE stays mutual TLS", () => {
    const text = pa("off", "prod", "mtls: {mode: DISABLE}");
    const d = decide(text, { ambient: true, mtls: true });
    expect(d).toMatchObject({ verdict: "allow", mode: "PERMISSIVE", connectionMtls: true });
    expect(d.notes.join("\n")).toMatch(/ztunnel does not support DISABLE/);
    expect(decide(text, { ambient: true }).verdict).toBe("allow");
  });

  it("port-level exceptions of a STRICT workload policy, and STRICT ports of a PERMISSIVE one", () => {
    const strict = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: STRICT}\nportLevelMtls:\n  8080: {mode: DISABLE}");
    expect(plain(strict, { ambient: true, port: 8080 })).toBe("allow PERMISSIVE");
    expect(plain(strict, { ambient: true, port: 9090 })).toBe("deny STRICT");
    const permissive = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: PERMISSIVE}\nportLevelMtls:\n  8080: {mode: STRICT}");
    expect(plain(docs(NS_PERMISSIVE, permissive), { ambient: true, port: 8080 })).toBe("deny STRICT");
    expect(plain(docs(NS_PERMISSIVE, permissive), { ambient: true, port: 9090 })).toBe("allow PERMISSIVE");
  });

  it("istiod case 1: a STRICT port of a PERMISSIVE workload policy is not enforced when only the mesh is STRICT", () => {
    const permissive = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls: {mode: PERMISSIVE}\nportLevelMtls:\n  8080: {mode: STRICT}");
    expect(plain(docs(MESH_STRICT, permissive), { port: 8080 })).toBe("deny STRICT");
    const d = decide(docs(MESH_STRICT, permissive), { ambient: true, port: 8080 });
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/although the PeerAuthentication inheritance rules give STRICT: .*\(case 1\)/);
  });

  it("istiod case 2: a PERMISSIVE port under an UNSET namespace policy and a STRICT mesh lifts STRICT on every port", () => {
    const wl = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nportLevelMtls:\n  8080: {mode: PERMISSIVE}");
    const text = docs(MESH_STRICT, NS_UNSET, wl);
    expect(plain(text, { port: 9090 })).toBe("deny STRICT");
    const d = decide(text, { ambient: true, port: 9090 });
    expect(d.verdict).toBe("allow");
    expect(d.notes.join("\n")).toMatch(/\(case 2\)/);
    // With the namespace STRICT instead, the exception is exactly port 8080.
    expect(plain(docs(MESH_STRICT, NS_STRICT, wl), { ambient: true, port: 9090 })).toBe("deny STRICT");
    expect(plain(docs(MESH_STRICT, NS_STRICT, wl), { ambient: true, port: 8080 })).toBe("allow PERMISSIVE");
  });

  it("istiod case 3: an UNSET workload policy with only a DISABLE port stays STRICT on that port", () => {
    const wl = pa("web", "prod", "selector:\n  matchLabels: {app: web}\nportLevelMtls:\n  8080: {mode: DISABLE}");
    expect(plain(docs(NS_STRICT, wl), { port: 8080 })).toBe("allow DISABLE");
    const d = decide(docs(NS_STRICT, wl), { ambient: true, port: 8080 });
    expect(d.verdict).toBe("deny");
    expect(d.notes.join("\n")).toMatch(/\(case 3\)/);
  });
});

describe("validation (istiod ValidatePeerAuthentication, CRD rules)", () => {
  const cases: { name: string; spec: string; field: string; needle: string; message: RegExp }[] = [
    { name: "portLevelMtls without selector", spec: "mtls: {mode: STRICT}\nportLevelMtls:\n  8080: {mode: DISABLE}", field: "spec.portLevelMtls", needle: "portLevelMtls:", message: /portLevelMtls requires a selector/ },
    { name: "empty portLevelMtls", spec: "selector:\n  matchLabels: {app: web}\nportLevelMtls: {}", field: "spec.portLevelMtls", needle: "portLevelMtls:", message: /at least one element/ },
    { name: "port 0", spec: "selector:\n  matchLabels: {app: web}\nportLevelMtls:\n  0: {mode: DISABLE}", field: "spec.portLevelMtls[0]", needle: "0: {mode", message: /port must be between 1-65535/ },
    { name: "named port", spec: "selector:\n  matchLabels: {app: web}\nportLevelMtls:\n  http: {mode: DISABLE}", field: "spec.portLevelMtls.http", needle: "http:", message: /not a name/ },
    { name: "unknown mode", spec: "mtls: {mode: OPTIONAL}", field: "spec.mtls.mode", needle: "OPTIONAL", message: /unknown mTLS mode the string "OPTIONAL"/ },
    { name: "unknown field", spec: "mode: STRICT", field: "spec.mode", needle: "mode: STRICT", message: /unknown field "mode"/ },
    { name: "wildcard selector", spec: "selector:\n  matchLabels: {app: '*'}", field: "spec.selector.matchLabels.app", needle: "matchLabels", message: /wildcard/ },
  ];
  for (const c of cases) {
    it(`${c.name}: rejected at ${c.field}, the policy left out`, () => {
      const text = docs(pa("bad", "prod", c.spec), NS_PERMISSIVE);
      const { policies: ps, diagnostics } = scan(text);
      const errs = diagnostics.filter((d) => d.severity === "error");
      expect(errs.map((d) => d.format())).toHaveLength(1);
      expect(errs[0]!.location).toEqual({ file: FILE, line: lineOf(text, c.needle), field: c.field });
      expect(errs[0]!.message).toMatch(c.message);
      expect(ps.map((p) => p.name)).toEqual(["default"]);
    });
  }

  it("reads mode, ports with their lines, and a missing spec as UNSET", () => {
    const text = docs(pa("web", "prod", "selector:\n  matchLabels: {app: web}\nmtls:\n  mode: STRICT\nportLevelMtls:\n  8080:\n    mode: PERMISSIVE"), "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: bare, namespace: prod}\n");
    const [web, bare] = policies(text);
    expect(web!.mode).toBe("STRICT");
    expect(web!.modeLine).toBe(lineOf(text, "mode: STRICT"));
    expect([...web!.portLevelMtls]).toEqual([[8080, { mode: "PERMISSIVE", line: lineOf(text, "8080:") }]]);
    expect(bare!).toMatchObject({ mode: "UNSET", selector: undefined });
  });
});
