#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package boxlite_<version>_amd64.deb from a build tree, with dpkg-deb:
# the tree of `make install PREFIX=/usr`, stripped, with its copyright, changelog, shlibs,
# the ldconfig trigger and the dependencies dpkg-shlibdeps finds.
#   packaging/mkdeb.sh [BUILD_DIR] [OUT_DIR]    (defaults: build, BUILD_DIR)
# Prints the package's path. `make deb` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-$build}
version=$(sed -n 's/^#define BOXLITE_VERSION "\(.*\)"/\1/p' include/boxlite.h)
major=${version%%.*}
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

make -s O="$build" install DESTDIR="$root" PREFIX=/usr >&2
# In /usr/lib the dynamic linker finds the library: the CLI's $ORIGIN/../lib run path (for
# trees installed elsewhere) is not wanted in a system package.
make -s O="$build" "$build/pkg/boxlite" "$build/pkg/boxlite-runtime" >&2
install -m 0755 "$build/pkg/boxlite" "$root/usr/bin/boxlite"
install -m 0755 "$build/pkg/boxlite-runtime" "$root/usr/bin/boxlite-runtime"
# Debug information is not shipped (a -dbgsym package would carry it).
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$root/usr/bin/boxlite" "$root/usr/bin/boxlite-runtime" "$root/usr/libexec/boxlite/boxlite-vmm" \
  "$root/usr/lib/libboxlite.so.$version"
# The guest kernel is run by QEMU or our KVM engine, never by this host: an ELF image kept
# as data. Debian wants architecture-dependent files out of /usr/share: the package puts
# the guest files beside the VMM and leaves a link where the library looks first.
mkdir -p "$root/usr/lib/boxlite"
mv "$root/usr/share/boxlite/vmlinux" "$root/usr/share/boxlite/initramfs.cpio.gz" "$root/usr/lib/boxlite/"
ln -s ../../lib/boxlite/vmlinux "$root/usr/share/boxlite/vmlinux"
ln -s ../../lib/boxlite/initramfs.cpio.gz "$root/usr/share/boxlite/initramfs.cpio.gz"
if [ -d "$root/usr/share/boxlite/arm64" ]; then # the arm64 guest, when the tree has it
  mv "$root/usr/share/boxlite/arm64" "$root/usr/lib/boxlite/arm64"
  ln -s ../../lib/boxlite/arm64 "$root/usr/share/boxlite/arm64"
fi
# Its symbol table serves nothing (the kernel carries its own kallsyms); its notes (the PVH
# entry point QEMU boots through) stay.
strip --strip-all "$root/usr/lib/boxlite/vmlinux"
# A kernel is static by nature: the one lintian error that stays, overridden with why.
install -d "$root/usr/share/lintian/overrides"
printf '%s\n' '# the guest kernel of the micro-VMs: run by QEMU or boxlite-vmm, never by this host' \
  'boxlite: statically-linked-binary [usr/lib/boxlite/vmlinux]' \
  > "$root/usr/share/lintian/overrides/boxlite"
chmod 0644 "$root/usr/share/lintian/overrides/boxlite"

doc=$root/usr/share/doc/boxlite
install -d "$doc"
install -m 0644 packaging/deb/copyright "$doc/copyright"
{
  echo "boxlite ($version) unstable; urgency=medium"
  echo
  echo "  * BoxLite $version."
  echo
  echo " -- BoxLite maintainers <maintainers@boxlite.invalid>  $(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n > "$doc/changelog.gz"

mkdir -p "$root/DEBIAN" "$work/debian"
# dpkg-shlibdeps reads debian/control of a source tree: a minimal one is enough.
printf 'Source: boxlite\n\nPackage: boxlite\nArchitecture: any\n' > "$work/debian/control"
deps=$(cd "$work" && dpkg-shlibdeps -O -e root/usr/bin/boxlite -e root/usr/bin/boxlite-runtime -e root/usr/libexec/boxlite/boxlite-vmm \
  -e "root/usr/lib/libboxlite.so.$version" -Sroot 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
# libcurl, libarchive, libmicrohttpd and libcrypto (libssl3) are loaded on first use
# (dlopen: src/common/lazylib.h), so dpkg-shlibdeps, which reads DT_NEEDED, does not see
# them: they are named by hand.
cat > "$root/DEBIAN/control" <<CONTROL
Package: boxlite
Version: $version
Architecture: $arch
Maintainer: BoxLite maintainers <maintainers@boxlite.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $deps, libcurl4, libarchive13, libmicrohttpd12, libssl3, qemu-system-x86
Suggests: qemu-system-arm
Section: admin
Priority: optional
Homepage: https://github.com/boxlite-labs/boxlite
Description: run OCI container images in lightweight virtual machines
 BoxLite runs OCI images (any registry) inside micro-VMs, one per box, each with
 its own Linux kernel: a library (libboxlite.so.0, boxlite.h, boxlite.pc) with a
 docker-like boxlite command, its per-box process (boxlite-vmm) and the guest
 kernel and initramfs. Without hardware virtualization, boxes run on QEMU (TCG).
 With qemu-system-arm, arm64 boxes (--platform linux/arm64) run too.
CONTROL
echo "libboxlite $major boxlite (>= $version)" > "$root/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$root/DEBIAN/triggers"
chmod 0644 "$root/DEBIAN/shlibs" "$root/DEBIAN/triggers"
(cd "$root" && find usr -type f -exec md5sum {} + | sort -k2) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
mkdir -p "$out"
deb=$out/boxlite_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
