// SPDX-License-Identifier: Apache-2.0
'use strict';
// `npm pack`: puts a copy of include/boxlite.h in the package (the addon is built against
// it at install) and records where libboxlite.so is ($BOXLITE_LIB, else the checkout's
// build/lib), so an installed package finds the library without BOXLITE_LIB, as the
// Python SDK's setup.py does. `--clean` (postpack) removes both again.
const fs = require('fs');
const path = require('path');

const pkg = path.join(__dirname, '..');
const header = path.join(pkg, 'include', 'boxlite.h');
const record = path.join(pkg, 'boxlite-build.json');
if (process.argv.includes('--clean')) {
  fs.rmSync(path.join(pkg, 'include'), { recursive: true, force: true });
  fs.rmSync(record, { force: true });
  process.exit(0);
}
fs.mkdirSync(path.dirname(header), { recursive: true });
fs.copyFileSync(path.join(pkg, '..', '..', 'include', 'boxlite.h'), header);
const lib = process.env.BOXLITE_LIB ||
            path.join(pkg, '..', '..', 'build', 'lib', 'libboxlite.so');
fs.writeFileSync(record, JSON.stringify({ library: fs.existsSync(lib) ? path.resolve(lib) : null }) + '\n');
