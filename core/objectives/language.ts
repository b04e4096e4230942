/**
 * The objective language: what an application or operator says about where a file's bytes should
 * live. Parsed here into plain data; `planPlacement` (planner.ts) turns it into volumes.
 * The grammar, with examples, is in docs/objectives.md:
 *
 * ```
 * text       := (statement? (";" | newline))*          # "#" starts a comment
 * statement  := "override"                             # drop everything inherited from above
 *             | ("when" cond ("and" cond)*)? action
 * action     := "place" N "on" selector                # N volumes matching the selector
 *             | "keep" N "copies" "on" selector        # a bare word is a class: `keep 2 copies on durable`
 *             | "exclude" selector                     # never these volumes
 *             | "prefer" selector                      # a bare word is a site: `prefer gcs-eu`
 *             | "after" duration "move" "to" selector  # once mtime is older: only there (a bare word is a class)
 * selector   := term ("," term)*                       # all terms must match
 * term       := "any" | key ":" value                  # key: site cloud class volume kind; value: word, "string" or $tag:<key>
 * cond       := "tag:"key (("=" | "!=") value)?        # tags inherited from ancestors, nearest wins
 *             | "path" "~" glob                        # * within a name, ** across names
 *             | ("size" | "mtime" | "atime") op number-with-unit   # mtime/atime: age (30d, 12h)
 *             | ("owner" | "uid") ("=" | "!=") number
 * ```
 *
 * Errors: EINVAL with `details.line` and `details.column` (1-based) of the offending token.
 */
import { StrataError } from "../errors.ts";
import { utf8Length } from "../text.ts";

export type SelectorKey = "site" | "cloud" | "class" | "volume" | "kind";
export const SELECTOR_KEYS: readonly SelectorKey[] = ["site", "cloud", "class", "volume", "kind"];

/** A selector value: literal, or the value of one of the file's (inherited) tags. */
export type SelectorValue = { literal: string } | { tag: string };

/** Volumes matching every term; no term = any active volume. */
export interface Selector {
  terms: Array<{ key: SelectorKey; value: SelectorValue }>;
}

export type Comparison = "=" | "!=" | "<" | "<=" | ">" | ">=";

export type Condition =
  | { kind: "tag"; key: string; op: "=" | "!=" | "exists"; value?: string }
  | { kind: "path"; glob: string }
  | { kind: "size"; op: Comparison; bytes: number }
  | { kind: "age"; of: "mtime" | "atime"; op: Comparison; ms: number }
  | { kind: "owner"; op: "=" | "!="; uid: number };

export type Action =
  | { kind: "place"; count: number; on: Selector }
  | { kind: "keep"; count: number; on: Selector }
  | { kind: "exclude"; on: Selector }
  | { kind: "prefer"; on: Selector }
  | { kind: "after"; ms: number; on: Selector };

export interface Statement {
  /** All must hold for the action to apply. */
  when: Condition[];
  action: Action;
  /** The statement's text, for explain(). */
  source: string;
  line: number;
}

export interface ObjectiveSet {
  /** `override` was given: inherited objectives are dropped at this level. */
  override: boolean;
  statements: Statement[];
}

/** Objective texts are small; a bound keeps metadata items and parse time small too. */
export const OBJECTIVE_LIMITS = { textBytes: 8 * 1024, statements: 64, count: 16 } as const;

interface Token {
  kind: "word" | "string" | "op" | "sep";
  text: string;
  line: number;
  column: number;
}

function fail(message: string, at: { line: number; column: number }, extra: Record<string, unknown> = {}) {
  return new StrataError("EINVAL", `objective, line ${at.line} column ${at.column}: ${message}`, {
    details: { line: at.line, column: at.column, ...extra },
  });
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const at = (pos: number) => ({ line, column: pos - lineStart + 1 });
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n" || c === ";") {
      tokens.push({ kind: "sep", text: c, ...at(i) });
      i++;
      if (c === "\n") {
        line++;
        lineStart = i;
      }
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === '"') {
      const start = i++;
      let value = "";
      for (;;) {
        if (i >= text.length || text[i] === "\n")
          throw fail('unterminated string; close it with "', at(start));
        const d = text[i]!;
        if (d === '"') break;
        if (d === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: "string", text: value, ...at(start) });
    } else if ("=!<>~".includes(c)) {
      const two = text.slice(i, i + 2);
      const op = ["!=", "<=", ">="].includes(two) ? two : c;
      if (op === "!") throw fail("`!` must be followed by `=`", at(i));
      tokens.push({ kind: "op", text: op, ...at(i) });
      i += op.length;
    } else if (c === ",") {
      tokens.push({ kind: "op", text: ",", ...at(i) });
      i++;
    } else if (/[A-Za-z0-9_$.\-*/:]/.test(c)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_$.\-*/:]/.test(text[i]!)) i++;
      tokens.push({ kind: "word", text: text.slice(start, i), ...at(start) });
    } else {
      throw fail(`unexpected character ${JSON.stringify(c)}`, at(i));
    }
  }
  return tokens;
}

