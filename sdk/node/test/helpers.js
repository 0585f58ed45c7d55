// SPDX-License-Identifier: Apache-2.0
'use strict';
// Test fixtures: a busybox root file system (tests/fixtures/mkrootfs.py, shared with the
// Python and Go SDKs' tests), a runtime on a fresh home, a running box shared by a file's
// tests (health-checked before each test, so one failure does not cascade), a local
// registry (tests/fixtures/registry.sh), and need() for prerequisites.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const boxlite = require('..');

const REPO = path.resolve(__dirname, '..', '..', '..');
const FIX = path.join(REPO, 'tests', 'fixtures');
const strict = process.env.CI === 'true' || process.env.BOXLITE_TEST_STRICT === '1';

/** A prerequisite that scripts/setup.sh installs: a skip on a developer's machine, a
 * failure in strict mode (CI). */
function need(t, what, ok) {
  if (ok) return true;
  if (strict) throw new Error(`missing prerequisite (scripts/setup.sh or CI provides it): ${what}`);
  t.skip(`missing prerequisite: ${what}`);
  return false;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'boxlite-node-test-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

let rootfsDir = null;
function rootfs(withPython = false) {
  const dir = path.join(work, withPython ? 'rootfs-python' : 'rootfs');
  if (!fs.existsSync(dir)) {
    execFileSync('python3', [path.join(FIX, 'mkrootfs.py'), dir, ...(withPython ? ['--python'] : [])]);
  }
  if (!withPython) rootfsDir = dir;
  return dir;
}

function boxOptions(extra = {}) {
  const o = { rootfsPath: rootfs(), memoryMib: 256, ...extra };
  if (process.env.BOXLITE_TEST_ENGINE) o.engine = process.env.BOXLITE_TEST_ENGINE;
  return o;
}

let rt = null;
function runtime() {
  if (!rt) rt = new boxlite.Boxlite({ homeDir: path.join(work, 'home') });
  return rt;
}

/** A running box shared by one test file; replaced if an earlier test broke it. */
const slot = { box: null };
async function healthy(box) {
  try {
    const ex = await box.exec('true', [], { timeoutMs: 20000 });
    try {
      return (await ex.wait()).exitCode === 0;
    } finally {
      ex.close();
    }
  } catch {
    return false;
  }
}
async function sharedBox(extra = {}) {
  if (slot.box && !(await healthy(slot.box))) {
    await dispose(slot.box);
    slot.box = null;
  }
  if (!slot.box) {
    // no network: none of the tests on it needs one ('network none' checks it has none)
    const box = await runtime().create(boxOptions({ network: 'none', ...extra }));
    try {
      await box.start();
    } catch (e) {
      await dispose(box);
      throw e;
    }
    slot.box = box;
  }
  return slot.box;
}

async function dispose(box) {
  try {
    await box.stop();
  } catch { /* already stopped */ }
  box.close();
  await runtime().remove(box.id, { force: true }).catch(() => {});
}

/** Stops the shared box and closes the runtime (after()). */
async function teardown() {
  if (slot.box) await dispose(slot.box);
  slot.box = null;
  if (rt) {
    for (const b of await rt.list().catch(() => [])) await rt.remove(b.id, { force: true }).catch(() => {});
    rt.close();
  }
  rt = null;
}

/** A local registry with the busybox image of tests/fixtures/mkimages.py pushed as
 * busybox:latest; returns {image: '127.0.0.1:PORT/busybox', stop()}. */
function registry() {
  const dir = fs.mkdtempSync(path.join(work, 'registry-'));
  execFileSync('python3', [path.join(FIX, 'mkimages.py'), path.join(dir, 'fx'), 'busybox'], { stdio: 'ignore' });
  const reg = path.join(dir, 'reg');
  const port = execFileSync(path.join(FIX, 'registry.sh'), ['start', reg, String(process.pid)]).toString().trim();
  execFileSync(path.join(FIX, 'registry.sh'), ['push', reg, path.join(dir, 'fx', 'busybox'), 'busybox:latest']);
  return {
    image: `127.0.0.1:${port}/busybox`,
    stop: () => execFileSync(path.join(FIX, 'registry.sh'), ['stop', reg]),
  };
}

const haveRegistry = () => fs.existsSync('/usr/bin/docker-registry') && (() => {
  try { execFileSync('sh', ['-c', 'command -v skopeo'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

/** Collects a Readable into one Buffer. */
async function readAll(stream) {
  const parts = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

/** Runs fn() (a promise-returning long call) while a 1 ms interval timer counts the event
 * loop's turns: {ticks (while the call was pending), maxGapMs (the longest wait between two
 * turns, a diagnostic only: timings are never asserted), result}. A call that blocked the
 * loop would see no tick at all before it settled. */
async function loopTicksDuring(fn) {
  let ticks = 0, maxGapMs = 0, last = performance.now(), pending = true;
  const timer = setInterval(() => {
    const now = performance.now();
    if (pending) {
      ticks++;
      maxGapMs = Math.max(maxGapMs, now - last);
    }
    last = now;
  }, 1);
  try {
    const result = await fn();
    pending = false;
    return { ticks, maxGapMs, result };
  } finally {
    pending = false;
    clearInterval(timer);
  }
}

module.exports = {
  boxlite, loopTicksDuring, REPO, FIX, work, need, rootfs, boxOptions, runtime, sharedBox, dispose, teardown,
  registry, haveRegistry, readAll, strict,
};
