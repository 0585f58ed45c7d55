'use strict';
// `npm pack` gives a tarball that installs offline in a fresh folder (the addon built there
// by node-gyp against this node's own headers: nothing is downloaded) and runs a box from
// there, finding libboxlite.so through the path recorded at pack time.
const test = require('node:test');
const assert = require('assert');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { need, rootfs, work } = require('./helpers');

const PKG = path.join(__dirname, '..');

function npmOk() {
  try { execFileSync('npm', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

test('npm pack, install offline in a fresh folder, run a box from there', async (t) => {
  if (!need(t, 'npm', npmOk())) return;
  const dir = fs.mkdtempSync(path.join(work, 'install-'));
  const env = { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false',
                npm_config_fund: 'false', npm_config_update_notifier: 'false',
                npm_config_cache: path.join(dir, 'npm-cache') };
  delete env.BOXLITE_LIB;
  delete env.BOXLITE_NODE_ADDON;
  delete env.NODE_PATH;
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: PKG, env })
    .toString().trim().split('\n').pop();
  assert.ok(!fs.existsSync(path.join(PKG, 'include')), 'postpack cleaned up');
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name": "app", "version": "1.0.0", "private": true}\n');
  execFileSync('npm', ['install', '--no-save', path.join(dir, tarball)], { cwd: app, env, stdio: 'pipe' });
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
