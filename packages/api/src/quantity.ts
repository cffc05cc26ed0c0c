/**
 * Resource quantities (`100m`, `1.5Gi`, `2e3`) with Kubernetes' syntax and exact arithmetic: values
 * are held as integer nano-units (bigint), so `0.1` CPU plus `0.2` CPU is exactly `300m`.
 */

/** How a quantity was written, which decides how it prints. */
export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

const NANO = 1_000_000_000n;

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

const QUANTITY_RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** A malformed quantity. */
export class QuantityError extends Error {
  override readonly name = 'QuantityError';
}

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a > 0n) === (b > 0n) ? q + 1n : q;
}

/** An exact quantity. */
export class Quantity {
  constructor(
    /** The value in nano-units (1 = 10^-9). */
    readonly nano: bigint,
    readonly format: QuantityFormat = 'DecimalSI',
  ) {}

  /** The value in milli-units, rounded up (CPU millicores). */
  toMilli(): bigint {
    return ceilDiv(this.nano, 1_000_000n);
  }

  /** The value in whole units, rounded up (bytes, counts). */
  value(): bigint {
    return ceilDiv(this.nano, NANO);
  }

  /** The value in bytes, rounded up (memory, storage): the same as `value()`. */
  toBytes(): bigint {
    return this.value();
  }

  /** True for zero. */
  isZero(): boolean {
    return this.nano === 0n;
  }

  /** True when both quantities have the same value, whatever their format. */
  equals(other: Quantity): boolean {
    return this.nano === other.nano;
  }

  /** The negated quantity (same format). */
  neg(): Quantity {
    return new Quantity(-this.nano, this.format);
  }

  /** This quantity times an integer factor (same format). */
  mul(factor: bigint | number): Quantity {
    return new Quantity(this.nano * BigInt(factor), this.format);
  }

  /** The value as a float (for ratios; not exact). */
  toNumber(): number {
    return Number(this.nano) / 1e9;
  }

  /** -1, 0 or 1. */
  sign(): number {
    return this.nano === 0n ? 0 : this.nano > 0n ? 1 : -1;
  }

  /** Compares by value. */
  cmp(other: Quantity): number {
    return this.nano === other.nano ? 0 : this.nano < other.nano ? -1 : 1;
  }

  /** Sum (keeps this quantity's format). */
  add(other: Quantity): Quantity {
    return new Quantity(this.nano + other.nano, this.format);
  }

  /** Difference (keeps this quantity's format). */
  sub(other: Quantity): Quantity {
    return new Quantity(this.nano - other.nano, this.format);
  }

  /** The canonical string Kubernetes would print (`100m`, `1Gi`, `1500M`). */
  toString(): string {
    return formatQuantity(this.nano, this.format);
  }
}

/**
 * Parsed and printed quantities by input, since the same few (`100m`, `128Mi`) recur in every pod:
 * a hit skips the bigint arithmetic. Quantities are immutable, so one instance can be shared.
 * Bounded (emptied when full): the inputs come from requests.
 */
const CACHE_LIMIT = 4096;
const parsed = new Map<string, Quantity>();
const printed: Record<QuantityFormat, Map<bigint, string>> = { BinarySI: new Map(), DecimalSI: new Map(), DecimalExponent: new Map() };

function remember<K, V>(cache: Map<K, V>, key: K, value: V): V {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}

/** Parses a quantity; numbers are taken as decimal values. Throws QuantityError when malformed. */
export function parseQuantity(input: string | number): Quantity {
  if (typeof input === 'string') return parsed.get(input) ?? remember(parsed, input, parseUncached(input));
  return parseUncached(input);
}

