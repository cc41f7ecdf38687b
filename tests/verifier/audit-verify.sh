#!/bin/bash
# `pcrgate audit verify` on an audit log the verifier's code wrote (tests/verifier/audit_fixture
# on SQLite): the intact export passes; an edited, a removed and a swapped line each fail with
# a message naming the first bad entry; a cut-off end is caught with --head; usage errors exit 2.
set -u
. "$top_srcdir/tests/lib.sh"
make_scratch

fixture=$top_builddir/tests/verifier/audit_fixture
"$fixture" "sqlite:$SCRATCH/verifier.db" 12 "$SCRATCH/audit.jsonl" "$SCRATCH/head" || fail "audit_fixture failed"
head=$(cat "$SCRATCH/head")
[ "$(wc -l <"$SCRATCH/audit.jsonl")" -eq 12 ] || fail "the export has not 12 lines"

# expect_fail FILE PATTERN [OPTIONS...]: verify must exit 1 with PATTERN in its message.
expect_fail() {
	local file=$1 pattern=$2 out rc
	shift 2
	out=$(pcrgate audit verify "$@" "$file" 2>&1)
	rc=$?
	[ "$rc" -eq 1 ] || fail "verify of $(basename "$file") exited $rc, not 1: $out"
	grep -q -- "$pattern" <<<"$out" || fail "verify of $(basename "$file"): expected '$pattern' in: $out"
	echo "ok: $(basename "$file"): $out"
}

out=$(pcrgate audit verify --head "$head" "$SCRATCH/audit.jsonl") || fail "the intact export failed: $out"
grep -q "intact: 12 entries, seq 1 to 12" <<<"$out" || fail "unexpected output: $out"
pcrgate audit verify - <"$SCRATCH/audit.jsonl" >/dev/null || fail "the export from stdin failed"

# An edited entry: its content no longer matches its hash.
sed '5s/device-42/device-43/' "$SCRATCH/audit.jsonl" >"$SCRATCH/edited.jsonl"
cmp -s "$SCRATCH/edited.jsonl" "$SCRATCH/audit.jsonl" && fail "the edit changed nothing"
expect_fail "$SCRATCH/edited.jsonl" "line 5: entry seq 5 was edited"

# A removed entry.
sed '7d' "$SCRATCH/audit.jsonl" >"$SCRATCH/removed.jsonl"
expect_fail "$SCRATCH/removed.jsonl" "entry seq 7 was removed"

# Two entries swapped.
awk 'NR == 3 { third = $0; next } NR == 4 { print; print third; next } { print }' "$SCRATCH/audit.jsonl" \
	>"$SCRATCH/swapped.jsonl"
expect_fail "$SCRATCH/swapped.jsonl" "expected seq 3, which is at line 4 (entries were reordered)"

# The last entries cut off: only the expected head tells.
sed '11,$d' "$SCRATCH/audit.jsonl" >"$SCRATCH/cut.jsonl"
pcrgate audit verify "$SCRATCH/cut.jsonl" >/dev/null || fail "a prefix of the chain should verify on its own"
expect_fail "$SCRATCH/cut.jsonl" "entries after seq 10 were removed" --head "$head"

# An export of a later part verifies with the hash before it.
prev=$(sed -n '6p' "$SCRATCH/audit.jsonl" | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
sed '1,6d' "$SCRATCH/audit.jsonl" >"$SCRATCH/tail.jsonl"
pcrgate audit verify --prev "$prev" --head "$head" "$SCRATCH/tail.jsonl" >/dev/null ||
	fail "the tail with --prev failed"
expect_fail "$SCRATCH/tail.jsonl" "entries seq 1 to 6 were removed"

# Malformed input: not JSON, an unknown member, an overlong line.
{ head -n 2 "$SCRATCH/audit.jsonl"; echo '{"seq": 3'; } >"$SCRATCH/garbage.jsonl"
expect_fail "$SCRATCH/garbage.jsonl" "line 3: not JSON"
sed '1s/^{/{"extra":1,/' "$SCRATCH/audit.jsonl" >"$SCRATCH/extra.jsonl"
expect_fail "$SCRATCH/extra.jsonl" 'unknown member "extra"'
head -c 70000 /dev/zero | tr '\0' 'x' >"$SCRATCH/long.jsonl"
expect_fail "$SCRATCH/long.jsonl" "line 1: line longer than"

# Usage errors exit 2.
pcrgate audit verify >/dev/null 2>&1
[ $? -eq 2 ] || fail "no file: not exit 2"
pcrgate audit verify --head nothex "$SCRATCH/audit.jsonl" >/dev/null 2>&1
[ $? -eq 2 ] || fail "bad --head: not exit 2"
pcrgate audit verify --help | grep -q "usage: pcrgate audit verify" || fail "no usage on --help"
exit 0
