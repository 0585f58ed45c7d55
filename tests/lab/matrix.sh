#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The CPU matrix's part inside one L1 (tests/lab/matrix-run.sh starts it per QEMU CPU model;
# on a host with hardware virtualization it runs directly). Sections, each optional:
#
# templates  for each template in $LAB_TEMPLATES, boxlite-vmm (engine kvm) boots a box with
#            that CPU template; the guest's /proc/cpuinfo must show the template's features
#            and not the ones it hides, the VMM must report the template, and the box's boot
#            to ready and command round trip are printed as figures. Each "T:FEATURE" in
#            $LAB_UNSATISFIED must be refused at start naming FEATURE (a host lacking it).
# fallback   ($LAB_CLI set) through the boxlite CLI: a KVM boot broken on purpose
#            (BOXLITE_TEST_BREAK_KVM=triple-fault) with engine auto starts the box again on
#            QEMU with -accel kvm, says why (notice, inspect, vmm.log); with --engine kvm the
#            same failure (internal-error) is reported and never falls back.
# doctor     ($LAB_CLI set) `boxlite doctor` must report KVM usable and both engines' smoke
#            boxes booting; its lines are printed.
# pause      ($LAB_CLI set) memory snapshots on the KVM engine through the CLI and the
#            library: a box started with --engine kvm keeps a loop and a tmpfs file across
#            pause and resume; `fork` makes two boxes running at once that see the parent's
#            tmpfs, each with its own host name, MAC (in the guest and in virtio-net's config
#            space: a driver re-probe reads it), boot_id and random stream. The box has a
#            volume (9p: on QEMU unmounted for the pause and mounted again after it; on
#            KVM mounted throughout, a file held open on it written on) and a balloon
#            target that holds across the pause, with free page reporting still giving
#            memory back after it; --idle-pause pauses an idle box with a volume. Figures:
#            cold create to first output against resume to first output, same run; the
#            box's Pss before its last pause and after the resume; on the KVM engine,
#            every resume's time from restored to the agent's HELLO, and KVM's counters
#            (exits, page faults, mappings) from the start or restore to the HELLO and from
#            there to the first exec's end.
#            $LAB_PAUSE_ENGINE (kvm) names the engine: "qemu" runs the same on the QEMU
#            engine, QEMU with -accel kvm (its resume line in vmm.log is its own).
# forks      ($LAB_CLI set; not in the default) $LAB_PAUSE_FORKS (10) cold boxes started one
#            after another, then `fork` of one idle source into as many, on $LAB_PAUSE_ENGINE:
#            wall time to all answering an exec, and once settled the summed RSS and PSS of each
#            set's processes (procmem.sh), the source's apart, and L1's MemAvailable, MemFree
#            and Shmem drops; ratios as figures (goal RSS <= 0.3x), checks only that the
#            forks run with their own host names. $LAB_PAUSE_WARM_MIB (0): MiB written to
#            every box's tmpfs first (a warm source; the cold boxes write the same).
#
# env: LAB_VMM LAB_VMLINUX LAB_INITRD LAB_CLIENT LAB_ROOTFS (ext4 image: busybox,
#      /etc/lab-rootfs) LAB_L2_CMDLINE LAB_MODEL (a label for the figures) LAB_TEMPLATES
#      ("v3 baseline host" by default; "" for none) LAB_UNSATISFIED LAB_CLI LAB_SECTIONS
#      ("templates fallback doctor pause" by default) LAB_PAUSE_FORKS LAB_PAUSE_WARM_MIB.
# Prints "ok: " and "FAIL: " lines, "figure: " lines, then "N passed, N failed".
pass=0
fail=0
ok() { echo "ok: [$LAB_MODEL] $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: [$LAB_MODEL] $1"; fail=$((fail + 1)); }
work=$(mktemp -d /tmp/matrix.XXXXXX)
sections=${LAB_SECTIONS:-templates fallback doctor pause}
templates=${LAB_TEMPLATES-v3 baseline host}
has() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }

# What the guest's CPU must and must not show under each template (flags as Linux names
# them in /proc/cpuinfo). The virtualization flag (svm in the lab's AMD L1, vmx on an Intel
# host) reaches the guest only with "host", and only where KVM offers nesting.
virt=$(grep -m1 -owE 'vmx|svm' /proc/cpuinfo)
nested=$(cat /sys/module/kvm_amd/parameters/nested /sys/module/kvm_intel/parameters/nested 2>/dev/null | head -1)
case $nested in 1|Y) host_virt=$virt ;; *) host_virt="" ;; esac
want_of() {
  case $1 in
    v3) echo "sse4_2 popcnt avx avx2 bmi1 bmi2 fma movbe xsave f16c abm xsaveopt" ;;
    baseline) echo "sse4_2 popcnt ssse3 cx16 lahf_lm" ;;
    host) echo "sse4_2 $host_virt" ;;
  esac
}
hide_of() {
  case $1 in
    v3) echo "svm vmx avx512f pku la57" ;;
    baseline) echo "avx avx2 xsave fma movbe bmi1 svm vmx" ;;
    host) echo "" ;;
  esac
}

vmm_json() { # NAME TEMPLATE DISK
  cat > "$work/$1.json" <<EOF
{ "engine": "kvm", "cpu_template": "$2", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD",
  "cmdline": "quiet boxlite.root=/dev/vda ${LAB_L2_CMDLINE:-}", "cpus": 1, "memory_mib": 512,
  "disks": [ { "path": "$3", "format": "raw", "readonly": false } ],
  "console_log": "$work/$1.console", "box_socket": "$work/$1.sock", "ready_file": "$work/$1.ready" }
EOF
}

