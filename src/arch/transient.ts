/**
 * Transient edits: the persistent structures of the model (physical memory pages and trie nodes, TLB and cache arrays,
 * VMCS field arrays) updated in place while nobody else can see them.
 *
 * Models nothing architectural: this is how the pure model stays fast (the "transients" of persistent data
 * structures). A pure operation copies what it changes. Inside `transient(f)` an operation may instead write in
 * place into a copy that was made inside the same call of `transient` (`owned`), because no value that existed
 * before the call can hold it: it was created by this scope and is reachable only from values this scope created.
 * When the scope ends its ownership set is dropped, and everything it made is immutable from then on.
 *
 * Rules for code that runs inside a scope (src/replay/replay.ts `replayChunk` is the only one that opens one):
 *  - a value derived inside the scope supersedes the value it came from: do not read an older value of the same
 *    structure after deriving a newer one (replayChunk threads one machine from event to event);
 *  - every change still returns a new wrapper object (PhysMem, CacheArray, ...), so identity checks ("did anything
 *    change?") keep working; only the large buffers inside are shared and written in place.
 * Outside any scope `owned` is always false and every operation copies, exactly as before.
 */

/** The ownership set of the innermost open scope, or null outside any scope. */
let current: Set<object> | null = null;

/**
 * Runs `f` in a fresh transient scope. Values returned by `f` are ordinary immutable values once `transient`
 * returns. Scopes nest (the inner one owns nothing of the outer one's).
 */
export const transient = <T>(f: () => T): T => {
  const prev = current;
  const mine = new Set<object>();
  current = mine;
  try {
    return f();
  } finally {
    current = prev;
    // the set may outlive the scope as the `scope()` identity recorded by a structure: keep it empty
    mine.clear();
  }
};

/** True when `o` was created inside the current scope (so it may be written in place). */
export const owned = (o: object): boolean => current !== null && current.has(o);

/** Records `o` (a fresh copy made by the caller) as owned by the current scope, if any; returns `o`. */
export const adopt = <T extends object>(o: T): T => {
  if (current !== null) current.add(o);
  return o;
};

/**
 * The current scope's identity (null outside any scope): a structure that records the scope that copied it (rather
 * than `adopt`ing it) is writable in place while `scope()` still returns that value. Cheaper than `owned` for
 * values that are checked on every update (TLB arrays; physical-memory trie nodes and pages, src/arch/phys.ts).
 * Never the identity of two scopes: a scope's value is a fresh object, and it is not current again once the scope
 * has ended.
 */
export const scope = (): object | null => current;

/** True inside a scope. */
export const inTransient = (): boolean => current !== null;
