#!/usr/bin/env bash
# The default image is built on first use, with its progress shown, and
# cached: the second create does not build again. (Other tests share one
# prebuilt image; this one builds its own, with the kernel package cached.)
source "$(dirname "$0")/lib.sh"

sprig create one >/dev/null 2>"$SPRIG_HOME/err"
err=$(cat "$SPRIG_HOME/err")
expect_contains "first create says it builds the image" "building image minimal" "$err"
expect_contains "and shows the recipe's progress" "building rootfs.img" "$err"
expect_eq "the sprite from the new image answers" "ok" "$(sprig exec one -- echo ok)"
expect_eq "the build is recorded under its recipe hash" 1 \
	"$(ls -d "$SPRIG_HOME"/images/minimal/*/ | wc -l)"
expect_eq "no half-built directory is left" "" "$(ls -d "$SPRIG_HOME"/images/minimal/.build-* 2>/dev/null)"
sprig create two >/dev/null 2>"$SPRIG_HOME/err2"
expect_eq "the second create uses the cached image" "" "$(cat "$SPRIG_HOME/err2")"
finish
