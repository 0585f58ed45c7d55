// SPDX-License-Identifier: Apache-2.0
'use strict';
// Every example in examples/ runs as a user runs it from the checkout (require('boxlite')
// resolves through examples/node_modules/boxlite, a link to the package) and prints what it
// says.
const test = require('node:test');
const assert = require('assert');
const { execFile } = require('child_process');
const fs = require('fs');
const path = require('path');
const { rootfs, work } = require('./helpers');

const EX = path.join(__dirname, '..', 'examples');
const expected = {
  'hello.js': /^hello from a box\nexit code 0\n$/,
  'streaming.js': /^tick 1\ntick 2\ntick 3\nSHOUTED BACK\nexit code 0 after \d+ ms\n$/,
  'concurrent.js': /^worker 1 done\nworker 2 done\nworker 3 done\nworker 4 done\n$/,
};

test('every example is tested', () => {
  const files = fs.readdirSync(EX).filter((f) => f.endsWith('.js') && !f.startsWith('_')).sort();
  assert.deepStrictEqual(files, Object.keys(expected).sort());
});

for (const [file, want] of Object.entries(expected)) {
  test(`example ${file}`, async () => {
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, [path.join(EX, file), rootfs()], {
        env: { ...process.env, BOXLITE_HOME: path.join(work, 'home-examples') },
        timeout: 300000,
      }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    assert.match(out, want);
  });
}
