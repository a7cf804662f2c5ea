/**
 * An error caused by the user's input (a file, a flag, a config field). The CLI prints its
 * message without a stack trace and exits with a non-zero code.
 */
export class UserError extends Error {
  override readonly name: string = "UserError";
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}
