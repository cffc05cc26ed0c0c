/**
 * The shape of the generated protobuf message table (messages.generated.ts): one entry per field,
 * `[number, jsonName, type, flags, messageType?]`. Types: `s` string, `b` bool, `i` signed and `u`
 * unsigned varint integer, `z` zigzag integer, `d` double, `f` float, `y` bytes, `m` message,
 * `map:<type>` a map with string keys (entries are messages of key 1 and value 2). Flags: `r` repeated,
 * `p` the Go field is a pointer (a zero value on the wire was set by the client), `o` omitempty, `i` an
 * embedded struct whose fields JSON inlines into the enclosing object.
 */
export type ProtoField = readonly [number: number, jsonName: string, type: string, flags: string, messageType?: string];
