// SPDX-License-Identifier: Apache-2.0
'use strict';
// `npm install` step: builds the addon with node-gyp against this node's own headers, so
// nothing is downloaded. node-gyp is npm's own copy ($npm_config_node_gyp, set by npm for
// install scripts) or one on PATH; the headers are --nodedir: $npm_config_nodedir, else
// the prefix this node was installed in (<prefix>/include/node/node_api.h: NodeSource's
// nodejs, or Debian's with libnode-dev). BOXLITE_NODE_SKIP_BUILD=1 skips the build (a
// checkout uses `make node`).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

if (process.env.BOXLITE_NODE_SKIP_BUILD === '1') process.exit(0);

function nodedir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..')];
  for (const d of candidates) {
    if (d && fs.existsSync(path.join(d, 'include', 'node', 'node_api.h'))) return d;
  }
  console.error('boxlite: node headers not found (looked for include/node/node_api.h under ' +
                candidates.filter(Boolean).join(', ') + '); install them (Debian: libnode-dev)');
  process.exit(1);
}

function nodeGyp() {
  const own = process.env.npm_config_node_gyp;
  if (own && fs.existsSync(own)) return [process.execPath, own];
  const bundled = path.resolve(process.execPath, '..', '..', 'lib', 'node_modules', 'npm',
                               'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(bundled)) return [process.execPath, bundled];
  return ['node-gyp'];
}

const [cmd, ...pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, 'rebuild', `--nodedir=${nodedir()}`], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
