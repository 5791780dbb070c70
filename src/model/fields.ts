import { InputDiagnostic, formatFieldPath, type FieldPath, type Manifest } from "../load/types.js";

/**
 * Typed, located access to a manifest's fields. Every layer's scanner reads its
 * objects through a FieldReader so that a wrong type or a bad value becomes a
 * diagnostic naming the file, line and field instead of an exception.
 */
export class FieldReader {
  readonly diagnostics: InputDiagnostic[] = [];

  constructor(readonly manifest: Manifest) {}

  /** Records an error at `path` and returns undefined, so callers can `return r.error(...)`. */
  error(path: FieldPath, message: string): undefined {
    this.diagnostics.push(
      new InputDiagnostic("error", message, {
        file: this.manifest.source.file,
        line: this.manifest.lineOf(path),
        field: formatFieldPath(path),
      }),
    );
    return undefined;
  }

  warn(path: FieldPath, message: string): void {
    this.diagnostics.push(
      new InputDiagnostic("warning", message, {
        file: this.manifest.source.file,
        line: this.manifest.lineOf(path),
        field: formatFieldPath(path),
      }),
    );
  }

  get hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === "error");
  }

  /** The raw value at `path`, or undefined when any step is missing. */
  get(path: FieldPath): unknown {
    let cur: unknown = this.manifest.raw;
    for (const p of path) {
      if (cur === null || typeof cur !== "object") return undefined;
      cur = (cur as Record<string | number, unknown>)[p];
    }
    return cur;
  }

  /** A mapping, or undefined when absent/null; a wrong type is reported. */
  object(path: FieldPath): Record<string, unknown> | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) return this.error(path, `expected a mapping, got ${describe(v)}`);
    return v as Record<string, unknown>;
  }

  /** A list, or undefined when absent/null; a wrong type is reported. */
  array(path: FieldPath): unknown[] | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return this.error(path, `expected a list, got ${describe(v)}`);
    return v;
  }

  string(path: FieldPath): string | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") return this.error(path, `expected a string, got ${describe(v)}`);
    return v;
  }

  boolean(path: FieldPath): boolean | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") return this.error(path, `expected true or false, got ${describe(v)}`);
    return v;
  }

  integer(path: FieldPath): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) return this.error(path, `expected an integer, got ${describe(v)}`);
    return v;
  }

  /**
   * An int-or-string such as a port (`8080` or `http`). As in the API server, a
   * string stays a string even when it looks like a number: `"8080"` is a (bad)
   * name, not 8080. Callers validate names with `portNameProblem`.
   */
  intOrString(path: FieldPath): number | string | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (typeof v === "string") return v;
    return this.error(path, `expected a number or a name, got ${describe(v)}`);
  }

  /**
   * A port given as int-or-string (NetworkPolicy `port`, Service `targetPort`):
   * a number in 1-65535 or a valid port name; anything else is reported at `path`
   * with the API server's reason, and undefined is returned.
   */
  portNumberOrName(path: FieldPath): number | string | undefined {
    const port = this.intOrString(path);
    if (port === undefined) return undefined;
    if (typeof port === "number") {
      if (port < 1 || port > 65535) return this.error(path, `port ${port} is out of range 1-65535`);
      return port;
    }
    const problem = portNameProblem(port);
    return problem ? this.error(path, problem) : port;
  }

  /** A string→string map such as labels; non-string values are reported and skipped. */
  stringMap(path: FieldPath): Record<string, string> {
    const obj = this.object(path);
    const out: Record<string, string> = {};
    if (!obj) return out;
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === "string") out[k] = v;
      else if (typeof v === "number" || typeof v === "boolean") {
        // The API server rejects these; kubectl users write `version: 2` by mistake.
        this.error([...path, k], `label values must be strings, got ${describe(v)} (quote it: "${String(v)}")`);
      } else this.error([...path, k], `expected a string, got ${describe(v)}`);
    }
    return out;
  }
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Why `name` is not a valid port name (IANA_SVC_NAME, as the API server's
 * IsValidPortName checks it), or undefined when it is one: at most 15
 * characters, lowercase letters, digits and '-', at least one letter, no '-'
 * at either end and no "--".
 */
export function portNameProblem(name: string): string | undefined {
  const shown = JSON.stringify(name);
  if (/^\d+$/.test(name)) {
    return `${shown} is a string, not a number: a quoted port is read as a port name, and a port name needs at least one letter (write the number without quotes)`;
  }
  const reasons: string[] = [];
  if (name.length === 0 || name.length > 15) reasons.push("1 to 15 characters");
  if (!/^[a-z0-9-]*$/.test(name)) reasons.push("only lowercase letters, digits and '-'");
  if (!/[a-z]/.test(name)) reasons.push("at least one letter");
  if (name.startsWith("-") || name.endsWith("-")) reasons.push("no '-' at the start or end");
  if (name.includes("--")) reasons.push("no \"--\"");
  if (reasons.length === 0) return undefined;
  return `${shown} is neither a port number nor a valid port name (a port name has ${reasons.join(", ")})`;
}
