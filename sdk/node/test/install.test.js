// SPDX-License-Identifier: Apache-2.0
'use strict';
// `npm pack` gives a tarball that installs offline in a fresh folder (the addon built there
// by node-gyp against this node's own headers: nothing is downloaded) and runs a box from
// there, finding libboxlite.so through the path recorded at pack time; and without that
// record the installed copy finds the library as a package standing alone must: beside the
// addon, by its SONAME through the dynamic loader, or $BOXLITE_LIB (lib/native.js).
const test = require('node:test');
const assert = require('assert');
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { boxlite, need, rootfs, work, REPO } = require('./helpers');

const PKG = path.join(__dirname, '..');

function npmOk() {
  try { execFileSync('npm', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

let installation = null;
/** npm pack, then npm install offline in a fresh folder (once per file): {dir, app, env}. */
function install() {
  if (installation) return installation;
  const dir = fs.mkdtempSync(path.join(work, 'install-'));
  const env = { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false',
                npm_config_fund: 'false', npm_config_update_notifier: 'false',
                npm_config_cache: path.join(dir, 'npm-cache') };
  delete env.BOXLITE_LIB;
  delete env.BOXLITE_NODE_ADDON;
  delete env.NODE_PATH;
  delete env.LD_LIBRARY_PATH;
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: PKG, env })
    .toString().trim().split('\n').pop();
  assert.ok(!fs.existsSync(path.join(PKG, 'include')), 'postpack cleaned up');
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name": "app", "version": "1.0.0", "private": true}\n');
  execFileSync('npm', ['install', '--no-save', path.join(dir, tarball)], { cwd: app, env, stdio: 'pipe' });
  installation = { dir, app, env };
  return installation;
}

test('npm pack, install offline in a fresh folder, run a box from there', async (t) => {
  if (!need(t, 'npm', npmOk())) return;
  const { dir, app, env } = install();
  const installed = path.join(app, 'node_modules', 'boxlite');
  assert.ok(fs.existsSync(path.join(installed, 'build', 'Release', 'boxlite.node')), 'node-gyp built the addon');
  const script = `
    const boxlite = require('boxlite');
    if (!require.resolve('boxlite').startsWith(${JSON.stringify(app)})) throw new Error('not the installed copy');
    (async () => {
      const rt = new boxlite.Boxlite({ homeDir: ${JSON.stringify(path.join(dir, 'home'))} });
      const box = new boxlite.SimpleBox({ runtime: rt, rootfsPath: ${JSON.stringify(rootfs())}, memoryMib: 256 });
      const r = await box.exec('echo', 'installed');
      await box.stop();
      rt.close();
      process.stdout.write(r.stdout);
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: app, env, timeout: 300000 }).toString();
  assert.strictEqual(out, 'installed\n');
});

test('the installed package finds libboxlite.so with no checkout path: beside the addon, by SONAME, BOXLITE_LIB', async (t) => {
  if (!need(t, 'npm', npmOk())) return;
  const { dir, app, env } = install();
  const installed = path.join(app, 'node_modules', 'boxlite');
  const lib = fs.realpathSync(path.join(REPO, 'build', 'lib', 'libboxlite.so'));
  // a package packed without a library record (as a tarball made outside a checkout is)
  fs.rmSync(path.join(installed, 'boxlite-build.json'), { force: true });
  const soname = `libboxlite.so.${boxlite.version().split('.')[0]}`;
  const which = (extra) => {
    const r = spawnSync(process.execPath, ['-e', "process.stdout.write(require('boxlite').libraryPath())"],
                        { cwd: app, env: { ...env, ...extra }, encoding: 'utf8' });
    return r.status === 0 ? r.stdout : `error: ${r.stderr}`;
  };
  // nowhere: a clear error naming what was tried
  assert.match(which({}), /libboxlite\.so not found \(set BOXLITE_LIB\); tried: .*build\/Release\/libboxlite\.so/);
  // the system's, by SONAME through the dynamic loader's search path
  const sys = path.join(dir, 'syslib');
  fs.mkdirSync(sys);
  fs.symlinkSync(lib, path.join(sys, soname));
  assert.strictEqual(which({ LD_LIBRARY_PATH: sys }), path.join(sys, soname));
  // beside the addon wins over the system's
  const beside = path.join(installed, 'build', 'Release', soname);
  fs.symlinkSync(lib, beside);
  assert.strictEqual(which({ LD_LIBRARY_PATH: sys }), beside);
  // and BOXLITE_LIB over everything
  const own = path.join(dir, 'own', 'libboxlite.so');
  fs.mkdirSync(path.dirname(own));
  fs.symlinkSync(lib, own);
  assert.strictEqual(which({ LD_LIBRARY_PATH: sys, BOXLITE_LIB: own }), own);
});
