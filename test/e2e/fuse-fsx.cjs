// An fsx-style checker (after fsx from the BSD/Linux test suites): random writes, reads,
// truncates and appends at random offsets on one file THROUGH a strata FUSE mount, checked
// against an in-memory model after every read, at every size check, and in full after each
// close/reopen (which reads the committed version back from strata). Run as a child process:
//   node fuse-fsx.cjs <file> <ops> <seed>
// Prints one JSON line: { ops, fsyncs, reopens, failure? }. Exit code 1 on a mismatch.
const fs = require("node:fs");

const [file, opsText, seedText] = process.argv.slice(2);
const OPS = Number(opsText);
let seed = Number(seedText) >>> 0;
const MAX = 256 * 1024;
const MAXLEN = 16 * 1024;

function rand() {
  // mulberry32: deterministic per seed.
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const below = (n) => Math.floor(rand() * n);

let model = Buffer.alloc(0);
let fd = fs.openSync(file, "w+");
let afd = fs.openSync(file, "a");
const stats = { ops: 0, fsyncs: 0, reopens: 0 };
const log = [];

function fail(why) {
  process.stdout.write(`${JSON.stringify({ ...stats, failure: why, last: log.slice(-8) })}\n`);
  process.exit(1);
}
function setSize(n) {
  if (n <= model.length) model = model.subarray(0, n);
  else model = Buffer.concat([model, Buffer.alloc(n - model.length)]);
}
function bytes(len) {
  const b = Buffer.alloc(len);
  const v = below(256);
  for (let i = 0; i < len; i++) b[i] = (v + i * 7 + stats.ops) & 0xff;
  return b;
}
function compareAll(what) {
  const got = fs.readFileSync(file);
  if (got.length !== model.length) fail(`${what}: size ${got.length}, model ${model.length}`);
  const at = got.findIndex((x, i) => x !== model[i]);
  if (at >= 0) fail(`${what}: first difference at byte ${at}`);
}

for (stats.ops = 1; stats.ops <= OPS; stats.ops++) {
  const kind = below(100);
  if (kind < 35) {
    const len = 1 + below(MAXLEN);
    const off = below(MAX - len);
    log.push(`write ${off}+${len}`);
    const data = bytes(len);
    fs.writeSync(fd, data, 0, len, off);
    if (off + len > model.length) setSize(off + len);
    data.copy(model, off);
  } else if (kind < 70) {
    const off = below(model.length + 1024);
    const len = 1 + below(MAXLEN);
    log.push(`read ${off}+${len}`);
    const buf = Buffer.alloc(len);
    const n = fs.readSync(fd, buf, 0, len, off);
    const want = model.subarray(Math.min(off, model.length), Math.min(off + len, model.length));
    if (n !== want.length) fail(`read ${off}+${len}: got ${n} bytes, model has ${want.length}`);
    if (!buf.subarray(0, n).equals(want)) fail(`read ${off}+${len}: bytes differ`);
  } else if (kind < 82) {
    const size = below(MAX);
    log.push(`truncate ${size}`);
    fs.ftruncateSync(fd, size);
    setSize(size);
  } else if (kind < 94) {
    const len = 1 + below(MAXLEN / 4);
    if (model.length + len > MAX) continue;
    log.push(`append ${len}`);
    const data = bytes(len);
    fs.writeSync(afd, data);
    model = Buffer.concat([model, data]);
  } else if (kind < 95) {
    log.push("fsync");
    fs.fsyncSync(fd);
    stats.fsyncs++;
  } else {
    log.push("size");
    const size = fs.fstatSync(fd).size;
    if (size !== model.length) fail(`fstat size ${size}, model ${model.length}`);
  }
  if (stats.ops % 1000 === 0) {
    // Close both descriptors (the version is committed), reopen, and read it all back.
    log.push("reopen");
    fs.closeSync(fd);
    fs.closeSync(afd);
    compareAll(`after reopen at op ${stats.ops}`);
    fd = fs.openSync(file, "r+");
    afd = fs.openSync(file, "a");
    stats.reopens++;
  }
}
fs.closeSync(fd);
fs.closeSync(afd);
compareAll("at the end");
stats.ops = OPS;
process.stdout.write(`${JSON.stringify(stats)}\n`);
