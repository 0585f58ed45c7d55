// SPDX-License-Identifier: Apache-2.0

package boxlite

/*
#include <stdlib.h>
#include "boxlite.h"
*/
import "C"

import (
	"context"
	"path/filepath"
	"sync"
	"time"
)

// Box is a handle on a box (one micro-VM).
type Box struct {
	rt   *Runtime
	h    *handle
	c    *C.boxlite_box
	id   string
	name string

	mu    sync.Mutex
	execs map[*Execution]struct{}
}

// ID is the box's id.
func (b *Box) ID() string { return b.id }

// Name is the box's name.
func (b *Box) Name() string { return b.name }

// Start boots the box (an execution does so too); it returns when the box is ready.
func (b *Box) Start(ctx context.Context) error {
	return blocking(ctx, b.h, func() error {
		return call(func() C.int { return C.boxlite_box_start(b.c) })
	})
}

// Stop stops the box: graceful for up to 10 s, then forced. An auto-remove box (the
// default) is removed.
func (b *Box) Stop(ctx context.Context) error { return b.StopWithTimeout(ctx, 10*time.Second) }

// StopWithTimeout is Stop with the graceful part bounded by d.
func (b *Box) StopWithTimeout(ctx context.Context, d time.Duration) error {
	ms := C.int(d.Milliseconds())
	return blocking(ctx, b.h, func() error {
		return call(func() C.int { return C.boxlite_box_stop(b.c, ms) })
	})
}

func (b *Box) jsonCall(ctx context.Context, f func(**C.char) C.int) (string, error) {
	var out string
	err := blocking(ctx, b.h, func() error {
		var p *C.char
		err := call(func() C.int { return f(&p) })
		out = takeString(p)
		return err
	})
	return out, err
}

// Info returns the box's info.
func (b *Box) Info(ctx context.Context) (*BoxInfo, error) {
	text, err := b.jsonCall(ctx, func(out **C.char) C.int { return C.boxlite_box_info(b.c, out) })
	if err != nil {
		return nil, err
	}
	return parseBoxInfo(text)
}

// Metrics returns the box's figures.
func (b *Box) Metrics(ctx context.Context) (*BoxMetrics, error) {
	text, err := b.jsonCall(ctx, func(out **C.char) C.int { return C.boxlite_box_metrics(b.c, out) })
	if err != nil {
		return nil, err
	}
	return parseBoxMetrics(text)
}

// Console returns the last lines of the box's console log.
func (b *Box) Console(ctx context.Context) (string, error) {
	return b.jsonCall(ctx, func(out **C.char) C.int { return C.boxlite_box_console(b.c, out) })
}

// CopyInto copies a host file or folder into the box (guestDst becomes the copy).
func (b *Box) CopyInto(ctx context.Context, hostSrc, guestDst string) error {
	abs, err := filepath.Abs(hostSrc)
	if err != nil {
		return err
	}
	src, dst := cstr(abs), cstr(guestDst)
	return blocking(ctx, b.h, func() error {
		defer free(src)
		defer free(dst)
		return call(func() C.int { return C.boxlite_box_copy_in(b.c, src, dst) })
	})
}

// CopyIn is CopyInto.
func (b *Box) CopyIn(ctx context.Context, hostSrc, guestDst string) error {
	return b.CopyInto(ctx, hostSrc, guestDst)
}

// CopyOut copies a file or folder of the box to the host.
func (b *Box) CopyOut(ctx context.Context, guestSrc, hostDst string) error {
	abs, err := filepath.Abs(hostDst)
	if err != nil {
		return err
	}
	src, dst := cstr(guestSrc), cstr(abs)
	return blocking(ctx, b.h, func() error {
		defer free(src)
		defer free(dst)
		return call(func() C.int { return C.boxlite_box_copy_out(b.c, src, dst) })
	})
}

// Close releases the handle and its executions; the box itself is unaffected.
func (b *Box) Close() error {
	b.mu.Lock()
	execs := make([]*Execution, 0, len(b.execs))
	for e := range b.execs {
		execs = append(execs, e)
	}
	b.mu.Unlock()
	for _, e := range execs {
		e.Close()
	}
	if _, first := b.h.close(); first {
		b.rt.mu.Lock()
		delete(b.rt.boxes, b)
		b.rt.mu.Unlock()
	}
	return nil
}
