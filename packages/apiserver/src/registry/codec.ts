/**
 * How the generic store turns request bodies into objects of a kind: structural decoding against the
 * kind's schema (types, unknown fields, defaults, schema constraints). Implemented on top of the
 * compiled schema decoders of @flotilla/api.
 */
import type { FieldError, KubeObject } from '@flotilla/api';

/** `?fieldValidation=`: what to do with unknown fields. */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** The outcome of decoding one object. */
export interface DecodeResult {
  object: KubeObject;
  /** Paths of pruned unknown fields (`spec.foo`). */
  unknownFields: string[];
  /** Type errors: the body cannot be an object of this kind (400). */
  decodeErrors: string[];
  /** Schema constraint violations (422). */
  fieldErrors: FieldError[];
}

/** Decodes bodies of one kind. */
export interface KindCodec {
  decode(input: unknown, fieldValidation: FieldValidation): DecodeResult;
}

/** Makes the codec of a schema definition (`io.k8s.api.core.v1.Pod`). */
export type CodecFactory = (definitionName: string) => KindCodec;
