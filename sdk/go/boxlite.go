// SPDX-License-Identifier: Apache-2.0

// Package boxlite runs OCI images in lightweight virtual machines ("boxes"), as a library:
// cgo bindings over libboxlite.so (include/boxlite.h), in the shape of the BoxLite Go SDK,
// so code moves between the two with an import change.
//
//	rt, err := boxlite.NewRuntime(boxlite.WithHomeDir(dir))
//	if err != nil { ... }
//	defer rt.Close()
//	box, err := rt.Create(ctx, "alpine:latest", boxlite.WithName("web"), boxlite.WithMemory(512))
//	res, err := box.Exec(ctx, "echo", "hello") // res.Stdout == "hello\n"
//
// Building: by default cgo finds include/boxlite.h and build/lib/libboxlite.so of the
// checkout this package sits in (run make there first; cgo_checkout.go). With the build
// tag boxlite_pkgconfig it asks pkg-config for boxlite.pc instead (what `make install`
// writes; cgo_pkgconfig.go); or set CGO_CFLAGS and CGO_LDFLAGS. The library finds
// boxlite-vmm and the guest files beside itself (or where it was installed).
//
// Concurrency: every method may be called from any goroutine. Blocking library calls
// (start, stop, exec start, copies, pulls) honour a context by returning ctx.Err() when it
// is done; the call itself finishes in the background and its handle stays valid until it
// has. Output is read through Go's poller from the library's pollable descriptors.
package boxlite

/*
#include <stdlib.h>
#include "boxlite.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// Version returns the library's version ("0.1.0").
func Version() string { return C.GoString(C.boxlite_version()) }

// call runs one library call and turns its code into an error. The library keeps the
// message of a thread's last failure in thread-local storage: the goroutine stays on its
// OS thread from the call to reading the message.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := f(); code != 0 {
		return newError(ErrorCode(code), C.GoString(C.boxlite_errmsg()))
	}
	return nil
}

// takeString copies a string the library returned and releases it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.boxlite_free(unsafe.Pointer(p))
	return C.GoString(p)
}

func cstr(s string) *C.char { return C.CString(s) }

func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func free(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// handle guards one C handle: it is freed once closed and no call, child or background
// call still uses it (the C API's rule: never free a handle under a call, and free
// executions before their box, boxes before their runtime).
type handle struct {
	mu     sync.Mutex
	refs   int // 1 while open, +1 per call in flight and per open child
	closed bool
	what   string
	free   func()
	parent *handle
}

func newHandle(what string, parent *handle, free func()) (*handle, error) {
	if parent != nil {
		if err := parent.acquire(); err != nil {
			return nil, err
		}
	}
	return &handle{refs: 1, what: what, free: free, parent: parent}, nil
}

func (h *handle) acquire() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return &Error{Code: ErrInvalidState, Message: "the " + h.what + " is closed"}
	}
	h.refs++
	return nil
}

func (h *handle) release() {
	h.mu.Lock()
	h.refs--
	last := h.refs == 0
	h.mu.Unlock()
	if last {
		h.free()
		if h.parent != nil {
			h.parent.release()
		}
	}
}

func (h *handle) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// close marks the handle closed; it reports whether calls were still in flight (the
// handle is then freed by the last of them).
func (h *handle) close() (busy bool, first bool) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false, false
	}
	h.closed = true
	busy = h.refs > 1
	h.mu.Unlock()
	h.release()
	return busy, true
}

// blocking runs f (a library call on h) on its own goroutine when ctx can be cancelled,
// returning ctx.Err() as soon as ctx is done; h stays valid until f returns.
func blocking(ctx context.Context, h *handle, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.acquire(); err != nil {
		return err
	}
	if ctx.Done() == nil {
		defer h.release()
		return f()
	}
	ch := make(chan error, 1)
	go func() {
		defer h.release()
		ch <- f()
	}()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
