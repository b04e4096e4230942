// The workload of `npm run bench -- mount`, run as a child process against one directory (a
// FUSE mount must not be touched synchronously by the process serving it):
//   node mount-worker.cjs <dir> <n> <seqMiB>
// Prints one JSON line: operations per second for each metadata op, MiB/s for sequential I/O.
const fs = require("node:fs");
const path = require("node:path");

const [dir, nText, seqText] = process.argv.slice(2);
const N = Number(nText);
const SEQ_MIB = Number(seqText);
const base = path.join(dir, `bench-${process.pid}`);
fs.mkdirSync(base);
const out = {};
const data = Buffer.alloc(4096, 120);

function timed(name, count, body) {
  const t0 = process.hrtime.bigint();
  body();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  out[name] = count / s;
}

timed("mkdir", N, () => {
  for (let i = 0; i < N; i++) fs.mkdirSync(path.join(base, `d${i}`));
});
timed("create 4 KiB", N, () => {
  for (let i = 0; i < N; i++) fs.writeFileSync(path.join(base, `f${i}`), data);
});
timed("stat", N, () => {
  for (let i = 0; i < N; i++) fs.statSync(path.join(base, `f${i}`));
});
timed("read 4 KiB", N, () => {
  for (let i = 0; i < N; i++) fs.readFileSync(path.join(base, `f${i}`));
});
const big = path.join(base, "r200");
fs.mkdirSync(big);
for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(big, `e${i}`), "x");
timed("readdir 200", 20, () => {
  for (let i = 0; i < 20; i++) {
    if (fs.readdirSync(i % 2 ? big : big).length !== 200) throw new Error("readdir count");
  }
});
timed("rename dir of 200", 4, () => {
  for (let i = 0; i < 4; i++) fs.renameSync(i % 2 ? `${big}-moved` : big, i % 2 ? big : `${big}-moved`);
});
timed("unlink", N, () => {
  for (let i = 0; i < N; i++) fs.unlinkSync(path.join(base, `f${i}`));
});

const block = Buffer.alloc(1024 * 1024, 7);
const seq = path.join(base, "seq.bin");
timed("seq write MiB/s", SEQ_MIB, () => {
  const fd = fs.openSync(seq, "w");
  for (let i = 0; i < SEQ_MIB; i++) fs.writeSync(fd, block);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
});
timed("seq read MiB/s", SEQ_MIB, () => {
  const fd = fs.openSync(seq, "r");
  while (fs.readSync(fd, block, 0, block.length, null) > 0);
  fs.closeSync(fd);
});
process.stdout.write(`${JSON.stringify(out)}\n`);
