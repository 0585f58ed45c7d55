// SPDX-License-Identifier: Apache-2.0
'use strict';
// Several executions in one box at once, each with its own output.
//   node examples/concurrent.js [IMAGE | ROOTFS_DIR]
const { SimpleBox } = require('boxlite');
const { boxOptions } = require('./_common');

async function main() {
  const box = new SimpleBox({ ...boxOptions(), memoryMib: 256 });
  try {
    const results = await Promise.all([1, 2, 3, 4].map((i) =>
      box.exec('sh', '-c', `sleep 0.$i; echo worker ${i} done`)));
    for (const r of results) process.stdout.write(r.stdout);
  } finally {
    await box.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
