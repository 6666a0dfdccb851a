// Kubernetes resource quantities: cpu ("500m", "0.5", "2") and memory ("64Mi", "1G", "128974848", "1e3").
const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };
const QUANTITY = /^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m))?$/;

/** The number a quantity stands for; throws with the k8s-style reason when it is not one. */
export function parseQuantity(text: string): number {
  const m = QUANTITY.exec(text.trim());
  if (!m)
    throw new Error(
      `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  if (m[3]) return base * (BINARY[m[3]] ?? DECIMAL[m[3]]!);
  return base;
}

/** CPU cores ("250m" -> 0.25). */
export const parseCpu = (text: string): number => parseQuantity(text);

/** Bytes, rounded up ("64Mi" -> 67108864). */
export const parseMemory = (text: string): number => Math.ceil(parseQuantity(text));
