// IPv4 addresses and CIDR blocks as numbers: parse, contain, overlap, the n-th address, the n-th subnet.
// Pure; shared by the config's validation, the pod network (agent/podnet) and Services.

export interface Cidr {
  /** The network address as an unsigned 32-bit number (host bits zero). */
  base: number;
  prefix: number;
}

/** A dotted IPv4 address as an unsigned 32-bit number; throws on anything else. */
export function parseIp(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`"${text}" is not an IPv4 address`);
  let n = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255)
      throw new Error(`"${text}" is not an IPv4 address`);
    n = n * 256 + Number(part);
  }
  return n;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `a.b.c.d/p` with no host bits set (`10.42.0.0/16`); throws with a message naming what is wrong. */
export function parseCidr(text: string): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) throw new Error(`"${text}" is not an IPv4 CIDR (a.b.c.d/prefix)`);
  const base = parseIp(m[1]!);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new Error(`"${text}": the prefix must be 0 to 32`);
  if ((base & ~maskOf(prefix)) >>> 0 !== 0)
    throw new Error(
      `"${text}" has host bits set (the network is ${formatIp(base & maskOf(prefix))}/${prefix})`,
    );
  return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.base)}/${cidr.prefix}`;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function asCidr(c: Cidr | string): Cidr {
  return typeof c === 'string' ? parseCidr(c) : c;
}

/** How many addresses the block has (network and broadcast included). */
export function cidrSize(cidr: Cidr | string): number {
  return 2 ** (32 - asCidr(cidr).prefix);
}

/** Whether the block holds the address (a dotted IPv4 or a number) or the whole other block. */
export function cidrContains(cidr: Cidr | string, inner: string | number | Cidr): boolean {
  const c = asCidr(cidr);
  if (typeof inner === 'object') return inner.prefix >= c.prefix && cidrContains(c, inner.base);
  const ip = typeof inner === 'number' ? inner : inner.includes('/') ? NaN : parseIp(inner);
  if (Number.isNaN(ip)) return cidrContains(c, parseCidr(inner as string));
  return (ip & maskOf(c.prefix)) >>> 0 === c.base;
}

export function cidrsOverlap(a: Cidr | string, b: Cidr | string): boolean {
  const x = asCidr(a);
  const y = asCidr(b);
  return x.prefix <= y.prefix ? cidrContains(x, y.base) : cidrContains(y, x.base);
}

/** The index-th address of the block (0 is the network address), dotted; throws past its end. */
export function addressAt(cidr: Cidr | string, index: number): string {
  const c = asCidr(cidr);
  if (!Number.isInteger(index) || index < 0 || index >= cidrSize(c))
    throw new Error(`address ${index} is outside ${formatCidr(c)}`);
  return formatIp(c.base + index);
}

/** The index of an address in the block (addressAt's inverse). */
export function indexOf(cidr: Cidr | string, ip: string): number {
  const c = asCidr(cidr);
  const n = parseIp(ip);
  if (!cidrContains(c, n)) throw new Error(`${ip} is outside ${formatCidr(c)}`);
  return n - c.base;
}

/** How many /prefix blocks the block splits into. */
export function subnetCount(cidr: Cidr | string, prefix: number): number {
  const c = asCidr(cidr);
  return prefix < c.prefix ? 0 : 2 ** (prefix - c.prefix);
}

/** The index-th /prefix block of the block. */
export function subnetAt(cidr: Cidr | string, prefix: number, index: number): Cidr {
  const c = asCidr(cidr);
  if (!Number.isInteger(index) || index < 0 || index >= subnetCount(c, prefix))
    throw new Error(`subnet ${index} of size /${prefix} is outside ${formatCidr(c)}`);
  return { base: c.base + index * 2 ** (32 - prefix), prefix };
}
