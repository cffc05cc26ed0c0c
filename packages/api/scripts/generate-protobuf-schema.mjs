#!/usr/bin/env node
// Writes src/protobuf/messages.generated.ts: the wire schema of the Kubernetes protobuf messages
// Flotilla decodes (request bodies of kubectl >= 1.32 and other protobuf clients), taken from a kubectl
// binary, which carries both halves of what the decoder needs:
//  - the protobuf file descriptors its Go packages register (gzipped FileDescriptorProtos): message
//    and field names, numbers, wire types, repeated and map fields, referenced message types;
//  - the Go runtime type descriptors of the API structs (what encoding/json and reflection use):
//    per field its protobuf tag, JSON name, `omitempty` and whether the Go field is a pointer. A proto2
//    encoder of these structs writes every non-pointer scalar, zero or not, and a pointer only when set;
//    so a zero value means "set" only for pointer fields, and JSON drops it for the others as
//    encoding/json does with `omitempty`.
// The Go part reads the type descriptors of a linux/amd64, non-PIE binary built by Go 1.22 or later
// (kubectl's release builds). Run by hand when moving to a newer API level:
//   node packages/api/scripts/generate-protobuf-schema.mjs [path/to/kubectl]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const descriptor = require('protobufjs/ext/descriptor');
const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, '..', 'src', 'protobuf', 'messages.generated.ts');

/** The protobuf packages whose messages are request bodies Flotilla serves (the rest come in as references). */
const ROOT_PACKAGES = [
  'k8s.io.api.core.v1',
  'k8s.io.api.apps.v1',
  'k8s.io.api.autoscaling.v1',
  'k8s.io.api.autoscaling.v2',
  'k8s.io.api.batch.v1',
  'k8s.io.api.coordination.v1',
  'k8s.io.api.discovery.v1',
  'k8s.io.api.events.v1',
  'k8s.io.api.networking.v1',
  'k8s.io.api.policy.v1',
  'k8s.io.api.rbac.v1',
  'k8s.io.api.scheduling.v1',
  'k8s.io.api.storage.v1',
  'k8s.io.api.authentication.v1',
  'k8s.io.api.authorization.v1',
];
const ROOT_MESSAGES = ['k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions', 'k8s.io.apimachinery.pkg.runtime.Unknown'];

function findKubectl() {
  if (process.argv[2]) return process.argv[2];
  const dir = '/usr/lib/google-cloud-sdk/bin';
  const versioned = existsSync(dir) ? readdirSync(dir).filter((f) => /^kubectl\.1\.\d+$/.test(f)) : [];
  versioned.sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  if (versioned.length > 0) return join(dir, versioned.at(-1));
  return execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
}

// ---- protobuf file descriptors ----

/** Every gzipped FileDescriptorProto of a k8s.io package in the binary, decoded. */
function fileDescriptors(bin) {
  const magic = Buffer.from([0x1f, 0x8b, 0x08]);
  const files = new Map();
  for (let i = bin.indexOf(magic); i >= 0; i = bin.indexOf(magic, i + 1)) {
    let data;
    try {
      data = inflateRawSync(bin.subarray(i + 10, i + 10 + 4_000_000), { finishFlush: 2 });
    } catch {
      continue;
    }
    if (data.length < 3 || data[0] !== 0x0a) continue;
    const name = data.subarray(2, 2 + data[1]).toString('latin1');
    if (!name.startsWith('k8s.io/') || !name.endsWith('.proto')) continue;
    files.set(name, descriptor.FileDescriptorProto.decode(data));
  }
  return files;
}

// ---- Go runtime type descriptors (internal/abi, Go 1.22+, amd64) ----

