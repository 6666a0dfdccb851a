// Ordering of names, timestamps and other text as Kubernetes (Go) sorts them: by code unit, which is byte
// order for ASCII. Not localeCompare: that asks ICU's collation, which is slower, orders case and
// punctuation its own way, and maps megabytes of ICU data into the process.
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
