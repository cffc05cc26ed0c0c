/**
 * Validation rules shared by every kind: names, labels, annotations, owner references, finalizers
 * (apimachinery `validation.ValidateObjectMeta` and friends). Each returns FieldErrors, never throws.
 */
import { isValidLabelKey, isValidLabelValue, type FieldError, type ObjectMeta } from '@flotilla/api';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_MSG = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** How a kind's names are checked. */
export type NameRule = 'subdomain' | 'label' | 'dns1035' | 'path-segment';

/** Messages for a name that breaks `rule` ([] when fine). */
export function checkName(name: string, rule: NameRule): string[] {
  const out: string[] = [];
  switch (rule) {
    case 'label':
      if (name.length > 63) out.push('must be no more than 63 characters');
      if (!DNS1123_LABEL.test(name)) out.push(LABEL_MSG);
      break;
    case 'dns1035':
      if (name.length > 63) out.push('must be no more than 63 characters');
      if (!DNS1035_LABEL.test(name)) out.push(DNS1035_MSG);
      break;
    case 'subdomain':
      if (name.length > 253) out.push('must be no more than 253 characters');
      if (!DNS1123_SUBDOMAIN.test(name)) out.push(SUBDOMAIN_MSG);
      break;
    case 'path-segment':
      if (name === '.' || name === '..') out.push(`may not be '${name}'`);
      if (name.includes('/')) out.push(`may not contain '/'`);
      if (name.includes('%')) out.push(`may not contain '%'`);
      break;
  }
  return out;
}

/** True when `name` is a DNS-1123 label. */
export function isDns1123Label(name: string): boolean {
  return name.length <= 63 && DNS1123_LABEL.test(name);
}

/** True when `name` is a DNS-1123 subdomain. */
export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

function quote(v: unknown): string {
  return JSON.stringify(v);
}

/** A FieldValueInvalid error with the value quoted like apimachinery. */
export function invalidValue(field: string, value: unknown, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, message: `${quote(value)}: ${detail}` };
}

/** A FieldValueRequired error. */
export function required(field: string, detail = ''): FieldError {
  return { type: 'FieldValueRequired', field, message: detail };
}

/** A FieldValueForbidden error. */
export function forbiddenField(field: string, detail: string): FieldError {
  return { type: 'FieldValueForbidden', field, message: detail };
}

/** A FieldValueNotSupported error listing the supported values. */
export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
  return { type: 'FieldValueNotSupported', field, message: `${quote(value)}: supported values: ${supported.map((s) => quote(s)).join(', ')}` };
}

/** A FieldValueDuplicate error. */
export function duplicate(field: string, value: unknown): FieldError {
  return { type: 'FieldValueDuplicate', field, message: quote(value) };
}

/** Label map rules: keys are qualified names, values label values. */
export function validateLabels(labels: Record<string, string> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!isValidLabelKey(k)) errs.push(invalidValue(field, k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
    if (typeof v !== 'string' || !isValidLabelValue(v)) errs.push(invalidValue(`${field}`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
  }
  return errs;
}

const TOTAL_ANNOTATION_SIZE = 256 * 1024;

/** Annotation rules: qualified-name keys (lowercased check), total size <= 256 KiB. */
export function validateAnnotations(annotations: Record<string, string> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (!isValidLabelKey(k.toLowerCase())) errs.push(invalidValue(field, k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
    size += k.length + (typeof v === 'string' ? v.length : 0);
  }
  if (size > TOTAL_ANNOTATION_SIZE) errs.push({ type: 'FieldValueTooLong', field, message: `may not be more than ${TOTAL_ANNOTATION_SIZE} bytes` });
  return errs;
}

/**
 * ObjectMeta rules for create and update: name (by the kind's rule) or generateName, namespace
 * presence matching scope, labels, annotations, owner references, finalizers.
 */
export function validateObjectMeta(meta: ObjectMeta, options: { namespaced: boolean; nameRule: NameRule }): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta.name) {
    if (!meta.generateName) errs.push(required('metadata.name', 'name or generateName is required'));
  } else {
    for (const m of checkName(meta.name, options.nameRule)) errs.push(invalidValue('metadata.name', meta.name, m));
  }
  if (options.namespaced) {
    if (!meta.namespace) errs.push(required('metadata.namespace'));
    else for (const m of checkName(meta.namespace, 'label')) errs.push(invalidValue('metadata.namespace', meta.namespace, m));
  } else if (meta.namespace) {
    errs.push(forbiddenField('metadata.namespace', 'not allowed on this type'));
  }
  errs.push(...validateLabels(meta.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  (meta.ownerReferences ?? []).forEach((r, i) => {
    const f = `metadata.ownerReferences[${i}]`;
    if (!r.apiVersion) errs.push(invalidValue(`${f}.apiVersion`, r.apiVersion ?? '', 'version must not be empty'));
    if (!r.kind) errs.push(invalidValue(`${f}.kind`, r.kind ?? '', 'kind must not be empty'));
    if (!r.name) errs.push(invalidValue(`${f}.name`, r.name ?? '', 'name must not be empty'));
    if (!r.uid) errs.push(invalidValue(`${f}.uid`, r.uid ?? '', 'uid must not be empty'));
  });
  const controllers = (meta.ownerReferences ?? []).filter((r) => r.controller === true);
  if (controllers.length > 1) errs.push(invalidValue('metadata.ownerReferences', controllers.map((c) => c.name), 'Only one reference can have Controller set to true'));
  (meta.finalizers ?? []).forEach((f, i) => {
    if (typeof f !== 'string' || !isValidLabelKey(f)) errs.push(invalidValue(`metadata.finalizers[${i}]`, f, "name part must consist of alphanumeric characters, '-', '_' or '.'"));
    else if (!f.includes('/') && !STANDARD_FINALIZERS.has(f)) errs.push(invalidValue(`metadata.finalizers[${i}]`, f, 'name is neither a standard finalizer name nor is it fully qualified'));
  });
  return errs;
}

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

/** Fields that can never change after create. */
export function validateObjectMetaUpdate(meta: ObjectMeta, old: ObjectMeta): FieldError[] {
  const errs: FieldError[] = [];
  if (meta.name !== old.name) errs.push(invalidValue('metadata.name', meta.name, 'field is immutable'));
  if ((meta.namespace ?? '') !== (old.namespace ?? '')) errs.push(invalidValue('metadata.namespace', meta.namespace, 'field is immutable'));
  if (meta.uid !== old.uid) errs.push(invalidValue('metadata.uid', meta.uid, 'field is immutable'));
  if (meta.creationTimestamp !== old.creationTimestamp) errs.push(invalidValue('metadata.creationTimestamp', meta.creationTimestamp, 'field is immutable'));
  if (old.deletionTimestamp && meta.deletionTimestamp !== old.deletionTimestamp) errs.push(invalidValue('metadata.deletionTimestamp', meta.deletionTimestamp, 'field is immutable; may only be changed via deletion'));
  if (old.deletionTimestamp && (meta.finalizers ?? []).some((f) => !(old.finalizers ?? []).includes(f))) {
    errs.push(forbiddenField('metadata.finalizers', 'no new finalizers can be added if the object is being deleted'));
  }
  return errs;
}
