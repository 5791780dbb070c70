/**
 * The input with the proposed changes applied: edited file texts and new
 * documents, read back with the real loader so that the verification evaluates
 * exactly what would be applied.
 */
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { buildScenario, type Scenario, type ScenarioOptions } from "../analysis/scenario.js";
import { loadText, type Manifest } from "../load/index.js";
import { applyEdit, type AddEdit } from "./yaml-edit.js";

/** The text of an input file, or undefined when it cannot be read again (standard input, a live cluster). */
export type ReadText = (file: string) => string | undefined;

export const readFromDisk: ReadText = (file) => {
  if (file.startsWith("<")) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
};

/** A new document, with the file it is suggested to go to. */
export interface CreatedDocument {
  file: string;
  object: Record<string, unknown>;
}

export class Workspace {
  private constructor(
    readonly base: Scenario,
    private readonly readText: ReadText,
    private readonly originals: Map<string, string | undefined>,
    readonly edited: ReadonlyMap<string, string>,
    readonly created: readonly CreatedDocument[],
  ) {}

  static of(base: Scenario, readText: ReadText): Workspace {
    return new Workspace(base, readText, new Map(), new Map(), []);
  }

  /** The file as the user has it. */
  original(file: string): string | undefined {
    if (!this.originals.has(file)) this.originals.set(file, this.readText(file));
    return this.originals.get(file);
  }

  /** The file with the edits so far. */
  current(file: string): string | undefined {
    return this.edited.get(file) ?? this.original(file);
  }

  /**
   * Whether a document of this file can be edited in place: its text is at hand,
   * it is YAML (a JSON file would not stay JSON) and its manifests read back
   * the same way (the file has not changed since it was loaded).
   */
  editable(file: string): boolean {
    const text = this.current(file);
    if (text === undefined || /^\s*[[{]/.test(text)) return false;
    const before = this.base.manifests.filter((m) => m.source.file === file).length;
    return loadText(text, file).manifests.length === before || this.edited.has(file);
  }

  withEdit(file: string, edit: AddEdit): Workspace {
    const text = this.current(file);
    if (text === undefined) throw new Error(`${file} cannot be read again`);
    const next = new Map(this.edited);
    next.set(file, applyEdit(text, edit));
    return new Workspace(this.base, this.readText, this.originals, next, this.created);
  }

  withDocument(doc: CreatedDocument): Workspace {
    return new Workspace(this.base, this.readText, this.originals, this.edited, [...this.created, doc]);
  }

  private built: Scenario | undefined;

  /** The scenario of the input with every change applied (built once). */
  scenario(): Scenario {
    this.built ??= this.build();
    return this.built;
  }

  private build(): Scenario {
    if (this.edited.size === 0 && this.created.length === 0) return this.base;
    const manifests: Manifest[] = [];
    const replaced = new Set<string>();
    for (const m of this.base.manifests) {
      const file = m.source.file;
      const text = this.edited.get(file);
      if (text === undefined) {
        manifests.push(m);
        continue;
      }
      if (replaced.has(file)) continue;
      replaced.add(file);
      manifests.push(...reload(text, file));
    }
    for (const doc of this.created) manifests.push(...reload(stringify(doc.object, { lineWidth: 0 }), doc.file));
    const { profile } = this.base;
    // The CNI stays the one the input was read with, whatever the changes add.
    const options: ScenarioOptions = { cni: profile.cni, cilium: profile.cilium };
    return buildScenario({ manifests, diagnostics: [] }, options);
  }
}

/** A changed text read with the loader; a change that does not load is a defect of the change. */
function reload(text: string, file: string): Manifest[] {
  const result = loadText(text, file);
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(`the changed ${file} does not load: ${errors.map((d) => d.format()).join("; ")}`);
  return result.manifests;
}
