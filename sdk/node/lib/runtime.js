// SPDX-License-Identifier: Apache-2.0
'use strict';
// The runtime: a home folder of boxes and images (boxlite_runtime).
const { load } = require('./native');
const { Box } = require('./box');
const { CancelledError, InvalidStateError, NotFoundError } = require('./errors');
const { optionsJson, fromLibrary } = require('./options');

class Images {
  constructor(rt) {
    this._rt = rt;
  }

  /** Pulls an image into the store. onProgress(layer, nLayers, digest, done, total) is
   * called on the event loop as layers arrive. options.signal (an AbortSignal) stops the
   * pull: it rejects with CancelledError (its cause the signal's reason), records no image
   * and keeps the partial layers, which the next pull of the image resumes. */
  async pull(reference, options = {}) {
    const { signal } = options;
    const cancelled = () => Object.assign(
      new CancelledError(`pull of ${reference} cancelled by its AbortSignal`), { cause: signal.reason });
    if (signal?.aborted) throw cancelled();
    const h = await this._rt._handle();
    if (signal?.aborted) throw cancelled();
    const cb = options.onProgress
      ? (...a) => { try { options.onProgress(...a); } catch { /* never fails the pull */ } }
      : null;
    // The library's pull runs on a worker thread, which reads this flag at each progress
    // report (the addon's imagePull); abort sets it.
    const stop = signal ? new Int32Array(new ArrayBuffer(4)) : null;
    const onAbort = () => Atomics.store(stop, 0, 1);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await load().imagePull(h, reference, cb, stop ? stop.buffer : null);
    } catch (e) {
      if (e instanceof CancelledError && signal) e.cause = signal.reason;
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return { reference };
  }

  /** [{ref, id, size, layers, created}] */
  async list() {
    return fromLibrary(await load().imageList(await this._rt._handle()));
  }

  /** Removes a reference (or an image id); refused while a box uses it, unless force. */
  async remove(reference, options = {}) {
    const force = typeof options === 'boolean' ? options : !!options.force;
    await load().imageRemove(await this._rt._handle(), reference, force ? 1 : 0);
  }
}

let defaultRuntime = null;

class Boxlite {
  /** options.homeDir: the home folder (default $BOXLITE_HOME, else ~/.boxlite). The runtime
   * opens on first use. */
  constructor(options = {}) {
    this._home = (typeof options === 'string' ? options : options.homeDir ?? options.home) ?? null;
    this._h = null;
    this._opening = null;
    this._closed = false;
    this.images = new Images(this);
  }

  /** A process-wide runtime on the default home. */
  static default() {
    if (!defaultRuntime || defaultRuntime._closed) defaultRuntime = new Boxlite();
    return defaultRuntime;
  }

  static withDefaultConfig() {
    return Boxlite.default();
  }

  static version() {
    return load().version();
  }

  async _handle() {
    if (this._closed) throw new InvalidStateError('the runtime is closed', 4);
    if (this._h) return this._h;
    if (!this._opening) {
      this._opening = load().runtimeOpen(this._home).then((h) => {
        if (this._closed) {
          load().close(h);
          throw new InvalidStateError('the runtime is closed', 4);
        }
        this._h = h;
        return h;
      });
      this._opening.catch(() => { this._opening = null; });
    }
    return this._opening;
  }

  _box([h, id, name]) {
    return new Box(this, h, id, name);
  }

  /** Creates a box (resolves at once; its first exec or start() boots it). Options:
   * {image, rootfsPath, cpus, memoryMib, diskSizeGb, env, workingDir, user, volumes:
   * [{hostPath, guestPath, readOnly}], ports: [{hostPort, guestPort, protocol, hostAddr}],
   * network, name, autoRemove, detach, readyTimeoutMs, engine, cmd, ...} */
  async create(options = {}, name) {
    return this._box(await load().boxCreate(await this._handle(), optionsJson(options, name)));
  }

  /** A handle on an existing box by id, unique id prefix or name (NotFoundError if none). */
  async get(idOrName) {
    return this._box(await load().boxGet(await this._handle(), idOrName));
  }

  /** The box's info, or null if there is no such box. */
  async getInfo(idOrName) {
    let box;
    try {
      box = await this.get(idOrName);
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
    try {
      return await box.info();
    } finally {
      box.close();
    }
  }

  /** Box infos, all or those in one state ('running'). */
  async list(state) {
    return fromLibrary(await load().boxList(await this._handle(), state ?? null));
  }

  listInfo(state) {
    return this.list(state);
  }

  /** Removes a box; refused while it runs unless force (which stops it first). */
  async remove(idOrName, options = {}) {
    const force = typeof options === 'boolean' ? options : !!options.force;
    await load().boxRemove(await this._handle(), idOrName, force ? 1 : 0);
  }

  /** Runtime figures: boxes created, failed, running. */
  async metrics() {
    return fromLibrary(await load().runtimeMetrics(await this._handle()));
  }

  /** Closes the runtime and the box and execution handles opened from it: readers of their
   * output see its end, pending waits reject with InvalidStateError. Boxes created without
   * detach stop when their runtime is closed or its process ends. */
  close() {
    if (this._closed) return;
    this._closed = true;
    if (this._h) load().close(this._h);
  }

  async [Symbol.asyncDispose]() {
    this.close();
  }
}

module.exports = { Boxlite, Images };
