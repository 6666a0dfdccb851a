// Comparing stored and desired objects whatever their key order.

/** JSON with sorted keys: equal values give equal strings whatever the key order. */
export function canonical(v: unknown): string {
  return (
    JSON.stringify(v, (_k, val: unknown) =>
      val && typeof val === 'object' && !Array.isArray(val)
        ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : val,
    ) ?? 'undefined'
  );
}
