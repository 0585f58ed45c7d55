// SPDX-License-Identifier: Apache-2.0

package boxlite

/*
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include "boxlite.h"

static boxlite_exec_spec *spec_new(int argc, int envc)
{
    boxlite_exec_spec *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->size = sizeof *s;
    s->argv = calloc((size_t)argc + 1, sizeof(char *));
    s->env = envc ? calloc((size_t)envc + 1, sizeof(char *)) : NULL;
    return s;
}
static void spec_set_arg(boxlite_exec_spec *s, int i, char *v) { ((char **)s->argv)[i] = v; }
static void spec_set_env(boxlite_exec_spec *s, int i, char *v) { ((char **)s->env)[i] = v; }
static void spec_free(boxlite_exec_spec *s)
{
    if (!s)
        return;
    for (char **p = (char **)s->argv; p && *p; p++)
        free(*p);
    for (char **p = (char **)s->env; p && *p; p++)
        free(*p);
    free((void *)s->argv);
    free((void *)s->env);
    free((void *)s->working_dir);
    free((void *)s->user);
    free(s);
}
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// ExecResult is the outcome of Box.Exec.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// ExecStatus is how a process ended.
type ExecStatus struct {
	ExitCode int // valid when Signal is 0
	Signal   int // the signal that ended it, or 0
	TimedOut bool
	Duration time.Duration
}

// ExecutionOptions configures StartExecution. Output goes to Stdout and Stderr (nil:
// discarded) and to the On* callbacks, each from its own goroutine, as it arrives.
type ExecutionOptions struct {
	TTY        bool
	Rows, Cols int // terminal size with TTY (default 24x80)
	Stdout     io.Writer
	Stderr     io.Writer
	OnStdout   func([]byte)
	OnStderr   func([]byte)
	Env        map[string]string
	WorkDir    string
	User       string
	Timeout    time.Duration // the library kills the process group after this
}

// Execution is a process started in a box.
type Execution struct {
	box *Box
	h   *handle
	c   *C.boxlite_exec

	// Stdin is the process's standard input; Close sends end-of-file.
	Stdin io.WriteCloser

	done   chan struct{}
	status ExecStatus
	err    error
	files  []*os.File
}

// Exec runs a command to completion and returns its output.
func (b *Box) Exec(ctx context.Context, name string, arg ...string) (*ExecResult, error) {
	var out, errb bytes.Buffer
	e, err := b.StartExecution(ctx, name, arg, &ExecutionOptions{Stdout: &out, Stderr: &errb})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	e.Stdin.Close()
	code, err := e.Wait(ctx)
	if err != nil {
		return nil, err
	}
	return &ExecResult{ExitCode: code, Stdout: out.String(), Stderr: errb.String()}, nil
}

type callbackWriter struct {
	w  io.Writer
	cb func([]byte)
}

func (c callbackWriter) Write(p []byte) (int, error) {
	if c.cb != nil {
		c.cb(append([]byte(nil), p...))
	}
	if c.w != nil {
		return c.w.Write(p)
	}
	return len(p), nil
}

// dupFile wraps a duplicate of one of the library's non-blocking descriptors in an
// *os.File, which Go reads through its poller (no thread blocked per stream).
func dupFile(fd C.int, name string) (*os.File, error) {
	if fd < 0 {
		return nil, fmt.Errorf("boxlite: the execution has no %s descriptor", name)
	}
	// F_DUPFD_CLOEXEC: the duplicate and its close-on-exec flag in one system call
	d, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, errno
	}
	return os.NewFile(d, name), nil
}

// StartExecution starts name with args and returns as soon as the request is sent. A
// program that cannot start is reported by Wait. Cancelling ctx kills the process (as
// exec.CommandContext does).
func (b *Box) StartExecution(ctx context.Context, name string, args []string, opts *ExecutionOptions) (*Execution, error) {
	if opts == nil {
		opts = &ExecutionOptions{}
	}
	keys := make([]string, 0, len(opts.Env))
	for k := range opts.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	spec := C.spec_new(C.int(len(args)+1), C.int(len(keys)))
	if spec == nil {
		return nil, &Error{Code: ErrNoMemory, Message: "out of memory"}
	}
	C.spec_set_arg(spec, 0, cstr(name))
	for i, a := range args {
		C.spec_set_arg(spec, C.int(i+1), cstr(a))
	}
	for i, k := range keys {
		C.spec_set_env(spec, C.int(i), cstr(k+"="+opts.Env[k]))
	}
	spec.working_dir = cstrOrNil(opts.WorkDir)
	spec.user = cstrOrNil(opts.User)
	if opts.TTY {
		spec.tty = 1
	}
	rows, cols := opts.Rows, opts.Cols
	if rows <= 0 {
		rows = 24
	}
	if cols <= 0 {
		cols = 80
	}
	spec.rows, spec.cols = C.uint(rows), C.uint(cols)
	spec.timeout_ms = C.longlong(opts.Timeout.Milliseconds())
	if opts.Timeout > 0 && spec.timeout_ms == 0 {
		spec.timeout_ms = 1
	}

	if err := ctx.Err(); err != nil {
		C.spec_free(spec)
		return nil, err
	}
	if err := b.h.acquire(); err != nil {
		C.spec_free(spec)
		return nil, err
	}
	type result struct {
		c   *C.boxlite_exec
		err error
	}
	start := func() result {
		defer b.h.release()
		defer C.spec_free(spec)
		var c *C.boxlite_exec
		err := call(func() C.int { return C.boxlite_exec_start(b.c, spec, &c) })
		return result{c, err}
	}
	if ctx.Done() == nil { // nothing can cancel it: no goroutine hand-off
		res := start()
		if res.err != nil {
			return nil, res.err
		}
		return b.newExecution(ctx, res.c, opts)
	}
	ch := make(chan result, 1)
	go func() { ch <- start() }()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				C.boxlite_exec_free(r.c)
			}
		}()
		return nil, ctx.Err()
	}
	if res.err != nil {
		return nil, res.err
	}
	return b.newExecution(ctx, res.c, opts)
}

func (b *Box) newExecution(ctx context.Context, c *C.boxlite_exec, opts *ExecutionOptions) (*Execution, error) {
	h, err := newHandle("execution", b.h, func() { C.boxlite_exec_free(c) })
	if err != nil {
		C.boxlite_exec_free(c)
		return nil, err
	}
	e := &Execution{box: b, h: h, c: c, done: make(chan struct{})}
	e.Stdin = &execStdin{e: e}
	out, err1 := dupFile(C.boxlite_exec_stdout_fd(c), "stdout")
	errf, err2 := dupFile(C.boxlite_exec_stderr_fd(c), "stderr")
	for _, f := range []*os.File{out, errf} {
		if f != nil {
			e.files = append(e.files, f)
		}
	}
	if err := firstErr(err1, err2); err != nil {
		for _, f := range e.files {
			f.Close()
		}
		h.close()
		return nil, err
	}
	b.mu.Lock()
	b.execs[e] = struct{}{}
	b.mu.Unlock()

	var pumps sync.WaitGroup
	pump := func(f *os.File, w io.Writer, cb func([]byte)) {
		defer pumps.Done()
		defer f.Close()
		if w == nil && cb == nil {
			w = io.Discard
		}
		// a writer that fails stops being written to, but the stream is still drained so
		// the process is never held back by it
		if _, err := io.Copy(callbackWriter{w: w, cb: cb}, f); err != nil {
			io.Copy(io.Discard, f)
		}
	}
	pumps.Add(2)
	go pump(out, opts.Stdout, opts.OnStdout)
	go pump(errf, opts.Stderr, opts.OnStderr)
	go func() {
		// Output ends when the process does (or when the handle is freed), so the result
		// is usually there once both streams have ended: the done descriptor is watched only
		// when it is not (a process that closed its output and runs on).
		pumps.Wait() // all output delivered before Wait returns, as os/exec does
		var r C.boxlite_exec_result
		wait := func() C.int { return C.boxlite_exec_wait(c, 0, &r) }
		err := e.h.acquire()
		if err == nil {
			var donef *os.File
			if err = call(wait); IsTimeout(err) {
				donef, err = dupFile(C.boxlite_exec_done_fd(c), "done")
			}
			e.h.release() // not held while waiting: Close frees the handle, ending the wait
			if donef != nil {
				io.Copy(io.Discard, donef) // end-of-file: the process ended or the handle was freed
				donef.Close()
				if err = e.h.acquire(); err == nil {
					err = call(wait)
					e.h.release()
				}
			}
		}
		e.err = err
		if err == nil {
			e.status = ExecStatus{ExitCode: int(r.exit_code), Signal: int(r.signal),
				TimedOut: r.timed_out != 0, Duration: time.Duration(float64(r.duration_ms) * float64(time.Millisecond))}
		}
		close(e.done)
	}()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				e.Kill(context.Background())
			case <-e.done:
			}
		}()
	}
	return e, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Wait waits for the process to end and returns its exit code (128 + the signal if a
// signal ended it). It fails if the program could not start (ErrNotFound for a missing
// one), if the execution or its runtime was closed (ErrInvalidState), or with ctx.Err().
func (e *Execution) Wait(ctx context.Context) (int, error) {
	select {
	case <-e.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if e.err != nil {
		return 0, e.err
	}
	if e.status.Signal != 0 {
		return 128 + e.status.Signal, nil
	}
	return e.status.ExitCode, nil
}

// Status is how the process ended (valid once Wait returned without error).
func (e *Execution) Status() ExecStatus {
	select {
	case <-e.done:
		return e.status
	default:
		return ExecStatus{}
	}
}

// Signal sends a signal to the process.
func (e *Execution) Signal(ctx context.Context, sig syscall.Signal) error {
	return blocking(ctx, e.h, func() error {
		return call(func() C.int { return C.boxlite_exec_signal(e.c, C.int(sig)) })
	})
}

// Kill ends the process (SIGKILL).
func (e *Execution) Kill(ctx context.Context) error { return e.Signal(ctx, syscall.SIGKILL) }

// ResizeTTY sets the terminal size of a TTY execution.
func (e *Execution) ResizeTTY(ctx context.Context, rows, cols int) error {
	return blocking(ctx, e.h, func() error {
		return call(func() C.int { return C.boxlite_exec_resize(e.c, C.uint(rows), C.uint(cols)) })
	})
}

// Write writes to the process's standard input.
func (e *Execution) Write(p []byte) (int, error) { return e.Stdin.Write(p) }

// Close releases the execution: a process still running is killed, a pending Wait returns
// an ErrInvalidState error, a stdin write still waiting for the process returns.
func (e *Execution) Close() error {
	e.h.mu.Lock()
	busy := !e.h.closed && e.h.refs > 1
	if busy {
		C.boxlite_exec_signal(e.c, C.SIGKILL) // a stdin write may wait for room forever
	}
	e.h.mu.Unlock()
	if _, first := e.h.close(); first {
		e.box.mu.Lock()
		delete(e.box.execs, e)
		e.box.mu.Unlock()
	}
	return nil
}

type execStdin struct {
	e  *Execution
	mu sync.Mutex // writes go out in call order
}

func (s *execStdin) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.e.h.acquire(); err != nil {
		return 0, err
	}
	defer s.e.h.release()
	err := call(func() C.int {
		return C.boxlite_exec_write_stdin(s.e.c, unsafe.Pointer(&p[0]), C.size_t(len(p)))
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *execStdin) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.e.h.acquire(); err != nil {
		return err
	}
	defer s.e.h.release()
	return call(func() C.int { return C.boxlite_exec_close_stdin(s.e.c) })
}

// Command returns a Cmd for name and args, in the manner of os/exec.
func (b *Box) Command(name string, arg ...string) *Cmd {
	return &Cmd{Path: name, Args: arg, box: b}
}

// Cmd is a command to run in a box, in the manner of os/exec.Cmd: Stdin (nil: empty),
// Stdout and Stderr (nil: discarded), Env ("K=V"), Dir, User, TTY.
type Cmd struct {
	Path   string
	Args   []string
	Env    []string
	Dir    string
	User   string
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	box       *Box
	exec      *Execution
	stdinDone chan error
	exitCode  int
	done      bool
}

// Start starts the command.
func (c *Cmd) Start(ctx context.Context) error {
	if c.exec != nil {
		return errors.New("boxlite: Cmd already started")
	}
	env := map[string]string{}
	for _, kv := range c.Env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				env[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	e, err := c.box.StartExecution(ctx, c.Path, c.Args, &ExecutionOptions{Stdout: c.Stdout,
		Stderr: c.Stderr, Env: env, WorkDir: c.Dir, User: c.User, TTY: c.TTY})
	if err != nil {
		return err
	}
	c.exec = e
	c.stdinDone = make(chan error, 1)
	go func() {
		var err error
		if c.Stdin != nil {
			_, err = io.Copy(e.Stdin, c.Stdin)
		}
		if cerr := e.Stdin.Close(); err == nil && !IsInvalidState(cerr) {
			err = cerr
		}
		if IsInvalidState(err) {
			err = nil // the process ended without reading all of it, as with a closed pipe
		}
		c.stdinDone <- err
	}()
	return nil
}

// Wait waits for a started command, then releases it. A non-zero exit is not an error
// (see ExitCode).
func (c *Cmd) Wait(ctx context.Context) error {
	if c.exec == nil {
		return errors.New("boxlite: Cmd not started")
	}
	defer c.exec.Close()
	code, err := c.exec.Wait(ctx)
	if err != nil {
		return err
	}
	c.exitCode, c.done = code, true
	return <-c.stdinDone
}

// Run starts the command and waits for it.
func (c *Cmd) Run(ctx context.Context) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	return c.Wait(ctx)
}

// Output runs the command and returns its standard output.
func (c *Cmd) Output(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	c.Stdout = &buf
	err := c.Run(ctx)
	return buf.Bytes(), err
}

// CombinedOutput runs the command and returns its standard output and error together.
func (c *Cmd) CombinedOutput(ctx context.Context) ([]byte, error) {
	var buf syncBuffer
	c.Stdout, c.Stderr = &buf, &buf
	err := c.Run(ctx)
	return buf.b.Bytes(), err
}

// ExitCode is the exit code after Run or Wait (128 + signal if a signal ended it).
func (c *Cmd) ExitCode() int { return c.exitCode }

// syncBuffer is a buffer two pumps may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
