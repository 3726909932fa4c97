// Small predicates and one error factory: messages name the parameter, the expectation and
// what was received ("Expected positive integer for window but received 0").

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length: number }).length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  return typeof v;
}

export function invalid(name: string, expected: string, got: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(got)}`);
}

export function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalid(name, 'positive integer', v);
  return v;
}

export function nonNegativeInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid(name, 'non-negative integer', v);
  return v;
}

export function finiteNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(name, 'finite number', v);
  return v;
}
