// SPDX-License-Identifier: Apache-2.0
'use strict';
// A box: one micro-VM. Every call that can block runs on libuv's thread pool.
const { load } = require('./native');
const { Execution } = require('./execution');
const { NotFoundError } = require('./errors');
const { fromLibrary } = require('./options');

class Box {
  /** @internal made by Boxlite.create/get */
  constructor(runtime, handle, id, name) {
    this._rt = runtime; // a runtime stays open while a box handle of it is
    this._h = handle;
    this.id = id;
    this.name = name;
    this._closed = false;
  }

  /** {id, name, state, image, created, pid, cpus, memoryMib, ports, ...} */
  async info() {
    return fromLibrary(await load().boxInfo(this._h));
  }

  /** Boots the box (the first exec does this too); resolves when it is ready. */
  async start() {
    await load().boxStart(this._h);
  }

  /** Stops the box: graceful for up to timeoutMs (default 10 s), then forced. An
   * auto-remove box (the default) is removed. */
  async stop(options = {}) {
    const ms = typeof options === 'number' ? options : options.timeoutMs ?? 10000;
    await load().boxStop(this._h, ms);
  }

  /** Figures: state, cpu, memory, network, boot and start timings, executions. */
  async metrics() {
    return fromLibrary(await load().boxMetrics(this._h));
  }

  /** The last lines of the box's console log. */
  async console() {
    return load().boxConsole(this._h);
  }

  /** Copies a host file or directory into the box (guestPath becomes the copy). */
  async copyIn(hostPath, guestPath) {
    await load().boxCopyIn(this._h, require('path').resolve(hostPath), guestPath);
  }

  /** Copies a file or directory of the box to the host. */
  async copyOut(guestPath, hostPath) {
    await load().boxCopyOut(this._h, guestPath, require('path').resolve(hostPath));
  }

  /**
   * Starts a command (booting the box first if needed) and resolves with its Execution as
   * soon as the request is sent. A program that cannot start is reported by wait().
   *   exec(cmd, args?, {env, cwd, user, tty, rows, cols, timeoutMs | timeoutSecs})
   * or the positional form of the BoxLite Node SDK:
   *   exec(cmd, args, envPairs, tty, user, timeoutSecs, cwd)
   */
  async exec(cmd, args = [], options = {}, ...rest) {
    if (Array.isArray(options) || rest.length || typeof options !== 'object' || options === null) {
      const [tty, user, timeoutSecs, cwd] = rest;
      options = { env: options || undefined, tty, user, timeoutSecs, cwd };
    }
    const { env, cwd, user, tty = false, rows = 24, cols = 80 } = options;
    let timeoutMs = options.timeoutMs ?? (options.timeoutSecs != null ? options.timeoutSecs * 1000 : 0);
    if (!(timeoutMs >= 0)) throw new RangeError('exec: timeout must not be negative');
    timeoutMs = Math.ceil(timeoutMs);
    let envv = null;
    if (env) {
      const pairs = Array.isArray(env)
        ? env.map((e) => (Array.isArray(e) ? e : [e.key, e.value]))
        : Object.entries(env);
      envv = pairs.map(([k, v]) => `${k}=${v}`);
    }
    const argv = [String(cmd), ...(args || []).map(String)];
    const h = await load().execStart(this._h, argv, envv, cwd ?? null, user ?? null, !!tty,
                                     rows, cols, timeoutMs);
    return new Execution(this, h, tty);
  }

  /** Releases this handle and its executions; the box itself is unaffected. */
  close() {
    if (this._closed) return;
    this._closed = true;
    load().close(this._h);
  }

  /** Stops the box if it runs, then releases the handle. */
  async [Symbol.asyncDispose]() {
    try {
      let state = null;
      try {
        state = (await this.info()).state;
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e; // removed meanwhile (auto-remove)
      }
      if (state === 'starting' || state === 'running') await this.stop();
    } finally {
      this.close();
    }
  }
}

module.exports = { Box };
