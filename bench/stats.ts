// What the benches print of repeated figures.

/** The middle of the sorted figures (of an even count, the upper of the two middle ones); NaN for none. */
export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
