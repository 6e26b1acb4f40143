#!/usr/bin/env bash
# An upgrade of sprig that adds a device to QEMU's line (as the balloon
# did) keeps what was saved under the old line: a sleeping sprite wakes
# with its processes, and an old memory checkpoint restores. The guest sees
# the new device once it boots again. The old line is today's without the
# balloon, through a wrapper.
source "$(dirname "$0")/lib.sh"
shared_image

mkdir -p "$SPRIG_HOME/bin"
cat >"$SPRIG_HOME/bin/qemu" <<'EOF'
#!/bin/bash
args=()
for a in "$@"; do
	if [[ $a == virtio-balloon-pci,* ]]; then
		unset 'args[-1]'	# its -device
		continue
	fi
	args+=("$a")
done
exec qemu-system-x86_64 "${args[@]}"
EOF
chmod +x "$SPRIG_HOME/bin/qemu"

# The guest's virtio devices by type: 5 is the balloon.
balloons() { sprig exec box -- sh -c 'grep -lx 0x0005 /sys/bus/virtio/devices/*/device | wc -l'; }
count() { sprig exec box -- cat /tmp/count; }
alive() { sprig exec box -- sh -c "kill -0 $1 2>/dev/null && echo alive || echo dead"; }
qemu_line() { tr '\0' ' ' <"/proc/$(cat "$SPRIG_HOME/run/box/qemu.pid")/cmdline"; }

export SPRIG_QEMU=$SPRIG_HOME/bin/qemu
sprig create box >/dev/null
expect_eq "under the old line the guest has no balloon" 0 "$(balloons)"
sprig exec box -- sh -c 'sh -c '\''echo $$ > /tmp/pid; i=0; while :; do i=$((i+1));
    echo $i > /tmp/count; sleep 0.1; done'\'' >/dev/null 2>&1 &'
sleep 1
pid=$(sprig exec box -- cat /tmp/pid)
sprig checkpoint box --memory -m "old line" >/dev/null
slept=$(count)
sprig sleep box >/dev/null
sprig serve --stop >/dev/null

# The upgraded daemon: today's line.
unset SPRIG_QEMU
expect_eq "after the upgrade the sprite is still asleep" sleeping \
    "$(sprite_state box)"
expect_eq "an exec wakes it with its process" alive "$(alive "$pid")"
expect_contains "under the new line" "virtio-balloon-pci" "$(qemu_line)"
now=$(count)
if [ "$now" -ge "$slept" ]; then
	pass "its counter went on ($slept -> $now)"
else
	fail "its counter went on: $slept -> $now"
fi
expect_eq "the running guest does not see the new device" 0 "$(balloons)"
sprig restore box v0 >/dev/null
expect_eq "the old memory checkpoint restores, with its process" alive "$(alive "$pid")"
sprig sleep box >/dev/null
expect_eq "and sleeps and wakes again" alive "$(alive "$pid")"
sprig stop box >/dev/null
sprig start box >/dev/null
expect_eq "once it boots again it has the balloon" 1 "$(balloons)"
sprig destroy box >/dev/null
finish
