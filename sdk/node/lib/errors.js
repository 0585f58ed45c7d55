// SPDX-License-Identifier: Apache-2.0
'use strict';
// Errors: one class per boxlite_code (include/boxlite.h), all subclasses of BoxliteError,
// plus ExecError (a command that failed, thrown by CodeBox) as in the BoxLite Node SDK.

class BoxliteError extends Error {
  constructor(message, code = 14) {
    super(message);
    this.name = this.constructor.name;
    this.code = code; // the library's boxlite_code
  }
}

const byCode = new Map();
function define(name, code) {
  const cls = { [name]: class extends BoxliteError {
    constructor(message, c = code) { super(message, c); }
  } }[name];
  byCode.set(code, cls);
  return cls;
}

const InvalidArgumentError = define('InvalidArgumentError', 1);
const NotFoundError = define('NotFoundError', 2);
const AlreadyExistsError = define('AlreadyExistsError', 3);
const InvalidStateError = define('InvalidStateError', 4);
const IOError = define('IOError', 5);
const OutOfMemoryError = define('OutOfMemoryError', 6);
const EngineError = define('EngineError', 7);
const TimeoutError = define('TimeoutError', 8);
const ImageError = define('ImageError', 9);
const AuthError = define('AuthError', 10);
const NetworkError = define('NetworkError', 11);
const ProtocolError = define('ProtocolError', 12);
const UnsupportedError = define('UnsupportedError', 13);
const InternalError = define('InternalError', 14);
const CancelledError = define('CancelledError', 15); // a pull stopped by its AbortSignal

class ExecError extends BoxliteError {
  constructor(command, exitCode, stderr) {
    super(`Command '${command}' failed with exit code ${exitCode}: ${stderr}`, 14);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

class ParseError extends BoxliteError {}

/** The error for a boxlite_code and message (the addon calls this). */
function makeError(code, message) {
  const cls = byCode.get(code) || BoxliteError;
  return new cls(message || `boxlite error ${code}`, code);
}

const codeNames = {
  1: 'invalid_argument', 2: 'not_found', 3: 'already_exists', 4: 'invalid_state', 5: 'io',
  6: 'out_of_memory', 7: 'engine', 8: 'timeout', 9: 'image', 10: 'auth', 11: 'network',
  12: 'protocol', 13: 'unsupported', 14: 'internal', 15: 'cancelled',
};

/** The machine name of a BoxLite failure ('not_found', ...), or undefined for another error. */
function errorCode(err) {
  return err instanceof BoxliteError ? codeNames[err.code] : undefined;
}

module.exports = {
  BoxliteError, InvalidArgumentError, NotFoundError, AlreadyExistsError, InvalidStateError,
  IOError, OutOfMemoryError, EngineError, TimeoutError, ImageError, AuthError, NetworkError,
  ProtocolError, UnsupportedError, InternalError, ExecError, ParseError, makeError, errorCode,
  CancelledError,
};
