// SPDX-License-Identifier: Apache-2.0
'use strict';
// Examples take an image reference or a root file system folder as their first argument;
// with none they build a busybox folder (tests/fixtures/mkrootfs.py) in a temporary place.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function boxOptions() {
  const arg = process.argv[2];
  if (arg && fs.existsSync(arg) && fs.statSync(arg).isDirectory()) return { rootfsPath: path.resolve(arg) };
  if (arg) return { image: arg };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'boxlite-example-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('python3', [path.join(__dirname, '..', '..', '..', 'tests', 'fixtures', 'mkrootfs.py'), dir]);
  return { rootfsPath: dir };
}

module.exports = { boxOptions };
