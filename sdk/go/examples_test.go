// SPDX-License-Identifier: Apache-2.0

package boxlite

// Every example under examples/ builds and runs as a user runs it, and prints what it says;
// and the module is usable from a fresh module through a replace directive (no network:
// GOPROXY=off, GOFLAGS=-mod=mod).

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var examples = map[string]*regexp.Regexp{
	"hello":     regexp.MustCompile(`^hello from a box\nexit code 0\n$`),
	"streaming": regexp.MustCompile(`^tick 1\ntick 2\ntick 3\nSHOUTED BACK\nexit code 0\n$`),
	"command":   regexp.MustCompile(`^worker 1 done\nworker 2 done\nworker 3 done\nworker 4 done\nwc counted\s*12\n$`),
}

func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	need(t, "the go command", err == nil)
	return p
}

// offlineEnv: the environment of a go command that must not reach any network.
func offlineEnv(home string) []string {
	return append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOSUMDB=off", "BOXLITE_HOME="+home)
}

func TestEveryExampleIsTested(t *testing.T) {
	entries, _ := os.ReadDir("examples")
	var got, want []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	for k := range examples {
		want = append(want, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("examples %v, tested %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("examples %v, tested %v", got, want)
		}
	}
}

func TestExamples(t *testing.T) {
	gobin := goTool(t)
	bin := filepath.Join(workDir, "examples-bin")
	build := exec.Command(gobin, "build", "-o", bin+"/", "./examples/...")
	build.Env = offlineEnv("")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := rootfs(t, false)
	for name, want := range examples {
		name, want := name, want
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, name), root)
			cmd.Env = offlineEnv(filepath.Join(workDir, "home-examples-"+name))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v", err)
			}
			if !want.Match(out) {
				t.Fatalf("output %q", out)
			}
		})
	}
}

func TestUseFromAFreshModule(t *testing.T) {
	gobin := goTool(t)
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(workDir, "app")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "go.mod"), []byte("module example.com/app\n\ngo 1.19\n\n"+
		"require boxlite.dev/sdk/go v0.0.0\n\nreplace boxlite.dev/sdk/go => "+abs+"\n"), 0o644)
	os.WriteFile(filepath.Join(app, "main.go"), []byte(`package main

import (
	"context"
	"fmt"
	"log"
	"os"

	boxlite "boxlite.dev/sdk/go"
)

func main() {
	ctx := context.Background()
	rt, err := boxlite.NewRuntime(boxlite.WithHomeDir(os.Args[2]))
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	box, err := rt.Create(ctx, "", boxlite.WithRootfsPath(os.Args[1]), boxlite.WithMemory(256))
	if err != nil {
		log.Fatal(err)
	}
	defer box.Close()
	res, err := box.Exec(ctx, "echo", "from a module of its own")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
	box.Stop(ctx)
}
`), 0o644)
	cmd := exec.Command(gobin, "run", ".", rootfs(t, false), filepath.Join(workDir, "home-app"))
	cmd.Dir = app
	cmd.Env = offlineEnv("")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "from a module of its own\n" {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestBuildWithPkgConfig: with -tags boxlite_pkgconfig the module links the library that
// pkg-config's boxlite.pc names (here an installed tree laid out as `make install` writes
// it: PREFIX/{include,lib,lib/pkgconfig}), not the checkout's build/lib.
func TestBuildWithPkgConfig(t *testing.T) {
	gobin := goTool(t)
	_, err := exec.LookPath("pkg-config")
	need(t, "pkg-config", err == nil)
	abs, _ := filepath.Abs(".")
	lib, err := filepath.Abs(filepath.Join(repo, "build", "lib", "libboxlite.so"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(workDir, "prefix")
	os.MkdirAll(filepath.Join(prefix, "lib", "pkgconfig"), 0o755)
	os.MkdirAll(filepath.Join(prefix, "include"), 0o755)
	hdr, _ := os.ReadFile(filepath.Join(repo, "include", "boxlite.h"))
	os.WriteFile(filepath.Join(prefix, "include", "boxlite.h"), hdr, 0o644)
	os.Symlink(lib, filepath.Join(prefix, "lib", "libboxlite.so.0"))
	os.Symlink("libboxlite.so.0", filepath.Join(prefix, "lib", "libboxlite.so"))
	// the .pc issue 15b's `make install` writes (packaging/boxlite.pc.in)
	os.WriteFile(filepath.Join(prefix, "lib", "pkgconfig", "boxlite.pc"), []byte("prefix=${pcfiledir}/../..\n"+
		"libdir=${prefix}/lib\nincludedir=${prefix}/include\n\nName: boxlite\nDescription: BoxLite\n"+
		"Version: "+Version()+"\nLibs: -L${libdir} -lboxlite\nCflags: -I${includedir}\n"), 0o644)

	app := filepath.Join(workDir, "app-pc")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "go.mod"), []byte("module example.com/apppc\n\ngo 1.19\n\n"+
		"require boxlite.dev/sdk/go v0.0.0\n\nreplace boxlite.dev/sdk/go => "+abs+"\n"), 0o644)
	os.WriteFile(filepath.Join(app, "main.go"), []byte("package main\n\nimport (\n\t\"fmt\"\n\n"+
		"\tboxlite \"boxlite.dev/sdk/go\"\n)\n\nfunc main() { fmt.Println(boxlite.Version()) }\n"), 0o644)
	build := func(pcPath string) ([]byte, error) {
		cmd := exec.Command(gobin, "build", "-tags", "boxlite_pkgconfig", "-o", "app", ".")
		cmd.Dir = app
		// a cache of its own: go 1.19 keys a cgo package's cache entry without pkg-config's
		// answer, so an entry linked against another boxlite.pc would be reused
		cmd.Env = append(offlineEnv(""), "PKG_CONFIG_PATH="+pcPath, "GOCACHE="+filepath.Join(workDir, "gocache-pc"))
		return cmd.CombinedOutput()
	}
	if exec.Command("pkg-config", "--exists", "boxlite").Run() != nil { // no system boxlite.pc
		if out, err := build(filepath.Join(workDir, "nothing")); err == nil || !strings.Contains(string(out), "boxlite") {
			t.Errorf("the tagged build without a boxlite.pc: %v: %s", err, out)
		}
	}
	if out, err := build(filepath.Join(prefix, "lib", "pkgconfig")); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// it does not point into the checkout: no rpath of build/lib
	f, err := elf.Open(filepath.Join(app, "app"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
		if paths, _ := f.DynString(tag); strings.Contains(strings.Join(paths, ":"), "build/lib") {
			t.Errorf("the binary's %v is the checkout's: %v", tag, paths)
		}
	}
	f.Close()
	cmd := exec.Command(filepath.Join(app, "app"))
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(prefix, "lib"))
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != Version() {
		t.Fatalf("%v: %s", err, out)
	}
}
