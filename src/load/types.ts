/** Where a diagnostic or an object comes from. Lines are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  /** Dotted field path inside the object, e.g. `spec.ingress[0].from[1].ipBlock.cidr`. */
  field?: string;
}

export type Severity = "error" | "warning";

/**
 * A problem with the input, always located. Errors make the run end with exit code 2
 * (after the rest of the input has been analysed); warnings are printed and do not.
 */
export class InputDiagnostic {
  constructor(
    readonly severity: Severity,
    readonly message: string,
    readonly location: SourceLocation,
  ) {}

  /** `file:line: field: message` — the one format every command prints. */
  format(): string {
    const { file, line, field } = this.location;
    return `${file}:${line}: ${this.severity}: ${field ? `${field}: ` : ""}${this.message}`;
  }
}

export type FieldPath = readonly (string | number)[];

/** One Kubernetes object read from the input. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  name: string;
  /** As written; undefined when the document gives none. */
  namespace: string | undefined;
  /** The whole object as plain data (what `kubectl get -o json` would show). */
  readonly raw: Record<string, unknown>;
  /** File and line of the object's first line. */
  readonly source: SourceLocation;
  /**
   * 1-based line of the value at `path` inside this object (e.g. `["spec","ingress",0]`);
   * falls back to the nearest ancestor that exists. Computed lazily: only messages and traces
   * need positions, so the fast path parses without them.
   */
  lineOf(path: FieldPath): number;
}

export interface LoadResult {
  manifests: Manifest[];
  diagnostics: InputDiagnostic[];
}

export interface LoadOptions {
  /** Reads standard input when a path is `-`. */
  readStdin?: () => Promise<string>;
  /** Files (and standard input) larger than this are rejected with a located error (default 32 MiB). */
  maxFileBytes?: number;
}

export function formatFieldPath(path: FieldPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out;
}
