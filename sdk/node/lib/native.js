'use strict';
// Finds and loads the addon and libboxlite.so. Internal.
//
// The addon: $BOXLITE_NODE_ADDON, else (in a checkout) build/node/boxlite.node from `make
// node`, else the package's own build/Release/boxlite.node (node-gyp, at `npm install`).
// The library, as the Python SDK finds it: $BOXLITE_LIB, else the checkout's
// build/lib/libboxlite.so, else the path recorded when the package was packed
// (boxlite-build.json), else the system's library path. The library finds boxlite-vmm and
// the guest files beside itself.
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

function libraryCandidates() {
  const c = [];
  if (process.env.BOXLITE_LIB) c.push(process.env.BOXLITE_LIB);
  if (inCheckout) c.push(path.join(CHECKOUT, 'build', 'lib', 'libboxlite.so'));
  const r = recorded();
  if (r) c.push(r);
  c.push('libboxlite.so');
  return c;
}

let native = null;

function load() {
  if (native) return native;
  const tried = [];
  let addon = null;
  for (const p of addonCandidates()) {
    if (!fs.existsSync(p)) { tried.push(`${p}: no such file`); continue; }
    try { addon = require(p); break; } catch (e) { tried.push(`${p}: ${e.message}`); }
  }
  if (!addon) {
    throw new Error('the boxlite addon is not built (npm install, or make node in a checkout; ' +
                    'BOXLITE_NODE_ADDON overrides); tried: ' + tried.join('; '));
  }
  for (const p of libraryCandidates()) {
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
