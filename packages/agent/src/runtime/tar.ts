/**
 * A minimal ustar writer and reader: enough to build a root filesystem for `POST /images/create
 * ?fromSrc=-`, to upload files with `PUT /containers/{id}/archive` and to read one file back from
 * `GET /containers/{id}/archive`. Regular files, directories and symlinks only; names up to 255
 * bytes (ustar prefix split).
 */

/** One entry to write. `mode` defaults to 0o644 for files, 0o755 for directories, 0o777 for links. */
export type TarEntry =
  | { type: 'file'; name: string; data: Buffer | string; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { type: 'directory'; name: string; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { type: 'symlink'; name: string; target: string; mode?: number; uid?: number; gid?: number; mtime?: number };

/** One entry read back. */
export interface TarFile {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  size: number;
  linkTarget?: string;
  data: Buffer;
}

const BLOCK = 512;

function writeString(header: Buffer, value: string, offset: number, length: number): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: field too long: ${value}`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  // Octal digits, zero padded, NUL terminated.
  const text = Math.trunc(value).toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new Error(`tar: number too large: ${value}`);
  header.write(`${text}\0`, offset, length, 'ascii');
}

function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new Error(`tar: name too long: ${name}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const name = entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  const { prefix, base } = splitName(name);
  const defaultMode = entry.type === 'file' ? 0o644 : entry.type === 'directory' ? 0o755 : 0o777;
  writeString(h, base, 0, 100);
  writeOctal(h, entry.mode ?? defaultMode, 100, 8);
  writeOctal(h, entry.uid ?? 0, 108, 8);
  writeOctal(h, entry.gid ?? 0, 116, 8);
  writeOctal(h, size, 124, 12);
  writeOctal(h, entry.mtime ?? 0, 136, 12);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h.write(entry.type === 'file' ? '0' : entry.type === 'directory' ? '5' : '2', 156, 1, 'ascii');
  if (entry.type === 'symlink') writeString(h, entry.target, 157, 100);
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  writeString(h, prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** Serialises entries into one tar archive (with the two terminating zero blocks). */
export function createTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === 'file' ? (typeof entry.data === 'string' ? Buffer.from(entry.data) : entry.data) : Buffer.alloc(0);
    parts.push(header(entry, data.length));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function readString(buf: Buffer, offset: number, length: number): string {
  const slice = buf.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, length: number): number {
  const text = readString(buf, offset, length).trim();
  return text ? parseInt(text, 8) : 0;
}

/** Parses a whole tar archive (ustar, with GNU/PAX long names honoured). */
export function readTar(archive: Buffer): TarFile[] {
  const files: TarFile[] = [];
  let offset = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (offset + BLOCK <= archive.length) {
    const h = archive.subarray(offset, offset + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = readOctal(h, 124, 12);
    const typeflag = String.fromCharCode(h[156] ?? 0);
    const dataStart = offset + BLOCK;
    const data = archive.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'L') { longName = readString(data, 0, data.length); continue; }
    if (typeflag === 'K') { longLink = readString(data, 0, data.length); continue; }
    if (typeflag === 'x' || typeflag === 'g') {
      // PAX records: "<len> key=value\n"
      for (const line of data.toString('utf8').split('\n')) {
        const m = /^\d+ (\w+)=(.*)$/.exec(line);
        if (m?.[1] === 'path') longName = m[2];
        if (m?.[1] === 'linkpath') longLink = m[2];
      }
      continue;
    }
    const prefix = readString(h, 345, 155);
    const base = readString(h, 0, 100);
    const name = longName ?? (prefix ? `${prefix}/${base}` : base);
    const linkTarget = longLink ?? readString(h, 157, 100);
    longName = longLink = undefined;
    const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : typeflag === '2' ? 'symlink' : 'other';
    files.push({ name, type, mode: readOctal(h, 100, 8), size, data: Buffer.from(data), ...(type === 'symlink' ? { linkTarget } : {}) });
  }
  return files;
}
