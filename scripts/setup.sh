#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# BoxLite set-up: installs what the project needs from Debian's packages, then builds
# everything (library, VMM, agent, initramfs, guest kernel). Idempotent: a second run
# installs nothing and rebuilds nothing that is up to date. Run as root (as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  build-essential pkg-config clang libclang-rt-14-dev llvm musl-tools
  # engines and disk tools
  qemu-system-x86 qemu-utils e2fsprogs
  # libraries
  libslirp-dev libglib2.0-dev libcurl4-openssl-dev libssl-dev libjansson-dev
  libarchive-dev libzstd-dev zlib1g-dev libsqlite3-dev libext2fs-dev libseccomp-dev libisal-dev
  # boxlite serve: its HTTP server; python3-jsonschema checks its responses (tests/e2e/serve.sh)
  libmicrohttpd-dev python3-jsonschema python3-yaml
  # guest kernel build
  linux-source-6.1 flex bison bc libelf-dev cpio xz-utils kmod
  # test parts
  busybox-static docker-registry skopeo umoci apache2-utils python3 python3-pytest
  tmux iproute2 socat curl debootstrap zstd openssl sqlite3 util-linux
  # the CLI: completion scripts tried in a real shell (tests/e2e/cli_completion.sh), man pages
  zsh fish groff-base bsdextrautils
  # packages: lintian checks the .deb; python3-venv for the wheel's test in a fresh venv
  lintian python3-venv
  # boxlite-runtime (the OCI runtime): Podman drives it in tests/e2e/oci_runtime.sh; crun and
  # runc are the reference runtimes bench/oci.sh compares with
  podman conmon crun runc
  # ... and Docker and containerd drive it (tests/e2e/oci_docker.sh, oci_containerd.sh start
  # daemons of their own under a temp folder; the system's are never started or used)
  docker.io containerd
  # ... and Kubernetes' CRI: tests/e2e/oci_cri.sh's client speaks gRPC to containerd's CRI
  # plugin (messages compiled from tests/fixtures/cri/api.proto with grpc_tools)
  python3-grpcio python3-grpc-tools
  # SDKs: Node.js (the N-API addon; NodeSource's nodejs, where installed, counts as it and
  # ships node's headers and npm) and Go (cgo bindings)
  nodejs golang-go
  # arm64 boxes (issue 18): QEMU's -M virt, the cross compiler and static glibc for the
  # aarch64 agent and kernel; file checks the arm64 busybox fixture
  qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross file
  # the host side cross-built for aarch64 runs its unit tests under user-mode emulation
  # (tests/e2e/cross_arm64.sh)
  qemu-user
  # the aarch64 KVM engine's device tree: libfdt builds it, dtc decompiles it in the tests
  libfdt-dev device-tree-compiler
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages are installed for the tests, which start daemons of their own: the system's
  # (docker.io's and containerd's would add a bridge and firewall rules to this host's
  # network) must not start. policy-rc.d 101 ("action forbidden") is what Debian's
  # maintainer scripts and deb-systemd-invoke ask; one the host already has is kept.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } || rc=$?
  if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ $rc = 0 ] || exit $rc
fi

# Debian's own nodejs keeps node's headers and npm in packages of their own; NodeSource's
# nodejs has both inside (and conflicts with those packages), so ask only when missing.
node_prefix=$(node -p "require('path').resolve(process.execPath, '../..')" 2>/dev/null || echo /usr)
extra=()
[ -f "$node_prefix/include/node/node_api.h" ] || extra+=(libnode-dev)
command -v npm >/dev/null || extra+=(npm)
if [ ${#extra[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${extra[*]} (run as root)" >&2
    exit 1
  fi
  echo "setup: installing ${extra[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${extra[@]}"
fi

make -j"$(nproc)" all
scripts/build-kernel.sh
scripts/build-kernel.sh --arch arm64
# Debian's busybox-static:arm64 for the multi-platform test image (adds arm64 to dpkg's
# foreign architectures for apt-get download; installs nothing)
tests/fixtures/arm64-busybox.sh >/dev/null
# The nested-KVM lab (tests/lab/): an L1 kernel unpacked from Debian's package, cached.
tests/lab/setup.sh >/dev/null
# The ARM64 lab (tests/lab/README.md): its L1 kernel, and the arm64 sysroot the host side is
# cross-built against (make ARCH=aarch64; tests/e2e/cross_arm64.sh, lab_arm64.sh,
# make lab-check-arm64).
tests/lab/setup.sh --arch arm64 >/dev/null
scripts/arm64-sysroot.sh >/dev/null
