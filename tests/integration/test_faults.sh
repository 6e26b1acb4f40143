#!/usr/bin/env bash
# Faults: a killed QEMU, a killed daemon, a missing QEMU, a guest that never
# boots. Each gives a clear error and loses nothing.
source "$(dirname "$0")/lib.sh"
shared_image

sprig create dev >/dev/null

# QEMU killed with SIGKILL under a running exec: the exec fails, the sprite
# shows stopped, and it starts again.
sprig exec dev -- sleep 30 >"$SPRIG_HOME/exec.out" 2>&1 &
exec_pid=$!
sleep 1
kill -9 $(test_qemu_pids)
set +e
wait $exec_pid
code=$?
set -e
[ "$code" -ne 0 ] && pass "exec fails when QEMU dies (exit $code)" || fail "exec exited 0 after QEMU died"
expect_contains "and says the sprite stopped" "stopped" "$(cat "$SPRIG_HOME/exec.out")"
expect_contains "the sprite shows stopped" "stopped" "$(sprig list | grep '^dev ')"
sprig start dev >/dev/null
expect_eq "it starts again" "ok" "$(sprig exec dev -- echo ok)"

# The daemon killed with SIGKILL while the sprite runs: the next command
# starts a new daemon, which re-adopts the VM, and it still answers.
qemu_before=$(test_qemu_pids)
kill -9 "$(cat "$SPRIG_HOME/daemon.pid")"
expect_eq "exec after the daemon was killed" "still here" "$(sprig exec dev -- echo still here)"
expect_eq "the same QEMU process was adopted" "$qemu_before" "$(test_qemu_pids)"
expect_contains "and is shown running" "running" "$(sprig list | grep '^dev ')"
kill -9 "$(cat "$SPRIG_HOME/daemon.pid")"
sprig stop dev >/dev/null && pass "stop waits for the re-adoption" || fail "stop right after a daemon restart"
sprig start dev >/dev/null

# A VM that died while no daemon watched is shown stopped.
sprig serve --stop >/dev/null
kill -9 $(test_qemu_pids)
expect_contains "died while the daemon was away: stopped" "stopped" "$(sprig list | grep '^dev ')"

# A VM that answers nothing (its QEMU frozen with SIGSTOP: neither the
# guest nor QEMU's monitor responds) still stops: the clean shutdown times
# out, then the monitor's quit, then QEMU is killed.
sprig start dev >/dev/null
kill -STOP $(test_qemu_pids)
t0=$(date +%s)
expect_eq "a frozen VM stops anyway" "dev" "$(timeout 60 sprig stop dev 2>&1)"
took=$(($(date +%s) - t0))
[ "$took" -le 25 ] && pass "within the grace times ($took s)" || fail "stop took $took s"
expect_eq "no QEMU is left" "" "$(test_qemu_pids)"
expect_contains "it shows stopped" "stopped" "$(sprig list | grep '^dev ')"
expect_eq "and starts again" "ok" "$(sprig start dev >/dev/null && sprig exec dev -- echo ok)"
sprig stop dev >/dev/null

# QEMU missing: a clear error, nothing half-made.
sprig serve --stop >/dev/null
set +e
out=$(SPRIG_QEMU=/nonexistent/qemu sprig create web 2>&1)
code=$?
set -e
expect_eq "create without QEMU fails" 1 "$code"
expect_contains "and says QEMU is missing" "QEMU is not installed" "$out"
expect_eq "no sprite was left" "" "$(sprig list | grep '^web ' || true)"
sprig serve --stop >/dev/null

# A guest that never boots: a custom image whose init hangs; the error has
# the console's last lines.
lib="$SPRIG_HOME/libexec"
mkdir -p "$lib/images"
ln -s "$SPRIG_BUILD/sprig-init" "$lib/sprig-init"
cat >"$lib/images/hang.sh" <<SH
set -e
out=\$1
img=\$(dirname "\$(ls -t "$SPRIG_HOME"/images/minimal/*/rootfs.img | head -1)")
cp "\$img/vmlinuz" "\$img/rootfs.img" "\$out/"
root=\$(mktemp -d)
mkdir -p "\$root/bin" "\$root/dev"
cp /bin/busybox "\$root/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs dev /dev\n/bin/busybox echo "hang: this guest never boots" > /dev/ttyS0\nwhile :; do /bin/busybox sleep 100; done\n' > "\$root/init"
chmod +x "\$root/init"
(cd "\$root" && find . | cpio -o -H newc --quiet | gzip) > "\$out/initrd.img"
rm -rf "\$root"
SH
set +e
out=$(SPRIG_LIBEXEC="$lib" SPRIG_BOOT_TIMEOUT=15 sprig create stuck --image hang 2>&1)
code=$?
set -e
expect_eq "a guest that never boots fails" 1 "$code"
expect_contains "with a timeout" "did not boot in time" "$out"
expect_contains "and the console's tail" "this guest never boots" "$out"
expect_eq "no sprite was left" "" "$(sprig list | grep '^stuck ' || true)"
expect_eq "no QEMU was left" "" "$(test_qemu_pids)"
finish
