/**
 * Codecs backed by the kinds' schemas (@flotilla/api definitions), compiled once per kind.
 */
import { compileDecoder, DEFINITIONS } from '@flotilla/api';
import type { CodecFactory, KindCodec } from './codec.js';

/** A factory that compiles and caches one decoder per definition. */
export function schemaCodecs(): CodecFactory {
  const cache = new Map<string, KindCodec>();
  return (definitionName) => {
    let codec = cache.get(definitionName);
    if (!codec) {
      if (!DEFINITIONS[definitionName]) throw new Error(`no schema definition ${definitionName}`);
      const decoder = compileDecoder(DEFINITIONS, definitionName);
      codec = { decode: (input, fieldValidation) => decoder.decode(input, { fieldValidation }) };
      cache.set(definitionName, codec);
    }
    return codec;
  };
}
