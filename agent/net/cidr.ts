// IPv4 CIDR arithmetic for the cluster's network ranges (podCidr, serviceCidr): parse, contain, overlap,
// the n-th address. Addresses are unsigned 32-bit numbers.

export interface Cidr {
  /** The network address (host bits zero). */
  base: number;
  prefix: number;
}

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv4 address as a number, or undefined when `text` is not one (no leading zeros, each octet ≤ 255). */
export function parseIPv4(text: string): number | undefined {
  const m = OCTETS.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (const part of m.slice(1)) {
    if ((part.length > 1 && part.startsWith('0')) || Number(part) > 255) return undefined;
    n = n * 256 + Number(part);
  }
  return n;
}

export const formatIPv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** `10.43.0.0/16` -> {base, prefix}; throws on anything else (host bits set included). */
export function parseCidr(text: string): Cidr {
  const [ip, bits, extra] = text.split('/');
  const base = ip === undefined ? undefined : parseIPv4(ip);
  const prefix = bits !== undefined && /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  if (base === undefined || extra !== undefined || !(prefix >= 0 && prefix <= 32))
    throw new Error(`"${text}" is not an IPv4 CIDR (such as 10.43.0.0/16)`);
  if (base % cidrSize({ base: 0, prefix }) !== 0)
    throw new Error(
      `"${text}" has host bits set (the network is ${formatIPv4(base - (base % cidrSize({ base: 0, prefix })))}/${prefix})`,
    );
  return { base, prefix };
}

/** How many addresses the CIDR spans (network and broadcast included). */
export const cidrSize = (c: Cidr): number => 2 ** (32 - c.prefix);

/** Whether `ip` (text or number) is inside the CIDR. */
export function cidrContains(c: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : parseIPv4(ip);
  return n !== undefined && n >= c.base && n < c.base + cidrSize(c);
}

export const cidrsOverlap = (a: Cidr, b: Cidr): boolean =>
  a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);

/** The address `index` places after the network address. */
export function addressAt(c: Cidr, index: number): string {
  if (index < 0 || index >= cidrSize(c)) throw new Error(`index ${index} is outside ${formatCidr(c)}`);
  return formatIPv4(c.base + index);
}

export const formatCidr = (c: Cidr): string => `${formatIPv4(c.base)}/${c.prefix}`;
