// SPDX-License-Identifier: Apache-2.0

package boxlite

// Fixtures: a busybox root file system (tests/fixtures/mkrootfs.py, shared with the Python
// and Node SDKs' tests), a runtime on a fresh home, a running box shared by the package's
// tests (health-checked before each use, so one failure does not cascade), a local
// registry (tests/fixtures/registry.sh), and need() for prerequisites.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	repo    = filepath.Join("..", "..")
	workDir string
	rt      *Runtime
	shared  *Box
	sharedM sync.Mutex
)

func strict() bool { return os.Getenv("CI") == "true" || os.Getenv("BOXLITE_TEST_STRICT") == "1" }

// need: a prerequisite that scripts/setup.sh installs: a skip on a developer's machine, a
// failure in strict mode (CI).
func need(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if strict() {
		t.Fatalf("missing prerequisite (scripts/setup.sh or CI provides it): %s", what)
	}
	t.Skipf("missing prerequisite: %s", what)
}

func TestMain(m *testing.M) {
	var err error
	workDir, err = os.MkdirTemp("", "boxlite-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if shared != nil {
		shared.Stop(context.Background())
		shared.Close()
	}
	if rt != nil {
		if boxes, err := rt.List(context.Background()); err == nil {
			for _, b := range boxes {
				rt.ForceRemove(context.Background(), b.ID)
			}
		}
		rt.Close()
	}
	os.RemoveAll(workDir)
	os.Exit(code)
}

var rootfsOnce sync.Map

func rootfs(t *testing.T, python bool) string {
	t.Helper()
	name := "rootfs"
	args := []string{filepath.Join(repo, "tests", "fixtures", "mkrootfs.py")}
	if python {
		name = "rootfs-python"
	}
	dir := filepath.Join(workDir, name)
	once, _ := rootfsOnce.LoadOrStore(name, &sync.Once{})
	once.(*sync.Once).Do(func() {
		a := append(args, dir)
		if python {
			a = append(a, "--python")
		}
		if out, err := exec.Command("python3", a...).CombinedOutput(); err != nil {
			t.Fatalf("mkrootfs: %v: %s", err, out)
		}
	})
	return dir
}

func boxOpts(t *testing.T, extra ...BoxOption) []BoxOption {
	o := []BoxOption{WithRootfsPath(rootfs(t, false)), WithMemory(256)}
	if e := os.Getenv("BOXLITE_TEST_ENGINE"); e != "" {
		o = append(o, WithEngine(e))
	}
	return append(o, extra...)
}

func runtimeForTests(t *testing.T) *Runtime {
	t.Helper()
	sharedM.Lock()
	defer sharedM.Unlock()
	if rt == nil {
		r, err := NewRuntime(WithHomeDir(filepath.Join(workDir, "home")))
		if err != nil {
			t.Fatal(err)
		}
		rt = r
	}
	return rt
}

func healthy(b *Box) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := b.Exec(ctx, "true")
	return err == nil && r.ExitCode == 0
}

// sharedBox is a running box for the tests, with BOX_LEVEL=yes in its environment and no
// network (none of its tests needs one; TestNetworkNone checks it has none).
func sharedBox(t *testing.T) *Box {
	t.Helper()
	r := runtimeForTests(t)
	sharedM.Lock()
	defer sharedM.Unlock()
	if shared != nil && !healthy(shared) {
		shared.Stop(context.Background())
		shared.Close()
		shared = nil
	}
	if shared == nil {
		b, err := r.Create(context.Background(), "", boxOpts(t, WithEnv("BOX_LEVEL", "yes"),
			WithNetwork(NetworkSpec{Mode: NetworkModeDisabled}))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background()); err != nil {
			b.Close()
			t.Fatal(err)
		}
		shared = b
	}
	return shared
}

type testRegistry struct {
	image string
	dir   string
}

var (
	regOnce sync.Once
	reg     *testRegistry
	regErr  error
)

func haveRegistry() bool {
	_, err := exec.LookPath("skopeo")
	_, err2 := os.Stat("/usr/bin/docker-registry")
	return err == nil && err2 == nil
}

// registry: a local registry with tests/fixtures/mkimages.py's busybox image pushed as
// busybox:latest; it stops when the test process exits (registry.sh's watchdog).
func registry(t *testing.T) *testRegistry {
	t.Helper()
	need(t, "docker-registry and skopeo", haveRegistry())
	regOnce.Do(func() {
		fix := filepath.Join(repo, "tests", "fixtures")
		dir := filepath.Join(workDir, "registry")
		if out, err := exec.Command("python3", filepath.Join(fix, "mkimages.py"), filepath.Join(dir, "fx"), "busybox").CombinedOutput(); err != nil {
			regErr = fmt.Errorf("mkimages: %v: %s", err, out)
			return
		}
		out, err := exec.Command(filepath.Join(fix, "registry.sh"), "start", filepath.Join(dir, "reg"), fmt.Sprint(os.Getpid())).Output()
		if err != nil {
			regErr = fmt.Errorf("registry start: %v", err)
			return
		}
		port := strings.TrimSpace(string(out))
		if out, err := exec.Command(filepath.Join(fix, "registry.sh"), "push", filepath.Join(dir, "reg"), filepath.Join(dir, "fx", "busybox"), "busybox:latest").CombinedOutput(); err != nil {
			regErr = fmt.Errorf("registry push: %v: %s", err, out)
			return
		}
		reg = &testRegistry{image: "127.0.0.1:" + port + "/busybox", dir: dir}
	})
	if regErr != nil {
		t.Fatal(regErr)
	}
	return reg
}
