# BoxLite build. Plain GNU Make; every component is a folder whose .c files are picked up
# by wildcard, so adding a file needs no edit here.
#
#   make            build everything (release, build/)
#   make test       what CI runs: sanitizer build (build/san/), unit tests, fuzz smoke, e2e
#                   (and a subset of e2e against the sanitizer build); CI=true or
#                   BOXLITE_TEST_STRICT=1 turns a missing prerequisite into a failure
#   make bench      benchmarks, printing figures
#   make lab-check  the KVM engine end to end in the lab
#   make lab-matrix the lab over several CPU models, each with every CPU template
#   make lab-check-arm64  the aarch64 KVM engine (cross-built) in the ARM64 lab
#   make ARCH=aarch64 O=build/arm64  the host side cross-built for aarch64 (the arm64 sysroot
#                   of scripts/arm64-sysroot.sh; tests/e2e/cross_arm64.sh runs it)
#   make unit-<component>   build and run one component's unit tests (sanitizer build)
#   make fuzz       build the libFuzzer targets (build/fuzz/)

.DEFAULT_GOAL := all
ARCH    := x86_64
O       ?= build
SAN     ?= 0
FUZZ    ?= 0
CC      ?= gcc
MUSLCC  ?= musl-gcc
PKGS    := slirp glib-2.0 libcurl jansson libarchive sqlite3 libseccomp openssl libzstd zlib ext2fs com_err libisal

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
               -g -fPIC -fvisibility=hidden -Iinclude -Isrc -Itests
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libfdt (the aarch64 device tree; Debian's libfdt-dev has no pkg-config file), recorded as
# needed only by what uses it (boxlite-vmm), not by libboxlite.so or the CLI
LIBS        := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -Wl,--as-needed -lfdt -Wl,--no-as-needed -lpthread -lm
# The cross build for aarch64 (make ARCH=aarch64 O=build/arm64): Debian's cross compiler
# against an arm64 sysroot unpacked from Debian's packages (scripts/arm64-sysroot.sh; the
# -dev:arm64 packages cannot be installed beside the amd64 ones). The libraries are named by
# hand, as pkg-config names them here, since the sysroot's pkg-config files would pull
# glib's whole -dev tree in (nothing of ours calls glib: libslirp's own DT_NEEDED brings it).
SECCOMP_ARCH :=
ifeq ($(ARCH),aarch64)
  SYSROOT ?= $(shell scripts/arm64-sysroot.sh --cached-only 2>/dev/null)
  ifeq ($(SYSROOT),)
    $(error ARCH=aarch64 needs the arm64 sysroot: run scripts/arm64-sysroot.sh)
  endif
  ifeq ($(origin CC),default)
    CC := aarch64-linux-gnu-gcc
  endif
  SYSROOT_LIB := $(SYSROOT)/usr/lib/aarch64-linux-gnu
  PKG_CFLAGS := -I$(SYSROOT)/usr/include -I$(SYSROOT)/usr/include/aarch64-linux-gnu \
                -I$(SYSROOT)/usr/include/slirp -I$(SYSROOT)/usr/include/ext2fs -I$(SYSROOT)/usr/include/et
  LIBS := -L$(SYSROOT_LIB) -Wl,-rpath-link,$(SYSROOT_LIB):$(SYSROOT)/lib/aarch64-linux-gnu \
          -lslirp -lcurl -ljansson -larchive -lsqlite3 -lseccomp -lssl -lcrypto -lzstd -lz \
          -lext2fs -lcom_err -lisal -Wl,--as-needed -lfdt -Wl,--no-as-needed -lpthread -lm
  SECCOMP_ARCH := aarch64
endif

ifeq ($(SAN),1)
  OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else ifeq ($(FUZZ),1)
  OPT := -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DBOXLITE_FUZZ \
         -Wno-unknown-warning-option -Wno-gnu-variable-sized-type-not-at-end
  LDSAN := -fsanitize=address,undefined
else
  OPT := -O2
  LDSAN :=
endif
CFLAGS  := $(CFLAGS_BASE) $(OPT) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(LDSAN)

# ---- components: name -> sources -------------------------------------------------------
# common: errors, cleanup helpers, small utilities shared by every host component
# proto:  the host-guest protocol (also compiled into the agent with musl)
# disk:   disk image backends (raw, qcow2), used by the VMM and by the image builder
# vmm:    the per-box process: engines (KVM, QEMU), devices, arch code
# image:  OCI references, registry client, blob store, unpack, rootfs disks
# runtime: the library behind include/boxlite.h (runtime, boxes, executions, state)
# agent:  the guest agent, built for the host too so its services are unit-tested natively
# netrule: network rule parsing (--allow-net ...), shared by the VMM and the library
src_of = $(filter-out $(2),$(shell find $(1) -name '*.c' 2>/dev/null | sort))

SRC_common  := $(call src_of,src/common)
SRC_proto   := $(call src_of,src/proto)
SRC_disk    := $(call src_of,src/disk)
SRC_netrule := src/vmm/net/rule.c
SRC_vmm     := $(filter-out src/vmm/arch/% $(SRC_netrule) src/vmm/jail/seccomp_gen.c \
                 src/vmm/jail/seccomp_rules.c,$(call src_of,src/vmm,src/vmm/main.c)) \
               $(call src_of,src/vmm/arch/$(ARCH))
# aarch64's building blocks that need no KVM (the device tree, the Image boot protocol, PSCI
# decoding: src/vmm/arch/aarch64/aarch64.h) compile on every host, so their unit tests and
# fuzz targets run on x86_64 too.
ARCH_ANYHOST := $(wildcard src/vmm/arch/aarch64/fdt.c src/vmm/arch/aarch64/image.c \
                  src/vmm/arch/aarch64/psci.c src/vmm/arch/aarch64/snaprec.c)
SRC_vmm     += $(filter-out $(SRC_vmm),$(ARCH_ANYHOST))
SRC_image   := $(call src_of,src/image)
SRC_runtime := $(call src_of,src/runtime)
SRC_agent   := $(call src_of,guest/agent,guest/agent/main.c)
# serve: the REST server (boxlite serve) over the public API; linked into the CLI only
SRC_serve   := $(call src_of,src/serve)
COMPONENTS  := common proto disk netrule vmm image runtime agent serve
# oci:    boxlite-runtime's bundle and state parsing (src/oci); its command line is oci/
SRC_oci     := $(call src_of,src/oci)
COMPONENTS  += oci
# client: the client of boxlite serve (boxlite --url): HTTP, token, SSE, the TTY WebSocket
SRC_client  := $(call src_of,src/client)
COMPONENTS  += client

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
lib = $(O)/lib/lib$(1).a
$(foreach c,$(COMPONENTS),$(eval OBJ_$(c) := $(call obj,$(SRC_$(c)))))

# The jail's seccomp filters are compiled to BPF at build time (src/vmm/jail/seccomp_gen.c:
# libseccomp runs here, not each time a box starts); the generated C joins the vmm archive.
SECCOMP_GEN := $(O)/gen/seccomp_gen
SECCOMP_BPF := $(O)/gen/seccomp_bpf.c
OBJ_vmm += $(call obj,$(SECCOMP_BPF))
$(SECCOMP_GEN): src/vmm/jail/seccomp_gen.c src/vmm/jail/seccomp_rules.c src/vmm/jail/seccomp_rules.h src/vmm/jail/jail.h
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)cc -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -Iinclude -Isrc -o $@ src/vmm/jail/seccomp_gen.c src/vmm/jail/seccomp_rules.c -lseccomp
$(SECCOMP_BPF): $(SECCOMP_GEN)
	$(Q)$(SECCOMP_GEN) $(SECCOMP_ARCH) > $@.tmp && mv $@.tmp $@

