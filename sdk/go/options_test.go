// SPDX-License-Identifier: Apache-2.0

package boxlite

// Box options through the Go SDK on a real box: name, CPUs, a read-only volume, a TCP port
// forward, and the network policy (AllowNet, AllowHost) in one box; network none is the
// shared box's (helpers_test.go). Invalid network specs are refused at Create, before any
// boot.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNetworkSpecIsTheLibrarysFields(t *testing.T) {
	doc, err := optionsJSON("", []BoxOption{WithNetwork(NetworkSpec{AllowNet: []string{"198.51.100.1"},
		DenyNet: []string{"198.51.100.1:25"}}), WithAllowHost(5000, PortProtocolUnknown)})
	want := `{"allow_host":[{"port":5000}],"allow_net":["198.51.100.1"],"deny_net":["198.51.100.1:25"],"network":"default"}`
	if err != nil || doc != want {
		t.Fatalf("got %s %v\nwant %s", doc, err, want)
	}
	r := runtimeForTests(t)
	// Create checks the options without booting anything.
	for _, c := range []struct {
		spec NetworkSpec
		says string
	}{
		{NetworkSpec{AllowNet: []string{"not a rule!"}}, "allow_net"},
		{NetworkSpec{DenyNet: []string{"198.51.100.0/99"}}, "deny_net"},
		{NetworkSpec{Mode: NetworkModeDisabled, AllowNet: []string{"198.51.100.1"}}, "disabled"},
		{NetworkSpec{Mode: "bridged"}, "bridged"},
	} {
		b, err := r.Create(bg, "", boxOpts(t, WithNetwork(c.spec))...)
		if err == nil {
			b.Close()
			r.ForceRemove(bg, b.ID())
		}
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: want an invalid-argument error naming %q, got %v", c.spec, c.says, err)
		}
	}
	// A valid policy is accepted (the box is not started here; TestBoxOptions boots one).
	b, err := r.Create(bg, "", boxOpts(t, WithNetwork(NetworkSpec{Mode: NetworkModeEnabled,
		AllowNet: []string{"198.51.100.0/24", "api.example.com:443"}, DenyNet: []string{"198.51.100.9"}}))...)
	if err != nil {
		t.Fatalf("a valid policy: %v", err)
	}
	info, err := b.Info(bg)
	b.Close()
	r.ForceRemove(bg, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if raw := rawField(t, info, "allow_net"); raw != `["198.51.100.0/24","api.example.com:443"]` {
		t.Errorf("the box's info says allow_net %s", raw)
	}
}

// oneLineServer accepts one connection on 127.0.0.1, reads a line, answers "pong LINE" and
// sends what it read on got.
func oneLineServer(t *testing.T) (port int, got chan string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got = make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		line = strings.TrimSpace(line)
		fmt.Fprintf(c, "pong %s\n", line)
		got <- line
	}()
	return l.Addr().(*net.TCPAddr).Port, got
}

func TestBoxOptions(t *testing.T) {
	r := runtimeForTests(t)
	ctx, cancel := context.WithTimeout(bg, 5*time.Minute)
	defer cancel()

	vol := t.TempDir()
	token := fmt.Sprintf("from-the-host-%d", os.Getpid())
	if err := os.WriteFile(filepath.Join(vol, "hello.txt"), []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPort, got := oneLineServer(t)
	name := fmt.Sprintf("go-options-%d", os.Getpid())
	b, err := r.Create(ctx, "", boxOpts(t, WithName(name), WithCPUs(2), WithVolumeReadOnly(vol, "/mnt/host"),
		WithPort(0, 8000), WithNetwork(NetworkSpec{AllowNet: []string{"198.51.100.1"}}),
		WithAllowHost(hostPort, PortProtocolTcp))...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		b.Stop(bg)
		b.Close()
		r.ForceRemove(bg, name)
	}()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(script string) *ExecResult {
		t.Helper()
		res, err := b.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return res
	}

	t.Run("name", func(t *testing.T) {
		if b.Name() != name {
			t.Errorf("Name() = %q", b.Name())
		}
		byName, err := r.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		defer byName.Close()
		if byName.ID() != b.ID() {
			t.Errorf("Get(%q) gave %s, not %s", name, byName.ID(), b.ID())
		}
	})

	t.Run("cpus", func(t *testing.T) {
		info, err := b.Info(ctx)
		if err != nil || info.CPUs != 2 {
			t.Fatalf("info: %+v %v", info, err)
		}
		if res := run("grep -c ^processor /proc/cpuinfo"); strings.TrimSpace(res.Stdout) != "2" {
			t.Errorf("the guest sees %q processors", res.Stdout)
		}
	})

	t.Run("volume", func(t *testing.T) {
		if res := run("cat /mnt/host/hello.txt"); res.Stdout != token {
			t.Errorf("read %+v", res)
		}
		if res := run("echo x > /mnt/host/new"); res.ExitCode == 0 {
			t.Errorf("a read-only volume took a write: %+v", res)
		}
		if _, err := os.Stat(filepath.Join(vol, "new")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the host folder changed: %v", err)
		}
	})

	t.Run("port", func(t *testing.T) {
		if res := run("mkdir -p /www && echo " + token + " > /www/index.html && httpd -p 8000 -h /www"); res.ExitCode != 0 {
			t.Fatalf("httpd: %+v", res)
		}
		info, err := b.Info(ctx)
		if err != nil || len(info.Ports) != 1 || info.Ports[0].Guest != 8000 || info.Ports[0].Host == 0 {
			t.Fatalf("ports: %+v %v", info, err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/index.html", info.Ports[0].Host)
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != token {
			t.Errorf("%s answered %d %q", url, resp.StatusCode, body)
		}
	})

	t.Run("network policy", func(t *testing.T) {
		// allow_host: the host's loopback port, at the gateway address
		res := run(fmt.Sprintf("echo ping | nc 10.0.2.2 %d", hostPort))
		if res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "pong ping" {
			t.Errorf("allow_host %d: %+v", hostPort, res)
		}
		select {
		case line := <-got:
			if line != "ping" {
				t.Errorf("the host's server read %q", line)
			}
		default:
			t.Errorf("the host's server saw no connection")
		}
		// allow_net 198.51.100.1: another address is refused at once (a reset), not left to
		// time out, and counted as denied
		res = run("nc 203.0.113.1 80 </dev/null")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "refused") {
			t.Errorf("a destination outside allow_net: %+v", res)
		}
		denied := 0
		for i := 0; i < 50 && denied == 0; i++ { // boxlite-vmm refreshes its counters every second
			m, err := b.Metrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if denied = m.NetworkConnsDenied; denied == 0 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if denied == 0 {
			t.Errorf("the box's metrics count no denied connection")
		}
	})
}

func TestNetworkNone(t *testing.T) {
	b := sharedBox(t) // created with WithNetwork(NetworkSpec{Mode: NetworkModeDisabled})
	info, err := b.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	if raw := rawField(t, info, "network"); raw != "false" {
		t.Errorf("the box's info says network %s", raw)
	}
	res, err := b.Exec(bg, "cat", "/proc/net/dev")
	if err != nil || !strings.Contains(res.Stdout, "lo:") || strings.Contains(res.Stdout, "eth0") {
		t.Fatalf("the box's interfaces: %+v %v", res, err)
	}
}

// rawField is one field of a box's info document, as compact JSON.
func rawField(t *testing.T, info *BoxInfo, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(info.Raw, &m); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	json.Compact(&buf, m[key])
	return buf.String()
}