function parseUncached(input: string | number): Quantity {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new QuantityError(`quantity ${input} is not finite`);
    // String() keeps the exact decimal JavaScript holds (`0.5`, `1e-7`, `1e+21`), which the grammar accepts.
    input = String(input);
  }
  const s = input.trim();
  const m = QUANTITY_RE.exec(s);
  if (!m) throw new QuantityError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  const numText = m[1]!;
  const suffix = m[2] ?? '';
  const negative = numText.startsWith('-');
  const digits = numText.replace(/^[+-]/, '');
  const [intPart, fracPart = ''] = digits.split('.');
  // mantissa * 10^-fracLen
  let mantissa = BigInt((intPart || '0') + fracPart);
  let exp10 = -fracPart.length;
  let format: QuantityFormat = 'DecimalSI';
  let binaryShift = 0;
  if (suffix in BINARY_SUFFIXES) {
    binaryShift = BINARY_SUFFIXES[suffix]!;
    format = 'BinarySI';
  } else if (suffix in DECIMAL_SUFFIXES) {
    exp10 += DECIMAL_SUFFIXES[suffix]!;
  } else {
    exp10 += Number(suffix.slice(1));
    format = 'DecimalExponent';
  }
  if (binaryShift > 0) mantissa <<= BigInt(binaryShift);
  // Convert to nano-units, rounding up to the nearest nano (as Kubernetes does).
  const shift = exp10 + 9;
  let nano: bigint;
  if (shift >= 0) {
    if (shift > 60) throw new QuantityError('quantity is too large');
    nano = mantissa * 10n ** BigInt(shift);
  } else {
    nano = ceilDiv(mantissa, 10n ** BigInt(-shift));
  }
  return new Quantity(negative ? -nano : nano, format);
}

/** True when the string is a valid quantity. */
export function isValidQuantity(s: string): boolean {
  try {
    parseQuantity(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Prints nano-units the way Kubernetes canonicalizes a quantity: BinarySI values of at least 1Ki
 * that are whole units use the largest binary suffix that divides them (`1536Mi`, `2Gi`, `1500`);
 * everything else uses the largest decimal suffix that keeps the number integral (`1500m`, `1k`).
 */
export function formatQuantity(nano: bigint, format: QuantityFormat = 'DecimalSI'): string {
  const cache = printed[format];
  return cache.get(nano) ?? remember(cache, nano, formatUncached(nano, format));
}

function formatUncached(nano: bigint, format: QuantityFormat): string {
  if (nano === 0n) return '0';
  const sign = nano < 0n ? '-' : '';
  const abs = nano < 0n ? -nano : nano;
  if (format === 'BinarySI' && abs % NANO === 0n && abs >= 1024n * NANO) {
    let v = abs / NANO;
    const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
    let i = 0;
    while (i < units.length - 1 && v % 1024n === 0n) {
      v /= 1024n;
      i++;
    }
    return `${sign}${v}${units[i]}`;
  }
  // Decimal: find the exponent (multiple of 3) leaving an integral mantissa.
  const suffixes: [string, number][] = [
    ['E', 27],
    ['P', 24],
    ['T', 21],
    ['G', 18],
    ['M', 15],
    ['k', 12],
    ['', 9],
    ['m', 6],
    ['u', 3],
    ['n', 0],
  ];
  for (const [suf, e] of suffixes) {
    const div = 10n ** BigInt(e);
    if (abs % div === 0n) {
      const v = abs / div;
      if (format === 'DecimalExponent' && e !== 9 && e >= 9) return `${sign}${v}e${e - 9}`;
      return `${sign}${v}${suf}`;
    }
  }
  return `${sign}${abs}n`;
}

/** A quantity of milli-units (`quantityFromMilli(250)` prints `250m`). */
export function quantityFromMilli(milli: bigint | number): Quantity {
  return new Quantity(BigInt(milli) * 1_000_000n, 'DecimalSI');
}

/** A quantity of whole units; BinarySI for byte counts (`quantityFromValue(1n << 30n, 'BinarySI')` prints `1Gi`). */
export function quantityFromValue(value: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
  return new Quantity(BigInt(value) * NANO, format);
}

/** Milli-units printed canonically (`250m`, `1`, `1500m`): how CPU amounts are written. */
export function formatMilli(milli: bigint | number): string {
  return formatQuantity(BigInt(milli) * 1_000_000n, 'DecimalSI');
}

/** A byte count printed canonically with binary suffixes (`128Mi`, `1Gi`, `1000`): how memory is written. */
export function formatBytes(bytes: bigint | number): string {
  return formatQuantity(BigInt(bytes) * NANO, 'BinarySI');
}

/** Compares two quantities given as strings, numbers or parsed values: -1, 0 or 1. Throws QuantityError when malformed. */
export function compareQuantities(a: string | number | Quantity, b: string | number | Quantity): number {
  const qa = a instanceof Quantity ? a : parseQuantity(a);
  const qb = b instanceof Quantity ? b : parseQuantity(b);
  return qa.cmp(qb);
}
