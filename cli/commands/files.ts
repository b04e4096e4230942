/** Namespace commands: ls, stat, cat, mkdir, mv, rm, ln. */
import { once } from "node:events";
import { mapLimit } from "../../core/concurrency.ts";
import { isStrataError } from "../../core/errors.ts";
import type { StrataDirent, StrataReader, StrataStats } from "../../sdk/index.ts";
import type { CommandContext, CommandSpec } from "../command.ts";
import {
  baseName,
  columns,
  humanBytes,
  joinPath,
  modeString,
  permOctal,
  shortTime,
  statJson,
} from "../format.ts";
import { AS_OF_OPTION, flag, readerOf } from "./options.ts";

/** Paths inside a PFS are absolute; "a/b" is taken as "/a/b". */
export function pfsPath(path: string): string {
  return path.startsWith("/") ? path : `/${path}`;
}

/** Stats fetched at once while listing (`ls -l`, `ls --json`). */
const STAT_CONCURRENCY = 8;

interface Listed {
  path: string;
  name: string;
  st: StrataStats;
  target?: string;
}

async function describe(reader: StrataReader, path: string, name: string): Promise<Listed> {
  const st = await reader.lstat(path);
  const target = st.isSymbolicLink() ? await reader.readlink(path) : undefined;
  return { path, name, st, target };
}

function listedJson(e: Listed) {
  const { path, ...rest } = statJson(e.path, e.st, e.target);
  // A file named on the command line is shown by its path in text, but its name is its last component.
  return { name: baseName(path), path, ...rest };
}

function longLines(entries: Listed[], human = false): string[] {
  return columns(
    entries.map((e) => [
      modeString(e.st.type, e.st.mode),
      human ? humanBytes(e.st.size) : String(e.st.size),
      shortTime(e.st.mtime),
      e.target === undefined ? e.name : `${e.name} -> ${e.target}`,
    ]),
    [false, true, false],
  );
}

const ls: CommandSpec = {
  name: "ls",
  summary: "list a directory (or show a file)",
  args: "[path…]",
  positionals: { min: 0 },
  options: {
    long: { type: "boolean", short: "l", description: "long format: type and mode, size, mtime, name" },
    recursive: { type: "boolean", short: "R", description: "list subdirectories too" },
    // As in ls(1): -h is human-readable sizes here (--help still shows the help).
    human: { type: "boolean", short: "h", description: "with -l: sizes as 1.5 KiB, 3.2 MiB" },
    all: {
      type: "boolean",
      short: "a",
      description: "accepted as in ls(1): strata lists every name already",
    },
    ...AS_OF_OPTION,
  },
  examples: ["strata ls", "strata ls -lh /renders", "strata ls -R /config --as-of @before-migration"],
  notes: [
    'JSON: {"entries":[{"name","path","type","size","mode","ino","uid","gid","nlink","atime","mtime","ctime","birthtime","tid","pfs","target"?}]} — every entry is stat-ed (one call each).',
  ],
  async run(ctx, { positionals, options }) {
    const reader = readerOf(await ctx.client(), options);
    const long = flag(options, "long");
    const recursive = flag(options, "recursive");
    const needStats = long || ctx.json;
    const collected: Listed[] = [];
    const roots = positionals.length > 0 ? positionals.map(pfsPath) : ["/"];
    let headed = roots.length > 1 || recursive;
    let first = true;

    const show = (heading: string | undefined, entries: Listed[] | StrataDirent[]) => {
      if (ctx.json) {
        collected.push(...(entries as Listed[]));
        return;
      }
      const lines: string[] = [];
      if (heading !== undefined) lines.push(`${first ? "" : "\n"}${heading}:`);
      first = false;
      if (long) lines.push(...longLines(entries as Listed[], flag(options, "human")));
      else
        for (const e of entries) lines.push("st" in e ? nameOf(e.name, e.st.type) : nameOf(e.name, e.type));
      if (lines.length > 0) ctx.io.stdout.write(`${lines.join("\n")}\n`);
    };

    const files: Listed[] = [];
    const dirs: string[] = [];
    for (const root of roots) {
      const st = await reader.lstat(root);
      if (st.isDirectory()) dirs.push(root);
      else files.push(await describe(reader, root, root));
    }
    if (files.length > 0) {
      show(undefined, files);
      headed = true; // directories listed after files get a heading, as in ls
    }

    // Depth first, each directory's own entries before its subdirectories (as `ls -R`).
    const stack = [...dirs].reverse();
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const dirents: StrataDirent[] = [];
      for await (const d of reader.opendir(dir, { signal: ctx.signal })) dirents.push(d);
      const entries = needStats
        ? await mapLimit(dirents, STAT_CONCURRENCY, (d) => describe(reader, joinPath(dir, d.name), d.name))
        : dirents;
      show(headed ? dir : undefined, entries);
      if (recursive) {
        const subdirs = dirents.filter((d) => d.isDirectory()).map((d) => joinPath(dir, d.name));
        stack.push(...subdirs.reverse());
      }
    }
    if (ctx.json) ctx.emit({ entries: collected.map(listedJson) }, () => []);
    return 0;
  },
};

