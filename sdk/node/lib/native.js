// SPDX-License-Identifier: Apache-2.0
'use strict';
// Finds and loads the addon and libboxlite.so. Internal.
//
// The addon: $BOXLITE_NODE_ADDON, else (in a checkout) build/node/boxlite.node from `make
// node`, else the package's own build/Release/boxlite.node (node-gyp, at `npm install`).
// The library, first found of:
//   1. $BOXLITE_LIB (a path);
//   2. beside the addon (libboxlite.so.MAJOR or libboxlite.so: a package that carries it);
//   3. in a checkout, its build/lib/libboxlite.so;
//   4. the system's, by its SONAME libboxlite.so.MAJOR (MAJOR of the header the addon was
//      built against), then libboxlite.so, as the dynamic loader searches
//      (LD_LIBRARY_PATH, ld.so.cache, /usr/lib...): `make install` puts it there;
//   5. the path recorded when the package was packed (boxlite-build.json: a tarball packed
//      in a checkout points into that checkout).
// The library finds boxlite-vmm and the guest files beside itself (or where it was
// installed). libraryPath() says which file was loaded.
const fs = require('fs');
const path = require('path');
const { makeError } = require('./errors');

const PKG = path.join(__dirname, '..');
const CHECKOUT = path.join(PKG, '..', '..');
const inCheckout = fs.existsSync(path.join(CHECKOUT, 'include', 'boxlite.h'));

function recorded() {
  try {
    return JSON.parse(fs.readFileSync(path.join(PKG, 'boxlite-build.json'), 'utf8')).library;
  } catch {
    return null;
  }
}

function addonCandidates() {
  const c = [];
  if (process.env.BOXLITE_NODE_ADDON) c.push(process.env.BOXLITE_NODE_ADDON);
  if (inCheckout) c.push(path.join(CHECKOUT, 'build', 'node', 'boxlite.node'));
  c.push(path.join(PKG, 'build', 'Release', 'boxlite.node'));
  return c;
}

function libraryCandidates(addonPath, addon) {
  const c = [];
  if (process.env.BOXLITE_LIB) c.push(process.env.BOXLITE_LIB);
  const major = String(addon.headerVersion || '0').split('.')[0];
  const soname = `libboxlite.so.${major}`;
  const beside = path.dirname(addonPath);
  c.push(path.join(beside, soname), path.join(beside, 'libboxlite.so'));
  if (inCheckout) c.push(path.join(CHECKOUT, 'build', 'lib', 'libboxlite.so'));
  c.push(soname, 'libboxlite.so');
  const r = recorded();
  if (r) c.push(r);
  return c;
}

let native = null;

function load() {
  if (native) return native;
  const tried = [];
  let addon = null, addonPath = null;
  for (const p of addonCandidates()) {
    if (!fs.existsSync(p)) { tried.push(`${p}: no such file`); continue; }
    try { addon = require(p); addonPath = p; break; } catch (e) { tried.push(`${p}: ${e.message}`); }
  }
  if (!addon) {
    throw new Error('the boxlite addon is not built (npm install, or make node in a checkout; ' +
                    'BOXLITE_NODE_ADDON overrides); tried: ' + tried.join('; '));
  }
  for (const p of libraryCandidates(addonPath, addon)) {
    if (p.includes('/') && !fs.existsSync(p)) { tried.push(`${p}: no such file`); continue; }
    try {
      addon.init(p, makeError);
      native = addon;
      return native;
    } catch (e) {
      tried.push(e.message);
    }
  }
  throw new Error('libboxlite.so not found (set BOXLITE_LIB); tried: ' + tried.join('; '));
}

module.exports = { load };
