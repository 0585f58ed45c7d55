// SPDX-License-Identifier: Apache-2.0
'use strict';
// The shortest path: a SimpleBox runs a command and gives back its output.
//   node examples/hello.js [IMAGE | ROOTFS_DIR]
const { SimpleBox } = require('boxlite');
const { boxOptions } = require('./_common');

async function main() {
  const box = new SimpleBox({ ...boxOptions(), memoryMib: 256 });
  try {
    const r = await box.exec('echo', 'hello from a box');
    process.stdout.write(r.stdout);
    console.log(`exit code ${r.exitCode}`);
  } finally {
    await box.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
