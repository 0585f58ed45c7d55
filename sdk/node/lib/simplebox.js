// SPDX-License-Identifier: Apache-2.0
'use strict';
// Conveniences in the shapes of the BoxLite Node SDK: SimpleBox (run commands, get their
// output), CodeBox (run Python), InteractiveBox (a terminal session).
const { Boxlite } = require('./runtime');
const { StringDecoder } = require('string_decoder');
const { ExecError, InvalidStateError, NotFoundError } = require('./errors');

async function collect(stream) {
  const dec = new StringDecoder('utf8');
  let text = '';
  for await (const chunk of stream) text += dec.write(chunk);
  return text + dec.end();
}

/** Runs a command to completion on an open Box: stdout and stderr are read together (a
 * process filling one cannot stall), stdin (string or Buffer) is written then closed. */
async function runCollect(box, cmd, args, options = {}) {
  const { stdin, ...execOptions } = options;
  const ex = await box.exec(cmd, args, execOptions);
  try {
    const feed = async () => {
      const s = ex.stdin();
      try {
        if (stdin != null) await s.send(stdin);
        await s.close();
      } catch (e) {
        if (!(e instanceof InvalidStateError)) throw e; // ended without reading it all
      }
    };
    const [stdout, stderr] = await Promise.all([collect(ex.stdout()), collect(ex.stderr()),
                                                feed()]);
    const r = await ex.wait();
    return { exitCode: r.exitCode, stdout, stderr, signal: r.signal, timedOut: r.timedOut,
             durationMs: r.durationMs };
  } finally {
    ex.close();
  }
}

function parseExecArgs(a, b, c, rest) {
  // exec(cmd, args[], env?, {cwd, user, timeoutSecs, stdin}?) or exec(cmd, ...args, env?)
  if (Array.isArray(a)) return { args: a, options: { ...(c || {}), env: b ?? c?.env } };
  const all = [a, b, c, ...rest].filter((x) => x !== undefined);
  const last = all[all.length - 1];
  if (last && typeof last === 'object' && !Array.isArray(last)) {
    return { args: all.slice(0, -1).map(String), options: { env: last } };
  }
  return { args: all.map(String), options: {} };
}

class SimpleBox {
  /** options: the box's (image, rootfsPath, memoryMib, cpus, env, volumes, ports, ...) plus
   * runtime (default Boxlite.default()) and name. The box is created and started on first
   * use. */
  constructor(options = {}) {
    const { runtime, name, reuseExisting, ...boxOptions } = options;
    this._runtime = runtime || null;
    this._name = name;
    this._options = boxOptions;
    this._box = null;
    this._boxPromise = null;
    this._stopped = false;
  }

  async _ensureBox() {
    if (this._stopped) throw new InvalidStateError('the box was stopped', 4);
    if (!this._boxPromise) {
      this._boxPromise = (async () => {
        const rt = this._runtime || Boxlite.default();
        this._runtime = rt;
        const box = await rt.create(this._options, this._name);
        try {
          await box.start();
        } catch (e) {
          await box[Symbol.asyncDispose]().catch(() => {});
          await rt.remove(box.id, { force: true }).catch(() => {});
          throw e;
        }
        this._box = box;
        return box;
      })();
      this._boxPromise.catch(() => { this._boxPromise = null; });
    }
    return this._boxPromise;
  }

  /** The box id (throws before the box is created: use getId()). */
  get id() {
    if (!this._box) throw new InvalidStateError('the box is not created yet: call exec() or getId()', 4);
    return this._box.id;
  }

  async getId() {
    return (await this._ensureBox()).id;
  }

  get name() {
    return this._box ? this._box.name : this._name;
  }

  /** The underlying Box (created and started if needed). */
  async box() {
    return this._ensureBox();
  }

  async start() {
    await this._ensureBox();
  }

  async info() {
    if (!this._box) throw new InvalidStateError('the box is not created yet: call exec() first', 4);
    return this._box.info();
  }

  async getInfo() {
    return (await this._ensureBox()).info();
  }

  /** Runs a command and resolves with {exitCode, stdout, stderr, signal, timedOut,
   * durationMs}; a non-zero exit is a result, not an error. Forms:
   *   exec('echo', 'a', 'b')   exec('env', [], {K: 'v'})
   *   exec('sh', ['-c', s], env, {cwd, user, timeoutSecs, stdin}) */
  async exec(cmd, a, b, c, ...rest) {
    const { args, options } = parseExecArgs(a, b, c, rest);
    return runCollect(await this._ensureBox(), cmd, args, options);
  }

  async copyIn(hostPath, guestPath) {
    await (await this._ensureBox()).copyIn(hostPath, guestPath);
  }

