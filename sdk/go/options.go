// SPDX-License-Identifier: Apache-2.0

package boxlite

import (
	"encoding/json"
	"fmt"
	"time"
)

// RuntimeOption configures a Runtime.
type RuntimeOption func(*runtimeConfig)

type runtimeConfig struct {
	homeDir string
}

// WithHomeDir sets the runtime's home folder (default $BOXLITE_HOME, else ~/.boxlite).
func WithHomeDir(dir string) RuntimeOption {
	return func(c *runtimeConfig) { c.homeDir = dir }
}

// BoxOption configures a box. The options become the library's JSON options
// (boxlite_options_from_json); WithOption sets any field by its JSON name, so a field the
// library gains later needs no new binding. An unknown field is an ErrInvalidArgument that
// names it.
type BoxOption func(*boxConfig)

type boxConfig struct {
	doc       map[string]any
	env       map[string]string
	volumes   []map[string]any
	ports     []map[string]any
	allowHost []map[string]any
	err       error // the first invalid option, reported by Create
}

func (c *boxConfig) fail(format string, a ...any) {
	if c.err == nil {
		c.err = newError(ErrInvalidArgument, fmt.Sprintf(format, a...))
	}
}

// NetworkMode turns a box's network on or off.
type NetworkMode string

const (
	NetworkModeEnabled  NetworkMode = "enabled"
	NetworkModeDisabled NetworkMode = "disabled"
)

// NetworkSpec is a box's network and its egress policy (include/boxlite.h). Mode disabled:
// no network interface at all ("network": "none"); enabled or empty: the library's default
// network, which reaches the internet and nothing of the host. AllowNet and DenyNet are
// rules ("198.51.100.7", "198.51.100.0/24", "[2001:db8::1]:443", "api.example.com",
// "*.example.com", each optionally ":PORT"): with any AllowNet rule everything else is
// refused; a DenyNet rule wins over every allow rule. They become the library's top-level
// "allow_net" and "deny_net" fields; an invalid rule is an ErrInvalidArgument naming it.
type NetworkSpec struct {
	Mode     NetworkMode
	AllowNet []string
	DenyNet  []string
}

// PortProtocol is a port forward's protocol.
type PortProtocol int

const (
	PortProtocolUnknown PortProtocol = iota
	PortProtocolTcp
	PortProtocolUdp
)

func (p PortProtocol) String() string {
	switch p {
	case PortProtocolTcp:
		return "tcp"
	case PortProtocolUdp:
		return "udp"
	}
	return "unknown"
}

// PortSpec forwards HostIP:Host (Host 0: any free port) to Guest inside the box.
type PortSpec struct {
	Host     int
	Guest    int
	Protocol PortProtocol
	HostIP   string
}

func (c *boxConfig) set(k string, v any) { c.doc[k] = v }

// WithName names the box (unique in its runtime).
func WithName(name string) BoxOption { return func(c *boxConfig) { c.set("name", name) } }

// WithCPUs sets the number of virtual CPUs.
func WithCPUs(n int) BoxOption { return func(c *boxConfig) { c.set("cpus", n) } }

// WithMemory sets the memory in MiB.
func WithMemory(mib int) BoxOption { return func(c *boxConfig) { c.set("memory_mib", mib) } }

// WithDiskSize sets the box disk's size in GB.
func WithDiskSize(gb int) BoxOption { return func(c *boxConfig) { c.set("disk_size_gb", gb) } }

// WithRootfsPath boots the box from a root file system folder instead of an image.
func WithRootfsPath(path string) BoxOption {
	return func(c *boxConfig) { c.set("rootfs_path", path) }
}

// WithEnv adds an environment variable for every process of the box.
func WithEnv(key, value string) BoxOption { return func(c *boxConfig) { c.env[key] = value } }

// WithVolume shares a host folder into the box, read-write.
func WithVolume(hostPath, guestPath string) BoxOption {
	return func(c *boxConfig) {
		c.volumes = append(c.volumes, map[string]any{"host_path": hostPath, "guest_path": guestPath, "read_only": false})
	}
}

// WithVolumeReadOnly shares a host folder into the box, read-only.
func WithVolumeReadOnly(hostPath, guestPath string) BoxOption {
	return func(c *boxConfig) {
		c.volumes = append(c.volumes, map[string]any{"host_path": hostPath, "guest_path": guestPath, "read_only": true})
	}
}

