/**
 * Why a scenario has the number of equivalence classes it has: the parts of the
 * NetworkPolicy layer's fingerprint, how many distinct values each takes, and
 * how many classes there would be if identical peers (same selectors, same
 * namespace scope) shared one id.
 *
 *   tsx bench/classes.ts [--only S,L]
 *
 * Reads the fingerprint string of NetworkPolicyLayer
 * (`ingress|egress|memberOf|namedPorts|host|ips`); a diagnostic, not an API.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { ConnectivityMatrix } from "../src/analysis/matrix.js";
import { buildScenario } from "../src/analysis/scenario.js";
import { NetworkPolicyLayer } from "../src/layers/networkpolicy/index.js";
import type { NetworkPolicyPeer } from "../src/layers/networkpolicy/index.js";
import { loadText } from "../src/load/index.js";
import { findScenario, inputFile, ROOT, SCENARIOS } from "./scenarios.js";

function peerContent(peer: NetworkPolicyPeer, policyNamespace: string): string {
  if (peer.type === "ipBlock") return `ip:${peer.cidr}-${peer.except.join(",")}`;
  const ns = peer.namespaceSelector ? `nsSel:${peer.namespaceSelector.toString()}` : `ns:${policyNamespace}`;
  return `${ns}/pods:${peer.podSelector ? peer.podSelector.toString() : "*"}`;
}

async function explain(name: string): Promise<void> {
  const def = findScenario(name);
  const file = inputFile(def);
  const scenario = buildScenario(await loadText(readFileSync(file, "utf8"), relative(ROOT, file)));
  const matrix = new ConnectivityMatrix(scenario, { external: false });
  const layer = scenario.layers.find((l): l is NetworkPolicyLayer => l instanceof NetworkPolicyLayer);
  if (!layer) throw new Error("no NetworkPolicy layer");
  const ws = scenario.cluster.workloads;

  // Peer ids in the order the layer assigns them, and their content ids.
  const contentId = new Map<string, number>();
  const peerToContent: number[] = [];
  const egressPeer: boolean[] = [];
  for (const p of layer.policies) {
    for (const rule of [...p.ingress, ...p.egress]) {
      const isEgress = p.egress.includes(rule);
      for (const peer of rule.peers ?? []) {
        egressPeer.push(isEgress);
        const c = peerContent(peer, p.namespace);
        let id = contentId.get(c);
        if (id === undefined) {
          id = contentId.size;
          contentId.set(c, id);
        }
        peerToContent.push(id);
      }
    }
  }

  const distinct = Array.from({ length: 6 }, () => new Set<string>());
  const selection = new Set<string>();
  const dedupedClasses = new Set<string>();
  const classesPerNs = new Map<string, Set<string>>();
  const withoutIps = new Set<string>();
  // What each direction's half of a pair depends on (see the report in docs/benchmarks.md).
  const egressProfiles = new Set<string>();
  const ingressProfiles = new Set<string>();
  const dstEgressSigs = new Set<string>();
  const srcIngressSigs = new Set<string>();
  let memberships = 0;
  for (const w of ws) {
    const fp = layer.fingerprint(w);
    const parts = fp.split("|");
    parts.forEach((p, i) => distinct[i]?.add(p));
    selection.add(`${parts[0]}|${parts[1]}`);
    const members = parts[2] ? parts[2].split(",").map(Number) : [];
    memberships += members.length;
    const deduped = [...new Set(members.map((m) => peerToContent[m]!))].sort((a, b) => a - b).join(",");
    dedupedClasses.add([parts[0], parts[1], deduped, ...parts.slice(3)].join("|"));
    withoutIps.add(parts.slice(0, 5).join("|"));
    const [ingressSel = "", egressSel = "", , named = "", host = ""] = parts;
    if (egressSel && !host) egressProfiles.add(egressSel);
    if (ingressSel && !host) ingressProfiles.add(`${ingressSel}|${named}`);
    dstEgressSigs.add(`${members.filter((m) => egressPeer[m]).join(",")}|${named}|${host}`);
    srcIngressSigs.add(`${members.filter((m) => !egressPeer[m]).join(",")}|${host}`);
    const set = classesPerNs.get(w.namespace) ?? new Set<string>();
    set.add(fp);
    classesPerNs.set(w.namespace, set);
  }
  const perNs = [...classesPerNs.values()].map((s) => s.size);
  const lines = [
    `${def.name}: ${ws.length} workloads in ${scenario.cluster.namespaces.size} namespaces, ${layer.policyCount} policies, ${peerToContent.length} peers (${contentId.size} distinct by content)`,
    `  classes: ${matrix.classCount} (${(matrix.classCount / Math.max(1, ws.length)).toFixed(2)} per workload; per namespace: mean ${(perNs.reduce((a, b) => a + b, 0) / Math.max(1, perNs.length)).toFixed(1)}, max ${Math.max(...perNs)})`,
    `  class pairs computed by computeAll(): ${(matrix.classCount ** 2).toLocaleString("en-US")}`,
    `  distinct fingerprint parts: ingress selection ${distinct[0]!.size}, egress selection ${distinct[1]!.size}, (ingress, egress) ${selection.size}, ` +
      `peer membership ${distinct[2]!.size}, named ports ${distinct[3]!.size}, host ${distinct[4]!.size}, ips ${distinct[5]!.size}`,
    `  peer memberships (workload, peer id): ${memberships.toLocaleString("en-US")}`,
    `  classes if identical peers shared one id: ${dedupedClasses.size}`,
    `  classes without the pod IPs part (ipBlock membership is already in the peer membership): ${withoutIps.size}`,
    `  per-direction halves: ${egressProfiles.size} isolating egress profiles x ${dstEgressSigs.size} destination signatures` +
      ` + ${ingressProfiles.size} isolating ingress profiles x ${srcIngressSigs.size} source signatures` +
      ` = ${(egressProfiles.size * dstEgressSigs.size + ingressProfiles.size * srcIngressSigs.size).toLocaleString("en-US")} allowedConns calls` +
      ` (computeAll makes up to ${(2 * matrix.classCount ** 2).toLocaleString("en-US")})`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

const only = process.argv.indexOf("--only");
const names = only >= 0 ? (process.argv[only + 1] ?? "").split(",").filter(Boolean) : SCENARIOS.filter((s) => s.default).map((s) => s.name);
for (const n of names) await explain(n);
