#!/usr/bin/env bash
# The dashboard as a person sees it: `sprig` runs in tmux at 120x40 against a
# real daemon and real QEMU, keys go in with send-keys, and what is on the
# screen comes back with capture-pane: the list with states, the timeline
# tree after two checkpoints and a restore, a console showing the output of
# a command typed into it, two consoles side by side, the help screen, an
# invalid command answered on the status line, the too-small message, and
# "reconnecting" while the daemon is away.
source "$(dirname "$0")/lib.sh"
shared_image

command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }

on_exit 'tm kill-server'	# the dashboard's tmux, before the daemon goes


expect_contains "without a terminal, sprig lists the commands" "sprig create" "$(sprig </dev/null)"

sprig create dev >/dev/null
sprig stop dev >/dev/null
sprig create box >/dev/null

tm -f /dev/null new-session -d -s dash -x 120 -y 40 "sprig; echo dashboard-exited-\$?; sleep 60"

wait_screen "the header counts the sprites" "sprig +2 sprites: 1 awake 0 sleeping 1 stopped"
wait_screen "the list shows each sprite's state" "^>?box +running"
expect_contains "a stopped sprite says so" "stopped" "$(grep -E '^.dev ' <<<"$SCREEN")"
wait_screen "the selected sprite's timeline is empty" "no checkpoints yet"

# The filter narrows the list as it is typed; escape gives it all back.
keys /
tm send-keys -t dash -l "bo"
wait_screen "/ filters the list" "^/ bo"
if grep -qE '^.dev ' <<<"$SCREEN"; then fail "the filter hides dev"; else pass "the filter hides dev"; fi
keys Escape
wait_screen "escape clears the filter" "^.dev "

# A mouse click (xterm's report: ESC [ M, button, column, row) selects.
line=$(grep -nE '^.dev ' <<<"$SCREEN" | cut -d: -f1)
tm send-keys -t dash -l $'\e[M '"$(printf "\\x$(printf %x 34)")$(printf "\\x$(printf %x $((32 + line)))")"
wait_screen "a click selects dev" "^>dev "

# Start dev from the keyboard, then make two checkpoints and go back to the first.
keys S
wait_screen "S starts a stopped sprite" "^>dev +running" 120
keys c
wait_screen "c asks for a comment" "checkpoint dev, comment:"
type_line "first"
wait_screen "the first checkpoint is in the tree" ">v0 \* .*first" 120
keys c
type_line "second"
wait_screen "the second continues the line and is current" "v1 \* .*second" 120
expect_contains "the first is still there" "v0" "$(grep -E 'first' <<<"$SCREEN")"
keys Tab
keys k
wait_screen "the timeline selection moves to v0" ">v0 .*first"
keys r
wait_screen "restore says where it went" "restored to v0" 120
wait_screen "after the restore v0 is current" ">?v0 \* .*first"
expect_contains "v1 is still in the tree" "second" "$SCREEN"
expect_contains "the list shows the current checkpoint" "v0" "$(grep -E '^.dev ' <<<"$SCREEN")"
keys Tab

# A console: enter opens a login shell in the sprite.
keys Enter
wait_screen "the console opens with a prompt" "root@dev:.*#" 120
type_line 'echo dash-$((6*7))'
wait_screen "the console shows the command's output" "^dash-42" 30
wait_screen "the focused console has the keys" "keys go to the shell"

# A second console beside it.
keys C-b
wait_screen "C-b gives the dashboard its keys back" "enter console +c checkpoint"
keys k
wait_screen "k selects box" "^>box "
keys Enter
wait_screen "two consoles side by side" "\[1\] dev console.*│ *\[2\] box console" 60
wait_screen "the second console has its own shell" "root@box:.*#" 120
type_line 'echo in-box-$((1+1))'
wait_screen "the second console shows its output" "in-box-2"
expect_contains "the first console still shows its own" "dash-42" "$SCREEN"

# The help screen, and a command the dashboard does not know.
keys C-b
keys '?'
wait_screen "? shows the keys" "sprig dashboard: keys"
expect_contains "help lists checkpoint" "checkpoint (asks comment)" "$SCREEN"
expect_contains "help lists the prefix key" "C-b" "$SCREEN"
expect_contains "help lists the : commands" ":fork SPRITE[@vN] NAME..." "$SCREEN"
keys Escape
wait_screen "any key closes help" "TIMELINE"
keys :
type_line "frok dev a"
wait_screen "an invalid command is answered on the status line" "unknown command 'frok'"

# A console's sprite put to sleep under it.
keys -l ":sleep box"
keys Enter
wait_screen "the console says its sprite went to sleep" "went to sleep" 120
wait_screen "and offers to re-attach" "enter: re-attach"

# Too small, and back.
tm resize-window -t dash -x 60 -y 20
wait_screen "a small terminal gets a message" "terminal too small: 60x20"
tm resize-window -t dash -x 120 -y 40
wait_screen "back to full size, the dashboard is back" "TIMELINE box"

# The daemon goes away and comes back.
sprig serve --stop >/dev/null
wait_screen "the daemon gone, it says it reconnects" "\[reconnecting\]"
sprig list >/dev/null	# starts the daemon again
wait_screen "and recovers when the daemon is back" "connected to the daemon" 60

keys q
wait_screen "q quits with status 0" "dashboard-exited-0"
finish