# Which internal archives each link needs, in dependency order.
DEPS_common  := common
DEPS_proto   := proto common
DEPS_disk    := disk common
DEPS_netrule := netrule common
DEPS_vmm     := vmm netrule disk proto common
DEPS_image   := image disk common
DEPS_runtime := runtime image disk netrule proto common
DEPS_agent   := agent proto common
DEPS_oci     := oci proto common
DEPS_serve   := serve proto common
DEPS_client  := client serve proto common
archives = $(foreach d,$(DEPS_$(1)),$(call lib,$(d)))

BIN_vmm   := $(O)/bin/boxlite-vmm
BIN_vmm_test := $(O)/tests/boxlite-vmm-test
BIN_cli   := $(O)/bin/boxlite
# The library's version comes from include/boxlite.h; its SONAME carries the major only.
VERSION   := $(shell sed -n 's/^\#define BOXLITE_VERSION "\(.*\)"/\1/p' include/boxlite.h)
SOMAJOR   := $(firstword $(subst ., ,$(VERSION)))
SONAME    := libboxlite.so.$(SOMAJOR)
LIB_real  := $(O)/lib/libboxlite.so.$(VERSION)
LIB_major := $(O)/lib/$(SONAME)
LIB_so    := $(O)/lib/libboxlite.so
LIB_map   := src/runtime/libboxlite.map
AGENT     := $(O)/guest/boxlite-agent
INITRAMFS := $(O)/guest/initramfs.cpio.gz

