// Durations as kubectl writes them ("30s", "5m", "2h", "1h30m"): the CLI's flags and nokube's
// annotations read them alike.

/** "1h30m" -> 5400 seconds; undefined when the text is not such a duration. */
export function durationSeconds(text: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
