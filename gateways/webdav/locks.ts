/**
 * WebDAV write locks (RFC 4918 §6–7): exclusive and shared, depth 0 or infinity, with timeouts
 * and refresh. Pure and in memory: the table lives in ONE gateway process. Several gateway
 * processes in front of one deployment do not see each other's locks (docs/webdav.md says so:
 * run one gateway per deployment, or route a client's requests to the same one); a restart
 * forgets every lock, which clients see as an expired lock.
 *
 * Paths are the gateway's client paths ("/a/b", "/" for the root), never with a trailing slash.
 */
import { randomUUID } from "node:crypto";
import { strataError } from "../../core/errors.ts";

export type LockScope = "exclusive" | "shared";

export interface Lock {
  token: string;
  /** The locked resource. */
  root: string;
  scope: LockScope;
  depth: "0" | "infinity";
  /** The client's `<D:owner>` content, as self-contained XML (may be empty). */
  owner: string;
  /** Seconds granted at the last LOCK or refresh. */
  timeoutSeconds: number;
  /** Epoch ms after which the lock is gone. */
  expiresAt: number;
  /** Who took it (a hash of the credential): only they may use its token. */
  principal: string;
}

/** Longest timeout granted (a client asking for more, or "Infinite", gets this). */
export const MAX_LOCK_SECONDS = 24 * 3600;
export const DEFAULT_LOCK_SECONDS = 3600;

/** Is `path` the same as or beneath `root`? */
export function within(path: string, root: string): boolean {
  return path === root || root === "/" || path.startsWith(`${root}/`);
}

/** The timeout a `Timeout:` header asks for (first acceptable value), capped. */
export function timeoutFrom(header: string | undefined): number {
  if (!header) return DEFAULT_LOCK_SECONDS;
  for (const part of header.split(",")) {
    const t = part.trim();
    if (/^infinite$/i.test(t)) return MAX_LOCK_SECONDS;
    const m = /^second-(\d+)$/i.exec(t);
    if (m) return Math.max(1, Math.min(MAX_LOCK_SECONDS, Number(m[1])));
  }
  return DEFAULT_LOCK_SECONDS;
}

/** Test-only: acquire without the conflict check (the counter-check of test/unit/webdav-locks.test.ts). */
export const UNSAFE_LOCK_SWITCHES = { noConflictCheck: false };

export class LockTable {
  private readonly locks = new Map<string, Lock>();

  constructor(private readonly now: () => number = Date.now) {}

  private live(): Lock[] {
    const t = this.now();
    for (const [token, lock] of this.locks) if (lock.expiresAt <= t) this.locks.delete(token);
    return [...this.locks.values()];
  }

  /** Locks that apply to `path`: on it, or depth-infinity on an ancestor. */
  covering(path: string): Lock[] {
    return this.live().filter((l) => l.root === path || (l.depth === "infinity" && within(path, l.root)));
  }

  /** Locks on `path`'s strict descendants. */
  below(path: string): Lock[] {
    return this.live().filter((l) => l.root !== path && within(l.root, path));
  }

  get(token: string): Lock | undefined {
    return this.live().find((l) => l.token === token);
  }

  /**
   * A new lock, or `ECONFLICT` (→ 423) when an exclusive lock would meet
   * any other lock, or a shared one an exclusive lock, on the path, an ancestor (depth infinity)
   * or — for a depth-infinity request — a descendant.
   */
  acquire(spec: Omit<Lock, "token" | "expiresAt">): Lock {
    const others = [...this.covering(spec.root), ...(spec.depth === "infinity" ? this.below(spec.root) : [])];
    const clash = others.find((l) => l.scope === "exclusive" || spec.scope === "exclusive");
    if (clash && !UNSAFE_LOCK_SWITCHES.noConflictCheck)
      throw strataError("ECONFLICT", `${spec.root} is locked (${clash.scope}, on ${clash.root})`, {
        path: spec.root,
      });
    const lock: Lock = {
      ...spec,
      token: `urn:uuid:${randomUUID()}`,
      expiresAt: this.now() + spec.timeoutSeconds * 1000,
    };
    this.locks.set(lock.token, lock);
    return lock;
  }

  refresh(lock: Lock, timeoutSeconds: number): Lock {
    lock.timeoutSeconds = timeoutSeconds;
    lock.expiresAt = this.now() + timeoutSeconds * 1000;
    return lock;
  }

  release(token: string): boolean {
    return this.locks.delete(token);
  }

  /** Drop every lock on `path` and below (the resource was deleted or moved away). */
  dropTree(path: string): void {
    for (const l of this.live()) if (within(l.root, path)) this.locks.delete(l.token);
  }

  /**
   * The locks that stop `principal` from changing `path` with the submitted `tokens`: each lock
   * on it (and, with `tree`, on its descendants) unless the request names that lock's token and
   * the lock is the principal's. Empty: the change may go ahead.
   */
  blocking(path: string, tokens: Set<string>, principal: string, tree: boolean): Lock[] {
    const held = (l: Lock) => tokens.has(l.token) && l.principal === principal;
    const relevant = [...this.covering(path), ...(tree ? this.below(path) : [])];
    // Shared locks on one resource: holding any one of them is enough for that resource.
    const sharedHeld = new Set(relevant.filter((l) => l.scope === "shared" && held(l)).map((l) => l.root));
    return relevant.filter((l) => !held(l) && !(l.scope === "shared" && sharedHeld.has(l.root)));
  }
}
