// SPDX-License-Identifier: Apache-2.0

package boxlite

// Executions through the Go SDK on a real box (QEMU engine here): output, exit codes,
// env/cwd/user, both streams at once, stdin, timeout, kill, tty resize, concurrency, copies,
// Cmd, context cancellation.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var bg = context.Background()

func TestHello(t *testing.T) {
	b := sharedBox(t)
	r, err := b.Exec(bg, "echo", "hello", "from", "go")
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != "hello from go\n" || r.Stderr != "" || r.ExitCode != 0 {
		t.Fatalf("got %+v", r)
	}
}

func TestExitCodesAndStderr(t *testing.T) {
	b := sharedBox(t)
	for _, code := range []int{0, 1, 7, 255} {
		r, err := b.Exec(bg, "sh", "-c", fmt.Sprintf("echo out; echo err >&2; exit %d", code))
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode != code || r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Fatalf("exit %d: got %+v", code, r)
		}
	}
}

func TestEnvCwdUser(t *testing.T) {
	b := sharedBox(t)
	var out bytes.Buffer
	e, err := b.StartExecution(bg, "sh", []string{"-c", `echo "$FOO $BOX_LEVEL"; pwd; id -u`},
		&ExecutionOptions{Stdout: &out, Env: map[string]string{"FOO": "bar baz"}, WorkDir: "/tmp", User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if code, err := e.Wait(bg); err != nil || code != 0 {
		t.Fatalf("wait: %d %v", code, err)
	}
	if out.String() != "bar baz yes\n/tmp\n65534\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestBothStreams4MiB(t *testing.T) {
	b := sharedBox(t)
	script := "dd if=/dev/urandom of=/tmp/blob bs=65536 count=64 2>/dev/null; " +
		"sha256sum /tmp/blob >/tmp/sum; cat /tmp/blob & cat /tmp/blob >&2; wait"
	r, err := b.Exec(bg, "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 0 || len(r.Stdout) != 4<<20 || len(r.Stderr) != 4<<20 {
		t.Fatalf("exit %d, %d and %d bytes", r.ExitCode, len(r.Stdout), len(r.Stderr))
	}
	sum, err := b.Exec(bg, "cat", "/tmp/sum")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(sum.Stdout)[0]
	for name, s := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
		h := sha256.Sum256([]byte(s))
		if hex.EncodeToString(h[:]) != want {
			t.Fatalf("%s differs from what the guest wrote", name)
		}
	}
}

func TestStdinRoundTrip1MiB(t *testing.T) {
	b := sharedBox(t)
	data := make([]byte, 1<<20)
	rand.Read(data)
	var out bytes.Buffer
	cmd := b.Command("cat")
	cmd.Stdin = bytes.NewReader(data)
	cmd.Stdout = &out
	if err := cmd.Run(bg); err != nil {
		t.Fatal(err)
	}
	if cmd.ExitCode() != 0 || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("exit %d, got %d bytes back", cmd.ExitCode(), out.Len())
	}
	// and through Execution.Stdin directly, written while the output is read
	var out2 bytes.Buffer
	e, err := b.StartExecution(bg, "cat", nil, &ExecutionOptions{Stdout: &out2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := 0; i < len(data); i += 100000 {
		end := i + 100000
		if end > len(data) {
			end = len(data)
		}
		if _, err := e.Stdin.Write(data[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	e.Stdin.Close()
	if code, err := e.Wait(bg); err != nil || code != 0 || !bytes.Equal(out2.Bytes(), data) {
		t.Fatalf("exit %d %v, %d bytes", code, err, out2.Len())
	}
}

func TestTimeout(t *testing.T) {
	b := sharedBox(t)
	e, err := b.StartExecution(bg, "sleep", []string{"30"}, &ExecutionOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Wait(bg); err != nil {
		t.Fatal(err)
	}
	if s := e.Status(); !s.TimedOut || s.Signal == 0 {
		t.Fatalf("status %+v", s)
	}
}

type lineWaiter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newLineWaiter(want string) *lineWaiter {
	return &lineWaiter{want: want, seen: make(chan struct{})}
}

func (w *lineWaiter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWaiter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestKill(t *testing.T) {
	b := sharedBox(t)
	w := newLineWaiter("started")
	e, err := b.StartExecution(bg, "sh", []string{"-c", "echo started; exec sleep 30"}, &ExecutionOptions{Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	<-w.seen
	if err := e.Signal(bg, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := e.Wait(bg)
	if err != nil || code != 128+15 || e.Status().Signal != 15 {
		t.Fatalf("code %d err %v status %+v", code, err, e.Status())
	}
	if err := e.Kill(bg); err == nil {
		t.Log("kill after the end is accepted by the library")
	}
}

func TestTTYResize(t *testing.T) {
	b := sharedBox(t)
	w := newLineWaiter("24 80")
	e, err := b.StartExecution(bg, "sh", []string{"-c", "stty size; read x; stty size"},
		&ExecutionOptions{TTY: true, Rows: 24, Cols: 80, Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	<-w.seen
	if err := e.ResizeTTY(bg, 40, 100); err != nil {
		t.Fatal(err)
	}
	io.WriteString(e.Stdin, "\n")
	if code, err := e.Wait(bg); err != nil || code != 0 {
		t.Fatalf("wait %d %v", code, err)
	}
	if !strings.Contains(w.String(), "40 100") {
		t.Fatalf("output %q", w.String())
	}
}

func TestTenConcurrentExecs(t *testing.T) {
	b := sharedBox(t)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := b.Exec(bg, "sh", "-c", fmt.Sprintf("echo start %d; sleep 0.2; echo end %d >&2; exit %d", i, i, i))
			if err != nil {
				errs <- err
				return
			}
			if r.Stdout != fmt.Sprintf("start %d\n", i) || r.Stderr != fmt.Sprintf("end %d\n", i) || r.ExitCode != i {
				errs <- fmt.Errorf("exec %d: %+v", i, r)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCopyInOut(t *testing.T) {
	b := sharedBox(t)
	src := filepath.Join(workDir, "copy-src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644)
	blob := make([]byte, 100000)
	rand.Read(blob)
	os.WriteFile(filepath.Join(src, "sub", "b.bin"), blob, 0o644)
	if err := b.CopyInto(bg, filepath.Join(src, "a.txt"), "/root/a.txt"); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Exec(bg, "cat", "/root/a.txt"); err != nil || r.Stdout != "alpha\n" {
		t.Fatalf("%+v %v", r, err)
	}
	if err := b.CopyIn(bg, src, "/root/tree"); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(workDir, "copy-back")
	if err := b.CopyOut(bg, "/root/tree", back); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(back, "sub", "b.bin"))
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("copied back: %v", err)
	}
	if err := b.CopyOut(bg, "/no/such/file", filepath.Join(workDir, "nothing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("copying a missing file out: %v, want ErrNotFound", err)
	}
}

func TestMissingProgram(t *testing.T) {
	b := sharedBox(t)
	_, err := b.Exec(bg, "/no/such/program")
	if !errors.Is(err, ErrNotFound) || !IsNotFound(err) {
		t.Fatalf("got %v", err)
	}
	var be *Error
	if !errors.As(err, &be) || be.Code != ErrNotFound {
		t.Fatalf("not an *Error: %v", err)
	}
}

func TestCmdOutputAndContext(t *testing.T) {
	b := sharedBox(t)
	cmd := b.Command("sh", "-c", "echo $X; echo e >&2; exit 3")
	cmd.Env = []string{"X=from env"}
	out, err := cmd.CombinedOutput(bg)
	if err != nil || cmd.ExitCode() != 3 || !strings.Contains(string(out), "from env\n") || !strings.Contains(string(out), "e\n") {
		t.Fatalf("%q %v %d", out, err, cmd.ExitCode())
	}
	// cancelling the context of a running command kills it
	ctx, cancel := context.WithCancel(bg)
	w := newLineWaiter("up")
	c2 := b.Command("sh", "-c", "echo up; exec sleep 30")
	c2.Stdout = w
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-w.seen
	cancel()
	if err := c2.Wait(bg); err != nil || c2.ExitCode() != 128+9 {
		t.Fatalf("after cancel: %v, exit %d", err, c2.ExitCode())
	}
	// a Wait whose own context ends returns its error
	e, err := b.StartExecution(bg, "sleep", []string{"30"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel2()
	if _, err := e.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait: %v", err)
	}
	e.Close()
	if _, err := e.Wait(bg); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("wait after close: %v", err)
	}
}
