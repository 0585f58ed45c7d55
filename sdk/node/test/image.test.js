// SPDX-License-Identifier: Apache-2.0
'use strict';
// Images through the Node SDK, from a real registry on 127.0.0.1 (Debian's docker-registry,
// the busybox image of tests/fixtures/mkimages.py pushed with skopeo).
const test = require('node:test');
const assert = require('assert');
const path = require('path');
const { boxlite, runtime, teardown, registry, haveRegistry, need, work, loopTicksDuring } = require('./helpers');

let reg = null;
test.after(async () => {
  await teardown();
  if (reg) reg.stop();
});

test('pull, list, remove; a missing tag is NotFoundError; the loop turns during a pull', async (t) => {
  if (!need(t, 'docker-registry and skopeo', haveRegistry())) return;
  reg = reg || registry();
  const rt = new boxlite.Boxlite({ homeDir: path.join(work, 'home-images') });
  try {
    const seen = [];
    const { ticks, maxGapMs, result: res } = await loopTicksDuring(() =>
      rt.images.pull(`${reg.image}:latest`, { onProgress: (...a) => seen.push(a) }));
    t.diagnostic(`event loop during the pull: ${ticks} ticks of 1 ms, longest gap ${maxGapMs.toFixed(1)} ms`);
    assert.ok(ticks >= 3, `the loop turned ${ticks} times during the pull`);
    assert.strictEqual(res.reference, `${reg.image}:latest`);
    assert.ok(seen.length > 0, 'progress was reported');
    const last = seen[seen.length - 1];
    assert.strictEqual(last[3], last[4]); // the last layer reported complete
    const list = await rt.images.list();
    assert.ok(list.some((i) => i.ref.endsWith('busybox:latest') && i.layers >= 1 && i.size > 0), JSON.stringify(list));
    await assert.rejects(rt.images.pull(`${reg.image}:no-such-tag`), boxlite.NotFoundError);
    await rt.images.remove(`${reg.image}:latest`);
    assert.deepStrictEqual(await rt.images.list(), []);
    await assert.rejects(rt.images.remove(`${reg.image}:latest`), boxlite.NotFoundError);
  } finally {
    rt.close();
  }
});

test('a pull stopped by its AbortSignal: CancelledError, nothing recorded; the next pull completes', async (t) => {
  if (!need(t, 'docker-registry and skopeo', haveRegistry())) return;
  reg = reg || registry();
  const rt = new boxlite.Boxlite({ homeDir: path.join(work, 'home-abort') });
  try {
    const ref = `${reg.image}:latest`;
    // Stopped from its first progress report: the addon's worker reads the flag at each
    // report and is never more than two reports ahead of the event loop, so the stop
    // lands in the layer's transfer (many reports), not after the pull.
    const ac = new AbortController();
    const reason = new Error('enough');
    let reports = 0;
    await assert.rejects(
      rt.images.pull(ref, { signal: ac.signal, onProgress: () => { reports++; ac.abort(reason); } }),
      (e) => e instanceof boxlite.CancelledError && e.code === 15 && /cancelled/.test(e.message) &&
        e.cause === reason && boxlite.errorCode(e) === 'cancelled');
    assert.ok(reports >= 1 && reports <= 3, `${reports} progress reports before the stop`);
    assert.deepStrictEqual(await rt.images.list(), []);
    // without a progress callback, and a signal already aborted: stopped before it starts
    await assert.rejects(rt.images.pull(ref, { signal: ac.signal }), boxlite.CancelledError);
    assert.deepStrictEqual(await rt.images.list(), []);
    // a signal that never fires changes nothing
    await rt.images.pull(ref, { signal: new AbortController().signal });
    assert.strictEqual((await rt.images.list()).length, 1);
  } finally {
    rt.close();
  }
});

test('SimpleBox from a registry image; a missing image is an error', async (t) => {
  if (!need(t, 'docker-registry and skopeo', haveRegistry())) return;
  reg = reg || registry();
  const engine = process.env.BOXLITE_TEST_ENGINE ? { engine: process.env.BOXLITE_TEST_ENGINE } : {};
  const sb = new boxlite.SimpleBox({ runtime: runtime(), image: `${reg.image}:latest`, memoryMib: 256, ...engine });
  try {
    const r = await sb.exec('sh', '-c', 'echo from the image; exit 9');
    assert.deepStrictEqual([r.stdout, r.exitCode], ['from the image\n', 9]);
    assert.match((await sb.info()).image, /busybox:latest$/);
  } finally {
    await sb.stop();
  }
  const missing = new boxlite.SimpleBox({ runtime: runtime(), image: `${reg.image}:no-such-tag`, memoryMib: 256, ...engine });
  await assert.rejects(missing.exec('true'), (e) =>
    (e instanceof boxlite.NotFoundError || e instanceof boxlite.ImageError) && /no-such-tag/.test(e.message));
  await missing.stop();
});
