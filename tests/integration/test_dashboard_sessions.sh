#!/usr/bin/env bash
# A dashboard console's shell outlives the console: closing the console (x)
# or quitting the dashboard detaches, `sprig sessions` lists the shell
# running, and opening the console again re-attaches to the same shell: the
# screen comes back from the output the daemon kept and a variable set
# before is still set. K ends the shell for good. A shell ended under the
# console (the sprite slept) is replaced by a new one on re-attach.
source "$(dirname "$0")/lib.sh"
shared_image

command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }

on_exit 'tm kill-server'	# the dashboard's tmux, before the daemon goes

# A tmux server still on its way out after kill-server refuses a new
# session ("server exited unexpectedly"): try again.
dashboard() {
	local i
	for i in 1 2 3 4 5; do
		tm -f /dev/null new-session -d -s dash -x 120 -y 40 \
		    "sprig; echo dashboard-exited-\$?; sleep 60" 2>/dev/null && return 0
		sleep 0.5
	done
	fail "tmux would not start a session"
	return 1
}
# The console shells' lines in `sprig sessions dev`.
consoles() { sprig sessions dev | grep -F 'env SPRIG_CONSOLE=1 /bin/sh -l' || true; }

sprig create dev >/dev/null
dashboard
wait_screen "the dashboard lists dev" "^>?dev +running"

keys Enter
wait_screen "the console opens with a prompt" "root@dev:.*#" 120
wait_screen "its title names the shell's session" "\[1\] dev console  shell [0-9]+"
id=$(grep -oE '\[1\] dev console  shell [0-9]+' <<<"$SCREEN" | grep -oE '[0-9]+$')
type_line 'echo before-detach; x=42'
wait_screen "the command's output is on the screen" "^before-detach"

keys C-b
keys x
wait_screen "x detaches the console" "dev: console detached \(shell $id runs on\)"
if grep -qF "[1] dev console" <<<"$SCREEN"; then fail "the pane is gone"; else pass "the pane is gone"; fi
expect_contains "sprig sessions lists the console's shell running" "running" \
    "$(consoles | grep "^$id ")"

keys Enter
wait_screen "re-opening re-attaches to the same shell" "\[1\] dev console  shell $id" 60
wait_screen "the kept output brings the screen back" "^before-detach" 30
type_line 'echo "got-$x"'
wait_screen "it is the same shell: the variable is still set" "^got-42" 30
expect_eq "no second shell was started" 1 "$(consoles | wc -l)"

# A command, its Enter and the quit typed at once, as a paste would: the
# dashboard reads them in one go, and the keys still reach the shell.
keys 'echo typed-before-quit > /tmp/typed' Enter C-b q
wait_screen "q quits with status 0" "dashboard-exited-0"
typed=
for ((i = 0; i < 25; i++)); do
	typed=$(sprig exec dev -- cat /tmp/typed 2>/dev/null || true)
	[ -n "$typed" ] && break
	sleep 0.2
done
expect_eq "keys typed just before quitting reach the shell" typed-before-quit "$typed"
expect_contains "after the dashboard quit the shell still runs" "running" "$(consoles | grep "^$id ")"

tm kill-server
dashboard
wait_screen "a new dashboard lists dev" "^>?dev +running"
keys Enter
wait_screen "a new dashboard re-attaches to the shell" "\[1\] dev console  shell $id" 60
wait_screen "and shows what it printed before" "^got-42" 30

keys C-b
keys K
wait_screen "K ends the shell" "dev: shell $id ended" 30
expect_eq "the shell is no longer listed" "" "$(consoles)"

# A new console now starts a new shell; the sprite put to sleep ends it.
keys Enter
wait_screen "a console after K starts a new shell" "\[1\] dev console  shell [0-9]+" 60
id2=$(grep -oE '\[1\] dev console  shell [0-9]+' <<<"$SCREEN" | grep -oE '[0-9]+$')
[ "$id2" != "$id" ] && pass "the new shell is another session" ||
	fail "the new shell is another session: still $id"
wait_screen "the new shell has a prompt" "root@dev:.*#" 60
keys C-b
keys -l ":sleep dev"
keys Enter
wait_screen "the console says its sprite went to sleep" "went to sleep" 120
wait_screen "and offers to re-attach" "enter: re-attach"
keys 1
keys Enter
wait_screen "re-attach after a sleep opens a new shell" \
    "\[1\] dev console  shell ([0-9]+)" 120
id3=$(grep -oE '\[1\] dev console  shell [0-9]+' <<<"$SCREEN" | grep -oE '[0-9]+$')
[ "$id3" != "$id2" ] && pass "the shell the sleep ended is not re-attached to" ||
	fail "the shell the sleep ended is not re-attached to: still $id2"
wait_screen "and it has a prompt" "root@dev:.*#" 120

keys C-b
keys q
wait_screen "q quits" "dashboard-exited-0"
finish
