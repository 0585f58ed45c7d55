// SPDX-License-Identifier: Apache-2.0

package boxlite

// The runtime through the Go SDK: missing boxes, two runtimes in one process, closing a
// runtime with executions still open, info and metrics.

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingBox(t *testing.T) {
	r := runtimeForTests(t)
	if _, err := r.Get(bg, "no-such-box"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	if err := r.Remove(bg, "no-such-box"); !IsNotFound(err) || !strings.Contains(err.Error(), "no-such-box") {
		t.Fatalf("remove: %v", err)
	}
	if info, err := r.GetInfo(bg, "no-such-box"); info != nil || err != nil {
		t.Fatalf("getinfo: %v %v", info, err)
	}
	if _, err := r.Create(bg, "", WithRootfsPath(rootfs(t, false)), WithOption("no_such_option", 1)); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "no_such_option") {
		t.Fatalf("bad option: %v", err)
	}
}

func TestInfoAndMetrics(t *testing.T) {
	b := sharedBox(t)
	info, err := b.Info(bg)
	if err != nil || info.ID != b.ID() || info.State != StateRunning || !info.Running || info.MemoryMiB != 256 {
		t.Fatalf("%+v %v", info, err)
	}
	m, err := b.Metrics(bg)
	if err != nil || m.State != "running" || m.CommandsExecuted == 0 {
		t.Fatalf("%+v %v", m, err)
	}
	rm, err := runtimeForTests(t).Metrics(bg)
	if err != nil || rm.BoxesCreatedTotal == 0 {
		t.Fatalf("%+v %v", rm, err)
	}
}

func TestTwoRuntimesAndCloseWithExecutionsOpen(t *testing.T) {
	a := runtimeForTests(t)
	b, err := NewRuntime(WithHomeDir(filepath.Join(workDir, "home-b")))
	if err != nil {
		t.Fatal(err)
	}
	boxA, err := a.Create(bg, "", boxOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer boxA.Close()
	boxB, err := b.Create(bg, "", boxOpts(t)...)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- boxA.Start(bg) }()
	go func() { errs <- boxB.Start(bg) }()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	listB, err := b.List(bg)
	if err != nil || len(listB) != 1 || listB[0].ID != boxB.ID() {
		t.Fatalf("runtime b sees %+v %v", listB, err)
	}
	if _, err := b.Get(bg, boxA.ID()); !IsNotFound(err) {
		t.Fatalf("runtime b found a box of a: %v", err)
	}
	ra, errA := boxA.Exec(bg, "echo", "A")
	rb, errB := boxB.Exec(bg, "echo", "B")
	if errA != nil || errB != nil || ra.Stdout != "A\n" || rb.Stdout != "B\n" {
		t.Fatalf("%v %v %+v %+v", errA, errB, ra, rb)
	}

	// close runtime b while an execution of its box runs and is waited on
	w := newLineWaiter("running")
	e, err := boxB.StartExecution(bg, "sh", []string{"-c", "echo running; exec sleep 60"}, &ExecutionOptions{Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	<-w.seen
	waited := make(chan error, 1)
	go func() { _, err := e.Wait(bg); waited <- err }()
	b.Close()
	if err := <-waited; !errors.Is(err, ErrInvalidState) {
		t.Fatalf("wait after runtime close: %v", err)
	}
	if _, err := b.List(bg); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("list after close: %v", err)
	}
	if _, err := boxB.Exec(bg, "true"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("exec after close: %v", err)
	}
	if err := e.Kill(bg); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("kill after close: %v", err)
	}
	// runtime a is untouched
	if r, err := boxA.Exec(bg, "true"); err != nil || r.ExitCode != 0 {
		t.Fatalf("runtime a after b closed: %v", err)
	}
	if err := boxA.Stop(bg); err != nil {
		t.Fatal(err)
	}
}
