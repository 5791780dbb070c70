/** Small integer ids for equal keys, in order of first appearance; `reps` receives the first index of each. */
export function intern(keys: readonly string[], reps: number[]): Int32Array {
  const out = new Int32Array(keys.length);
  const ids = new Map<string, number>();
  keys.forEach((k, i) => {
    let id = ids.get(k);
    if (id === undefined) {
      id = reps.length;
      ids.set(k, id);
      reps.push(i);
    }
    out[i] = id;
  });
  return out;
}
