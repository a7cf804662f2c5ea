/** Output paths checked before a command does its work, so a bad one fails in one line, early. */
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../engine/errors.js";

const reason = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  return `${e.code ?? "error"}: ${e.message.replace(/^[A-Z]+: /, "").replace(/, \w+ .*$/, "")}`;
};

/** Create `path`'s directory and check that `path` can be written; `flag` names the option. */
export function checkWritableFile(path: string, flag: string): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UserError(`${flag} ${path}: cannot create its directory ${dir} (${reason(err)})`);
  }
  try {
    if (existsSync(path)) {
      if (statSync(path).isDirectory()) throw new UserError(`${flag} ${path}: is a directory, expected a file name`);
      accessSync(path, constants.W_OK);
    } else {
      accessSync(dir, constants.W_OK);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${flag} ${path}: not writable (${reason(err)})`);
  }
}

/** Write through `write`, turning a file-system failure into a one-line error naming `path`. */
export function writeOrExplain(path: string, flag: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    throw new UserError(`${flag} ${path}: cannot write (${reason(err)})`);
  }
}

/** Create directory `dir` (and its parents) and check that files can be written in it. */
export function checkWritableDir(dir: string, flag: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new UserError(`${flag} ${dir}: not a writable directory (${reason(err)})`);
  }
}
