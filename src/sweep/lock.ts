/**
 * An exclusive lock on a run directory, so that one run never trains in two places at once
 * (two workers given the same job, a job redelivered after a stall, a sweep submitted twice).
 *
 * The lock is a file `<run-dir>.lock` beside the run directory, created with O_EXCL (atomic
 * on local filesystems and on NFS v3+). It holds `{ token, pid, host, since }`; its holder
 * touches it (mtime) every `staleMs / 4` and after every epoch. Another process may take it
 * over only when it is stale:
 *   - same host and the holder's pid no longer exists (a crashed or SIGKILLed worker: at once);
 *   - or its mtime is older than `staleMs` (a holder on another machine that stopped).
 * Taking over renames the stale file away (atomic, one winner) and checks that the renamed
 * file is the one judged stale; a holder that finds its token gone stops at the next epoch.
 */
import { closeSync, existsSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

export interface LockInfo {
  token: string;
  pid: number;
  host: string;
  since: string;
}

export interface RunLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Refresh the heartbeat; false when the lock is no longer ours. */
  touch(): boolean;
  /** True while the lock file still carries our token. */
  held(): boolean;
  release(): void;
}

export const DEFAULT_STALE_MS = 10 * 60_000;

function readLock(path: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockInfo;
  } catch {
    return null; // vanished, or a half-written file of a holder that died between create and write
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why the lock at `path` may be taken over, or null while its holder is alive. */
export function staleReason(path: string, staleMs: number, now = Date.now()): string | null {
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    return "gone";
  }
  const info = readLock(path);
  if (info && info.host === hostname() && !pidAlive(info.pid)) return `its holder (pid ${info.pid} on ${info.host}) is gone`;
  if (now - mtime > staleMs) return `no heartbeat for ${Math.round((now - mtime) / 1000)} s${info ? ` (pid ${info.pid} on ${info.host})` : ""}`;
  return null;
}

/** Try once to take the lock; null when a live holder has it. */
export function tryLock(path: string, staleMs = DEFAULT_STALE_MS, log: (line: string) => void = () => {}): RunLock | null {
  const info: LockInfo = { token: randomBytes(8).toString("hex"), pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, JSON.stringify(info));
      } finally {
        closeSync(fd);
      }
      return makeLock(path, info, staleMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readLock(path);
    const reason = staleReason(path, staleMs);
    if (!reason) return null;
    if (reason === "gone") continue;
    const aside = `${path}.stale-${info.token}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readLock(aside);
    if (holder && moved && moved.token !== holder.token) {
      // The file changed between the check and the rename: a live holder's lock. Put it back.
      try {
        linkSync(aside, path);
      } catch {
        /* a third process created a lock meanwhile; theirs stands */
      }
      unlinkSync(aside);
      return null;
    }
    unlinkSync(aside);
    log(`took over the lock ${path}: ${reason}`);
  }
  return null;
}

function makeLock(path: string, info: LockInfo, staleMs: number): RunLock {
  let released = false;
  const held = () => !released && readLock(path)?.token === info.token;
  const touch = () => {
    if (!held()) return false;
    const now = new Date();
    try {
      utimesSync(path, now, now);
      return true;
    } catch {
      return false;
    }
  };
  const timer = setInterval(touch, Math.max(50, Math.floor(staleMs / 4)));
  timer.unref();
  return {
    path,
    info,
    touch,
    held,
    release() {
      clearInterval(timer);
      if (held()) unlinkSync(path);
      released = true;
    },
  };
}

/** Wait (polling every `pollMs`) until the lock is ours; `onWait` is called once while waiting. */
export async function acquireLock(path: string, options: { staleMs?: number; pollMs?: number; onWait?: (holder: LockInfo | null) => void; log?: (line: string) => void } = {}): Promise<RunLock> {
  let waited = false;
  for (;;) {
    const lock = tryLock(path, options.staleMs, options.log);
    if (lock) return lock;
    if (!waited) options.onWait?.(existsSync(path) ? readLock(path) : null);
    waited = true;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
}
