/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and lists the hottest functions by
 * self time, with their inclusive time.
 *
 *   tsx bench/profile.ts bench-out/profiles/L-….cpuprofile [top=30]
 *
 * Positions are mapped back to TypeScript lines through the `sourcemaps.json`
 * file that `run.ts --profile` writes next to each profile.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { findSourceMap, SourceMap, type SourceMapPayload } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface Row {
  name: string;
  selfUs: number;
  totalUs: number;
}

/**
 * tsx compiles TypeScript with minified whitespace, so profile positions are
 * columns on line 1 of the generated code. A process started with
 * `--enable-source-maps` keeps each module's source map; `saveSourceMaps` writes
 * them next to the profile and `profileRows` maps positions back to source lines.
 */
export function saveSourceMaps(file: string, dirs: readonly string[]): void {
  const out: Record<string, SourceMapPayload> = {};
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts")) {
        const sm = findSourceMap(p);
        if (sm) out[pathToFileURL(p).href] = sm.payload;
      }
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  writeFileSync(file, JSON.stringify(out));
}

type SourceMaps = Map<string, SourceMap>;

function loadSourceMaps(file: string | undefined): SourceMaps {
  const maps: SourceMaps = new Map();
  if (!file || !existsSync(file)) return maps;
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, SourceMapPayload>;
  for (const [url, payload] of Object.entries(raw)) maps.set(url, new SourceMap(payload));
  return maps;
}

function frameName(f: CallFrame, root: string, maps: SourceMaps): string {
  const fn = f.functionName || "(anonymous)";
  if (!f.url) return fn;
  let file = f.url;
  try {
    file = f.url.startsWith("file:") ? relative(root, fileURLToPath(f.url)) : f.url;
  } catch {
    // keep the URL as is
  }
  const sm = maps.get(f.url);
  if (sm) {
    const entry = sm.findEntry(f.lineNumber, f.columnNumber) as { originalLine?: number };
    if (typeof entry.originalLine === "number") return `${fn} ${file}:${entry.originalLine + 1}`;
  }
  // Without a source map, a tsx-compiled file is one long line: show the column.
  return f.lineNumber === 0 ? `${fn} ${file}:1:${f.columnNumber + 1}` : `${fn} ${file}:${f.lineNumber + 1}`;
}

export function profileRows(profile: CpuProfile, root = process.cwd(), sourceMapsFile?: string): { rows: Row[]; totalUs: number } {
  const maps = loadSourceMaps(sourceMapsFile);
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const nameOf = new Map<number, string>();
  for (const n of profile.nodes) nameOf.set(n.id, frameName(n.callFrame, root, maps));

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    totalUs += dt;
    let id: number | undefined = profile.samples[i]!;
    const leaf = nameOf.get(id)!;
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    const seen = new Set<string>();
    while (id !== undefined) {
      const name = nameOf.get(id)!;
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  const rows = [...self.entries()].map(([name, selfUs]) => ({ name, selfUs, totalUs: total.get(name) ?? selfUs }));
  rows.sort((a, b) => b.selfUs - a.selfUs);
  return { rows, totalUs };
}

/** Where `run.ts --profile` saves the source maps of a profile: beside it, one file per directory. */
export function sourceMapsFileFor(profileFile: string): string {
  return join(dirname(profileFile), "sourcemaps.json");
}

/**
 * `--cpu-prof` writes one profile per thread (the module loader's hooks run in a
 * worker); the main thread's is the one that calls `mainFunction`.
 */
export function mainThreadProfile(dir: string, mainFunction: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), "utf8")) as CpuProfile;
    if (p.nodes.some((n) => n.callFrame.functionName === mainFunction)) return join(dir, f);
  }
  return undefined;
}

/** The top functions by self time, as a text table. */
export function summariseProfile(profile: CpuProfile, top = 25, sourceMapsFile?: string, root = process.cwd()): string {
  const { rows, totalUs } = profileRows(profile, root, sourceMapsFile);
  const pct = (us: number): string => `${((100 * us) / Math.max(1, totalUs)).toFixed(1)}%`;
  const lines = [`sampled ${(totalUs / 1000).toFixed(0)} ms`, "  self ms  self %  total ms  total %  function"];
  for (const r of rows.slice(0, top)) {
    lines.push(
      `${(r.selfUs / 1000).toFixed(0).padStart(9)} ${pct(r.selfUs).padStart(7)} ${(r.totalUs / 1000).toFixed(0).padStart(9)} ${pct(r.totalUs).padStart(8)}  ${r.name}`,
    );
  }
  return lines.join("\n");
}

/** The top functions by inclusive time (the phases and their callers). */
export function summariseInclusive(profile: CpuProfile, top = 25, sourceMapsFile?: string, root = process.cwd()): string {
  const { rows, totalUs } = profileRows(profile, root, sourceMapsFile);
  const pct = (us: number): string => `${((100 * us) / Math.max(1, totalUs)).toFixed(1)}%`;
  const sorted = [...rows].sort((a, b) => b.totalUs - a.totalUs);
  const lines = ["  total ms  total %  function"];
  for (const r of sorted.slice(0, top)) lines.push(`${(r.totalUs / 1000).toFixed(0).padStart(10)} ${pct(r.totalUs).padStart(8)}  ${r.name}`);
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: tsx bench/profile.ts FILE.cpuprofile [top]\n");
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 30);
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const maps = sourceMapsFileFor(file);
  process.stdout.write(`${summariseProfile(profile, top, maps)}\n\nBy inclusive time:\n${summariseInclusive(profile, top, maps)}\n`);
}