.SECONDARY:
.PHONY: all test bench print-libs lab-check lab-check-arm64 lab-matrix fuzz clean kernel setup \
        oci-validation
all: $(BIN_vmm) $(BIN_cli) $(LIB_so) $(INITRAMFS) $(BIN_vmm_test)

# V=1 shows full command lines.
ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @printf '  %-6s %s\n'
endif

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

.SECONDEXPANSION:
$(O)/lib/lib%.a: $$(OBJ_$$*)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BIN_vmm): $(call obj,src/vmm/main.c) $(call archives,vmm)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(call archives,vmm) -Wl,--end-group $(LIBS)

# The VMM's test build: main.c with BOXLITE_VMM_TEST_HOOKS (a forbidden system call on
# request, for the jail's tests); everything else is the release VMM's.
$(O)/obj-test/src/vmm/main.o: src/vmm/main.c
	@mkdir -p $(dir $@)
	$(say) CC $< '(test hooks)'
	$(Q)$(CC) $(CFLAGS) -DBOXLITE_VMM_TEST_HOOKS -MMD -MP -c $< -o $@
$(BIN_vmm_test): $(O)/obj-test/src/vmm/main.o $(call archives,vmm)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(call archives,vmm) -Wl,--end-group $(LIBS)

# The shared library exports only what include/boxlite.h marks BOXLITE_API, each symbol
# versioned by the linker script (scripts/abi-check.sh checks both). libboxlite.so.0 is
# what programs load (the SONAME); libboxlite.so is for linking (-lboxlite).
$(LIB_real): $(call archives,runtime) $(LIB_map)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -o $@ -Wl,--whole-archive $(call lib,runtime) -Wl,--no-whole-archive \
	    -Wl,--start-group $(call archives,runtime) -Wl,--end-group -Wl,-soname,$(SONAME) \
	    -Wl,--version-script,$(LIB_map) $(LIBS)
$(LIB_major): $(LIB_real)
	ln -sfn $(notdir $<) $@
$(LIB_so): $(LIB_major)
	ln -sfn $(notdir $<) $@

SRC_cli := $(call src_of,cli)
# boxlite serve's HTTP library (libmicrohttpd), like libcurl and libarchive, is not linked:
# it is loaded when first called (src/common/lazylib.h), so a plain exec does not map it
CLI_ARCHIVES := $(call archives,client)
# image references read as the library reads them (rmi BUSYBOX over --url names the
# server's docker.io/library/busybox:latest): the one parser, pure, linked in once more
CLI_OBJ      := $(call obj,$(SRC_cli) src/image/ref.c)
$(BIN_cli): $(CLI_OBJ) $(CLI_ARCHIVES) $(LIB_so)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) -Wl,--start-group $(CLI_ARCHIVES) -Wl,--end-group -L$(O)/lib -lboxlite -Wl,-rpath,'$$ORIGIN/../lib' $(LIBS)
# boxlite-runtime: the OCI runtime (runc's command line) over the public API, one process
# per container (oci/), beside the CLI.
BIN_oci := $(O)/bin/boxlite-runtime
SRC_ocitool := $(call src_of,oci)
$(BIN_oci): $(call obj,$(SRC_ocitool)) $(call archives,oci) $(LIB_so)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(SRC_ocitool)) $(call archives,oci) -L$(O)/lib -lboxlite -Wl,-rpath,'$$ORIGIN/../lib' $(LIBS)
all: $(BIN_oci)
# The system package's (the .deb): no run path, as $(O)/pkg/boxlite.
$(O)/pkg/boxlite-runtime: $(call obj,$(SRC_ocitool)) $(call archives,oci) $(LIB_so)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(SRC_ocitool)) $(call archives,oci) -L$(O)/lib -lboxlite $(LIBS)
# The CLI of a system package (the .deb): the library is in /usr/lib, no run path.
$(O)/pkg/boxlite: $(CLI_OBJ) $(CLI_ARCHIVES) $(LIB_so)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) -Wl,--start-group $(CLI_ARCHIVES) -Wl,--end-group -L$(O)/lib -lboxlite $(LIBS)