  async copyOut(guestPath, hostPath) {
    await (await this._ensureBox()).copyOut(guestPath, hostPath);
  }

  async metrics() {
    return (await this._ensureBox()).metrics();
  }

  /** Stops the box (an auto-remove box, the default, is removed) and releases it. Does
   * nothing if the box was never created. */
  async stop() {
    this._stopped = true;
    const p = this._boxPromise;
    if (!p) return;
    let box;
    try {
      box = await p;
    } catch {
      return; // it never started (and was discarded)
    }
    this._box = null;
    try {
      await box.stop();
    } catch (e) {
      if (!(e instanceof InvalidStateError) && !(e instanceof NotFoundError)) throw e;
    } finally {
      box.close();
    }
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}

class CodeBox extends SimpleBox {
  /** options.image defaults to 'python:slim'; options.python is the interpreter. */
  constructor(options = {}) {
    const { python = 'python3', ...rest } = options;
    if (!rest.rootfsPath && rest.image === undefined) rest.image = 'python:slim';
    super(rest);
    this.python = python;
  }

  /** Runs Python source (sent on stdin, so its size is not limited by a command line) and
   * resolves with its stdout; throws ExecError on a non-zero exit. */
  async run(code, options = {}) {
    const r = await this.exec(this.python, ['-'], undefined, { ...options, stdin: code });
    if (r.exitCode !== 0 || r.signal) throw new ExecError('run()', r.exitCode, r.stderr);
    return r.stdout;
  }

  /** Runs a host Python script file. */
  async runScript(scriptPath, options = {}) {
    const code = await require('fs/promises').readFile(scriptPath, 'utf8');
    return this.run(code, options);
  }

  async installPackage(name) {
    return this.installPackages(name);
  }

  /** pip install inside the box (needs pip in the image and network in the box). */
  async installPackages(...names) {
    const r = await this.exec(this.python, ['-m', 'pip', 'install', '--quiet', ...names]);
    if (r.exitCode !== 0) throw new ExecError(`installPackages(${names.join(', ')})`, r.exitCode, r.stderr);
    return r.stdout;
  }
}

class InteractiveBox extends SimpleBox {
  /** options: the box's, plus shell (default /bin/sh), tty (default: whether stdin is a
   * terminal), stdin/stdout (streams to bridge; default the process's own). */
  constructor(options = {}) {
    const { shell = '/bin/sh', tty, stdin, stdout, env, ...rest } = options;
    super(rest);
    this._shell = shell;
    this._env = env;
    this._in = stdin || process.stdin;
    this._outStream = stdout || process.stdout;
    this._tty = tty === undefined ? !!this._in.isTTY : !!tty;
    this._execution = null;
    this._done = null;
    this._cleanup = [];
  }

  /** Starts the shell with a terminal and bridges stdin/stdout to it. */
  async start() {
    const box = await this._ensureBox();
    const input = this._in, output = this._outStream;
    const rows = (output.rows || 24), cols = (output.columns || 80);
    const ex = await box.exec(this._shell, [], { env: this._env, tty: this._tty, rows, cols });
    this._execution = ex;
    const stdin = ex.stdin();
    if (this._tty && input.isTTY && input.setRawMode) {
      input.setRawMode(true);
      this._cleanup.push(() => input.setRawMode(false));
    }
    const onData = (d) => { stdin.write(d); };
    const onEnd = () => { stdin.end(); };
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
    this._cleanup.push(() => { input.off('data', onData); input.off('end', onEnd); input.pause(); });
    if (output.isTTY) {
      const onResize = () => { ex.resize(output.rows, output.columns).catch(() => {}); };
      output.on('resize', onResize);
      this._cleanup.push(() => output.off('resize', onResize));
    }
    const pump = async (s) => { for await (const chunk of s) output.write(chunk); };
    this._done = Promise.all([pump(ex.stdout()), pump(ex.stderr())]).then(() => ex.wait());
    this._done.catch(() => {});
  }

  /** Resolves with the shell's exit status (128 + signal if a signal ended it). */
  async wait() {
    if (!this._done) await this.start();
    try {
      const r = await this._done;
      return r.signal ? 128 + r.signal : r.exitCode;
    } finally {
      this._restore();
    }
  }

  _restore() {
    for (const f of this._cleanup.splice(0)) {
      try { f(); } catch { /* the terminal may be gone */ }
    }
  }

  async stop() {
    this._restore();
    if (this._execution) this._execution.close();
    await super.stop();
  }
}

module.exports = { SimpleBox, CodeBox, InteractiveBox, runCollect };
