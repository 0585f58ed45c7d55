// SPDX-License-Identifier: Apache-2.0
'use strict';
// Run by runtime.test.js inside a tmux pane (a real terminal): an InteractiveBox on the
// process's own stdin/stdout. Writes STATUS.started once the shell runs (with whether
// stdin is in raw mode), then STATUS with the shell's exit code and the raw mode after.
//   node interactive_child.js HOME ROOTFS STATUS
const fs = require('fs');
const boxlite = require('..');

(async () => {
  const [home, rootfs, status] = process.argv.slice(2);
  const rt = new boxlite.Boxlite({ homeDir: home });
  const opts = { runtime: rt, rootfsPath: rootfs, memoryMib: 256, network: 'none' };
  if (process.env.BOXLITE_TEST_ENGINE) opts.engine = process.env.BOXLITE_TEST_ENGINE;
  const ib = new boxlite.InteractiveBox(opts);
  await ib.start();
  fs.writeFileSync(`${status}.started`, JSON.stringify({ raw: process.stdin.isRaw }));
  const code = await ib.wait();
  const rawAfter = process.stdin.isRaw;
  await ib.stop();
  rt.close();
  fs.writeFileSync(status, JSON.stringify({ code, rawAfter }));
  process.exit(0);
})().catch((e) => {
  fs.writeFileSync(process.argv[4], JSON.stringify({ error: String(e && e.stack || e) }));
  process.exit(1);
});