function goStructs(bin) {
  const phoff = Number(bin.readBigUInt64LE(0x20));
  const phentsize = bin.readUInt16LE(0x36);
  const phnum = bin.readUInt16LE(0x38);
  const segments = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (bin.readUInt32LE(o) !== 1) continue; // PT_LOAD
    segments.push({ off: Number(bin.readBigUInt64LE(o + 8)), va: Number(bin.readBigUInt64LE(o + 16)), size: Number(bin.readBigUInt64LE(o + 32)) });
  }
  const fileOffset = (va) => {
    for (const s of segments) if (va >= s.va && va < s.va + s.size) return s.off + (va - s.va);
    return -1;
  };
  const shoff = Number(bin.readBigUInt64LE(0x28));
  const shentsize = bin.readUInt16LE(0x3a);
  const shnum = bin.readUInt16LE(0x3c);
  const names = Number(bin.readBigUInt64LE(shoff + bin.readUInt16LE(0x3e) * shentsize + 24));
  const sections = {};
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    const start = names + bin.readUInt32LE(o);
    const name = bin.toString('latin1', start, bin.indexOf(0, start));
    sections[name] = { va: Number(bin.readBigUInt64LE(o + 16)), off: Number(bin.readBigUInt64LE(o + 24)), size: Number(bin.readBigUInt64LE(o + 32)) };
  }
  if (!sections['.typelink'] || !sections['.rodata']) throw new Error('not a Go binary with type links');
  const types = sections['.rodata'].va; // moduledata.types on linux/amd64
  const u64 = (va) => Number(bin.readBigUInt64LE(fileOffset(va)));
  const varint = (p) => {
    let v = 0;
    let shift = 0;
    let b;
    do {
      b = bin[p++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return [v, p];
  };
  const readName = (va) => {
    const p = fileOffset(va);
    const flags = bin[p];
    const [len, q] = varint(p + 1);
    const name = bin.toString('latin1', q, q + len);
    let tag = '';
    if (flags & 2) {
      const [tagLen, r] = varint(q + len);
      tag = bin.toString('latin1', r, r + tagLen);
    }
    return { name, tag };
  };
  const KINDS = { 1: 'bool', 2: 'int', 5: 'int32', 6: 'int64', 7: 'uint8', 10: 'uint32', 11: 'uint64', 14: 'float64', 17: 'array', 20: 'interface', 21: 'map', 22: 'ptr', 23: 'slice', 24: 'string', 25: 'struct' };
  const kindOf = (t) => KINDS[bin[fileOffset(t) + 23] & 31] ?? 'other';
  const tflag = (t) => bin[fileOffset(t) + 20];
  const typeName = (t) => {
    const n = readName(types + bin.readInt32LE(fileOffset(t) + 40)).name;
    return tflag(t) & 2 ? n.slice(1) : n; // TFlagExtraStar
  };
  const structs = new Map();
  const seen = new Set();
  const visit = (t) => {
    if (!t || seen.has(t) || fileOffset(t) < 0) return;
    seen.add(t);
    const kind = kindOf(t);
    if (kind === 'ptr' || kind === 'slice' || kind === 'array') visit(u64(t + 48));
    else if (kind === 'map') {
      visit(u64(t + 48));
      visit(u64(t + 56));
    } else if (kind === 'struct') {
      // StructType: Type (48 bytes), PkgPath Name, Fields []StructField; UncommonType after it (named types).
      const pkg = tflag(t) & 1 ? readName(types + bin.readInt32LE(fileOffset(t) + 80)).name : '';
      const fields = u64(t + 56);
      const count = u64(t + 64);
      const out = new Map();
      for (let i = 0; i < count; i++) {
        const f = fields + i * 24;
        const { tag } = readName(u64(f));
        const ft = u64(f + 8);
        visit(ft);
        const proto = /protobuf:"[a-z0-9]+,(\d+),/.exec(tag);
        if (!proto) continue;
        out.set(Number(proto[1]), { pointer: kindOf(ft) === 'ptr', omitempty: /json:"[^"]*,omitempty/.test(tag), inline: /json:",inline"/.test(tag) });
      }
      if (out.size > 0 && pkg) structs.set(`${pkg.replace(/\//g, '.')}.${typeName(t).replace(/^[^.]*\./, '')}`, out);
    }
  };
  const links = sections['.typelink'];
  for (let i = 0; i < links.size; i += 4) visit(types + bin.readInt32LE(links.off + i));
  return structs;
}

// ---- the table ----

