// SPDX-License-Identifier: Apache-2.0

package boxlite

import (
	"encoding/json"
	"strings"
	"time"
)

// State is a box's lifecycle state.
type State string

const (
	StateConfigured State = "configured"
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateStopping   State = "stopping"
	StateStopped    State = "stopped"
	StateUnknown    State = "unknown"
)

// BoxInfo describes a box (boxlite_box_info). Raw is the library's whole document.
type BoxInfo struct {
	ID         string
	Name       string
	Image      string
	State      State
	Running    bool
	PID        int
	CPUs       int
	MemoryMiB  int
	Engine     string
	AutoRemove bool
	Detach     bool
	CreatedAt  time.Time
	Ports      []PortSpec // while it runs, Host is the port bound (also for a Host 0 forward)
	Raw        json.RawMessage
}

type boxInfoJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	State      string  `json:"state"`
	Image      *string `json:"image"`
	Created    int64   `json:"created"`
	PID        int     `json:"pid"`
	Engine     *string `json:"engine"`
	CPUs       int     `json:"cpus"`
	MemoryMiB  int     `json:"memory_mib"`
	AutoRemove bool    `json:"auto_remove"`
	Detach     bool    `json:"detach"`
	Ports      []struct {
		Host     int    `json:"host_port"`
		Guest    int    `json:"guest_port"`
		Protocol string `json:"protocol"`
		HostAddr string `json:"host_addr"`
	} `json:"ports"`
}

func (j boxInfoJSON) info(raw []byte) BoxInfo {
	i := BoxInfo{ID: j.ID, Name: j.Name, State: State(j.State), Running: j.State == "running",
		PID: j.PID, CPUs: j.CPUs, MemoryMiB: j.MemoryMiB, AutoRemove: j.AutoRemove,
		Detach: j.Detach, CreatedAt: time.Unix(j.Created, 0), Raw: raw}
	if j.Image != nil {
		i.Image = *j.Image
	}
	if j.Engine != nil {
		i.Engine = *j.Engine
	}
	for _, p := range j.Ports {
		proto := PortProtocolTcp
		if p.Protocol == "udp" {
			proto = PortProtocolUdp
		}
		i.Ports = append(i.Ports, PortSpec{Host: p.Host, Guest: p.Guest, Protocol: proto, HostIP: p.HostAddr})
	}
	return i
}

func parseBoxInfo(text string) (*BoxInfo, error) {
	var j boxInfoJSON
	if err := json.Unmarshal([]byte(text), &j); err != nil {
		return nil, err
	}
	i := j.info([]byte(text))
	return &i, nil
}

func parseBoxInfos(text string) ([]BoxInfo, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(text), &raws); err != nil {
		return nil, err
	}
	out := make([]BoxInfo, 0, len(raws))
	for _, r := range raws {
		var j boxInfoJSON
		if err := json.Unmarshal(r, &j); err != nil {
			return nil, err
		}
		out = append(out, j.info(r))
	}
	return out, nil
}

// ImageInfo describes a stored image (boxlite_image_list).
type ImageInfo struct {
	Reference  string
	Repository string
	Tag        string
	ID         string
	SizeBytes  *uint64
	LayerCount int
	Created    string
}

func parseImages(text string) ([]ImageInfo, error) {
	var js []struct {
		Ref     string  `json:"ref"`
		ID      string  `json:"id"`
		Size    uint64  `json:"size"`
		Layers  int     `json:"layers"`
		Created *string `json:"created"`
	}
	if err := json.Unmarshal([]byte(text), &js); err != nil {
		return nil, err
	}
	out := make([]ImageInfo, 0, len(js))
	for _, j := range js {
		size := j.Size
		i := ImageInfo{Reference: j.Ref, ID: j.ID, SizeBytes: &size, LayerCount: j.Layers, Repository: j.Ref}
		if j.Created != nil {
			i.Created = *j.Created
		}
		if at := strings.LastIndex(j.Ref, "@"); at >= 0 {
			i.Repository = j.Ref[:at]
		} else if c := strings.LastIndex(j.Ref, ":"); c > strings.LastIndex(j.Ref, "/") {
			i.Repository, i.Tag = j.Ref[:c], j.Ref[c+1:]
		}
		out = append(out, i)
	}
	return out, nil
}

// ImagePullResult says what a pull stored.
type ImagePullResult struct {
	Reference  string
	ID         string
	LayerCount int
}

// PullProgress is one progress report of a pull (boxlite_pull_progress_fn).
type PullProgress struct {
	Layer, Layers int
	Digest        string
	Done, Total   uint64
}

// RuntimeMetrics are a runtime's counters.
type RuntimeMetrics struct {
	BoxesCreatedTotal int `json:"boxes_created"`
	BoxesFailedTotal  int `json:"boxes_failed"`
	BoxesStarted      int `json:"boxes_started"`
	RunningBoxes      int `json:"boxes_running"`
}

// BoxMetrics are a box's figures (boxlite_box_metrics); Raw is the library's document.
type BoxMetrics struct {
	State                string
	CPUUserMicros        int64
	CPUSysMicros         int64
	MemoryBytes          int64
	NetworkBytesSent     int64
	NetworkBytesReceived int64
	NetworkTCPConns      int
	NetworkConnsAllowed  int // connection attempts the network policy let through
	NetworkConnsDenied   int // and refused
	CommandsExecuted     int
	ExecErrors           int
	BootDurationMs       float64
	StartDurationMs      float64
	Raw                  json.RawMessage
}

func parseBoxMetrics(text string) (*BoxMetrics, error) {
	var j struct {
		State string `json:"state"`
		VMM   struct {
			CPUUser int64 `json:"cpu_user_us"`
			CPUSys  int64 `json:"cpu_sys_us"`
			RSS     int64 `json:"rss_bytes"`
			Rx      int64 `json:"net_rx_bytes"`
			Tx      int64 `json:"net_tx_bytes"`
			Conns   int   `json:"net_connections"`
			Allowed int   `json:"net_allowed"`
			Denied  int   `json:"net_denied"`
		} `json:"vmm"`
		Start struct {
			Boot  float64 `json:"boot_to_ready"`
			Total float64 `json:"total"`
		} `json:"start"`
		Execs      int `json:"executions"`
		ExecErrors int `json:"execution_errors"`
	}
	if err := json.Unmarshal([]byte(text), &j); err != nil {
		return nil, err
	}
	return &BoxMetrics{State: j.State, CPUUserMicros: j.VMM.CPUUser, CPUSysMicros: j.VMM.CPUSys,
		MemoryBytes: j.VMM.RSS, NetworkBytesSent: j.VMM.Tx, NetworkBytesReceived: j.VMM.Rx,
		NetworkTCPConns: j.VMM.Conns, NetworkConnsAllowed: j.VMM.Allowed, NetworkConnsDenied: j.VMM.Denied,
		CommandsExecuted: j.Execs, ExecErrors: j.ExecErrors,
		BootDurationMs: j.Start.Boot, StartDurationMs: j.Start.Total, Raw: json.RawMessage(text)}, nil
}
