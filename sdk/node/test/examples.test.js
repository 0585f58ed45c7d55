'use strict';
// Every example in examples/ runs, as a user would run it (require('boxlite') resolving to
// this package through NODE_PATH), and prints what it says.
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

// node_modules/boxlite -> this package, so the examples' require('boxlite') works
const mods = path.join(work, 'node_modules');
fs.mkdirSync(mods, { recursive: true });
if (!fs.existsSync(path.join(mods, 'boxlite'))) fs.symlinkSync(path.join(__dirname, '..'), path.join(mods, 'boxlite'));

for (const [file, want] of Object.entries(expected)) {
  test(`example ${file}`, async () => {
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, [path.join(EX, file), rootfs()], {
        env: { ...process.env, NODE_PATH: mods, BOXLITE_HOME: path.join(work, 'home-examples') },
        timeout: 300000,
      }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    assert.match(out, want);
  });
}
