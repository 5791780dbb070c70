/**
 * The allowed-tuple count through `connections()`, one object per tuple: the
 * brute-force check of `ConnectivityMatrix.tally()` on small inputs.
 */
import type { ConnectivityMatrix } from "../src/analysis/matrix.js";

/** The same count through `connections()`: one object per tuple. For checking `countAllowedTuples` on small inputs. */
export function countAllowedTuplesBruteForce(matrix: ConnectivityMatrix): { evaluated: number; allowed: number; emptyPairs: number; allPairs: number } {
  let evaluated = 0;
  let allowed = 0;
  for (const c of matrix.connections()) {
    if (c.from === "external" || c.to === "external") continue;
    evaluated++;
    if (c.allowed) allowed++;
  }
  let emptyPairs = 0;
  let allPairs = 0;
  const n = matrix.workloads.length;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const c = matrix.conns(i, j);
      if (c.isEmpty()) emptyPairs++;
      else if (c.isAll()) allPairs++;
    }
  }
  return { evaluated, allowed, emptyPairs, allPairs };
}
