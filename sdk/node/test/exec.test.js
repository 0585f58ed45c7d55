// SPDX-License-Identifier: Apache-2.0
'use strict';
// Executions through the Node SDK on a real box (QEMU engine here): output, exit codes,
// env/cwd/user, both streams at once, stdin, timeout, kill, tty resize, concurrency, copies.
const test = require('node:test');
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { boxlite, sharedBox, teardown, readAll, work, loopTicksDuring } = require('./helpers');

test.after(teardown);

async function run(box, cmd, args, opts = {}) {
  const ex = await box.exec(cmd, args, opts);
  try {
    const [out, err] = await Promise.all([readAll(ex.stdout()), readAll(ex.stderr())]);
    const r = await ex.wait();
    return { ...r, stdout: out.toString(), stderr: err.toString() };
  } finally {
    ex.close();
  }
}

test('hello: echo through Box.exec', async () => {
  const box = await sharedBox({ env: { BOX_LEVEL: 'yes' } });
  const r = await run(box, 'echo', ['hello', 'from', 'node']);
  assert.deepStrictEqual([r.stdout, r.stderr, r.exitCode, r.signal], ['hello from node\n', '', 0, 0]);
});

test('exit codes and stderr', async () => {
  const box = await sharedBox();
  for (const code of [0, 1, 7, 255]) {
    const r = await run(box, 'sh', ['-c', `echo out; echo err >&2; exit ${code}`]);
    assert.deepStrictEqual([r.exitCode, r.stdout, r.stderr], [code, 'out\n', 'err\n']);
  }
});

test('env, cwd and user', async () => {
  const box = await sharedBox();
  const r = await run(box, 'sh', ['-c', 'echo "$FOO $BOX_LEVEL"; pwd; id -u'],
                      { env: { FOO: 'bar baz' }, cwd: '/tmp', user: 'nobody' });
  assert.strictEqual(r.stdout, 'bar baz yes\n/tmp\n65534\n');
  const pairs = await run(box, 'sh', ['-c', 'echo $A'], { env: [['A', 'pairs']] });
  assert.strictEqual(pairs.stdout, 'pairs\n');
});

test('4 MiB on stdout and stderr at once, nothing lost', async () => {
  const box = await sharedBox();
  // the guest makes the data and its digest; both streams carry it at the same time
  const script = 'dd if=/dev/urandom of=/tmp/blob bs=65536 count=64 2>/dev/null; ' +
                 'sha256sum /tmp/blob >/tmp/sum; cat /tmp/blob & cat /tmp/blob >&2; wait';
  const ex = await box.exec('sh', ['-c', script]);
  const [out, err] = await Promise.all([readAll(ex.stdout()), readAll(ex.stderr())]);
  const r = await ex.wait();
  ex.close();
  assert.strictEqual(r.exitCode, 0);
  assert.strictEqual(out.length, 4 << 20);
  assert.strictEqual(err.length, 4 << 20);
  const sum = (await run(box, 'cat', ['/tmp/sum'])).stdout.split(' ')[0];
  assert.strictEqual(crypto.createHash('sha256').update(out).digest('hex'), sum);
  assert.strictEqual(crypto.createHash('sha256').update(err).digest('hex'), sum);
});

test('wait() without reading: output is kept, nothing stalls', async () => {
  const box = await sharedBox();
  const ex = await box.exec('sh', ['-c', 'dd if=/dev/zero bs=65536 count=16 2>/dev/null; echo done >&2']);
  const r = await ex.wait(); // 1 MiB is beyond every buffer: wait() must keep it moving
  assert.strictEqual(r.exitCode, 0);
  assert.strictEqual((await readAll(ex.stdout())).length, 1 << 20);
  assert.strictEqual((await readAll(ex.stderr())).toString(), 'done\n');
  ex.close();
});

test('stdin: 1 MiB round trip through cat', async () => {
  const box = await sharedBox();
  const data = crypto.randomBytes(1 << 20);
  const ex = await box.exec('cat');
  const stdin = ex.stdin();
  const feed = (async () => {
    for (let i = 0; i < data.length; i += 100000) await stdin.send(data.subarray(i, i + 100000));
    await stdin.close();
  })();
  const [out] = await Promise.all([readAll(ex.stdout()), feed]);
  const r = await ex.wait();
  ex.close();
  assert.strictEqual(r.exitCode, 0);
  assert.ok(out.equals(data), `got ${out.length} bytes back`);
});

