// SPDX-License-Identifier: Apache-2.0

package boxlite

// Images through the Go SDK, from a real registry on 127.0.0.1 (Debian's docker-registry,
// the busybox image of tests/fixtures/mkimages.py pushed with skopeo).

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPullListRemove(t *testing.T) {
	reg := registry(t)
	r, err := NewRuntime(WithHomeDir(filepath.Join(workDir, "home-images")))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	images, err := r.Images()
	if err != nil {
		t.Fatal(err)
	}
	defer images.Close()
	var seen []PullProgress
	res, err := images.PullWithProgress(bg, reg.image+":latest", func(p PullProgress) { seen = append(seen, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[len(seen)-1].Done != seen[len(seen)-1].Total {
		t.Fatalf("progress %+v", seen)
	}
	if !strings.HasSuffix(res.Reference, "busybox:latest") || len(res.ID) != 64 || res.LayerCount < 1 {
		t.Fatalf("pull result %+v", res)
	}
	list, err := images.List(bg)
	if err != nil || len(list) != 1 || list[0].Tag != "latest" || !strings.HasSuffix(list[0].Repository, "/busybox") || *list[0].SizeBytes == 0 {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := images.Pull(bg, reg.image+":no-such-tag"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tag: %v", err)
	}
	if err := images.Remove(bg, reg.image+":latest"); err != nil {
		t.Fatal(err)
	}
	if list, err := images.List(bg); err != nil || len(list) != 0 {
		t.Fatalf("after remove %+v %v", list, err)
	}
	if err := images.Remove(bg, reg.image+":latest"); !IsNotFound(err) {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestBoxFromRegistryImageAndMissingImage(t *testing.T) {
	reg := registry(t)
	r := runtimeForTests(t)
	engine := []BoxOption{WithMemory(256)}
	if e := os.Getenv("BOXLITE_TEST_ENGINE"); e != "" {
		engine = append(engine, WithEngine(e))
	}
	b, err := r.Create(bg, reg.image+":latest", engine...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := b.Exec(bg, "sh", "-c", "echo from the image; exit 9")
	if err != nil || res.Stdout != "from the image\n" || res.ExitCode != 9 {
		t.Fatalf("%+v %v", res, err)
	}
	if err := b.Stop(bg); err != nil {
		t.Fatal(err)
	}
	missing, err := r.Create(bg, reg.image+":no-such-tag", engine...)
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	err = missing.Start(bg)
	if !(errors.Is(err, ErrNotFound) || errors.Is(err, ErrImage)) || !strings.Contains(err.Error(), "no-such-tag") {
		t.Fatalf("start with a missing image: %v", err)
	}
	r.ForceRemove(bg, missing.ID())
}
