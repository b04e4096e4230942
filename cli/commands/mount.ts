/**
 * `strata mount <mountpoint>` / `strata umount <mountpoint>`: the PFS as a directory through FUSE
 * (gateways/fuse/, docs/mount.md). `mount` stays in the foreground serving the kernel until
 * Ctrl-C, SIGTERM, or an unmount from elsewhere (`strata umount`, `fusermount3 -u`).
 */
import { resolve } from "node:path";
import { strataError } from "../../core/errors.ts";
import type { CommandSpec } from "../command.ts";
import { flag, str } from "./options.ts";

const mount: CommandSpec = {
  name: "mount",
  summary: "mount the PFS as a directory (FUSE) until Ctrl-C or `strata umount`",
  args: "<mountpoint>",
  positionals: { min: 1, max: 1 },
  options: {
    root: {
      type: "string",
      value: "<path>",
      description: "show this directory of the PFS as the mount root",
    },
    "cache-dir": {
      type: "string",
      value: "<dir>",
      description: "where open files buffer their writes (default: a new directory under the OS temp dir)",
    },
    "cache-ttl": {
      type: "string",
      value: "<ms>",
      description: "how long attributes and listings are cached (default 1000; 0 = no cache)",
    },
    debug: { type: "boolean", description: "print libfuse's request log on stderr" },
  },
  examples: [
    "strata mount /mnt/strata",
    "strata --local ./data mount --root /show /mnt/show &",
    "strata umount /mnt/strata",
  ],
  notes: [
    "Runs in the foreground; put it in the background with `&`. Writes to a file become one version at close or fsync.",
    "As-of names: `cat file@@<tid|ISO time>`, `ls /mnt/strata/.strata/as-of/<tid|time>/`, `ls /mnt/strata/.strata/snapshots/<name>/` (read-only).",
    "docs/mount.md lists the operations, the caching and what is not supported.",
  ],
  async run(ctx, { positionals, options }) {
    const mountpoint = resolve(ctx.io.cwd, positionals[0]!);
    const ttlText = str(options, "cache-ttl");
    const cacheTtlMs = ttlText === undefined ? undefined : Number(ttlText);
    if (cacheTtlMs !== undefined && !(Number.isInteger(cacheTtlMs) && cacheTtlMs >= 0)) {
      throw strataError("EINVAL", `--cache-ttl ${ttlText}: give a whole number of milliseconds ≥ 0`, {
        option: "--cache-ttl",
      });
    }
    // Loaded on use: every other command starts without fuse-native.
    const { isMounted, mountStrata } = await import("../../gateways/fuse/mount.ts");
    const client = await ctx.client();
    const m = await mountStrata({
      client,
      mountpoint,
      root: str(options, "root"),
      cacheDir: str(options, "cache-dir"),
      cacheTtlMs,
      debug: flag(options, "debug"),
    });
    ctx.io.stderr.write(
      `strata: ${client.pfsName} mounted at ${m.mountpoint} (Ctrl-C or \`strata umount ${m.mountpoint}\` to unmount)\n`,
    );
    try {
      await new Promise<void>((done) => {
        const stop = () => {
          clearInterval(timer);
          process.off("SIGTERM", stop);
          done();
        };
        ctx.signal.addEventListener("abort", stop, { once: true });
        process.once("SIGTERM", stop);
        // Unmounted from elsewhere (strata umount, fusermount3 -u): stop serving.
        const timer = setInterval(() => {
          isMounted(m.mountpoint).then((yes) => yes || stop(), stop);
        }, 1000);
      });
    } finally {
      await m.unmount();
    }
    ctx.emit({ mountpoint: m.mountpoint, unmounted: true }, () => []);
    return 0;
  },
};

const umount: CommandSpec = {
  name: "umount",
  summary: "unmount a strata mount (fusermount3 -u, then umount -l)",
  args: "<mountpoint>",
  positionals: { min: 1, max: 1 },
  examples: ["strata umount /mnt/strata"],
  notes: ["The `strata mount` process commits what open files flushed and exits once the mount is gone."],
  async run(ctx, { positionals }) {
    const mountpoint = resolve(ctx.io.cwd, positionals[0]!);
    const { forceUnmount, isMounted } = await import("../../gateways/fuse/mount.ts");
    if (!(await isMounted(mountpoint))) {
      throw strataError("EINVAL", `${mountpoint} is not mounted`, { mountpoint });
    }
    await forceUnmount(mountpoint);
    ctx.emit({ mountpoint, unmounted: true }, () => []);
    return 0;
  },
};

export const mountCommands: CommandSpec[] = [mount, umount];