if has templates; then
  for t in $templates; do
    echo "== template $t"
    cp "$LAB_ROOTFS" "$work/$t.ext4"
    vmm_json "$t" "$t" "$work/$t.ext4"
    checks=""
    for f in $(want_of "$t"); do checks="$checks grep -qw $f /proc/cpuinfo &&"; done
    for f in $(hide_of "$t"); do checks="$checks ! grep -qw $f /proc/cpuinfo &&"; done
    "$LAB_VMM" --config "$work/$t.json" --stats > "$work/$t.out" 2>&1 &
    vpid=$!
    # ready, or the VMM gone (then no client waits its 400 s for nothing)
    if "$LAB_VMM" --status "$work/$t.sock" --wait 400000 --pid $vpid >/dev/null 2>&1; then
      "$LAB_CLIENT" "$work/$t.sock" 400 -c "grep -m1 ^flags /proc/cpuinfo; $checks true" -x 0 --rtt \
        </dev/null > "$work/$t.client"
      crc=$?
    else
      crc=1
    fi
    [ $crc = 0 ] || kill $vpid 2>/dev/null
    ( sleep 120; kill -9 $vpid 2>/dev/null ) &
    guard=$!
    wait $vpid
    vrc=$?
    kill $guard 2>/dev/null
    stats=$(grep -o '{"engine":"kvm"[^}]*}' "$work/$t.out" | tail -1)
    tpl=$(echo "$stats" | sed -n 's/.*"cpu_template":"\([^"]*\)".*/\1/p')
    ready=$(echo "$stats" | sed -n 's/.*"start_to_ready_ms":\([0-9.]*\).*/\1/p')
    rtt=$(sed -n 's/^client: command round trip (best of 5): //p' "$work/$t.client")
    if [ $crc = 0 ]; then
      h=$(hide_of "$t" | tr ' ' ,)
      ok "template $t: the guest's CPU shows $(want_of "$t" | tr ' ' ,)${h:+ and hides $h}"
    else
      bad "template $t: the guest's CPU features (client $crc)"
      grep -E 'client: (\||FAIL)' "$work/$t.client" | head -5
      tail -20 "$work/$t.out"; tail -15 "$work/$t.console"
    fi
    [ "$tpl" = "$t" ] && ok "template $t: boxlite-vmm reports cpu_template $tpl" ||
      bad "template $t: boxlite-vmm reports cpu_template [$tpl]"
    [ $vrc = 0 ] && ok "template $t: clean power-off" || bad "template $t: boxlite-vmm status $vrc"
    echo "figure: [$LAB_MODEL] template $t: boot to ready ${ready:-?} ms, command round trip ${rtt:-?}"
  done
  echo "== a KVM boot that is not ready within kvm_boot_timeout_ms"
  cp "$LAB_ROOTFS" "$work/slow.ext4"
  vmm_json slow auto "$work/slow.ext4"
  sed -i 's|"engine": "kvm",|"engine": "kvm", "kvm_boot_timeout_ms": 1,|' "$work/slow.json"
  rm -f "$work/exit.json" # beside the ready file, shared by the boxes above
  "$LAB_VMM" --config "$work/slow.json" > "$work/slow.out" 2>&1
  vrc=$?
  if grep -q '"reason":"the guest was not ready within 1 ms (kvm_boot_timeout_ms)"' "$work/exit.json" 2>/dev/null; then
    ok "kvm_boot_timeout_ms ends a guest that is not ready, saying so in exit.json (status $vrc)"
  else
    bad "kvm_boot_timeout_ms: status $vrc, exit.json: $(cat "$work/exit.json" 2>/dev/null)"; tail -5 "$work/slow.out"
  fi
  for u in $LAB_UNSATISFIED; do
    t=${u%%:*} f=${u#*:}
    echo "== template $t on a host without $f"
    cp "$LAB_ROOTFS" "$work/u.ext4"
    vmm_json u "$t" "$work/u.ext4"
    "$LAB_VMM" --config "$work/u.json" > "$work/u.out" 2>&1
    vrc=$?
    if [ $vrc = 2 ] && grep -q "CPU template $t: the host's KVM lacks.*$f" "$work/u.out"; then
      ok "template $t refused on this host, naming $f: $(grep -o "CPU template $t: .*" "$work/u.out")"
    else
      bad "template $t on a host without $f: status $vrc: $(tail -3 "$work/u.out")"
    fi
  done
fi

if [ -n "${LAB_CLI:-}" ] && { has fallback || has doctor || has pause || has forks; }; then
  export BOXLITE_HOME="$work/home" BOXLITE_KERNEL_CMDLINE="${LAB_L2_CMDLINE:-}"
  B=$LAB_CLI
  ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; } # busybox date has no %N: 10 ms steps
  dir_of() { echo "$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' "$1" 2>/dev/null)"; }
  mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/tmp"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for a in sh echo cat true sleep kill hostname head od tr awk mount mkdir basename readlink grep rm; do
    ln -s busybox "$work/rootfs/bin/$a"
  done
fi