test('timeout: the process is killed and the result says so', async () => {
  const box = await sharedBox();
  const ex = await box.exec('sleep', ['30'], { timeoutMs: 500 });
  const r = await ex.wait();
  ex.close();
  assert.strictEqual(r.timedOut, true);
  assert.notStrictEqual(r.signal, 0);
});

test('kill: a signal by name ends the process', async () => {
  const box = await sharedBox();
  const ex = await box.exec('sh', ['-c', 'echo started; exec sleep 30']);
  const it = ex.stdout();
  assert.strictEqual(await it.next(), 'started\n'); // it runs
  await ex.kill('SIGTERM');
  const r = await ex.wait();
  ex.close();
  assert.deepStrictEqual([r.signal, r.timedOut], [15, false]);
});

test('tty: output on stdout, resize reaches the terminal', async () => {
  const box = await sharedBox();
  const ex = await box.exec('sh', ['-c', 'stty size; read x; stty size'], { tty: true, rows: 24, cols: 80 });
  const out = ex.stdout();
  let text = '';
  while (!text.includes('24 80')) {
    const c = await out.next();
    assert.notStrictEqual(c, null, `ended early: ${JSON.stringify(text)}`);
    text += c;
  }
  await ex.resizeTty(40, 100);
  await ex.stdin().send('\n');
  text += (await readAll(out)).toString();
  const r = await ex.wait();
  ex.close();
  assert.strictEqual(r.exitCode, 0);
  assert.match(text, /40 100/);
  assert.strictEqual((await readAll(ex.stderr())).length, 0);
});

test('10 concurrent executions', async () => {
  const box = await sharedBox();
  const rs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    run(box, 'sh', ['-c', `echo start ${i}; sleep 0.2; echo end ${i} >&2; exit ${i}`])));
  rs.forEach((r, i) => {
    assert.deepStrictEqual([r.stdout, r.stderr, r.exitCode], [`start ${i}\n`, `end ${i}\n`, i]);
  });
});

test('copy in and out: a file and a folder', async () => {
  const box = await sharedBox();
  const src = path.join(work, 'copy-src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.bin'), crypto.randomBytes(100000));
  await box.copyIn(path.join(src, 'a.txt'), '/root/a.txt');
  assert.strictEqual((await run(box, 'cat', ['/root/a.txt'])).stdout, 'alpha\n');
  await box.copyIn(src, '/root/tree');
  assert.strictEqual((await run(box, 'wc', ['-c', '/root/tree/sub/b.bin'])).stdout.trim().split(/\s+/)[0], '100000');
  const back = path.join(work, 'copy-back');
  await box.copyOut('/root/tree', back);
  assert.ok(fs.readFileSync(path.join(back, 'sub', 'b.bin')).equals(fs.readFileSync(path.join(src, 'sub', 'b.bin'))));
  await assert.rejects(box.copyOut('/no/such/file', path.join(work, 'nothing')), boxlite.NotFoundError);
});

test('a missing program is NotFoundError from wait()', async () => {
  const box = await sharedBox();
  const ex = await box.exec('/no/such/program');
  await assert.rejects(ex.wait(), boxlite.NotFoundError);
  ex.close();
});

test('the event loop keeps turning during a large stdin write', async (t) => {
  const box = await sharedBox();
  const ex = await box.exec('sh', ['-c', 'wc -c']);
  const data = Buffer.alloc(8 << 20, 'x');
  const out = readAll(ex.stdout());
  // one 8 MiB write: the library takes it as the guest reads, on the thread pool
  const { ticks, maxGapMs } = await loopTicksDuring(() => ex.stdin().send(data));
  t.diagnostic(`event loop during an 8 MiB stdin write: ${ticks} ticks of 1 ms, longest gap ${maxGapMs.toFixed(1)} ms`);
  await ex.stdin().close();
  assert.strictEqual((await out).toString().trim(), String(8 << 20));
  assert.strictEqual((await ex.wait()).exitCode, 0);
  ex.close();
  assert.ok(ticks >= 3, `the loop turned ${ticks} times during the write`);
});

test('network none: the shared box has no interface but lo', async () => {
  const box = await sharedBox(); // helpers.sharedBox creates it with network: 'none'
  assert.strictEqual((await box.info()).network, false);
  const r = await run(box, 'cat', ['/proc/net/dev']);
  assert.match(r.stdout, /lo:/);
  assert.doesNotMatch(r.stdout, /eth0/);
});
