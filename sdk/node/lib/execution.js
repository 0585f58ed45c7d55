// SPDX-License-Identifier: Apache-2.0
'use strict';
// An execution inside a box: stdout/stderr as Readable streams (and async iterators), stdin
// as a Writable, wait(), kill(), resize().
//
// Output comes from the library's non-blocking pipes, watched on the event loop by the addon
// (uv_poll): nothing blocks the loop. A stream whose buffer is full stops being read, and the
// library then holds the process back (flow control end to end). So that waiting without
// reading cannot deadlock, wait() keeps reading every stream that has no consumer into its
// buffer: a later reader still gets all of it.
const os = require('os');
const { Readable, Writable } = require('stream');
const { StringDecoder } = require('string_decoder');
const { load } = require('./native');

const STDOUT = 0, STDERR = 1, DONE = 2;

function signalNumber(sig) {
  if (typeof sig === 'number') return sig;
  const n = os.constants.signals[String(sig).toUpperCase()];
  if (!n) throw new TypeError(`unknown signal ${sig}`);
  return n;
}

class ExecOutput extends Readable {
  constructor(ex, which) {
    super({ highWaterMark: 256 * 1024 });
    this._ex = ex;
    this._which = which;
    this._watching = false;
    this._ended = false;
    this._drainAll = false;
    this._decoder = null;
    this._iter = null;
    // kept here: the addon holds this callback weakly while the stream is paused
    this._onData = (buf) => {
      if (buf === null) {
        if (!this._ended) {
          this._ended = true;
          this.push(null);
        }
        return false;
      }
      return this.push(buf) || this._drainAll;
    };
  }

  _read() {
    this._watch();
  }

  _watch() {
    if (this._ended) return;
    const n = load();
    if (!this._watching) {
      this._watching = true;
      n.execWatch(this._ex._h, this._which, this._onData);
    } else {
      n.execWatch(this._ex._h, this._which);
    }
  }

  /** wait() calls this for a stream nobody reads: keep it moving into memory. */
  _drain() {
    if (this.readableFlowing || this.listenerCount('data') || this.listenerCount('readable')) {
      return;
    }
    this._drainAll = true;
    this._watch();
  }

  /** The next chunk as text, or null at the end (the BoxLite Node SDK's stream shape). */
  async next() {
    if (!this._iter) this._iter = this[Symbol.asyncIterator]();
    if (!this._decoder) this._decoder = new StringDecoder('utf8');
    for (;;) {
      const { value, done } = await this._iter.next();
      if (done) {
        const tail = this._decoder.end();
        return tail ? tail : null;
      }
      const text = typeof value === 'string' ? value : this._decoder.write(value);
      if (text) return text;
    }
  }
}

class ExecInput extends Writable {
  constructor(ex) {
    super({ highWaterMark: 256 * 1024 });
    this._ex = ex;
    // A process that ends without reading its input fails the pending writes (as a closed
    // pipe would): the error reaches write callbacks, close() and 'error' listeners the
    // caller adds, never an uncaught exception.
    this.on('error', () => {});
  }

  _write(chunk, encoding, cb) {
    this._call('execStdinWrite', chunk, cb);
  }

  _writev(chunks, cb) {
    this._call('execStdinWrite', Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  _final(cb) {
    this._call('execStdinClose', undefined, cb);
  }

  _call(name, arg, cb) {
    let p;
    try {
      p = arg === undefined ? load()[name](this._ex._h) : load()[name](this._ex._h, arg);
    } catch (e) {
      return cb(e); // closed: as a failed write, not a throw inside the stream machinery
    }
    p.then(() => cb(), cb);
  }

  /** Sends data and resolves once the library took it. */
  send(data) {
    return new Promise((resolve, reject) => {
      this.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** End-of-file on the process's stdin after the writes already made. */
  close() {
    return new Promise((resolve, reject) => {
      if (this.writableFinished) return resolve();
      if (this.errored) return reject(this.errored);
      const done = (err) => {
        this.off('finish', done);
        this.off('error', done);
        err ? reject(err) : resolve();
      };
      this.once('finish', done);
      this.once('error', done);
      if (!this.writableEnded) this.end();
    });
  }
}

class Execution {
  constructor(box, handle, tty) {
    this._box = box; // the box handle stays open while an execution of it is
    this._h = handle;
    this.tty = !!tty;
    this._out = null;
    this._err = null;
    this._in = null;
    this._wait = null;
    this._onDone = null;
    this._closed = false;
  }

  /** The process's stdout (with a tty: all its output): a Readable of Buffers, also an
   * async iterator; next() gives text chunks then null. */
  stdout() {
    if (!this._out) this._out = new ExecOutput(this, STDOUT);
    return this._out;
  }

  /** The process's stderr (empty with a tty). */
  stderr() {
    if (!this._err) this._err = new ExecOutput(this, STDERR);
    return this._err;
  }

  /** The process's stdin: a Writable; close() (or end()) sends end-of-file. */
  stdin() {
    if (!this._in) this._in = new ExecInput(this);
    return this._in;
  }

  /** Resolves with {exitCode, signal, timedOut, durationMs} when the process has ended;
   * rejects if it could not start (NotFoundError for a missing program) or the execution
   * was closed (InvalidStateError). Several callers may wait at once. */
  wait() {
    if (!this._wait) {
      this._wait = new Promise((resolve, reject) => {
        this._onDone = (err, res) => {
          this._onDone = null;
          err ? reject(err) : resolve(res);
        };
        load().execWatch(this._h, DONE, this._onDone);
      });
      this._wait.catch(() => {}); // reported to those who await it
    }
    this.stdout()._drain();
    this.stderr()._drain();
    return this._wait;
  }

  /** Sends a signal (name or number) to the process; does not wait for it to end. */
  async kill(signal = 'SIGKILL') {
    await load().execSignal(this._h, signalNumber(signal));
  }

  /** Resizes the process's terminal (tty executions). */
  async resize(rows, cols) {
    await load().execResize(this._h, rows, cols);
  }

  async resizeTty(rows, cols) {
    return this.resize(rows, cols);
  }

  /** Releases the execution: a process still running is killed, readers see the end of
   * their streams, a pending wait() rejects with InvalidStateError. */
  close() {
    if (this._closed) return;
    this._closed = true;
    load().close(this._h);
  }

  async [Symbol.asyncDispose]() {
    this.close();
  }
}

module.exports = { Execution, signalNumber };