if [ -n "${LAB_CLI:-}" ] && has fallback; then
  echo "== fallback: a KVM boot that triple-faults, engine auto"
  BOXLITE_TEST_BREAK_KVM=triple-fault "$B" create --name fb "$work/rootfs" > /dev/null
  BOXLITE_TEST_BREAK_KVM=triple-fault "$B" start fb > "$work/fb.start" 2> "$work/fb.err"
  src=$?
  out=$("$B" exec fb echo hello-after-fallback 2>&1)
  "$B" inspect fb > "$work/fb.inspect" 2>&1
  boxdir=$(ls -d "$BOXLITE_HOME"/boxes/* | head -1)
  [ $src = 0 ] && [ "$out" = hello-after-fallback ] &&
    ok "the box started anyway and ran a command (status $src, output $out)" ||
    { bad "start after a failed KVM boot: status $src, exec: $out"; cat "$work/fb.err"; tail -30 "$boxdir/vmm.log"; }
  grep -qE "boxlite: the KVM engine could not start this box \(guest shut down \(reboot or triple fault\); CPU template [a-z0-9]+\), so it runs on QEMU instead; please report it" "$work/fb.err" &&
    ok "the CLI printed one notice line saying why and how to report it" ||
    bad "no fallback notice: $(cat "$work/fb.err")"
  [ "$(grep -c . "$work/fb.err")" = 1 ] && ok "the notice is one line" || bad "stderr has $(grep -c . "$work/fb.err") lines"
  grep -qE '"engine": ?"qemu"' "$work/fb.inspect" && grep -qE '"cpu_template": ?"qemu:host"' "$work/fb.inspect" &&
    ok "inspect: it runs on QEMU with KVM acceleration (cpu qemu:host)" ||
    bad "inspect does not show QEMU with -accel kvm: $(cat "$work/fb.inspect")"
  grep -qE '"fallback": ?\{' "$work/fb.inspect" &&
    grep -qE '"reason": ?"guest shut down \(reboot or triple fault\)"' "$work/fb.inspect" &&
    grep -qE '"from": ?"kvm"' "$work/fb.inspect" && grep -qE '"cpu_template": ?"(v3|baseline)"' "$work/fb.inspect" &&
    ok "inspect: runtime.fallback records the KVM exit reason and template" ||
    bad "inspect lacks the fallback record: $(cat "$work/fb.inspect")"
  grep -qE "boxlite: the KVM engine did not bring the guest up \(guest shut down \(reboot or triple fault\); CPU template [a-z0-9]+\)" "$boxdir/vmm.log" &&
    grep -q "last console lines under KVM" "$boxdir/vmm.log" && [ -f "$boxdir/console-kvm.log" ] &&
    ok "the box's vmm.log records the failure; console-kvm.log is kept" ||
    { bad "vmm.log lacks the record"; tail -20 "$boxdir/vmm.log"; }
  "$B" rm -f fb > /dev/null 2>&1

  echo "== no fallback with --engine kvm (internal error)"
  BOXLITE_TEST_BREAK_KVM=internal-error "$B" run --rm --engine kvm "$work/rootfs" echo never > "$work/ie.out" 2> "$work/ie.err"
  irc=$?
  [ $irc != 0 ] && grep -q "KVM_EXIT_INTERNAL_ERROR" "$work/ie.err" && ! grep -q "never" "$work/ie.out" &&
    ! grep -q "runs on QEMU" "$work/ie.err" &&
    ok "an explicit --engine kvm fails with the KVM exit reason and does not fall back" ||
    bad "explicit kvm: status $irc, stderr: $(head -c 600 "$work/ie.err")"
fi

if [ -n "${LAB_CLI:-}" ] && has doctor; then
  echo "== boxlite doctor"
  start=$(date +%s)
  "$B" doctor > "$work/doctor.out" 2>&1
  drc=$?
  sed 's/^/doctor: /' "$work/doctor.out"
  [ $drc = 0 ] && ok "doctor: exit status 0" || bad "doctor: exit status $drc"
  grep -q '^ok    /dev/kvm: opens read-write' "$work/doctor.out" && ok "doctor: /dev/kvm usable" || bad "doctor: /dev/kvm"
  grep -qE '^ok    cpu virtualization: (svm|vmx)' "$work/doctor.out" && ok "doctor: $virt found" || bad "doctor: cpu virtualization"
  grep -q '^ok    engine kvm: usable' "$work/doctor.out" && ok "doctor: KVM engine usable" || bad "doctor: engine kvm"
  grep -q '^ok    engine qemu: usable (with KVM acceleration)' "$work/doctor.out" && ok "doctor: QEMU engine usable with KVM acceleration" || bad "doctor: engine qemu"
  grep -qE '^ok    smoke kvm: .*CPU (v3|baseline)$' "$work/doctor.out" && ok "doctor: a smoke box booted on the KVM engine ($(sed -n 's/^ok    smoke kvm: .*CPU //p' "$work/doctor.out"))" || bad "doctor: smoke kvm"
  grep -q '^ok    smoke qemu: .*CPU qemu:host' "$work/doctor.out" && ok "doctor: a smoke box booted on QEMU with KVM (qemu:host)" || bad "doctor: smoke qemu"
  echo "figure: [$LAB_MODEL] boxlite doctor run time in L1: $(( $(date +%s) - start )) s"
fi

if [ -n "${LAB_CLI:-}" ] && has pause; then
  pe=${LAB_PAUSE_ENGINE:-kvm}
  echo "== pause, resume and fork on the $pe engine, through the CLI and the library"
  info() { "$B" inspect -f "{{.$2}}" "$1" 2>/dev/null; }
  vm_fig() { "$B" stats --no-stream --json "$1" 2>/dev/null | sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" | head -1; }
  # Where a resume's time went (ms): $1 the CLI's exec that resumed, $2 an exec on the running
  # box (the floor), $3 the box's stats (the library's start figures), $4 its vmm.log (the
  # engine's restore line and the agent's HELLO after it).
  resume_phases() {
    printf '%s\n' "$3" | tr -d ' \n' | grep -o '"start":{[^}]*}' | head -1 |
      awk -v total="$1" -v floor="$2" -v model="$LAB_MODEL" \
        -v res="$(grep 'boxlite-vmm: resumed' "$4" | tail -1)" \
        -v hello="$(grep "boxlite-vmm: the agent's HELLO" "$4" | tail -1)" '
      function j(k) { return match($0, "\"" k "\":[0-9.]+") ? substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0 : -1 }
      function after(s, k) { return match(s, k " [0-9.]+") ? substr(s, RSTART + length(k) + 1, RLENGTH - length(k) - 1) + 0 : -1 }
      { st = j("total"); b = after(res, "before the engine"); r = after(res, "resumed"); h = after(hello, "HELLO")
        printf "figure: [%s] the last resume (ms) %d = the library'"'"'s start %.0f (its records %.0f, disk %.0f, spawn to the engine %.0f, the engine'"'"'s restore %.0f, restored to the agent'"'"'s HELLO %.0f, HELLO to the library %.0f, STATUS %.0f, identity and volumes %.0f) + the CLI, the exec and the records after the start %.0f; an exec on the running box %d\n",
          model, total, st + j("claim"), j("claim"), j("disk"), b, r - b, h - r, j("boot_to_ready") - h, j("status"), j("setup") - j("status"), total - st - j("claim"), floor }'
  }
  # Pss (KiB) of a box's processes: those whose command line names its folder (the VMM,
  # its jailed child, QEMU)
  box_pss() {
    bp_id=$("$B" inspect -f '{{.ID}}' "$1" 2>/dev/null) bp_s=0
    [ -n "$bp_id" ] || { echo 0; return; }
    for bp_c in /proc/[0-9]*/cmdline; do
      tr '\0' ' ' < "$bp_c" 2>/dev/null | grep -q "$bp_id" || continue
      bp_v=$(sed -n 's/^Pss: *\([0-9]*\).*/\1/p' "${bp_c%cmdline}smaps_rollup" 2>/dev/null)
      bp_s=$((bp_s + ${bp_v:-0}))
    done
    echo $bp_s
  }
  mkdir -p "$work/vol"
  chmod 0777 "$work/vol" # the jailed VMM's unprivileged user writes there for the guest
  t0=$(ms)
  "$B" run -d --name p --engine $pe -v "$work/vol:/data" "$work/rootfs" sleep 1000000 > /dev/null 2> "$work/p.err"
  first=$("$B" exec p echo first-output 2>&1)
  t1=$(ms)
  [ "$first" = first-output ] && ok "a box on the $pe engine through the CLI ($((t1 - t0)) ms to its first output)" ||
    { bad "run --engine $pe: [$first] $(cat "$work/p.err")"; tail -20 "$(dir_of p)/vmm.log"; }
  pid0=$("$B" exec p sh -c 'echo from-parent > /dev/shm/s; echo before > /data/g; (while true; do sleep 1; done) > /dev/null 2>&1 & echo $!')
  # QEMU's 9p keeps the guest's modes in user.* attributes (cmdline.c), which a tmpfs before
  # Linux 6.6 (L1's) has not: there the guest cannot create files in a volume, so on the
  # QEMU engine the checks only read it
  volw=1
  [ "$pe" = qemu ] && [ "$(stat -f -c %T "$work/vol")" = tmpfs ] && [ ! -e "$work/vol/g" ] && volw=0 &&
    echo "skip: [$LAB_MODEL] the guest's writes to a volume on $pe (this tmpfs has no user.* attributes)"
  # On the KVM engine the volume stays mounted across the pause (virtio-9p saves the guest's
  # 9P session, src/vmm/fs/p9_session.c): a process writing to a file it holds open there
  # does not refuse the pause (QEMU's unmount would: "volume /data is in use") and writes
  # on after the resume, into the same host file.
  held=0
  if [ "$pe" = kvm ] && [ $volw = 1 ]; then
    "$B" exec p sh -c '(exec 3>> /data/held; while true; do echo x >&3; sleep 1; done) > /dev/null 2>&1 &'
    held=1
  fi
  # the balloon: a target set while it runs (BALLOON), reached before the pause
  "$B" balloon p 400m > /dev/null 2>&1
  i=0
  while [ $i -lt 90 ] && [ "$(vm_fig p balloon_actual_mib)" != 400 ]; do sleep 1; i=$((i + 1)); done
  bal0="$(vm_fig p balloon_target_mib) $(vm_fig p balloon_actual_mib)"
  "$B" pause p > /dev/null 2> "$work/pause.err"
  prc=$?
  [ $prc = 0 ] && [ "$(info p state)" = paused ] && [ -s "$(dir_of p)/memory.state" ] &&
    ok "boxlite pause: the box is paused, its state in the box folder ($(stat -c %s "$(dir_of p)/memory.state") bytes)" ||
    { bad "pause: status $prc, state $(info p state): $(cat "$work/pause.err")"; tail -20 "$(dir_of p)/vmm.log"; }
  grep -q "paused: memory saved" "$(dir_of p)/vmm.log" && ok "vmm.log: the $pe engine saved the memory" ||
    bad "vmm.log: $(tail -3 "$(dir_of p)/vmm.log")"
  t2=$(ms)
  again=$("$B" exec p cat /dev/shm/s 2>&1)
  t3=$(ms)
  [ "$again" = from-parent ] && ok "the next exec resumes it with its tmpfs ($((t3 - t2)) ms to the output)" ||
    { bad "after resume: [$again]"; tail -20 "$(dir_of p)/vmm.log"; }
  "$B" exec p kill -0 "$pid0" && ok "the loop started before the pause runs on (pid $pid0)" || bad "the loop $pid0 is gone"
  grep -qE "\"engine\": ?\"$pe\"" "$(dir_of p)/vmm.json" && ok "it resumed on the engine that paused it ($pe)" ||
    bad "vmm.json engine: $(grep engine "$(dir_of p)/vmm.json")"
  # its volume (virtio-9p): on QEMU unmounted by the agent for the pause, mounted again on
  # resume; on the KVM engine mounted throughout
  echo while-paused > "$work/vol/h"
  if [ $volw = 1 ]; then
    v=$("$B" exec p sh -c 'cat /data/g /data/h; echo after > /data/g; grep -c " 9p " /proc/mounts' 2>&1 | tr '\n' ' ')
    [ "$v" = "before while-paused 1 " ] && [ "$(cat "$work/vol/g")" = after ] &&
      ok "its volume is mounted again: the guest's write and the host's are read, a new write reaches the host" ||
      { bad "volume after resume: [$v], host sees [$(cat "$work/vol/g")]"; tail -20 "$(dir_of p)/vmm.log"; }
  else
    v=$("$B" exec p sh -c 'cat /data/h; grep -c " 9p " /proc/mounts' 2>&1 | tr '\n' ' ')
    [ "$v" = "while-paused 1 " ] && ok "its volume is mounted again: the host's write is read" ||
      { bad "volume after resume: [$v]"; tail -20 "$(dir_of p)/vmm.log"; }
  fi
  if [ $held = 1 ]; then
    n0=$(wc -l < "$work/vol/held" 2>/dev/null || echo 0)
    sleep 3
    n1=$(wc -l < "$work/vol/held" 2>/dev/null || echo 0)
    [ "${n0:-0}" -gt 0 ] && [ "${n1:-0}" -gt "${n0:-0}" ] &&
      ok "a file held open on the volume across the pause is written on after it ($n0 -> $n1 lines)" ||
      { bad "the file held open on the volume: $n0 -> $n1 lines after the resume"; tail -20 "$(dir_of p)/vmm.log"; }
  fi
  # the balloon's target and inflated pages survived (the KVM engine's balloon.c state;
  # QEMU's migrated device and the target in the state's header, src/vmm/qemu/migrate.c)
  bal1="$(vm_fig p balloon_target_mib) $(vm_fig p balloon_actual_mib)"
  [ "$bal0" = "400 400" ] && [ "$bal1" = "$bal0" ] &&
    ok "the balloon's target and size hold across the pause (target, actual MiB: $bal1)" ||
    bad "balloon before the pause [$bal0], after [$bal1] (400 400 expected)"
  # free page reporting goes on after the resume: memory the guest frees is given back
  ret0=$(vm_fig p mem_returned_bytes)
  "$B" exec p sh -c 'head -c 32m /dev/zero > /dev/shm/big; rm /dev/shm/big'
  i=0
  while [ $i -lt 30 ] && [ "$(vm_fig p mem_returned_bytes)" -le "${ret0:-0}" ]; do sleep 1; i=$((i + 1)); done
  ret1=$(vm_fig p mem_returned_bytes)
  [ -n "$ret0" ] && [ "${ret1:-0}" -gt "$ret0" ] &&
    ok "free page reporting returns memory after the resume ($ret0 -> $ret1 bytes)" ||
    bad "no memory returned after the resume in ${i} s: $ret0 -> $ret1"
  "$B" balloon p none > /dev/null 2>&1
  # figures: $LAB_PAUSE_ROUNDS (1) of each, alternating, the best taken (bench/lab_pause.sh)
  cold=$((t1 - t0)) warm=$((t3 - t2)) last=$((t3 - t2))
  i=1
  while [ $i -lt "${LAB_PAUSE_ROUNDS:-1}" ]; do
    a=$(ms); "$B" run -d --name c$i --engine $pe "$work/rootfs" sleep 1000000 > /dev/null 2>&1
    "$B" exec c$i true; b=$(ms); "$B" rm -f c$i > /dev/null 2>&1
    [ $((b - a)) -lt $cold ] && cold=$((b - a))
    pss0=$(box_pss p)
    "$B" pause p > /dev/null 2>&1
    a=$(ms); "$B" exec p true; b=$(ms)
    [ $((b - a)) -lt $warm ] && warm=$((b - a))
    last=$((b - a))
    i=$((i + 1))
  done
  rtt0=$(ms); "$B" exec p true; rtt=$(( $(ms) - rtt0 ))
  [ -n "${pss0:-}" ] && echo "figure: [$LAB_MODEL] $pe engine, box p's Pss before its last pause $pss0 KiB, after the resume and two execs $(box_pss p) KiB"
  echo "figure: [$LAB_MODEL] $pe engine through the CLI (best of ${LAB_PAUSE_ROUNDS:-1}): cold create to first output $cold ms, resume to first output $warm ms, ratio $(awk -v a=$warm -v b=$cold 'BEGIN { printf "%.2f", a / b }')"
  echo "figure: [$LAB_MODEL] the same CLI's exec on a running box (the floor of both): $rtt ms"
  # the CLI's own start, which every exec pays (its shared objects: src/common/lazylib.h)
  st=99999
  for _ in 1 2 3 4 5; do a=$(ms); "$B" --version > /dev/null; b=$(ms); [ $((b - a)) -lt $st ] && st=$((b - a)); done
  echo "figure: [$LAB_MODEL] the CLI's own start (boxlite --version, best of 5): $st ms"
  echo "figure: [$LAB_MODEL] the library's last start of it (ms): $("$B" stats --no-stream --json p 2>/dev/null | grep -o '"start":{[^}]*}' | head -1) (L1's THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null))"
  echo "figure: [$LAB_MODEL] the last resume in vmm.log: $(grep 'boxlite-vmm: resume' "$(dir_of p)/vmm.log" | tail -1 | sed 's/^.*boxlite-vmm: //')"
  # (the KVM engine's vmm.log lines; QEMU's resume line above has its own phases)
  [ "$pe" = kvm ] && echo "figure: [$LAB_MODEL] every resume of box p, restored to the agent's HELLO (ms, first to last): $(awk '
    function num(k) { match($0, k " [0-9.]+"); return substr($0, RSTART + length(k) + 1, RLENGTH - length(k) - 1) + 0 }
    /boxlite-vmm: resumed / { r = num("resumed") }
    /boxlite-vmm: the agent.s HELLO / && r != "" { printf "%.0f ", num("HELLO") - r; r = "" }' "$(dir_of p)/vmm.log")"
  [ "$pe" = kvm ] && resume_phases "$last" "$rtt" "$("$B" stats --no-stream --json p 2>/dev/null)" "$(dir_of p)/vmm.log"
  # KVM's own counters (src/vmm/kvm/kvm_stats.c) at the agent's HELLO and at the first
  # exec's end after it, for the cold start and every resume of box p: what each phase cost
  # in exits and page faults (L1 is Linux 6.1: it has KVM's binary statistics)
  if [ "$pe" = kvm ]; then
    kc=$(grep -c 'boxlite-vmm: KVM counters, .* -> the agent.s HELLO' "$(dir_of p)/vmm.log")
    resumes=$(grep -c 'boxlite-vmm: resumed ' "$(dir_of p)/vmm.log")
    [ "$kc" -gt "$resumes" ] && [ "$resumes" -gt 0 ] &&
      ok "vmm.log: KVM's counters at the cold start's and every resume's HELLO ($kc lines, $resumes resumes)" ||
      bad "vmm.log: $kc lines of KVM counters at a HELLO for $resumes resumes and a cold start"
    grep 'boxlite-vmm: KVM counters' "$(dir_of p)/vmm.log" | sed "s/^.*boxlite-vmm: KVM counters, /figure: [$LAB_MODEL] KVM counters of box p, /"
  fi

  out=$("$B" fork p f1 f2 2>&1)
  frc=$?
  [ $frc = 0 ] && [ "$(echo "$out" | grep -cE '^[0-9a-f]{32}$')" = 2 ] && ok "boxlite fork p f1 f2: two ids" ||
    { bad "fork: status $frc: $out"; tail -20 "$(dir_of p)/vmm.log"; }
  running=$("$B" ps -q --filter status=running | wc -l)
  [ "$running" = 3 ] && ok "the source and both forks run at once" || bad "$running boxes run (3 expected)"
  macs=$("$B" exec p cat /sys/class/net/eth0/address)
  boots=$("$B" exec p cat /proc/sys/kernel/random/boot_id)
  rands=$("$B" exec p sh -c 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " "')
  hosts=p
  for f in f1 f2; do
    line=$("$B" exec $f sh -c 'echo "$(hostname) $(cat /sys/class/net/eth0/address) $(cat /dev/shm/s) $(head -c 16 /dev/urandom | od -An -tx1 | tr -d " ") $(cat /proc/sys/kernel/random/boot_id)"' 2>&1)
    read -r h m s r b <<EOF2
$line
EOF2
    [ "$s" = from-parent ] && ok "$f sees the parent's tmpfs file" || { bad "$f: [$line]"; tail -20 "$(dir_of $f)/vmm.log"; }
    [ "$h" = $f ] && ok "$f has its own name as host name" || bad "$f host name [$h]"
    want=$(sed -n 's/.*"mac": *"\([0-9a-f:]*\)".*/\1/p' "$(dir_of $f)/vmm.json" | head -1)
    [ -n "$m" ] && [ "$m" = "$want" ] && ok "$f's eth0 has the MAC its vmm.json gave virtio-net ($m)" ||
      bad "$f MAC [$m], vmm.json network.mac [$want]"
    "$B" exec $f kill -0 "$pid0" && ok "$f runs the loop forked with the parent" || bad "$f: the loop is not there"
    grep -q "RNG reseeded from the host's seed" "$(dir_of $f)/console.log" && ok "$f's agent reseeded its RNG" ||
      bad "$f: no reseed in its console"
    hosts="$hosts $h" macs="$macs $m" rands="$rands $r" boots="$boots $b"
  done
  n() { echo $1 | tr ' ' '\n' | sort -u | wc -l; }
  [ "$(n "$hosts")" = 3 ] && [ "$(n "$macs")" = 3 ] && [ "$(n "$rands")" = 3 ] && [ "$(n "$boots")" = 3 ] &&
    ok "three different host names, MACs, random streams and boot_ids" ||
    bad "not all different: hosts [$hosts] MACs [$macs] random [$rands] boot_ids [$boots]"
  "$B" exec f1 sh -c 'echo f1-only > /dev/shm/s'
  [ "$("$B" exec f2 cat /dev/shm/s)" = from-parent ] && [ "$("$B" exec p cat /dev/shm/s)" = from-parent ] &&
    ok "a fork's writes are its own (copy-on-write of the shared memory file)" || bad "f1's write reached another box"
  # virtio-net's config space: the driver probed again (unbind, bind) reads the MAC there,
  # which must be the fork's, not the parent's nor the default. The KVM engine's only: QEMU
  # keeps the MAC its migrated state holds (src/runtime/pause.c), IDENTITY sets eth0's.
  if [ "$pe" = kvm ]; then
    want=$(sed -n 's/.*"mac": *"\([0-9a-f:]*\)".*/\1/p' "$(dir_of f2)/vmm.json" | head -1)
    re=$("$B" exec f2 sh -c 'd=$(basename $(readlink /sys/class/net/eth0/device)); mkdir -p /tmp/s &&
      mount -t sysfs sysfs /tmp/s && echo $d > /tmp/s/bus/virtio/drivers/virtio_net/unbind &&
      echo $d > /tmp/s/bus/virtio/drivers/virtio_net/bind && sleep 1 && cat /tmp/s/class/net/eth*/address' 2>&1)
    [ -n "$want" ] && [ "$re" = "$want" ] && ok "f2's virtio-net config space holds its new MAC (read again by the driver: $re)" ||
      bad "f2 after a driver re-probe: [$re], its MAC [$want]"
  else
    echo "skip: [$LAB_MODEL] a fork's MAC in virtio-net's config space (the KVM engine's)"
  fi
  "$B" rm -f p f1 f2 > /dev/null 2>&1

  # auto-pause of a box with a volume: the VMM has the agent unmount it first (main.c)
  "$B" run -d --name ap --engine $pe --idle-pause 3s -v "$work/vol:/data" "$work/rootfs" sleep 1000000 > /dev/null 2>&1
  # (the guest's write to the volume only where it can create files: volw above)
  wa="" ra=""; [ $volw = 1 ] && wa="echo auto > /data/a" && ra=/data/a
  "$B" exec ap sh -c "echo kept > /dev/shm/k; $wa"
  i=0
  while [ $i -lt 60 ] && [ "$(info ap state)" != paused ]; do sleep 1; i=$((i + 1)); done
  [ "$(info ap state)" = paused ] && grep -q "paused: memory saved" "$(dir_of ap)/vmm.log" &&
    ok "--idle-pause 3s pauses an idle $pe box with a volume ($i s)" ||
    { bad "auto-pause with a volume: state $(info ap state) after $i s"; tail -20 "$(dir_of ap)/vmm.log"; }
  v=$("$B" exec ap sh -c "cat /dev/shm/k ${ra:-}; grep -c ' 9p ' /proc/mounts" 2>&1 | tr '\n' ' ')
  [ "$v" = "kept ${ra:+auto }1 " ] && ok "the next exec resumes it with its tmpfs and its volume mounted again" ||
    { bad "after the auto-pause: [$v]"; tail -20 "$(dir_of ap)/vmm.log"; }
  "$B" rm -f ap > /dev/null 2>&1
fi

# A fork of N boxes against N cold boxes, same run, same engine (issue 16's figure: RSS of
# the forks at most 0.3x). Opt-in ("forks" in LAB_SECTIONS: bench/lab_pause.sh): it boots
# 2N + 1 boxes.
if [ -n "${LAB_CLI:-}" ] && has forks; then
  . "$(dirname "$0")/procmem.sh" # field, kib, settle
  pe=${LAB_PAUSE_ENGINE:-kvm} nf=${LAB_PAUSE_FORKS:-10} warm=${LAB_PAUSE_WARM_MIB:-0}
  echo "== a fork of $nf boxes against $nf cold boxes on the $pe engine ($warm MiB written to each one's tmpfs)"
  pids_of() { for x in "$@"; do "$B" inspect -f '{{.pid}}' "$x" 2>/dev/null; done; }
  # "RSS PSS" (KiB) of boxes: each one's per-box process and every process below it
  boxes_kib() {
    bk_r=0 bk_s=0
    for bk_p in $(pids_of "$@"); do
      [ "$bk_p" -gt 0 ] 2>/dev/null || continue
      bk_r=$((bk_r + $(kib "$bk_p" VmRSS))) bk_s=$((bk_s + $(kib "$bk_p" Pss)))
    done
    echo "$bk_r $bk_s"
  }
  # MemAvailable, MemFree and Shmem (KiB): in the lab the box folders live on L1's tmpfs, so
  # the memory file the forks map shows in Shmem
  meminfo() { echo "$(field /proc/meminfo MemAvailable) $(field /proc/meminfo MemFree) $(field /proc/meminfo Shmem)"; }
  mib() { echo $(($1 / 1024)); }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }
  # (random data: zeros did not reach the memory file in the lab, so no fork paid for them)
  fill=true
  [ "$warm" -gt 0 ] && fill="dd if=/dev/urandom of=/dev/shm/warm bs=1M count=$warm 2>/dev/null"
  colds="" forks="" i=1
  while [ $i -le "$nf" ]; do colds="$colds c$i" forks="$forks f$i" i=$((i + 1)); done
  oom0=$(dmesg | grep -c 'Out of memory')

  # N cold boxes started one after another, each ready (an exec answered, after its tmpfs
  # is filled) before the next: ten started at once in the lab's one-vCPU L1 did not all
  # answer within 15 minutes. Every CLI call here has a time limit, so a stuck box fails
  # its check instead of hanging the run.
  set -- $(meminfo); a0=$1 m0=$2 h0=$3
  t0=$(ms)
  for x in $colds; do
    timeout 300 "$B" run -d --name $x --engine $pe "$work/rootfs" sleep 1000000 > /dev/null 2> "$work/$x.err" &&
      timeout 120 "$B" exec $x sh -c "$fill && echo up" > "$work/$x.up" 2>> "$work/$x.err"
    echo "forks: cold box $x ready at $(($(ms) - t0)) ms: $(cat "$work/$x.up" 2>/dev/null)"
  done
  t1=$(ms) up=0
  for x in $colds; do [ "$(cat "$work/$x.up" 2>/dev/null)" = up ] && up=$((up + 1)); done
  [ $up = "$nf" ] && ok "$nf cold boxes started one after another on the $pe engine, each answered an exec" ||
    { bad "only $up of $nf cold boxes answered an exec: $(cat "$work"/c*.err | head -5)"; tail -10 "$(dir_of c1)/vmm.log"; }
  settle $(pids_of $colds)
  set -- $(boxes_kib $colds); c_rss=$1 c_pss=$2
  set -- $(meminfo); c_av=$((a0 - $1)) c_fr=$((m0 - $2)) c_sh=$(($3 - h0))
  c_ms=$((t1 - t0))
  echo "figure: [$LAB_MODEL] $nf cold boxes ($pe engine, 512 MiB, one after another): $c_ms ms from the first run to the last ready (an exec answered); settled: RSS sum $(mib $c_rss) MiB, PSS sum $(mib $c_pss) MiB; MemAvailable fell by $(mib $c_av) MiB, MemFree by $(mib $c_fr) MiB, Shmem grew by $(mib $c_sh) MiB"
  "$B" rm -f $colds > /dev/null 2>&1

  # one idle source, then `fork src f1 ... fN`; ready is all N answering an exec at once
  set -- $(meminfo); a1=$1 m1=$2
  timeout 300 "$B" run -d --name src --engine $pe "$work/rootfs" sleep 1000000 > /dev/null 2> "$work/src.err"
  timeout 120 "$B" exec src sh -c "echo from-source > /dev/shm/s && $fill" > /dev/null 2>> "$work/src.err"
  settle $(pids_of src)
  set -- $(boxes_kib src); s_rss=$1 s_pss=$2
  set -- $(meminfo); s_av=$((a1 - $1)) s_fr=$((m1 - $2)) a2=$1 m2=$2 h2=$3
  t2=$(ms)
  out=$(timeout 600 "$B" fork src $forks 2>&1)
  frc=$?
  echo "forks: the fork command ended at $(($(ms) - t2)) ms (status $frc)"
  bg=""
  for x in $forks; do
    timeout 120 "$B" exec $x sh -c 'echo "$(hostname) $(cat /dev/shm/s)"' > "$work/$x.up" 2>&1 &
    bg="$bg $!"
  done
  wait $bg
  t3=$(ms)
  [ $frc = 0 ] && [ "$(echo "$out" | grep -cE '^[0-9a-f]{32}$')" = "$nf" ] && ok "boxlite fork src f1 ... f$nf: $nf ids" ||
    { bad "fork of $nf: status $frc: $(echo "$out" | tail -3)"; tail -20 "$(dir_of src)/vmm.log"; }
  good=0 hosts=$(timeout 120 "$B" exec src hostname 2>&1)
  for x in $forks; do
    h="" v=""
    read -r h v 2>/dev/null < "$work/$x.up"
    [ "$h" = $x ] && [ "$v" = from-source ] && good=$((good + 1)) || echo "$x: $(cat "$work/$x.up" 2>/dev/null)"
    hosts="$hosts $h"
  done
  [ $good = "$nf" ] && ok "each of the $nf forks answered an exec, with its own host name and the source's tmpfs" ||
    { bad "$good of $nf forks answered an exec with their own host name and the source's tmpfs"; tail -10 "$(dir_of f1)/vmm.log"; }
  [ "$(echo $hosts | tr ' ' '\n' | sort -u | wc -l)" = $((nf + 1)) ] && ok "$((nf + 1)) different host names (the source and its forks)" ||
    bad "host names not all different: $hosts"
  settle $(pids_of src $forks)
  set -- $(boxes_kib $forks); f_rss=$1 f_pss=$2
  set -- $(boxes_kib src); s2_rss=$1 s2_pss=$2
  set -- $(meminfo); f_av=$((a2 - $1)) f_fr=$((m2 - $2)) f_sh=$(($3 - h2)) t_av=$((a1 - $1)) t_fr=$((m1 - $2))
  f_ms=$((t3 - t2))
  echo "figure: [$LAB_MODEL] fork of $nf ($pe engine): $f_ms ms from the fork command to all $nf answering an exec ($(ratio $f_ms $c_ms)x the cold boxes' $c_ms ms)"
  echo "figure: [$LAB_MODEL] the $nf forks settled: RSS sum $(mib $f_rss) MiB, PSS sum $(mib $f_pss) MiB; MemAvailable fell by $(mib $f_av) MiB, MemFree by $(mib $f_fr) MiB, Shmem grew by $(mib $f_sh) MiB from before the fork (the source running)"
  echo "figure: [$LAB_MODEL] the source apart: RSS $(mib $s_rss) MiB, PSS $(mib $s_pss) MiB before the fork (MemAvailable fell by $(mib $s_av) MiB, MemFree by $(mib $s_fr) MiB for it), RSS $(mib $s2_rss) MiB, PSS $(mib $s2_pss) MiB after"
  # the pause moves the source's own RAM into the shared memory file: the drops from before
  # the source started count it once, with its forks
  echo "figure: [$LAB_MODEL] the source and its $nf forks together: MemAvailable fell by $(mib $t_av) MiB, MemFree by $(mib $t_fr) MiB from before the source started ($(ratio $t_av $c_av)x, $(ratio $t_fr $c_fr)x the cold boxes' drops)"
  r=$(ratio $f_rss $c_rss)
  met=$(awk -v r="$r" 'BEGIN { print (r != "?" && r <= 0.3) ? "met" : "NOT met" }')
  echo "figure: [$LAB_MODEL] $nf forks against $nf cold boxes ($pe engine, $warm MiB of tmpfs each): RSS ${r}x, PSS $(ratio $f_pss $c_pss)x, MemAvailable drop $(ratio $f_av $c_av)x, MemFree drop $(ratio $f_fr $c_fr)x, wall $(ratio $f_ms $c_ms)x; issue 16's goal RSS <= 0.3x: $met"
  oom=$(($(dmesg | grep -c 'Out of memory') - oom0))
  [ $oom = 0 ] && ok "no OOM kill in L1 with $((nf + 1)) boxes" || bad "$oom OOM kills in L1: $(dmesg | grep 'Out of memory' | tail -2)"
  "$B" rm -f src $forks > /dev/null 2>&1
fi

rm -rf "$work"
echo "matrix: $pass passed, $fail failed"
[ $fail = 0 ]
