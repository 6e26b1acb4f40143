#!/usr/bin/env bash
# Templates on real VMs: sprites made from a template see its files and not
# each other's; deleting the template, the checkpoint it came from, or its
# source sprite leaves them working; a checkpoint a template uses cannot be
# deleted; bad input is a clear error that changes nothing.
source "$(dirname "$0")/lib.sh"
shared_image

# api METHOD PATH [BODY]: prints the HTTP status of the answer.
api() {
	curl -s --unix-socket "$SPRIG_HOME/api.sock" -X "$1" -w '\n%{http_code}' \
	    ${3:+-d "$3"} "http://localhost$2" | tail -n 1
}

names() { sprig list | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' '; }

sprig create dev >/dev/null
sprig exec dev -- sh -c 'echo "node 20" > /root/toolchain; sync'
v0=$(sprig checkpoint dev -m "toolchain installed")
sprig exec dev -- sh -c 'echo later > /root/later; sync'

out=$(sprig template save node-base "dev@$v0")
expect_eq "template save prints the template" node-base "$out"
out=$(sprig templates)
expect_contains "templates has a header" "NAME" "$(head -n 1 <<<"$out")"
expect_contains "templates says where it came from" "dev@$v0" "$(grep '^node-base ' <<<"$out")"
expect_contains "templates --json" "\"name\":\"node-base\",\"origin\":\"dev@$v0\",\"created_at\":\"" \
    "$(sprig templates --json | tr -d ' \t\n')"

out=$(sprig create web1 --template node-base; sprig create web2 --template node-base)
expect_eq "create from a template prints each name" "web1 web2" "$(echo $out)"
for s in web1 web2; do
	expect_eq "$s has the template's file" "node 20" "$(sprig exec $s -- cat /root/toolchain)"
	expect_eq "$s has nothing written after the checkpoint" none \
	    "$(sprig exec $s -- sh -c 'cat /root/later 2>/dev/null || echo none')"
	sprig exec $s -- sh -c "echo $s > /root/mine; sync"
done
expect_eq "web1 sees only its own data" web1 "$(sprig exec web1 -- cat /root/mine)"
expect_eq "web2 sees only its own data" web2 "$(sprig exec web2 -- cat /root/mine)"
expect_eq "the source sees none of it" none \
    "$(sprig exec dev -- sh -c 'cat /root/mine 2>/dev/null || echo none')"
expect_contains "a sprite says which template it came from" '"origin":"node-base"' \
    "$(sprig info web1 --json | tr -d ' \t\n')"

# The template holds its checkpoint: deleting it is refused, naming it.
expect_fail "checkpoint rm of a checkpoint a template uses" \
    "checkpoint $v0 of \"dev\" is used by template \"node-base\"" sprig checkpoint rm dev "$v0"
expect_eq "over the API it is a 409" 409 "$(api DELETE "/v1/sprites/dev/checkpoints/$v0")"
expect_contains "and the checkpoint is still there" "$v0" "$(sprig checkpoints dev)"

# Deleting the template leaves the sprites made from it working.
expect_eq "template rm prints the template" node-base "$(sprig template rm node-base)"
expect_eq "the template is gone" "no templates yet" "$(sprig templates | cut -c1-16)"
expect_eq "web1 still works" "node 20 web1" "$(sprig exec web1 -- cat /root/toolchain /root/mine | tr '\n' ' ' | sed 's/ $//')"
expect_eq "web2 still works" "node 20 web2" "$(sprig exec web2 -- cat /root/toolchain /root/mine | tr '\n' ' ' | sed 's/ $//')"
expect_fail "create from a deleted template" 'template "node-base" not found' \
    sprig create web9 --template node-base

# Now the checkpoint can go; sprites that grew from it keep their disks.
expect_eq "checkpoint rm after the template is gone" "deleted dev $v0" \
    "$(sprig checkpoint rm dev "$v0")"
expect_eq "the checkpoint is gone" "" "$(sprig checkpoints dev --json | tr -d ' \t\n' | grep -o "\"id\":\"$v0\"" || true)"
expect_eq "web1 still reads its disk" "node 20" "$(sprig exec web1 -- cat /root/toolchain)"
expect_eq "over the API an unknown checkpoint is a 404" 404 \
    "$(api DELETE "/v1/sprites/dev/checkpoints/$v0")"

# A template of the sprite as it is now (no @VERSION), then the source goes.
expect_eq "template save without a version" tip "$(sprig template save tip dev)"
expect_contains "it checkpointed the sprite first" "dev@v" \
    "$(sprig templates | awk '$1 == "tip" { print $2 }')"
sprig create web3 --template tip >/dev/null
sprig destroy dev >/dev/null
expect_eq "destroy of the source leaves web3 working" "later" "$(sprig exec web3 -- cat /root/later)"
sprig stop web3 >/dev/null
sprig start web3 >/dev/null
expect_eq "web3 boots again without its source" "node 20" "$(sprig exec web3 -- cat /root/toolchain)"
sprig stop web1 >/dev/null
sprig start web1 >/dev/null
expect_eq "web1 boots again without template, checkpoint or source" "node 20 web1" \
    "$(sprig exec web1 -- cat /root/toolchain /root/mine | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the template outlives its source" web4 "$(sprig create web4 --template tip)"
expect_eq "web4 has the template's files" "later" "$(sprig exec web4 -- cat /root/later)"

# Bad input: a clear error, and nothing changes.
templates=$(sprig templates --json)
sprites=$(names)
expect_fail "create from an unknown template" 'template "ghost" not found' \
    sprig create web5 --template ghost
expect_fail "a duplicate template name" 'template "tip" already exists' \
    sprig template save tip web1
expect_fail "an invalid template name" 'invalid name "Node_Base"' \
    sprig template save Node_Base web1
expect_fail "a template of a missing sprite" 'sprite "ghost" not found' \
    sprig template save t1 ghost
expect_fail "a template of a missing checkpoint" 'has no checkpoint v99' \
    sprig template save t1 web1@v99
expect_fail "template rm of a missing template" 'template "ghost" not found' \
    sprig template rm ghost
set +e
sprig create web5 --image minimal --template tip >/dev/null 2>&1
code=$?
set -e
expect_eq "--image with --template is a usage error" 2 "$code"
expect_eq "over the API image with template is a 400" 400 \
    "$(api POST /v1/sprites '{"name":"web5","image":"minimal","template":"tip"}')"
expect_eq "no template came or went" "$templates" "$(sprig templates --json)"
expect_eq "no sprite came or went" "$sprites" "$(names)"
finish
