// SPDX-License-Identifier: Apache-2.0
'use strict';
// Streams: stdout as it arrives (async iteration), stdin piped in, the result at the end.
//   node examples/streaming.js [IMAGE | ROOTFS_DIR]
const { Boxlite } = require('boxlite');
const { boxOptions } = require('./_common');

async function main() {
  const rt = new Boxlite(); // $BOXLITE_HOME or ~/.boxlite
  const box = await rt.create({ ...boxOptions(), memoryMib: 256 });
  try {
    const ex = await box.exec('sh', ['-c', 'for i in 1 2 3; do echo tick $i; sleep 0.1; done; tr a-z A-Z']);
    const stdin = ex.stdin();
    await stdin.send('shouted back\n');
    await stdin.close();
    ex.stdout().setEncoding('utf8');
    for await (const chunk of ex.stdout()) process.stdout.write(chunk);
    const r = await ex.wait();
    console.log(`exit code ${r.exitCode} after ${Math.round(r.durationMs)} ms`);
    ex.close();
  } finally {
    await box.stop();
    box.close();
    rt.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
