// SPDX-License-Identifier: Apache-2.0
'use strict';
// The Node SDK side of bench/sdk.sh: the same measurements as bench/sdk_exec.c on the same
// box, through Box.exec, both streams read as streams, wait().
//   node bench/sdk_exec.js NAME RUNS MIB STREAMS
const { Boxlite } = require('../sdk/node');

async function drain(stream) {
  let n = 0;
  for await (const c of stream) n += c.length;
  return n;
}

async function run(box, cmd, args) {
  const ex = await box.exec(cmd, args);
  const [n] = await Promise.all([drain(ex.stdout()), drain(ex.stderr())]);
  await ex.wait();
  ex.close();
  return n;
}

async function main() {
  const [name, runs, mib, streams] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)];
  const rt = new Boxlite();
  const box = await rt.get(name);
  await run(box, 'true', []); // warm-up
  // figures are printed after the loop: a console.log per run (a synchronous write to the
  // pipe) would count in the CPU time (C's printf is buffered)
  const rtt = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await run(box, 'true', []);
    rtt.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const c = process.cpuUsage(c0);
  for (const ms of rtt) console.log(`rtt ${ms.toFixed(3)}`);
  console.log(`cpu ${((c.user + c.system) / 1000 / runs).toFixed(4)}`);
  for (let i = 0; i < streams; i++) {
    const s = process.hrtime.bigint();
    const got = await run(box, 'dd', ['if=/dev/zero', 'bs=65536', `count=${mib * 16}`]);
    const el = Number(process.hrtime.bigint() - s) / 1e6;
    if (got !== mib * 1048576) throw new Error(`stream: got ${got} bytes`);
    console.log(`tput ${(mib / (el / 1000)).toFixed(2)}`);
  }
  box.close();
  rt.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
