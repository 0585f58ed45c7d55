// SPDX-License-Identifier: Apache-2.0

package boxlite

/*
#include <stdlib.h>
#include <stdint.h>
#include "boxlite.h"
extern int goPullProgress(void *ud, int layer, int n_layers, char *digest,
                          unsigned long long done, unsigned long long total);
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// Runtime is a BoxLite runtime on a home folder: its boxes and images.
type Runtime struct {
	h *handle
	c *C.boxlite_runtime

	mu    sync.Mutex
	boxes map[*Box]struct{}
}

// NewRuntime opens a runtime (WithHomeDir; default $BOXLITE_HOME, else ~/.boxlite).
// Several runtimes may be open in one process.
func NewRuntime(opts ...RuntimeOption) (*Runtime, error) {
	cfg := &runtimeConfig{}
	for _, o := range opts {
		o(cfg)
	}
	home := cstrOrNil(cfg.homeDir)
	defer free(home)
	var c *C.boxlite_runtime
	if err := call(func() C.int { return C.boxlite_runtime_open(home, &c) }); err != nil {
		return nil, err
	}
	r := &Runtime{c: c, boxes: map[*Box]struct{}{}}
	r.h, _ = newHandle("runtime", nil, func() { C.boxlite_runtime_close(c) })
	return r, nil
}

// Close closes the runtime and the boxes and executions opened from it (their waits
// return an ErrInvalidState error, their output ends). Boxes created without WithDetach
// stop. Calls still in flight finish first; Close does not wait for them.
func (r *Runtime) Close() error {
	r.mu.Lock()
	boxes := make([]*Box, 0, len(r.boxes))
	for b := range r.boxes {
		boxes = append(boxes, b)
	}
	r.mu.Unlock()
	for _, b := range boxes {
		b.Close()
	}
	r.h.close()
	return nil
}

func (r *Runtime) newBox(c *C.boxlite_box) (*Box, error) {
	h, err := newHandle("box", r.h, func() { C.boxlite_box_free(c) })
	if err != nil {
		C.boxlite_box_free(c)
		return nil, ErrRuntimeClosed
	}
	b := &Box{rt: r, h: h, c: c, id: C.GoString(C.boxlite_box_id(c)),
		name: C.GoString(C.boxlite_box_name(c)), execs: map[*Execution]struct{}{}}
	r.mu.Lock()
	r.boxes[b] = struct{}{}
	r.mu.Unlock()
	return b, nil
}

// boxCall runs a call that makes a box handle; if ctx ends first the handle it makes
// later is freed, not leaked.
func (r *Runtime) boxCall(ctx context.Context, f func(**C.boxlite_box) C.int) (*Box, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.h.acquire(); err != nil {
		return nil, ErrRuntimeClosed
	}
	type result struct {
		c   *C.boxlite_box
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer r.h.release()
		var c *C.boxlite_box
		err := call(func() C.int { return f(&c) })
		ch <- result{c, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, res.err
		}
		return r.newBox(res.c)
	case <-ctx.Done():
		go func() {
			if res := <-ch; res.c != nil {
				C.boxlite_box_free(res.c)
			}
		}()
		return nil, ctx.Err()
	}
}

// Create creates a box from image (or from WithRootfsPath with image ""). It returns at
// once; the box boots on Start or its first execution.
func (r *Runtime) Create(ctx context.Context, image string, opts ...BoxOption) (*Box, error) {
	doc, err := optionsJSON(image, opts)
	if err != nil {
		return nil, err
	}
	cdoc := cstr(doc)
	return r.boxCall(ctx, func(out **C.boxlite_box) C.int {
		defer free(cdoc)
		var o *C.boxlite_options
		if code := C.boxlite_options_from_json(cdoc, &o); code != 0 {
			return code
		}
		defer C.boxlite_options_free(o)
		return C.boxlite_box_create(r.c, o, out)
	})
}

// Get opens a handle on an existing box by id, unique id prefix or name.
func (r *Runtime) Get(ctx context.Context, idOrName string) (*Box, error) {
	cid := cstr(idOrName)
	return r.boxCall(ctx, func(out **C.boxlite_box) C.int {
		defer free(cid)
		return C.boxlite_box_get(r.c, cid, out)
	})
}

func (r *Runtime) jsonCall(ctx context.Context, f func(**C.char) C.int) (string, error) {
	var out string
	err := blocking(ctx, r.h, func() error {
		var p *C.char
		err := call(func() C.int { return f(&p) })
		out = takeString(p)
		return err
	})
	if IsInvalidState(err) && r.h.isClosed() {
		return "", ErrRuntimeClosed
	}
	return out, err
}

// List returns the infos of all boxes of the runtime.
func (r *Runtime) List(ctx context.Context) ([]BoxInfo, error) {
	text, err := r.jsonCall(ctx, func(out **C.char) C.int { return C.boxlite_box_list(r.c, nil, out) })
	if err != nil {
		return nil, err
	}
	return parseBoxInfos(text)
}

// ListInfo is List (the BoxLite Go SDK's name).
func (r *Runtime) ListInfo(ctx context.Context) ([]BoxInfo, error) { return r.List(ctx) }

// GetInfo returns a box's info, or nil (and no error) if there is no such box.
func (r *Runtime) GetInfo(ctx context.Context, idOrName string) (*BoxInfo, error) {
	b, err := r.Get(ctx, idOrName)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Info(ctx)
}

func (r *Runtime) remove(ctx context.Context, idOrName string, force bool) error {
	cid := cstr(idOrName)
	f := C.int(0)
	if force {
		f = 1
	}
	return blocking(ctx, r.h, func() error {
		defer free(cid)
		return call(func() C.int { return C.boxlite_box_remove(r.c, cid, f) })
	})
}

// Remove removes a box; refused (ErrInvalidState) while it runs.
func (r *Runtime) Remove(ctx context.Context, idOrName string) error {
	return r.remove(ctx, idOrName, false)
}

// ForceRemove removes a box, stopping it first if it runs.
func (r *Runtime) ForceRemove(ctx context.Context, idOrName string) error {
	return r.remove(ctx, idOrName, true)
}

// Metrics returns the runtime's counters.
func (r *Runtime) Metrics(ctx context.Context) (*RuntimeMetrics, error) {
	text, err := r.jsonCall(ctx, func(out **C.char) C.int { return C.boxlite_runtime_metrics(r.c, out) })
	if err != nil {
		return nil, err
	}
	var m RuntimeMetrics
	return &m, json.Unmarshal([]byte(text), &m)
}

// Images gives the runtime's image store.
func (r *Runtime) Images() (*Images, error) {
	if r.h.isClosed() {
		return nil, ErrRuntimeClosed
	}
	return &Images{rt: r}, nil
}

// Images is a runtime's image store.
type Images struct{ rt *Runtime }

// Close is a no-op (the store belongs to the runtime); it keeps the BoxLite Go SDK's shape.
func (i *Images) Close() error { return nil }

//export goPullProgress
func goPullProgress(ud unsafe.Pointer, layer, nLayers C.int, digest *C.char, done, total C.ulonglong) C.int {
	fn := cgo.Handle(*(*C.uintptr_t)(ud)).Value().(func(PullProgress))
	fn(PullProgress{Layer: int(layer), Layers: int(nLayers), Digest: C.GoString(digest),
		Done: uint64(done), Total: uint64(total)})
	return C.BOXLITE_PULL_CONTINUE
}

// Pull downloads an image into the store.
func (i *Images) Pull(ctx context.Context, reference string) (*ImagePullResult, error) {
	return i.PullWithProgress(ctx, reference, nil)
}

// PullWithProgress is Pull with progress reports, called on the pulling goroutine (they
// should return quickly: downloads wait while one runs).
func (i *Images) PullWithProgress(ctx context.Context, reference string, progress func(PullProgress)) (*ImagePullResult, error) {
	cref := cstr(reference)
	err := blocking(ctx, i.rt.h, func() error {
		defer free(cref)
		if progress == nil {
			return call(func() C.int { return C.boxlite_image_pull(i.rt.c, cref, nil, nil) })
		}
		h := cgo.NewHandle(progress)
		defer h.Delete()
		ud := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
		defer C.free(unsafe.Pointer(ud))
		*ud = C.uintptr_t(h)
		return call(func() C.int {
			return C.boxlite_image_pull(i.rt.c, cref, (C.boxlite_pull_progress_fn)(C.goPullProgress), unsafe.Pointer(ud))
		})
	})
	if err != nil {
		return nil, err
	}
	res := &ImagePullResult{Reference: reference}
	if list, lerr := i.List(ctx); lerr == nil {
		for _, img := range list {
			if img.Reference == reference || strings.HasSuffix(img.Reference, "/"+reference) {
				res.Reference, res.ID, res.LayerCount = img.Reference, img.ID, img.LayerCount
			}
		}
	}
	return res, nil
}

// List returns the stored images, sorted by reference.
func (i *Images) List(ctx context.Context) ([]ImageInfo, error) {
	text, err := i.rt.jsonCall(ctx, func(out **C.char) C.int { return C.boxlite_image_list(i.rt.c, out) })
	if err != nil {
		return nil, err
	}
	return parseImages(text)
}

func (i *Images) remove(ctx context.Context, reference string, force bool) error {
	cref := cstr(reference)
	f := C.int(0)
	if force {
		f = 1
	}
	return blocking(ctx, i.rt.h, func() error {
		defer free(cref)
		return call(func() C.int { return C.boxlite_image_remove(i.rt.c, cref, f) })
	})
}

// Remove removes an image reference (or id); refused while a box was created from it.
func (i *Images) Remove(ctx context.Context, reference string) error {
	return i.remove(ctx, reference, false)
}

// ForceRemove removes an image reference even if boxes were created from it.
func (i *Images) ForceRemove(ctx context.Context, reference string) error {
	return i.remove(ctx, reference, true)
}