// WithPort forwards TCP host port host (0: any free port) on 127.0.0.1 to guest.
func WithPort(host, guest int) BoxOption {
	return WithPortSpec(PortSpec{Host: host, Guest: guest, Protocol: PortProtocolTcp})
}

// WithPortSpec forwards a port with explicit protocol and host address.
func WithPortSpec(p PortSpec) BoxOption {
	return func(c *boxConfig) {
		m := map[string]any{"host_port": p.Host, "guest_port": p.Guest}
		if p.Protocol != PortProtocolUnknown {
			m["protocol"] = p.Protocol.String()
		}
		if p.HostIP != "" {
			m["host_addr"] = p.HostIP
		}
		c.ports = append(c.ports, m)
	}
}

// WithNetwork sets the box's network and egress policy (see NetworkSpec).
func WithNetwork(spec NetworkSpec) BoxOption {
	return func(c *boxConfig) {
		switch spec.Mode {
		case NetworkModeDisabled:
			if len(spec.AllowNet) > 0 || len(spec.DenyNet) > 0 {
				c.fail("network: a disabled network takes no AllowNet or DenyNet rules")
				return
			}
			c.set("network", "none")
		case "", NetworkModeEnabled:
			c.set("network", "default")
		default:
			c.fail("network: mode %q is not enabled or disabled", string(spec.Mode))
			return
		}
		if len(spec.AllowNet) > 0 {
			c.set("allow_net", append([]string(nil), spec.AllowNet...))
		}
		if len(spec.DenyNet) > 0 {
			c.set("deny_net", append([]string(nil), spec.DenyNet...))
		}
	}
}

// WithAllowHost lets the box reach one port of the host's loopback (127.0.0.1 / ::1) at
// its gateway address 10.0.2.2 (fec0::2), which the default policy refuses: the way to
// reach a local registry or database on purpose. Protocol PortProtocolUnknown means TCP.
func WithAllowHost(port int, protocol PortProtocol) BoxOption {
	return func(c *boxConfig) {
		m := map[string]any{"port": port}
		if protocol != PortProtocolUnknown {
			m["protocol"] = protocol.String()
		}
		c.allowHost = append(c.allowHost, m)
	}
}

// WithWorkDir sets the working directory of the box's processes.
func WithWorkDir(dir string) BoxOption { return func(c *boxConfig) { c.set("working_dir", dir) } }

// WithUser sets the user ("uid[:gid]" or a name) of the box's processes.
func WithUser(user string) BoxOption { return func(c *boxConfig) { c.set("user", user) } }

// WithCmd sets the box's main command.
func WithCmd(args ...string) BoxOption { return func(c *boxConfig) { c.set("cmd", args) } }

// WithAutoRemove sets whether the box is removed when it stops (default true).
func WithAutoRemove(v bool) BoxOption { return func(c *boxConfig) { c.set("auto_remove", v) } }

// WithDetach sets whether the box outlives the process that started it (needs
// WithAutoRemove(false)).
func WithDetach(v bool) BoxOption { return func(c *boxConfig) { c.set("detach", v) } }

// WithEngine picks the engine: "auto" (default), "kvm" or "qemu".
func WithEngine(engine string) BoxOption { return func(c *boxConfig) { c.set("engine", engine) } }

// WithReadyTimeout bounds the wait for the guest to come up.
func WithReadyTimeout(d time.Duration) BoxOption {
	return func(c *boxConfig) { c.set("ready_timeout_ms", d.Milliseconds()) }
}

// WithOption sets any field of the library's JSON options by name (for fields without a
// helper here).
func WithOption(name string, value any) BoxOption { return func(c *boxConfig) { c.set(name, value) } }

func optionsJSON(image string, opts []BoxOption) (string, error) {
	c := &boxConfig{doc: map[string]any{}, env: map[string]string{}}
	if image != "" {
		c.doc["image"] = image
	}
	for _, o := range opts {
		o(c)
	}
	if len(c.env) > 0 {
		c.doc["env"] = c.env
	}
	if len(c.volumes) > 0 {
		c.doc["volumes"] = c.volumes
	}
	if len(c.ports) > 0 {
		c.doc["ports"] = c.ports
	}
	if len(c.allowHost) > 0 {
		c.doc["allow_host"] = c.allowHost
	}
	if c.err != nil {
		return "", c.err
	}
	b, err := json.Marshal(c.doc)
	return string(b), err
}
