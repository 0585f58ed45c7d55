// SPDX-License-Identifier: Apache-2.0
'use strict';
// boxlite for Node.js: boxes (micro-VMs running OCI images) over libboxlite.so.
//   const { SimpleBox } = require('boxlite');
//   const box = new SimpleBox({ image: 'alpine:latest' });
//   const r = await box.exec('echo', 'hi'); // r.stdout === 'hi\n', r.exitCode === 0
//   await box.stop();
const { makeError, ...errors } = require('./errors'); // makeError: for the addon only
const { Boxlite, Images } = require('./runtime');
const { Box } = require('./box');
const { Execution } = require('./execution');
const { SimpleBox, CodeBox, InteractiveBox } = require('./simplebox');
const { load } = require('./native');

module.exports = {
  Boxlite,
  JsBoxlite: Boxlite, // the name the BoxLite Node SDK's native class has
  Images,
  Box,
  Execution,
  SimpleBox,
  CodeBox,
  InteractiveBox,
  version: () => load().version(),
  /** The file libboxlite was loaded from (lib/native.js says how it is found). */
  libraryPath: () => load().libraryPath(),
  ...errors,
};
