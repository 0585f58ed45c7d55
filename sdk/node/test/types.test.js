// SPDX-License-Identifier: Apache-2.0
'use strict';
// index.d.ts checked by the real TypeScript compiler: test/types/usage.ts uses every shape of
// the API under --strict, with @ts-expect-error lines that must fail (a declaration grown too
// loose fails the check as surely as a wrong one), and index.d.ts itself is checked (no
// skipLibCheck). Then usage.ts is compiled and run: Node 20 cannot parse `await using`, but
// TypeScript lowers it to calls of Symbol.asyncDispose, which must close a box handle and a
// runtime. TypeScript and @types/node come from the npm registry (pinned versions, installed
// once into build/node/ts); without the registry this is a skip (a failure in CI).
const test = require('node:test');
const assert = require('assert');
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { REPO, need, rootfs, work } = require('./helpers');

const SDK = path.join(__dirname, '..');
const TOOLS = path.join(REPO, 'build', 'node', 'ts');
const PINS = ['typescript@5.6.3', '@types/node@20.19.9'];

function installTools() {
  const tsc = path.join(TOOLS, 'node_modules', 'typescript', 'bin', 'tsc');
  const stamp = path.join(TOOLS, 'pins');
  if (fs.existsSync(tsc) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === PINS.join(' ')) {
    return tsc;
  }
  fs.mkdirSync(TOOLS, { recursive: true });
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', TOOLS, ...PINS],
                      { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0 || !fs.existsSync(tsc)) return null;
  fs.writeFileSync(stamp, PINS.join(' '));
  return tsc;
}

test('index.d.ts type-checks (tsc --strict) and `await using` disposes (lowered by tsc)', async (t) => {
  const tsc = installTools();
  if (!need(t, `TypeScript from the npm registry (npm install ${PINS.join(' ')})`, tsc)) return;
  const dir = fs.mkdtempSync(path.join(work, 'ts-'));
  const config = {
    compilerOptions: {
      strict: true, target: 'es2022', module: 'commonjs', lib: ['es2022', 'esnext.disposable'],
      types: ['node'], typeRoots: [path.join(TOOLS, 'node_modules', '@types')],
      baseUrl: SDK, paths: { boxlite: ['index.d.ts'] }, outDir: path.join(dir, 'out'),
      rootDir: path.join(__dirname, 'types'), noEmitOnError: true, skipLibCheck: false,
    },
    files: [path.join(__dirname, 'types', 'usage.ts'), path.join(SDK, 'index.d.ts')],
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`);
  const js = path.join(dir, 'out', 'usage.js');
  assert.match(fs.readFileSync(js, 'utf8'), /Symbol\.asyncDispose|__disposeResources/);
  // run it with `require('boxlite')` resolving to this package
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(SDK, path.join(dir, 'node_modules', 'boxlite'));
  fs.renameSync(js, path.join(dir, 'usage.js'));
  const out = execFileSync(process.execPath, [path.join(dir, 'usage.js'), path.join(work, 'home-ts'), rootfs()],
                           { encoding: 'utf8' });
  assert.deepStrictEqual(out.trim().split('\n'), ['inside: configured', 'box: closed', 'runtime: closed']);
});
