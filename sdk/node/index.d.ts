// SPDX-License-Identifier: Apache-2.0
// TypeScript declarations for boxlite (lib/index.js).
/// <reference types="node" />
import { Readable, Writable } from 'stream';

export interface VolumeSpec { hostPath: string; guestPath: string; readOnly?: boolean }
export interface PortSpec { hostPort?: number; guestPort: number; protocol?: 'tcp' | 'udp' | string; hostAddr?: string }

/** A box's options. Keys become the library's snake_case JSON options (memoryMib ->
 * memory_mib), so fields the library adds later pass through; an unknown one is an
 * InvalidArgumentError naming it. */
export interface BoxOptions {
  image?: string;
  rootfsPath?: string;
  cpus?: number;
  memoryMib?: number;
  diskSizeGb?: number;
  env?: Record<string, string> | Array<[string, string]> | Array<{ key: string; value: string }>;
  workingDir?: string;
  user?: string;
  volumes?: VolumeSpec[];
  ports?: PortSpec[];
  /** false or 'none': no network interface at all; true or 'default' (the default): the
   * internet and nothing of the host. */
  network?: boolean | 'none' | 'default';
  /** Egress rules ("198.51.100.7", "198.51.100.0/24", "[2001:db8::1]:443",
   * "api.example.com", "*.example.com", each optionally ":PORT"): with any, everything
   * else is refused. */
  allowNet?: string[];
  /** Rules refused even if allowNet allows them. */
  denyNet?: string[];
  /** Ports of the host's loopback the box may reach, at its gateway 10.0.2.2 (fec0::2). */
  allowHost?: Array<{ port: number; protocol?: 'tcp' | 'udp' }>;
  name?: string;
  autoRemove?: boolean;
  detach?: boolean;
  readyTimeoutMs?: number;
  engine?: 'auto' | 'kvm' | 'qemu';
  cmd?: string[];
  [field: string]: unknown;
}

export interface BoxInfo {
  id: string; name: string; state: string; image: string | null; created: number; pid: number;
  engine: string | null; cpus: number; memoryMib: number; ports: unknown[]; autoRemove: boolean;
  detach: boolean; [field: string]: unknown;
}
export interface ImageInfo { ref: string; id: string; size: number; layers: number; created: string | null }
export interface ExecStatus { exitCode: number; signal: number; timedOut: boolean; durationMs: number }
export interface ExecResult { exitCode: number; stdout: string; stderr: string; signal?: number; timedOut?: boolean; durationMs?: number }

export interface ExecOptions {
  env?: Record<string, string> | Array<[string, string]>;
  cwd?: string;
  user?: string;
  tty?: boolean;
  rows?: number;
  cols?: number;
  /** On expiry the process group is killed and wait() resolves with timedOut: true (not a
   * TimeoutError, which is a start whose guest is not ready within readyTimeoutMs). */
  timeoutMs?: number;
  timeoutSecs?: number;
}

export class ExecOutput extends Readable {
  /** The next chunk as text, or null at the end. */
  next(): Promise<string | null>;
}
export class ExecInput extends Writable {
  /** Writes data; resolves once the library took it. */
  send(data: string | Uint8Array): Promise<void>;
  /** End-of-file on the process's stdin. */
  close(): Promise<void>;
}

