// SPDX-License-Identifier: Apache-2.0
'use strict';
// The runtime through the Node SDK: missing boxes, two runtimes in one process, closing a
// runtime with executions still open, SimpleBox / CodeBox / InteractiveBox, disposal.
const test = require('node:test');
const assert = require('assert');
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');
const { boxlite, boxOptions, runtime, teardown, readAll, rootfs, work, need } = require('./helpers');

const haveCmd = (c) => {
  try { execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }); return true; } catch { return false; }
};

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

test('CodeBox runs Python code sent on stdin; a failure is ExecError; installPackages without pip', async () => {
  const cb = new boxlite.CodeBox({ runtime: runtime(), ...boxOptions({ rootfsPath: rootfs(true) }) });
  try {
    assert.strictEqual(await cb.run('import sys\nprint(sum(range(10)), sys.version_info[0])'), '45 3\n');
    await assert.rejects(cb.run('raise SystemExit(3)'), (e) => e instanceof boxlite.ExecError && e.exitCode === 3);
    // installPackages runs pip in the box; this image has no pip (and no package index is
    // reachable offline): its failure is an ExecError carrying pip's complaint
    await assert.rejects(cb.installPackages('requests'), (e) => e instanceof boxlite.ExecError &&
                         e.exitCode !== 0 && /pip/.test(e.stderr) && /installPackages\(requests\)/.test(e.message));
  } finally {
    await cb.stop();
  }
});

test('InteractiveBox in a real terminal (tmux): raw mode, resize, exit code', async (t) => {
  if (!need(t, 'tmux', haveCmd('tmux'))) return;
  const sock = path.join(work, 'tmux.sock'); // a tmux server of our own, its socket in work
  const tmux = (...a) => execFileSync('tmux', ['-S', sock, ...a]).toString();
  const status = path.join(work, 'interactive-status');
  const child = [process.execPath, path.join(__dirname, 'interactive_child.js'),
                 path.join(work, 'home-tty'), rootfs(), status].map((a) => `'${a}'`).join(' ');
  tmux('new-session', '-d', '-s', 'ib', '-x', '80', '-y', '24',
       `${child}; echo child-exit-$?; sleep 600`);
  t.after(() => { try { tmux('kill-server'); } catch { /* gone */ } });
  const pane = () => tmux('capture-pane', '-p', '-t', 'ib', '-S', '-200');
  // waits for the real event (text on the terminal, a file), bounded
  const until = async (what, ok, ms = 120000) => {
    for (const end = Date.now() + ms; Date.now() < end;) {
      if (ok()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`${what}; the terminal shows:\n${pane()}`);
  };
  const type = (...keys) => tmux('send-keys', '-t', 'ib', ...keys);

  await until('the shell starts', () => fs.existsSync(`${status}.started`));
  assert.deepStrictEqual(JSON.parse(fs.readFileSync(`${status}.started`, 'utf8')), { raw: true });
  type('stty size', 'Enter');
  await until('stty reports 24 80', () => /^24 80\s*$/m.test(pane()));
  // a resize of the host terminal reaches the box's terminal
  tmux('resize-window', '-t', 'ib', '-x', '100', '-y', '30');
  for (let i = 0; i < 100 && !/^30 100\s*$/m.test(pane()); i++) {
    type('stty size', 'Enter'); // the resize travels asynchronously: ask until it has
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(pane(), /^30 100\s*$/m, 'stty reports the new size');
  // raw mode: ^C goes to the box (it interrupts sleep there), not to node on the host
  type('sleep 600', 'Enter');
  type('C-c');
  type('echo alive-$((6 * 7))', 'Enter');
  await until('the shell survives ^C', () => /^alive-42\s*$/m.test(pane()) || /child-exit/.test(pane()));
  assert.doesNotMatch(pane(), /child-exit/);
  type('exit 7', 'Enter');
  await until('the child reports', () => fs.existsSync(status));
  assert.deepStrictEqual(JSON.parse(fs.readFileSync(status, 'utf8')), { code: 7, rawAfter: false });
  await until('the child exits', () => /child-exit-0/.test(pane()));
});
