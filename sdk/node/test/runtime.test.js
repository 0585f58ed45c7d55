'use strict';
// The runtime through the Node SDK: missing boxes, two runtimes in one process, closing a
// runtime with executions still open, SimpleBox / CodeBox / InteractiveBox, disposal.
const test = require('node:test');
const assert = require('assert');
const path = require('path');
const { PassThrough } = require('stream');
const { boxlite, boxOptions, runtime, teardown, readAll, rootfs, work } = require('./helpers');

test.after(teardown);

test('errors for a missing box are NotFoundError', async () => {
  const rt = runtime();
  await assert.rejects(rt.get('no-such-box'), boxlite.NotFoundError);
  await assert.rejects(rt.remove('no-such-box'), (e) => e instanceof boxlite.NotFoundError &&
                       boxlite.errorCode(e) === 'not_found' && /no-such-box/.test(e.message));
  assert.strictEqual(await rt.getInfo('no-such-box'), null);
  await assert.rejects(rt.create({ rootfsPath: rootfs(), noSuchOption: 1 }),
                       (e) => e instanceof boxlite.InvalidArgumentError && /no_such_option/.test(e.message));
});

test('two runtimes in one process; closing one with executions still open', async () => {
  const a = runtime();
  const b = new boxlite.Boxlite({ homeDir: path.join(work, 'home-b') });
  const [boxA, boxB] = await Promise.all([a.create(boxOptions()), b.create(boxOptions())]);
  await Promise.all([boxA.start(), boxB.start()]);
  // each runtime sees its own boxes only
  assert.deepStrictEqual((await b.list()).map((i) => i.id), [boxB.id]);
  assert.ok((await a.list()).some((i) => i.id === boxA.id));
  await assert.rejects(b.get(boxA.id), boxlite.NotFoundError);
  const [ra, rb] = await Promise.all([
    boxlite.SimpleBox.prototype.exec.call({ _ensureBox: async () => boxA }, 'echo', 'A'),
    boxlite.SimpleBox.prototype.exec.call({ _ensureBox: async () => boxB }, 'echo', 'B'),
  ]);
  assert.deepStrictEqual([ra.stdout, rb.stdout], ['A\n', 'B\n']);

  // runtime b closes while an execution of its box runs, read and waited on
  const ex = await boxB.exec('sh', ['-c', 'echo running; exec sleep 60']);
  const out = ex.stdout();
  assert.strictEqual(await out.next(), 'running\n');
  const waiting = ex.wait();
  const rest = readAll(out);
  b.close();
  await assert.rejects(waiting, boxlite.InvalidStateError);
  assert.strictEqual((await rest).length, 0); // the stream ended
  await assert.rejects(b.list(), boxlite.InvalidStateError);
  await assert.rejects(boxB.exec('true'), boxlite.InvalidStateError);
  await assert.rejects(ex.kill(), boxlite.InvalidStateError);
  // the other runtime is untouched
  const ex2 = await boxA.exec('true');
  assert.strictEqual((await ex2.wait()).exitCode, 0);
  ex2.close();
  await boxA.stop();
  boxA.close();
});

test('SimpleBox: exec forms, stdin, stop removes the box, asyncDispose', async () => {
  const rt = runtime();
  const sb = new boxlite.SimpleBox({ runtime: rt, ...boxOptions({ env: { LEVEL: 'box' } }) });
  const r = await sb.exec('echo', 'hi');
  assert.deepStrictEqual([r.stdout, r.stderr, r.exitCode], ['hi\n', '', 0]);
  const e = await sb.exec('sh', ['-c', 'echo $LEVEL $X; pwd; exit 4'], { X: 'y' }, { cwd: '/tmp' });
  assert.deepStrictEqual([e.stdout, e.exitCode], ['box y\n/tmp\n', 4]);
  const spread = await sb.exec('sh', '-c', 'echo $X', { X: 'last-arg env' });
  assert.strictEqual(spread.stdout, 'last-arg env\n');
  const c = await sb.exec('cat', [], undefined, { stdin: 'piped in' });
  assert.strictEqual(c.stdout, 'piped in');
  const id = sb.id;
  assert.strictEqual((await sb.info()).state, 'running');
  await sb[Symbol.asyncDispose]();
  assert.strictEqual(await rt.getInfo(id), null); // auto-remove
  await assert.rejects(sb.exec('true'), boxlite.InvalidStateError);
  await new boxlite.SimpleBox({ runtime: rt, ...boxOptions() }).stop(); // never created: no-op
});

test('CodeBox runs Python code sent on stdin; a failure is ExecError', async () => {
  const cb = new boxlite.CodeBox({ runtime: runtime(), ...boxOptions({ rootfsPath: rootfs(true) }) });
  try {
    assert.strictEqual(await cb.run('import sys\nprint(sum(range(10)), sys.version_info[0])'), '45 3\n');
    await assert.rejects(cb.run('raise SystemExit(3)'), (e) => e instanceof boxlite.ExecError && e.exitCode === 3);
  } finally {
    await cb.stop();
  }
});

test('InteractiveBox bridges streams to a shell with a terminal', async () => {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const ib = new boxlite.InteractiveBox({ runtime: runtime(), ...boxOptions(), stdin, stdout, tty: true });
  const seen = readAll(stdout);
  try {
    await ib.start();
    stdin.write('echo hi-$((40 + 2))\n');
    stdin.write('exit 3\n');
    assert.strictEqual(await ib.wait(), 3);
  } finally {
    await ib.stop();
    stdout.end();
  }
  assert.match((await seen).toString(), /hi-42/);
});