# ---- Node.js addon (sdk/node): the same C file node-gyp builds at `npm install`, compiled
# here against the running node's headers (NodeSource's nodejs ships them in include/node;
# Debian's in libnode-dev). It opens libboxlite.so at run time (dlopen), so it needs only
# the header.
NODE_INCLUDE ?= $(shell node -p "require('path').resolve(process.execPath, '../../include/node')" 2>/dev/null)
NODE_ADDON   := $(O)/node/boxlite.node
.PHONY: node
node: $(NODE_ADDON)
$(NODE_ADDON): sdk/node/src/boxlite_node.c include/boxlite.h
	@mkdir -p $(dir $@)
	@test -f "$(NODE_INCLUDE)/node_api.h" || { echo "node: no node_api.h in '$(NODE_INCLUDE)' (install node's headers: scripts/setup.sh)" >&2; exit 1; }
	$(say) CC $@
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror \
	    -Wno-unused-parameter -DNODE_GYP_MODULE_NAME=boxlite -Iinclude -I$(NODE_INCLUDE) -o $@ $< -ldl
ifeq ($(SAN)$(FUZZ),00)
ifneq ($(wildcard $(NODE_INCLUDE)/node_api.h),)
all: $(NODE_ADDON)
endif
endif

# ---- guest: the agent is static (musl) and alone in the initramfs --------------------
# Host-only helpers in src/common that the agent does not need.
GUEST_EXCLUDE := src/common/hostarch.c src/common/boxpath.c src/common/procstat.c \
                 src/common/userns.c $(wildcard src/common/lazy*.c)
GUEST_SRC := $(call src_of,guest/agent) $(SRC_proto) $(filter-out $(GUEST_EXCLUDE),$(SRC_common))
GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -DBOXLITE_GUEST -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
                -Os -g0 -Iinclude -Isrc
$(O)/gobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) MUSLCC $<
	$(Q)$(MUSLCC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(AGENT): $(patsubst %.c,$(O)/gobj/%.o,$(GUEST_SRC))
	@mkdir -p $(dir $@)
	$(MUSLCC) -static -s -o $@ $^
$(INITRAMFS): $(AGENT) scripts/mkinitramfs.py
	python3 scripts/mkinitramfs.py $@ /init=$(AGENT)

# The arm64 guest (issue 18): the same agent built static for aarch64 with Debian's cross
# compiler and glibc (libc6-dev-arm64-cross; Debian has no musl cross toolchain), alone in
# its own initramfs. The QEMU engine boots it for boxes whose platform is linux/arm64.
AARCH64CC ?= aarch64-linux-gnu-gcc
AGENT_ARM64     := $(O)/guest-arm64/boxlite-agent
INITRAMFS_ARM64 := $(O)/guest-arm64/initramfs.cpio.gz
$(O)/gobj-arm64/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) AARCH64CC $<
	$(Q)$(AARCH64CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(AGENT_ARM64): $(patsubst %.c,$(O)/gobj-arm64/%.o,$(GUEST_SRC))
	@mkdir -p $(dir $@)
	$(AARCH64CC) -static -s -o $@ $^
$(INITRAMFS_ARM64): $(AGENT_ARM64) scripts/mkinitramfs.py
	python3 scripts/mkinitramfs.py $@ /init=$(AGENT_ARM64)
guest-arm64: $(INITRAMFS_ARM64)
.PHONY: guest-arm64
GUEST_ARM64 := $(if $(shell command -v $(AARCH64CC) 2>/dev/null),$(INITRAMFS_ARM64))
ifeq ($(SAN)$(FUZZ),00)
all: $(GUEST_ARM64)
endif

# ---- tests -----------------------------------------------------------------------------
# tests/unit/<component>/test_*.c: one binary per file, linked with that component's archives.
# tests/fuzz/fuzz_<name>.c: one libFuzzer target per file (built with clang, FUZZ=1).
UNIT_SRC   := $(sort $(wildcard tests/unit/*/test_*.c))
# the x86_64 arch code's own tests (CPUID templates) only where that code is built
ifneq ($(ARCH),x86_64)
  UNIT_SRC := $(filter-out tests/unit/vmm/test_x86_%,$(UNIT_SRC))
endif
UNIT_BINS  := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(UNIT_SRC))
HARNESS    := $(call obj,tests/harness/harness.c)
comp_of     = $(word 3,$(subst /, ,$(1)))

define unit_rule
$(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(1)): $(call obj,$(1)) $(HARNESS) $(call archives,$(call comp_of,$(1)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(HARNESS) -Wl,--start-group $(call archives,$(call comp_of,$(1))) -Wl,--end-group $$(LIBS)
endef
$(foreach t,$(UNIT_SRC),$(eval $(call unit_rule,$(t))))

bins-unit: $(UNIT_BINS)
unit-%:
	$(MAKE) SAN=1 O=build/san $(filter build/san/tests/unit/$*/%,$(patsubst tests/unit/%.c,build/san/tests/unit/%,$(UNIT_SRC)))
	tests/run.sh --only unit --component $* build/san

FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/tests/fuzz/%,$(FUZZ_SRC))
# A fuzz target names its component on a line "// component: <name>".
fuzz_comp = $(shell sed -n 's,^// component: *\([a-z]*\).*,\1,p' $(1) | head -1)
define fuzz_rule
$(patsubst tests/fuzz/%.c,$(O)/tests/fuzz/%,$(1)): $(call obj,$(1)) $(call archives,$(call fuzz_comp,$(1)))
	@mkdir -p $$(dir $$@)
	$$(CC) -fsanitize=fuzzer,address,undefined -o $$@ $$< -Wl,--start-group $(call archives,$(call fuzz_comp,$(1))) -Wl,--end-group $$(LIBS)
endef
ifeq ($(FUZZ),1)
$(foreach t,$(FUZZ_SRC),$(eval $(call fuzz_rule,$(t))))
endif
bins-fuzz: $(FUZZ_BINS)
# The builds below use every core unless make was given its own -j.
JOBS := $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))