function nameOf(name: string, type: string): string {
  return type === "dir" ? `${name}/` : name;
}

const stat: CommandSpec = {
  name: "stat",
  summary: "show a path's attributes (a symlink itself unless -L)",
  args: "<path>",
  positionals: { min: 1, max: 1 },
  options: {
    dereference: {
      type: "boolean",
      short: "L",
      description: "follow a symlink and show its target's attributes",
    },
    ...AS_OF_OPTION,
  },
  examples: ["strata stat /renders/a.exr", "strata stat --json /current -L"],
  notes: [
    'JSON: {"path","type","size","mode","ino","uid","gid","nlink","atime","mtime","ctime","birthtime","tid","pfs","target"?} (mode: permission bits as 4 octal digits, times ISO-8601).',
  ],
  async run(ctx, { positionals, options }) {
    const reader = readerOf(await ctx.client(), options);
    const path = pfsPath(positionals[0]!);
    const st = flag(options, "dereference") ? await reader.stat(path) : await reader.lstat(path);
    const target = st.isSymbolicLink() ? await reader.readlink(path) : undefined;
    ctx.emit(statJson(path, st, target), () =>
      columns(
        [
          ["path", path + (target !== undefined ? ` -> ${target}` : "")],
          ["type", st.type],
          ["size", String(st.size)],
          ["mode", `${permOctal(st.mode)} (${modeString(st.type, st.mode)})`],
          ["owner", `uid ${st.uid}, gid ${st.gid}`],
          ["links", String(st.nlink)],
          ["ino", st.ino],
          ["tid", st.tid],
          ["mtime", st.mtime.toISOString()],
          ["ctime", st.ctime.toISOString()],
          ["atime", st.atime.toISOString()],
          ["born", st.birthtime.toISOString()],
          ["pfs", st.pfs],
        ],
        [true],
      ),
    );
    return 0;
  },
};

const cat: CommandSpec = {
  name: "cat",
  summary: "write files' contents to stdout (streamed)",
  args: "<path…>",
  positionals: { min: 1 },
  options: { ...AS_OF_OPTION },
  examples: [
    "strata cat /notes.txt",
    "strata cat /notes.txt --as-of 2026-11-21T07:00:00Z",
    "strata cat /big.bin > big.bin",
  ],
  notes: [
    'JSON: {"files":[{"path","size","encoding":"utf8"|"base64","content"}]} — with --json each file is read whole into memory; without it bytes are streamed.',
  ],
  async run(ctx, { positionals, options }) {
    const reader = readerOf(await ctx.client(), options);
    const paths = positionals.map(pfsPath);
    if (ctx.json) {
      const files = [];
      for (const path of paths) {
        const bytes = await reader.readFile(path, { signal: ctx.signal });
        files.push({ path, size: bytes.byteLength, ...encodeContent(bytes) });
      }
      ctx.emit({ files }, () => []);
      return 0;
    }
    const out = ctx.io.stdout;
    for (const path of paths) {
      for await (const chunk of reader.createReadStream(path, { signal: ctx.signal })) {
        if (!out.write(chunk)) await once(out, "drain");
      }
    }
    return 0;
  },
};

