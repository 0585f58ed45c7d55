// SPDX-License-Identifier: Apache-2.0

//go:build !boxlite_pkgconfig

package boxlite

// The default: the header and library of the checkout this package sits in (run make
// there first). Flags in CGO_CFLAGS / CGO_LDFLAGS come first, so a library installed
// elsewhere can be named there instead; or build with -tags boxlite_pkgconfig.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../build/lib -Wl,-rpath,${SRCDIR}/../../build/lib -lboxlite
*/
import "C"