fuzz:
	$(MAKE) $(JOBS) FUZZ=1 CC=clang O=build/fuzz bins-fuzz

test:
	$(MAKE) $(JOBS) all
	$(MAKE) $(JOBS) SAN=1 O=build/san all bins-unit
	$(MAKE) fuzz
	tests/run.sh build/san

bench: all
	bench/run.sh

# The link flags of every library the static archives need (bench/ programs link them).
print-libs:
	@echo $(LIBS)

lab-check: all
	tests/lab/lab-check.sh

# The opencontainers runtime-tools validation suite, every case, under runc and
# boxlite-runtime (CI runs a fixed subset: tests/e2e/oci_validation.sh says where the
# suite's source comes from).
oci-validation: all
	OCI_VALIDATION=all BOXLITE_BUILD=$(O) bash tests/e2e/oci_validation.sh

# The aarch64 KVM engine in the ARM64 lab (tests/lab/lab-check.sh --arch arm64 --suite): the
# VMM, its test build and the client's libraries cross-built in $(O)/arm64, the arm64 guest
# from `all`; the box check, then suite.sh (disks, network, 9p, the jail) in the same L1.
lab-check-arm64: all
	$(MAKE) --no-print-directory ARCH=aarch64 O=$(O)/arm64 $(O)/arm64/bin/boxlite-vmm \
	    $(O)/arm64/tests/boxlite-vmm-test $(O)/arm64/lib/libproto.a $(O)/arm64/lib/libcommon.a
	BOXLITE_BUILD=$(O) tests/lab/lab-check.sh --arch arm64 --suite

# The CPU matrix: every lab CPU model with every CPU template (tests/lab/matrix-all.sh).
lab-matrix: all
	tests/lab/matrix-all.sh

kernel:
	scripts/build-kernel.sh

# ---- install: one relocatable tree ------------------------------------------------------
# PREFIX/bin/boxlite, PREFIX/lib/libboxlite.so.0*, PREFIX/libexec/boxlite/boxlite-vmm,
# PREFIX/include/boxlite.h, PREFIX/lib/pkgconfig/boxlite.pc, PREFIX/share/boxlite/{vmlinux,
# initramfs.cpio.gz}. The library finds the VMM and the guest files relative to itself, the
# CLI finds the library through $ORIGIN/../lib and boxlite.pc its prefix through
# ${pcfiledir}: the tree works wherever it is copied, so these folders are fixed relative to
# PREFIX. DESTDIR stages the tree elsewhere (packages). The guest kernel is the one
# scripts/build-kernel.sh cached (KERNEL= another vmlinux), installed without its symbol
# table, which QEMU would copy into every box's heap (docs/architecture.md, "Density"; a
# kernel objcopy cannot read goes in as it is). The arm64 guest, for boxes of
# platform linux/arm64 (src/runtime/platform.c looks in share/boxlite/arm64/), goes in too
# when its agent builds here and its kernel is cached (KERNEL_ARM64= another Image).
PREFIX  ?= /usr/local
DESTDIR ?=
KERNEL  ?= $(shell scripts/build-kernel.sh --cached-only 2>/dev/null)
KERNEL_ARM64 ?= $(shell scripts/build-kernel.sh --arch arm64 --cached-only 2>/dev/null)
INSTALL_FILES := bin/boxlite bin/boxlite-runtime lib/libboxlite.so.$(VERSION) lib/$(SONAME) lib/libboxlite.so \
    libexec/boxlite/boxlite-vmm include/boxlite.h lib/pkgconfig/boxlite.pc \
    share/boxlite/vmlinux share/boxlite/initramfs.cpio.gz \
    share/boxlite/arm64/Image share/boxlite/arm64/initramfs.cpio.gz