const RESERVED = new Set(["when", "and", "place", "keep", "exclude", "prefer", "after", "override", "on"]);

const UNITS_BYTES: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};
const UNITS_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Parse a text into statements; EINVAL with line/column on the first error, nothing else. */
export function parseObjectives(text: string): ObjectiveSet {
  if (typeof text !== "string")
    throw new StrataError("EINVAL", "objective: the text must be a string", {
      details: { line: 1, column: 1 },
    });
  if (utf8Length(text) > OBJECTIVE_LIMITS.textBytes)
    throw new StrataError(
      "EINVAL",
      `objective: the text is longer than ${OBJECTIVE_LIMITS.textBytes} bytes; split it over directories`,
      { details: { line: 1, column: 1 } },
    );
  const tokens = tokenize(text);
  const lines = text.split("\n");
  let pos = 0;
  const end = () => {
    const last = tokens.at(-1);
    return last ? { line: last.line, column: last.column + last.text.length } : { line: 1, column: 1 };
  };
  const peek = () => tokens[pos];
  const next = (what: string): Token => {
    const t = tokens[pos];
    if (!t || t.kind === "sep")
      throw fail(`expected ${what}, found ${t ? "end of statement" : "end of text"}`, t ?? end());
    pos++;
    return t;
  };
  const keyword = (word: string) => {
    const t = next(`\`${word}\``);
    if (t.kind !== "word" || t.text.toLowerCase() !== word)
      throw fail(`expected \`${word}\`, found \`${t.text}\``, t);
  };
  const isWord = (t: Token | undefined, word: string) => t?.kind === "word" && t.text.toLowerCase() === word;

  const count = (): number => {
    const t = next("a number of copies");
    const n = Number(t.text);
    if (t.kind !== "word" || !Number.isInteger(n) || n < 1 || n > OBJECTIVE_LIMITS.count)
      throw fail(`expected a number of copies 1..${OBJECTIVE_LIMITS.count}, found \`${t.text}\``, t);
    return n;
  };

  const quantity = (t: Token, units: Record<string, number>, what: string): number => {
    const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(t.text);
    const unit = m?.[2]?.toLowerCase() ?? "";
    if (t.kind !== "word" || !m || !(unit in units))
      throw fail(`expected ${what}, found \`${t.text}\``, t, { units: Object.keys(units).filter(Boolean) });
    return Number(m[1]) * units[unit]!;
  };

  const value = (what: string): { text: string; token: Token } => {
    const t = next(what);
    // A keyword is never an unquoted value: `when tag:x = place 1 …` is a missing value, not "place".
    if (
      (t.kind !== "word" && t.kind !== "string") ||
      (t.kind === "word" && RESERVED.has(t.text.toLowerCase()))
    )
      throw fail(`expected ${what}, found \`${t.text}\``, t);
    return { text: t.text, token: t };
  };

  /** `bare` is the key a lone word means (class for keep/after, site for prefer). */
  const selector = (bare?: SelectorKey): Selector => {
    const terms: Selector["terms"] = [];
    for (;;) {
      const t = next("a volume selector (site:…, cloud:…, class:…, volume:…, kind:… or any)");
      if (t.kind !== "word") throw fail(`expected a volume selector, found \`${t.text}\``, t);
      if (t.text.toLowerCase() === "any" && terms.length === 0) {
        if (peek()?.kind === "op" && peek()?.text === ",")
          throw fail("`any` cannot be combined with other terms", peek()!);
        return { terms };
      }
      const colon = t.text.indexOf(":");
      let key: string;
      let raw: string;
      if (colon < 0) {
        if (!bare)
          throw fail(`expected key:value (e.g. site:${t.text}), found \`${t.text}\``, t, {
            keys: SELECTOR_KEYS,
          });
        key = bare;
        raw = t.text;
      } else {
        key = t.text.slice(0, colon).toLowerCase();
        raw = t.text.slice(colon + 1);
        if (raw === "" && peek()?.kind === "string") raw = `"${next("a value").text}`;
      }
      if (!SELECTOR_KEYS.includes(key as SelectorKey))
        throw fail(`unknown selector key \`${key}\`; use ${SELECTOR_KEYS.join(", ")}`, t, {
          keys: SELECTOR_KEYS,
        });
      if (raw === "") throw fail(`selector \`${key}:\` needs a value`, t);
      let v: SelectorValue;
      if (raw.startsWith('"')) v = { literal: raw.slice(1) };
      else if (raw.toLowerCase().startsWith("$tag:")) {
        const tag = raw.slice(5);
        if (tag === "") throw fail("`$tag:` needs a tag key, e.g. $tag:render-site", t);
        v = { tag };
      } else v = { literal: raw };
      terms.push({ key: key as SelectorKey, value: v });
      if (peek()?.kind === "op" && peek()?.text === ",") {
        pos++;
        continue;
      }
      return { terms };
    }
  };

  const comparison = (allowed: readonly string[]): Comparison => {
    const t = next(`one of ${allowed.join(" ")}`);
    if (t.kind !== "op" || !allowed.includes(t.text))
      throw fail(`expected one of ${allowed.join(" ")}, found \`${t.text}\``, t);
    return t.text as Comparison;
  };

  const condition = (): Condition => {
    const t = next("a condition (tag:…, path ~ …, size, mtime, atime, owner)");
    if (t.kind !== "word") throw fail(`expected a condition, found \`${t.text}\``, t);
    const word = t.text.toLowerCase();
    if (word.startsWith("tag:")) {
      const key = t.text.slice(4);
      if (key === "") throw fail("`tag:` needs a tag key, e.g. tag:render-site", t);
      const op = peek();
      if (op?.kind === "op" && (op.text === "=" || op.text === "!=")) {
        pos++;
        return { kind: "tag", key, op: op.text, value: value("a tag value").text };
      }
      if (op?.kind === "op") throw fail(`tags compare with = or !=, not \`${op.text}\``, op);
      return { kind: "tag", key, op: "exists" };
    }
    if (word === "path") {
      comparison(["~"]);
      const glob = value('a glob in quotes, e.g. "/show/**/*.exr"');
      if (!glob.text.startsWith("/")) throw fail("a path glob is absolute (starts with /)", glob.token);
      return { kind: "path", glob: glob.text };
    }
    if (word === "size") {
      const op = comparison(["<", "<=", ">", ">=", "=", "!="]);
      return { kind: "size", op, bytes: quantity(next("a size"), UNITS_BYTES, "a size (10MB, 2GiB, 4096)") };
    }
    if (word === "mtime" || word === "atime") {
      const op = comparison(["<", "<=", ">", ">="]);
      return {
        kind: "age",
        of: word,
        op,
        ms: quantity(next("an age"), UNITS_MS, "an age (30d, 12h, 15m, 2w)"),
      };
    }
    if (word === "owner" || word === "uid") {
      const op = comparison(["=", "!="]) as "=" | "!=";
      const n = next("a uid");
      const uid = Number(n.text);
      if (!Number.isInteger(uid) || uid < 0) throw fail(`expected a numeric uid, found \`${n.text}\``, n);
      return { kind: "owner", op, uid };
    }
    throw fail(`unknown condition \`${t.text}\`; use tag:<key>, path, size, mtime, atime or owner`, t);
  };

  const action = (): Action => {
    const t = next("an action (place, keep, exclude, prefer, after)");
    const word = t.kind === "word" ? t.text.toLowerCase() : "";
    switch (word) {
      case "place": {
        const n = count();
        keyword("on");
        return { kind: "place", count: n, on: selector() };
      }
      case "keep": {
        const n = count();
        const copies = next("`copies`");
        if (!isWord(copies, "copies") && !isWord(copies, "copy"))
          throw fail(`expected \`copies\`, found \`${copies.text}\``, copies);
        keyword("on");
        return { kind: "keep", count: n, on: selector("class") };
      }
      case "exclude":
        return { kind: "exclude", on: selector() };
      case "prefer":
        return { kind: "prefer", on: selector("site") };
      case "after": {
        const ms = quantity(next("an age"), UNITS_MS, "an age (30d, 12h, 15m, 2w)");
        keyword("move");
        keyword("to");
        return { kind: "after", ms, on: selector("class") };
      }
      default:
        throw fail(`unknown action \`${t.text}\`; use place, keep, exclude, prefer or after`, t);
    }
  };

  const result: ObjectiveSet = { override: false, statements: [] };
  while (pos < tokens.length) {
    const first = tokens[pos]!;
    if (first.kind === "sep") {
      pos++;
      continue;
    }
    if (isWord(first, "override")) {
      if (result.statements.length > 0 || result.override)
        throw fail("`override` must be the first statement", first);
      pos++;
      result.override = true;
    } else {
      const when: Condition[] = [];
      if (isWord(first, "when")) {
        pos++;
        when.push(condition());
        while (isWord(peek(), "and")) {
          pos++;
          when.push(condition());
        }
      }
      const act = action();
      // The statement's own text: from its first token to the separator that ends it.
      const stop = tokens[pos];
      const text = lines[first.line - 1]!.slice(
        first.column - 1,
        stop && stop.text === ";" && stop.line === first.line ? stop.column - 1 : undefined,
      );
      result.statements.push({
        when,
        action: act,
        source: text.replace(/\s+#.*$/, "").trim(),
        line: first.line,
      });
      if (result.statements.length > OBJECTIVE_LIMITS.statements)
        throw fail(`more than ${OBJECTIVE_LIMITS.statements} statements`, first);
    }
    const after = tokens[pos];
    if (after && after.kind !== "sep")
      throw fail(`expected \`;\` or a new line, found \`${after.text}\``, after);
  }
  return result;
}

/** `glob` (absolute; `*` within one name, `**` any number of names, `?` one character) matches `path`. */
export function globMatches(glob: string, path: string): boolean {
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      // "/**/" also matches "/" (zero names).
      if (glob[i + 2] === "/") {
        re += "(?:.*/)?";
        i += 2;
      } else {
        re += ".*";
        i++;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`).test(path);
}