export class Execution implements AsyncDisposable {
  readonly tty: boolean;
  stdout(): ExecOutput;
  stderr(): ExecOutput;
  stdin(): ExecInput;
  wait(): Promise<ExecStatus>;
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  resize(rows: number, cols: number): Promise<void>;
  resizeTty(rows: number, cols: number): Promise<void>;
  close(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export class Box implements AsyncDisposable {
  readonly id: string;
  readonly name: string;
  info(): Promise<BoxInfo>;
  start(): Promise<void>;
  stop(options?: { timeoutMs?: number } | number): Promise<void>;
  metrics(): Promise<Record<string, unknown>>;
  console(): Promise<string>;
  copyIn(hostPath: string, guestPath: string): Promise<void>;
  copyOut(guestPath: string, hostPath: string): Promise<void>;
  exec(cmd: string, args?: string[], options?: ExecOptions): Promise<Execution>;
  exec(cmd: string, args: string[], env: Array<[string, string]> | undefined, tty?: boolean,
       user?: string, timeoutSecs?: number, cwd?: string): Promise<Execution>;
  close(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export class Images {
  /** options.signal stops the pull: CancelledError, no image recorded. */
  pull(reference: string, options?: { onProgress?: (layer: number, nLayers: number, digest: string, done: number, total: number) => void; signal?: AbortSignal }): Promise<{ reference: string }>;
  list(): Promise<ImageInfo[]>;
  remove(reference: string, options?: { force?: boolean } | boolean): Promise<void>;
}

export class Boxlite implements AsyncDisposable {
  constructor(options?: { homeDir?: string } | string);
  static default(): Boxlite;
  static withDefaultConfig(): Boxlite;
  static version(): string;
  readonly images: Images;
  create(options?: BoxOptions, name?: string): Promise<Box>;
  get(idOrName: string): Promise<Box>;
  getInfo(idOrName: string): Promise<BoxInfo | null>;
  list(state?: string): Promise<BoxInfo[]>;
  listInfo(state?: string): Promise<BoxInfo[]>;
  remove(idOrName: string, options?: { force?: boolean } | boolean): Promise<void>;
  metrics(): Promise<Record<string, unknown>>;
  close(): void;
  [Symbol.asyncDispose](): Promise<void>;
}
export { Boxlite as JsBoxlite };

export interface SimpleBoxOptions extends BoxOptions { runtime?: Boxlite; name?: string }
export interface SimpleExecOptions { cwd?: string; user?: string; timeoutSecs?: number; timeoutMs?: number; stdin?: string | Uint8Array; tty?: boolean }

export class SimpleBox implements AsyncDisposable {
  constructor(options?: SimpleBoxOptions);
  readonly id: string;
  readonly name: string | undefined;
  getId(): Promise<string>;
  box(): Promise<Box>;
  start(): Promise<void>;
  info(): Promise<BoxInfo>;
  getInfo(): Promise<BoxInfo>;
  exec(cmd: string, ...args: string[]): Promise<ExecResult>;
  exec(cmd: string, args: string[], env?: Record<string, string>, options?: SimpleExecOptions): Promise<ExecResult>;
  copyIn(hostPath: string, guestPath: string): Promise<void>;
  copyOut(guestPath: string, hostPath: string): Promise<void>;
  metrics(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface CodeBoxOptions extends SimpleBoxOptions { python?: string }
export class CodeBox extends SimpleBox {
  constructor(options?: CodeBoxOptions);
  run(code: string, options?: SimpleExecOptions): Promise<string>;
  runScript(scriptPath: string, options?: SimpleExecOptions): Promise<string>;
  installPackage(name: string): Promise<string>;
  installPackages(...names: string[]): Promise<string>;
}

export interface InteractiveBoxOptions extends SimpleBoxOptions {
  shell?: string;
  tty?: boolean;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): void };
  stdout?: NodeJS.WritableStream & { isTTY?: boolean; rows?: number; columns?: number };
}
export class InteractiveBox extends SimpleBox {
  constructor(options?: InteractiveBoxOptions);
  start(): Promise<void>;
  /** The shell's exit status (128 + signal if a signal ended it). */
  wait(): Promise<number>;
}

export class BoxliteError extends Error { readonly code: number }
export class InvalidArgumentError extends BoxliteError {}
export class NotFoundError extends BoxliteError {}
export class AlreadyExistsError extends BoxliteError {}
export class InvalidStateError extends BoxliteError {}
export class IOError extends BoxliteError {}
export class OutOfMemoryError extends BoxliteError {}
export class EngineError extends BoxliteError {}
export class TimeoutError extends BoxliteError {}
export class ImageError extends BoxliteError {}
export class AuthError extends BoxliteError {}
export class NetworkError extends BoxliteError {}
export class ProtocolError extends BoxliteError {}
export class UnsupportedError extends BoxliteError {}
export class InternalError extends BoxliteError {}
export class CancelledError extends BoxliteError {}
export class ParseError extends BoxliteError {}
export class ExecError extends BoxliteError {
  readonly command: string;
  readonly exitCode: number;
  readonly stderr: string;
}
export function errorCode(err: unknown): string | undefined;
export function version(): string;
/** The file libboxlite.so was loaded from. */
export function libraryPath(): string;