.PHONY: install uninstall
install: $(BIN_cli) $(BIN_oci) $(BIN_vmm) $(LIB_so) $(INITRAMFS) $(GUEST_ARM64)
	@test -f "$(KERNEL)" || { echo "install: no guest kernel (run scripts/build-kernel.sh, or set KERNEL=path/to/vmlinux)" >&2; exit 1; }
	$(eval D := $(DESTDIR)$(PREFIX))
	install -d "$(D)/bin" "$(D)/lib/pkgconfig" "$(D)/libexec/boxlite" "$(D)/include" "$(D)/share/boxlite"
	install -m 0755 $(BIN_cli) "$(D)/bin/boxlite"
	install -m 0755 $(BIN_oci) "$(D)/bin/boxlite-runtime"
	install -m 0644 $(LIB_real) "$(D)/lib/libboxlite.so.$(VERSION)"
	ln -sfn libboxlite.so.$(VERSION) "$(D)/lib/$(SONAME)"
	ln -sfn $(SONAME) "$(D)/lib/libboxlite.so"
	install -m 0755 $(BIN_vmm) "$(D)/libexec/boxlite/boxlite-vmm"
	install -m 0644 include/boxlite.h "$(D)/include/boxlite.h"
	sed 's/@VERSION@/$(VERSION)/' packaging/boxlite.pc.in > "$(D)/lib/pkgconfig/boxlite.pc"
	chmod 0644 "$(D)/lib/pkgconfig/boxlite.pc"
	objcopy --strip-all "$(KERNEL)" "$(D)/share/boxlite/vmlinux" 2>/dev/null || install -m 0644 "$(KERNEL)" "$(D)/share/boxlite/vmlinux"
	chmod 0644 "$(D)/share/boxlite/vmlinux"
	install -m 0644 $(INITRAMFS) "$(D)/share/boxlite/initramfs.cpio.gz"
	@if [ -n "$(GUEST_ARM64)" ] && [ -f "$(KERNEL_ARM64)" ]; then \
	  install -d "$(D)/share/boxlite/arm64" && \
	  install -m 0644 "$(KERNEL_ARM64)" "$(D)/share/boxlite/arm64/Image" && \
	  install -m 0644 $(INITRAMFS_ARM64) "$(D)/share/boxlite/arm64/initramfs.cpio.gz"; \
	else \
	  echo "install: no arm64 guest (scripts/build-kernel.sh --arch arm64, $(AARCH64CC)): boxes of platform linux/arm64 will not run from this tree" >&2; \
	fi
.PHONY: deb wheel
deb: all $(O)/pkg/boxlite
	packaging/mkdeb.sh $(O)
# The Python wheel: the SDK with the library, boxlite-vmm, the CLI and the guest files inside.
wheel: $(BIN_cli) $(BIN_vmm) $(LIB_so) $(INITRAMFS) $(GUEST_ARM64)
	@test -f "$(KERNEL)" || { echo "wheel: no guest kernel (run scripts/build-kernel.sh, or set KERNEL=path/to/vmlinux)" >&2; exit 1; }
	python3 packaging/mkwheel.py $(O) "$(KERNEL)" $(O) "$(KERNEL_ARM64)"
uninstall:
	$(eval D := $(DESTDIR)$(PREFIX))
	rm -f $(addprefix "$(D)/,$(addsuffix ",$(INSTALL_FILES)))
	-rmdir "$(D)/libexec/boxlite" "$(D)/share/boxlite/arm64" "$(D)/share/boxlite" 2>/dev/null

clean:
	rm -rf build

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# Man pages (boxlite.1, boxlite-VERB.1) generated from the CLI's verb tables (cli/verbs.c),
# the same tables as --help; installing them is `make install`'s.
man: $(BIN_cli)
	$(Q)$(BIN_cli) help --man $(O)/man
.PHONY: man
