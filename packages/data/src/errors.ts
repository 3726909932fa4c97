// A user error: the input or the request is wrong and the message says how. The CLI prints the
// message and exits 1; anything else is an internal error (exit 2).
import { EngineError } from '@regime/engine';

export class UserError extends Error {
  override readonly name = 'UserError';
}

export function isUserError(e: unknown): boolean {
  return e instanceof UserError || (e instanceof EngineError && e.userError);
}
