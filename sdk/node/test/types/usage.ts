// SPDX-License-Identifier: Apache-2.0
// Type-checked against index.d.ts by test/types.test.js (tsc --strict), then compiled and
// run on Node: main() exercises `await using`, which TypeScript lowers to calls of
// Symbol.asyncDispose (Node 20 has the symbol but not the syntax).
import {
  Boxlite, Box, Execution, SimpleBox, CodeBox, InteractiveBox, BoxOptions, BoxInfo, ExecStatus,
  ExecResult, ImageInfo, BoxliteError, InvalidStateError, NotFoundError, TimeoutError, ExecError,
  errorCode, version,
} from 'boxlite';

// Never run: every shape of the API, typed.
export async function shapes(rt: Boxlite): Promise<void> {
  const opts: BoxOptions = {
    image: 'alpine:latest', cpus: 2, memoryMib: 256, diskSizeGb: 1, env: { A: 'b' },
    workingDir: '/', user: '0:0', volumes: [{ hostPath: '/h', guestPath: '/g', readOnly: true }],
    ports: [{ hostPort: 0, guestPort: 80, protocol: 'tcp' }], network: 'default',
    allowNet: ['198.51.100.1', 'api.example.com:443'], denyNet: ['198.51.100.9'],
    allowHost: [{ port: 5432, protocol: 'tcp' }], name: 'web', autoRemove: true, detach: false,
    readyTimeoutMs: 60000, engine: 'qemu', cmd: ['sleep', 'inf'],
  };
  const none: BoxOptions = { network: 'none' };
  const off: BoxOptions = { network: false };
  // @ts-expect-error network is a boolean, 'none' or 'default'
  const bridged: BoxOptions = { network: 'bridged' };
  // @ts-expect-error cpus is a number
  const cpus: BoxOptions = { cpus: '2' };
  // @ts-expect-error allowHost entries need a port
  const host: BoxOptions = { allowHost: [{ protocol: 'tcp' }] };
  void [none, off, bridged, cpus, host];

  const box: Box = await rt.create(opts, 'web');
  const info: BoxInfo = await box.info();
  const state: string = info.state;
  const memory: number = info.memoryMib;
  await box.start();
  const ex: Execution = await box.exec('sh', ['-c', 'cat'], { env: { K: 'v' }, cwd: '/', tty: true, rows: 24, cols: 80, timeoutMs: 1000 });
  const legacy: Execution = await box.exec('ls', ['-l'], [['K', 'v']], false, 'root', 10, '/');
  await ex.stdin().send('data');
  await ex.stdin().send(new Uint8Array([1, 2]));
  await ex.stdin().close();
  for await (const chunk of ex.stdout()) void chunk;
  const line: string | null = await ex.stderr().next();
  const st: ExecStatus = await ex.wait();
  const timedOut: boolean = st.timedOut;
  const sig: number = st.signal;
  await ex.kill('SIGTERM');
  await ex.kill(9);
  // @ts-expect-error not a signal name
  await ex.kill('SIGNOPE');
  await ex.resize(40, 100);
  ex.close();
  await legacy[Symbol.asyncDispose]();
  await box.copyIn('/tmp/a', '/a');
  await box.copyOut('/a', '/tmp/b');
  const console_: string = await box.console();
  const m: Record<string, unknown> = await box.metrics();
  await box.stop({ timeoutMs: 1000 });
  box.close();

  const images: ImageInfo[] = await rt.images.list();
  await rt.images.pull('alpine', { onProgress: (layer, n, digest, done, total) => void [layer, n, digest, done, total] });
  await rt.images.remove('alpine', { force: true });
  const boxes: BoxInfo[] = await rt.list('running');
  const maybe: BoxInfo | null = await rt.getInfo('web');
  await rt.remove('web', { force: true });
  const rm: Record<string, unknown> = await rt.metrics();

  const sb = new SimpleBox({ runtime: rt, image: 'alpine:latest', name: 'sb' });
  const r: ExecResult = await sb.exec('echo', 'hi');
  const r2: ExecResult = await sb.exec('sh', ['-c', 'echo $K'], { K: 'v' }, { stdin: 'x', timeoutSecs: 5 });
  const code: number = r.exitCode + r2.exitCode;
  // @ts-expect-error exitCode is a number
  const wrong: string = r.exitCode;
  await sb.stop();
  const cb = new CodeBox({ python: 'python3' });
  const out: string = await cb.run('print(1)');
  await cb.installPackages('requests', 'numpy');
  const ib = new InteractiveBox({ shell: '/bin/sh', tty: true, stdin: process.stdin, stdout: process.stdout });
  const status: number = await ib.wait();

  try {
    await rt.get('nope');
  } catch (e) {
    if (e instanceof NotFoundError || e instanceof TimeoutError) void e.code;
    if (e instanceof ExecError) void [e.exitCode, e.stderr, e.command];
    const name: string | undefined = errorCode(e);
    const base: boolean = e instanceof BoxliteError;
    void [name, base];
  }
  const v: string = version() + Boxlite.version();
  void [state, memory, line, timedOut, sig, console_, m, images, boxes, maybe, rm, code, wrong, out, status, v];
}

// Run by the test: `await using` disposes a box handle and a runtime (no box is booted).
async function main(): Promise<void> {
  const [home, rootfs] = process.argv.slice(2);
  let keptRt: Boxlite | undefined;
  let keptBox: Box | undefined;
  {
    await using rt = new Boxlite({ homeDir: home });
    keptRt = rt;
    await using box = await rt.create({ rootfsPath: rootfs, memoryMib: 256 });
    keptBox = box;
    console.log(`inside: ${(await box.info()).state}`);
  }
  for (const [what, call] of [['box', () => keptBox!.info()], ['runtime', () => keptRt!.list()]] as const) {
    try {
      await call();
      console.log(`${what}: still open`);
    } catch (e) {
      console.log(`${what}: ${e instanceof InvalidStateError ? 'closed' : String(e)}`);
    }
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
