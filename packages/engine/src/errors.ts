// Errors from the native core. The binding gives bad input the code 'InvalidArg'; those are the
// caller's to fix (the CLI exits 1), anything else is an internal failure (exit 2).

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    message: string,
    readonly userError: boolean,
  ) {
    super(message);
  }
}

export function wrapNativeError(e: unknown): Error {
  if (e instanceof EngineError) return e;
  if (e instanceof Error) {
    const code = (e as Error & { code?: string }).code;
    return new EngineError(e.message, code === 'InvalidArg');
  }
  return new EngineError(String(e), false);
}

export async function callAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw wrapNativeError(e);
  }
}

export function callSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw wrapNativeError(e);
  }
}
