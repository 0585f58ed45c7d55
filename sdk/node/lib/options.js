// SPDX-License-Identifier: Apache-2.0
'use strict';
// Box options -> the library's JSON options (boxlite_options_from_json). Internal.
//
// Keys are turned from camelCase into the library's snake_case (memoryMib -> memory_mib,
// volumes[].hostPath -> host_path), so a field the library learns later needs no change
// here; the library rejects an unknown field by name. env may be an object, an array of
// [key, value] pairs or of {key, value}; its keys are kept as they are.

function snake(k) {
  return k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function camel(k) {
  return k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function convert(v, fn) {
  if (Array.isArray(v)) return v.map((x) => convert(x, fn));
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[fn(k)] = convert(x, fn);
    return o;
  }
  return v;
}

function envObject(env) {
  if (env == null) return undefined;
  if (Array.isArray(env)) {
    const o = {};
    for (const e of env) {
      if (Array.isArray(e)) o[String(e[0])] = String(e[1]);
      else o[String(e.key)] = String(e.value);
    }
    return o;
  }
  const o = {};
  for (const [k, v] of Object.entries(env)) o[k] = String(v);
  return o;
}

/** The JSON text of a box's options; name (if given) overrides options.name. */
function optionsJson(options = {}, name) {
  const { env, ...rest } = options;
  const doc = convert(rest, snake);
  const e = envObject(env);
  if (e && Object.keys(e).length) doc.env = e;
  if (name != null) doc.name = name;
  return JSON.stringify(doc);
}

/** A JSON document from the library with camelCase keys (box info, metrics, images). */
function fromLibrary(text) {
  return convert(JSON.parse(text), camel);
}

module.exports = { optionsJson, fromLibrary, snake, camel };