const TYPE = { 1: 'd', 2: 'f', 3: 'i', 4: 'u', 5: 'i', 6: 'u', 7: 'u', 8: 'b', 9: 's', 11: 'm', 12: 'y', 13: 'u', 15: 'i', 16: 'i', 17: 'z', 18: 'z' };

const kubectl = findKubectl();
const bin = readFileSync(kubectl);
const version = (/^v?(\d+\.\d+\.\d+)/.exec(execFileSync(kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).match(/"gitVersion":\s*"([^"]+)"/)?.[1] ?? '') ?? [])[1] ?? 'unknown';
const files = fileDescriptors(bin);
const go = goStructs(bin);

/** Message descriptors by full name (".pkg.Name" as type_name spells it, without the dot). */
const messages = new Map();
for (const file of files.values()) {
  const add = (prefix, m) => {
    const full = `${prefix}.${m.name}`;
    messages.set(full, m);
    for (const n of m.nestedType ?? []) add(full, n);
  };
  for (const m of file.messageType ?? []) add(file.package, m);
}

const wanted = new Set();
const want = (name) => {
  if (wanted.has(name)) return;
  const m = messages.get(name);
  if (!m) throw new Error(`message ${name} not in the binary's descriptors`);
  wanted.add(name);
  for (const f of m.field ?? []) if (f.typeName) want(f.typeName.replace(/^\./, ''));
};
for (const [name, m] of messages) if (ROOT_PACKAGES.some((p) => name.startsWith(`${p}.`) && name.split('.').length === p.split('.').length + 1) && !m.options?.mapEntry) want(name);
for (const name of ROOT_MESSAGES) want(name);

const lines = [];
let goFields = 0;
for (const name of [...wanted].sort()) {
  const m = messages.get(name);
  if (m.options?.mapEntry) continue;
  const goFieldsOf = go.get(name);
  const fields = [];
  for (const f of m.field ?? []) {
    const ref = f.typeName ? f.typeName.replace(/^\./, '') : undefined;
    const entry = ref ? messages.get(ref) : undefined;
    const g = goFieldsOf?.get(f.number);
    if (g) goFields++;
    // Flags: r repeated, p Go pointer (a zero value is set), o omitempty (a zero value is dropped),
    // i an embedded struct whose fields JSON inlines into this message's.
    let flags = f.label === 3 ? 'r' : '';
    if (g?.inline) flags += 'i';
    if (g?.pointer) flags += 'p';
    if (g ? g.omitempty : true) flags += 'o';
    if (entry?.options?.mapEntry) {
      const value = entry.field.find((x) => x.number === 2);
      const valueRef = value.typeName ? value.typeName.replace(/^\./, '') : undefined;
      fields.push([f.number, f.jsonName || f.name, `map:${TYPE[value.type]}`, flags.replace('r', ''), ...(valueRef ? [valueRef] : [])]);
    } else {
      fields.push([f.number, f.jsonName || f.name, TYPE[f.type] ?? '?', flags, ...(ref ? [ref] : [])]);
    }
  }
  lines.push(`  ${JSON.stringify(name)}: ${JSON.stringify(fields)},`);
}

const text = `// Generated by scripts/generate-protobuf-schema.mjs from kubectl ${version}; do not edit.
// Per message: [field number, JSON name, type, flags, message type?]. Types: s string, b bool, i signed
// and u unsigned integer, z zigzag integer, d double, f float, y bytes (base64 in JSON), m message,
// map:T a map from string keys to T. Flags: r repeated, p the Go field is a pointer (a zero value was
// set), o omitempty (JSON drops a zero value of a non-pointer field), i inline (an embedded struct whose
// fields JSON puts in the enclosing object).
import type { ProtoField } from './wire-schema.js';

export const KUBERNETES_PROTO_LEVEL = ${JSON.stringify(version)};

export const PROTO_MESSAGES: Readonly<Record<string, readonly ProtoField[]>> = {
${lines.join('\n')}
};
`;
writeFileSync(OUT, text);
console.log(`${OUT}: ${lines.length} messages (${goFields} fields with Go pointer/omitempty facts) from ${kubectl} (${version})`);