/** UTF-8 text when the bytes are valid UTF-8, base64 otherwise. */
export function encodeContent(bytes: Uint8Array): { encoding: "utf8" | "base64"; content: string } {
  try {
    return { encoding: "utf8", content: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { encoding: "base64", content: Buffer.from(bytes).toString("base64") };
  }
}

const mkdir: CommandSpec = {
  name: "mkdir",
  summary: "create directories",
  args: "<path…>",
  positionals: { min: 1 },
  options: {
    parents: {
      type: "boolean",
      short: "p",
      description: "create missing parents; an existing directory is fine",
    },
  },
  examples: ["strata mkdir /renders", "strata mkdir -p /show/shot42/frames"],
  notes: ['JSON: {"created":["/path",…]}'],
  async run(ctx, { positionals, options }) {
    const client = await ctx.client();
    const created: string[] = [];
    for (const path of positionals.map(pfsPath)) {
      await client.mkdir(path, { recursive: flag(options, "parents") });
      created.push(path);
    }
    ctx.emit({ created }, () => []);
    return 0;
  },
};

/** `to` itself, or `to/<name of from>` when `to` is an existing directory (as mv and cp do). */
export async function destinationIn(reader: StrataReader, to: string, from: string): Promise<string> {
  try {
    if ((await reader.stat(to)).isDirectory()) return joinPath(to, baseName(from));
  } catch (err) {
    if (!isStrataError(err, "ENOENT")) throw err;
  }
  return to;
}

const mv: CommandSpec = {
  name: "mv",
  summary: "rename or move a path (atomic); into a directory when the target is one",
  args: "<from> <to>",
  positionals: { min: 2, max: 2 },
  examples: ["strata mv /tmp/upload.bin /data/final.bin", "strata mv /a.txt /archive/"],
  notes: ['JSON: {"from","to"} (to: the final path)'],
  async run(ctx, { positionals }) {
    const client = await ctx.client();
    const from = pfsPath(positionals[0]!);
    const to = await destinationIn(client, pfsPath(positionals[1]!), from);
    await client.rename(from, to);
    ctx.emit({ from, to }, () => []);
    return 0;
  },
};

const rm: CommandSpec = {
  name: "rm",
  summary: "remove files, symlinks, or (with -r) directory trees",
  args: "<path…>",
  positionals: { min: 1 },
  options: {
    recursive: { type: "boolean", short: "r", description: "remove a directory and everything below it" },
    force: { type: "boolean", short: "f", description: "a missing path is not an error" },
  },
  examples: ["strata rm /a.txt", "strata rm -r /build", "strata rm -rf /maybe-there"],
  notes: [
    'JSON: {"removed":["/path",…]} (with -r /: also "before", the TID to revert to). A recursive removal is many commits (not atomic as a whole); `strata revert -r <path> --to <tid>` undoes it.',
    "rm -r / on a terminal asks first (answer y); -f does not ask. Afterwards it prints the command that brings everything back.",
  ],
  async run(ctx, { positionals, options }) {
    const client = await ctx.client();
    const removed: string[] = [];
    const paths = positionals.map(pfsPath);
    const everything = flag(options, "recursive") && paths.includes("/");
    let before: string | undefined;
    if (everything) {
      before = await client.currentTid();
      // On a terminal, the whole PFS goes only after a yes (-f skips the question; scripts never see it).
      if (!flag(options, "force") && ctx.io.stdin && (ctx.io.stdin as { isTTY?: boolean }).isTTY) {
        const answer = await askLine(
          ctx,
          `strata rm: remove EVERYTHING in this PFS (\`strata revert -r / --to ${before}\` would bring it back)? [y/N] `,
        );
        if (!/^y(es)?$/i.test(answer.trim())) {
          ctx.io.stderr.write("strata rm: nothing removed\n");
          return 1;
        }
      }
    }
    for (const path of paths) {
      await client.rm(path, {
        recursive: flag(options, "recursive"),
        force: flag(options, "force"),
        signal: ctx.signal,
      });
      removed.push(path);
    }
    if (everything && !ctx.json)
      ctx.io.stderr.write(
        `strata rm: removed everything; \`strata revert -r / --to ${before}\` brings it back\n`,
      );
    ctx.emit({ removed, ...(before ? { before } : {}) }, () => []);
    return 0;
  },
};

/** Ask on stderr and read one line of standard input (the answer without its newline). */
async function askLine(ctx: CommandContext, question: string): Promise<string> {
  ctx.io.stderr.write(question);
  const stdin = ctx.io.stdin!;
  return new Promise((resolve) => {
    let text = "";
    const done = () => {
      stdin.off("data", onData);
      stdin.off("end", done);
      stdin.pause();
      resolve(text.split("\n")[0] ?? "");
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes("\n")) done();
    };
    stdin.on("data", onData);
    stdin.once("end", done);
  });
}

const ln: CommandSpec = {
  name: "ln",
  summary: "create a hard link, or a symlink with -s",
  args: "<target> <path>",
  positionals: { min: 2, max: 2 },
  options: {
    symbolic: { type: "boolean", short: "s", description: "a symlink at <path> pointing to <target>" },
  },
  examples: ["strata ln -s /releases/42 /current", "strata ln /a.bin /also-a.bin"],
  notes: ['JSON: {"path","target","symbolic"}'],
  async run(ctx, { positionals, options }) {
    const client = await ctx.client();
    const symbolic = flag(options, "symbolic");
    // A symlink's target is stored as given (it may be relative); a hard link's is a path in the PFS.
    const target = symbolic ? positionals[0]! : pfsPath(positionals[0]!);
    const path = pfsPath(positionals[1]!);
    if (symbolic) await client.symlink(target, path);
    else await client.link(target, path);
    ctx.emit({ path, target, symbolic }, () => []);
    return 0;
  },
};

export const fileCommands: CommandSpec[] = [ls, stat, cat, mkdir, mv, rm, ln];
