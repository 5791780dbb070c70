import type { FieldPath } from "../load/types.js";
import type { FieldReader } from "./fields.js";

export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist";

export interface LabelRequirement {
  key: string;
  operator: SelectorOperator;
  values: readonly string[];
}

/**
 * A Kubernetes label selector (matchLabels AND matchExpressions). The empty
 * selector matches everything; `nothing` (never produced by the API) is used for
 * selectors that failed validation, so a broken policy selects no pods rather
 * than all of them.
 */
export class LabelSelector {
  private constructor(
    readonly requirements: readonly LabelRequirement[],
    private readonly nothing = false,
  ) {}

  static readonly everything = new LabelSelector([]);
  static readonly nothingSelector = new LabelSelector([], true);

  static fromLabels(labels: Labels): LabelSelector {
    return new LabelSelector(Object.entries(labels).map(([key, v]) => ({ key, operator: "In" as const, values: [v] })));
  }

  static of(requirements: readonly LabelRequirement[]): LabelSelector {
    return new LabelSelector(requirements);
  }

  /**
   * Reads a `metav1.LabelSelector` at `path`. Returns undefined when the field is
   * absent (the caller decides what absence means) and `nothingSelector` when invalid.
   */
  static read(r: FieldReader, path: FieldPath): LabelSelector | undefined {
    const raw = r.get(path);
    if (raw === undefined || raw === null) return undefined;
    const obj = r.object(path);
    if (!obj) return LabelSelector.nothingSelector;
    const before = r.diagnostics.length;
    const reqs: LabelRequirement[] = [];
    for (const [key, value] of Object.entries(r.stringMap([...path, "matchLabels"]))) {
      reqs.push({ key, operator: "In", values: [value] });
    }
    const exprs = r.array([...path, "matchExpressions"]) ?? [];
    exprs.forEach((_, i) => {
      const p = [...path, "matchExpressions", i];
      const key = r.string([...p, "key"]);
      const op = r.string([...p, "operator"]);
      const values = (r.array([...p, "values"]) ?? []).map((v, j) => (typeof v === "string" ? v : r.error([...p, "values", j], "expected a string")));
      if (key === undefined) return r.error([...p, "key"], "a match expression needs a key");
      if (op !== "In" && op !== "NotIn" && op !== "Exists" && op !== "DoesNotExist") {
        return r.error([...p, "operator"], `unknown operator ${JSON.stringify(op)} (expected In, NotIn, Exists or DoesNotExist)`);
      }
      if ((op === "In" || op === "NotIn") && values.length === 0) {
        return r.error([...p, "values"], `operator ${op} needs at least one value`);
      }
      if ((op === "Exists" || op === "DoesNotExist") && values.length > 0) {
        return r.error([...p, "values"], `operator ${op} takes no values`);
      }
      reqs.push({ key, operator: op, values: values.filter((v): v is string => v !== undefined) });
      return undefined;
    });
    for (const k of Object.keys(obj)) {
      if (k !== "matchLabels" && k !== "matchExpressions") r.warn([...path, k], `unknown field "${k}" in a label selector (ignored)`);
    }
    return r.diagnostics.slice(before).some((d) => d.severity === "error") ? LabelSelector.nothingSelector : new LabelSelector(reqs);
  }

  get isEverything(): boolean {
    return !this.nothing && this.requirements.length === 0;
  }

  get isNothing(): boolean {
    return this.nothing;
  }

  matches(labels: Labels): boolean {
    if (this.nothing) return false;
    for (const req of this.requirements) {
      const has = Object.prototype.hasOwnProperty.call(labels, req.key);
      switch (req.operator) {
        case "In":
          if (!has || !req.values.includes(labels[req.key]!)) return false;
          break;
        case "NotIn":
          // A missing key satisfies NotIn, as in Kubernetes.
          if (has && req.values.includes(labels[req.key]!)) return false;
          break;
        case "Exists":
          if (!has) return false;
          break;
        case "DoesNotExist":
          if (has) return false;
          break;
      }
    }
    return true;
  }

  /** `app=web,tier in (a,b),!legacy` — kubectl's selector syntax; `{}` for everything. */
  toString(): string {
    if (this.nothing) return "<invalid selector>";
    if (this.requirements.length === 0) return "{}";
    return this.requirements
      .map(({ key, operator, values }) => {
        switch (operator) {
          case "In":
            return values.length === 1 ? `${key}=${values[0]}` : `${key} in (${values.join(",")})`;
          case "NotIn":
            return `${key} notin (${values.join(",")})`;
          case "Exists":
            return key;
          case "DoesNotExist":
            return `!${key}`;
        }
      })
      .join(",");
  }
}
