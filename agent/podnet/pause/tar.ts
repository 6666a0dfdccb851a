// A POSIX ustar archive of one regular file at the root (what `docker import` reads as an image's
// filesystem): a 512-byte header, the data padded to 512, two empty blocks.
const BLOCK = 512;

export function oneFileTar(name: string, data: Buffer, mode: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name longer than 100 bytes: ${name}`);
  const header = Buffer.alloc(BLOCK);
  const field = (offset: number, length: number, value: string) =>
    header.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, '0')}\0`;
  field(0, 100, name);
  field(100, 8, octal(mode, 8));
  field(108, 8, octal(0, 8)); // uid
  field(116, 8, octal(0, 8)); // gid
  field(124, 12, octal(data.length, 12));
  field(136, 12, octal(0, 12)); // mtime: fixed, so one file makes one image id
  field(156, 1, '0'); // regular file
  field(257, 8, 'ustar\u000000');
  // The checksum: the header's bytes summed with its own field as spaces.
  header.fill(' ', 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return Buffer.concat([header, data, Buffer.alloc(padding), Buffer.alloc(2 * BLOCK)]);
}
