// SPDX-License-Identifier: Apache-2.0
'use strict';
// Box options through the Node SDK on one real box: name, cpus, a read-only volume, a TCP
// port forward, the network policy (allowNet, allowHost), a main command whose output is
// the console; box and runtime metrics; TimeoutError from a start that is not ready in
// time; the event loop turning during a box start. Network none is the shared box's
// (exec.test.js).
const test = require('node:test');
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { boxlite, boxOptions, runtime, teardown, work, loopTicksDuring } = require('./helpers');
const { runCollect } = require('../lib/simplebox');

test.after(teardown);

/** A server on 127.0.0.1 that reads one line and answers "pong LINE". */
function oneLineServer() {
  let resolveLine;
  const line = new Promise((r) => { resolveLine = r; });
  const server = net.createServer((c) => {
    let buf = '';
    c.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        c.end(`pong ${buf.slice(0, i)}\n`);
        resolveLine(buf.slice(0, i));
      }
    });
    c.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ port: server.address().port, line, close: () => server.close() })));
}

function httpGet(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

test('box options: name, cpus, volume, port, network policy, console, metrics', async (t) => {
  const rt = runtime();
  const vol = fs.mkdtempSync(path.join(work, 'vol-'));
  const token = `from-the-host-${process.pid}`;
  fs.writeFileSync(path.join(vol, 'hello.txt'), token);
  const srv = await oneLineServer();
  t.after(() => srv.close());
  const name = `node-options-${process.pid}`;
  const box = await rt.create(boxOptions({
    name, cpus: 2,
    volumes: [{ hostPath: vol, guestPath: '/mnt/host', readOnly: true }],
    ports: [{ hostPort: 0, guestPort: 8000 }],
    network: 'default', allowNet: ['198.51.100.1'], allowHost: [{ port: srv.port, protocol: 'tcp' }],
    cmd: ['sh', '-c', `echo console-${token}; exec sleep 3600`],
  }));
  t.after(async () => {
    await box.stop().catch(() => {});
    box.close();
    await rt.remove(name, { force: true }).catch(() => {});
  });
  // the event loop keeps turning while the box boots (seconds, on the thread pool)
  const { ticks, maxGapMs } = await loopTicksDuring(() => box.start());
  t.diagnostic(`event loop during box start: ${ticks} ticks of 1 ms, longest gap ${maxGapMs.toFixed(1)} ms`);
  assert.ok(ticks >= 3, `the loop turned ${ticks} times while the box started`);

  const sh = (script) => runCollect(box, 'sh', ['-c', script]);

  await t.test('name', async () => {
    assert.strictEqual(box.name, name);
    const byName = await rt.get(name);
    assert.strictEqual(byName.id, box.id);
    byName.close();
    assert.strictEqual((await box.info()).name, name);
  });

  await t.test('cpus', async () => {
    assert.strictEqual((await box.info()).cpus, 2);
    assert.strictEqual((await sh('grep -c ^processor /proc/cpuinfo')).stdout.trim(), '2');
  });

  await t.test('read-only volume', async () => {
    assert.strictEqual((await sh('cat /mnt/host/hello.txt')).stdout, token);
    assert.notStrictEqual((await sh('echo x > /mnt/host/new')).exitCode, 0);
    assert.ok(!fs.existsSync(path.join(vol, 'new')));
  });

  await t.test('port forward answers from the host', async () => {
    const r = await sh(`mkdir -p /www && echo ${token} > /www/index.html && httpd -p 8000 -h /www`);
    assert.strictEqual(r.exitCode, 0, r.stderr);
    const ports = (await box.info()).ports;
    assert.strictEqual(ports.length, 1);
    assert.strictEqual(ports[0].guestPort, 8000);
    assert.ok(ports[0].hostPort > 0, JSON.stringify(ports));
    const res = await httpGet(`http://127.0.0.1:${ports[0].hostPort}/index.html`);
    assert.deepStrictEqual([res.status, res.body.trim()], [200, token]);
  });

  await t.test('network policy: allowHost reaches the host, outside allowNet is refused', async () => {
    const ok = await sh(`echo ping | nc 10.0.2.2 ${srv.port}`);
    assert.deepStrictEqual([ok.exitCode, ok.stdout.trim()], [0, 'pong ping'], ok.stderr);
    assert.strictEqual(await srv.line, 'ping');
    const refused = await sh('nc 203.0.113.1 80 </dev/null');
    assert.notStrictEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /refused/);
    let denied = 0;
    for (let i = 0; i < 50 && !denied; i++) { // boxlite-vmm refreshes its counters every second
      denied = (await box.metrics()).vmm.netDenied;
      if (!denied) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(denied >= 1, 'the box metrics count the denied connection');
  });

  await t.test('console() has the main command\'s output; metrics', async () => {
    assert.match(await box.console(), new RegExp(`console-${token}`));
    const m = await box.metrics();
    assert.strictEqual(m.state, 'running');
    assert.ok(m.executions >= 5, JSON.stringify(m));
    const rm = await rt.metrics();
    assert.ok(rm.boxesCreated >= 1 && rm.boxesRunning >= 1, JSON.stringify(rm));
  });
});

test('invalid network options are InvalidArgumentError naming the field', async () => {
  const rt = runtime();
  for (const [opts, field] of [[{ allowNet: ['not a rule!'] }, 'allow_net'],
                               [{ network: 'bridged' }, 'network'],
                               [{ allowHost: [{ port: 0 }] }, 'allow_host']]) {
    await assert.rejects(rt.create(boxOptions(opts)),
                         (e) => e instanceof boxlite.InvalidArgumentError && e.message.includes(field),
                         JSON.stringify(opts));
  }
});

test('a start that is not ready in time is TimeoutError', async () => {
  const rt = runtime();
  const box = await rt.create(boxOptions({ readyTimeoutMs: 1 }));
  try {
    await assert.rejects(box.start(), (e) => e instanceof boxlite.TimeoutError &&
                         boxlite.errorCode(e) === 'timeout' && /ready/.test(e.message));
  } finally {
    await box.stop().catch(() => {});
    box.close();
    await rt.remove(box.id, { force: true }).catch(() => {});
  }
});
