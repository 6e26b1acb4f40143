#!/usr/bin/env bash
# The dashboard's long actions and its timeline, as a person sees them in
# tmux at 120x40 against a real daemon and QEMU: the first create of an
# image shows the build's progress on the status line; M makes a memory
# checkpoint (asks a comment, marked "(memory)" in the tree); restoring to
# it says the processes resume, and they do (a process killed after the
# checkpoint is back); a console whose sprite is restored or stopped under
# it says so and re-attaching works (a stopped sprite is started); a fork
# of several names counts them on the status line; a click selects a
# timeline node; a bad option to a ':' command is answered; at 80x24 the
# help shows every key and command.
source "$(dirname "$0")/lib.sh"
# No shared_image: the first create builds the minimal image, to be watched.

command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }

on_exit 'tm kill-server'	# the dashboard's tmux, before the daemon goes

tm -f /dev/null new-session -d -s dash -x 120 -y 40 "sprig; echo dashboard-exited-\$?; sleep 60"
wait_screen "the dashboard starts with no sprites" "sprig +0 sprites"

keys n
wait_screen "n asks for a name" "create NAME \[IMAGE \| -t TEMPLATE\]:"
type_line "dev"
wait_screen "the image build's progress is on the status line" \
    "create dev: building image minimal: .* \.\.\." 120
wait_screen "the create ends on the status line" "create dev: done" 600
wait_screen "dev is in the list, running" "^>?dev +running" 60

# A process in the sprite, then a checkpoint with memory.
keys Enter
wait_screen "the console opens with a prompt" "root@dev:.*#" 120
type_line 'sleep 777 &'
keys C-b
keys M
wait_screen "M asks for a comment" "checkpoint dev with memory, comment:"
type_line "warm"
wait_screen "the memory checkpoint is in the tree, marked" "v0 \* .*\(memory\) warm" 120
wait_screen "the status line says a restore resumes the processes" \
    "memory checkpoint dev: checkpoint v0 created: a restore to it resumes the processes"
keys 1
type_line 'kill %1; echo found-$(ps | grep -c "sleep 77[7]")'
wait_screen "the process is gone after the checkpoint" "^found-0"

# Restore to it: the status line and the console say what happened.
keys C-b
keys Tab
keys r
wait_screen "the restore says the processes resume" \
    "restore dev to v0: restored to v0: its processes resume" 120
wait_screen "the console says its sprite was restored with its memory" \
    "the sprite was restored to v0 with its memory: its processes resumed"
wait_screen "and offers to re-attach" "enter: re-attach"
keys Enter
wait_screen "re-attaching opens a shell" "\[1\] dev console  shell [0-9]+ *$" 120
wait_screen "the new shell has a prompt" "root@dev:.*# *$" 60
type_line 'echo found-$(ps | grep -c "sleep 77[7]")'
wait_screen "the process killed after the checkpoint runs again" "^found-1" 60

# A click on a node of the timeline selects it.
keys C-b
line=$(grep -nE 'v1 .*before restore' <<<"$SCREEN" | head -n 1 | cut -d: -f1)
tm send-keys -t dash -l $'\e[M '"$(printf "\\x$(printf %x 133)")$(printf "\\x$(printf %x $((32 + line)))")"
wait_screen "a click selects a timeline node" "│>.*v1 .*before restore"

# Stopped under the console: it says so; enter starts it and re-attaches.
keys -l ":stop dev"
keys Enter
wait_screen "the console says its sprite was stopped" "the sprite was stopped" 120
wait_screen "and offers to start it and re-attach" "enter: re-attach \(starts it\)"
keys 1
keys Enter
wait_screen "enter starts the sprite for the console" "\[1\] dev console  starting\.\.\." 30
wait_screen "then opens a shell in it" "\[1\] dev console  shell [0-9]+ *$" 180
wait_screen "the console is back with a prompt" "root@dev:.*# *$" 60
type_line 'echo after-start-$((3+4))'
wait_screen "the re-attached console runs commands" "^after-start-7" 60

# Several forks at once: counted on the status line, then named.
keys C-b
keys -l ":fork dev@v0 fa fb"
keys Enter
wait_screen "the forks are counted while they run" "fork dev@v0: [01] of 2 made" 60
wait_screen "the status line names the forks made" "fork dev@v0: made f[ab], f[ab]" 300
wait_screen "the forks are in the list" "^.fb +running" 60

# A bad option is answered, not acted on.
keys -l ":checkpoint -x dev"
keys Enter
wait_screen "a bad option to a command is answered" "unknown option '-x'"

# The help at the smallest size shows every key and every command.
tm resize-window -t dash -x 80 -y 24
wait_screen "80x24 is enough" "TIMELINE dev"
keys '?'
wait_screen "? shows the help at 80x24" "sprig dashboard: keys and commands"
for want in "j k up dn" "PgUp PgDn" "checkpoint with memory" "restore to the checkpoint" \
    "fork checkpoint" "sleep, wake" "destroy sprite" "filter the list" "C-l" "mouse" \
    "quit (shells run on)" "back to these keys" "send C-b" "scroll back" \
    "ended: re-attach, close" "esc C-u" ":checkpoint -m SPRITE" ":help  :quit"; do
	expect_contains "the help at 80x24 lists '$want'" "$want" "$SCREEN"
done
keys Escape
tm resize-window -t dash -x 120 -y 40
wait_screen "any key closes the help" "TIMELINE dev"

keys q
wait_screen "q quits with status 0" "dashboard-exited-0"
finish
