/** A small deterministic generator of numbers in [0, 1) (a linear congruential one), for tests that write text in random ways. */
export function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
