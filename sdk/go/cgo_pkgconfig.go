// SPDX-License-Identifier: Apache-2.0

//go:build boxlite_pkgconfig

package boxlite

// With -tags boxlite_pkgconfig: the installed library, as pkg-config describes it
// (boxlite.pc, written by `make install` under PREFIX/lib/pkgconfig; PKG_CONFIG_PATH
// finds one elsewhere). cgo has no optional pkg-config, hence the tag: without a
// boxlite.pc this build fails with pkg-config's message, and the default build is
// unaffected. boxlite.pc gives no rpath: at run time the loader finds libboxlite.so.0
// as for any system library (ldconfig after installing to a system prefix, or
// LD_LIBRARY_PATH).

/*
#cgo pkg-config: boxlite
*/
import "C"
