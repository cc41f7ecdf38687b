# Shared helpers for pcrgate's shell tests; sourced, never run.
# Exit 77 tells the automake test driver that a test was skipped.

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A part of a test that cannot run here (a tool or the shared data is missing): the rest of
# the test still runs, and `finish` then ends it as skipped, never as passed, so that a run
# that must verify everything (CI) notices.
skip_part() {
	echo "SKIP part: $*"
	SKIPPED_PARTS="${SKIPPED_PARTS:+$SKIPPED_PARTS; }$*"
}

# The end of a test that got this far: exit 0, or 77 when a part of it was skipped.
finish() {
	[ -z "${SKIPPED_PARTS:-}" ] || skip "parts not run: $SKIPPED_PARTS"
	exit 0
}

# Skips unless every named tool is on PATH: need TOOL...
need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
	done
}

# The shared real test data, or skip when it is absent.
need_testdata() {
	[ -n "${PCRGATE_TESTDATA:-}" ] && [ -d "$PCRGATE_TESTDATA/$1" ] ||
		skip "shared test data $1 not found (PCRGATE_TESTDATA=${PCRGATE_TESTDATA:-unset})"
}

# expect_status RC COMMAND...: COMMAND must exit RC; its stdout in $SCRATCH/out, stderr in
# $SCRATCH/err, for expect_out and expect_err.
expect_status() {
	local want=$1 rc
	shift
	"$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$SCRATCH/err")"
}

# expect_err TEXT / expect_out TEXT: the last expect_status's stderr / stdout has TEXT (grep).
expect_err() {
	grep -q -- "$1" "$SCRATCH/err" || fail "stderr lacks '$1': $(cat "$SCRATCH/err")"
}

expect_out() {
	grep -q -- "$1" "$SCRATCH/out" || fail "stdout lacks '$1': $(cat "$SCRATCH/out")"
}

# A private scratch directory removed on exit.
make_scratch() {
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pcrgate-test.XXXXXX")
	trap 'rm -rf "$SCRATCH"' EXIT
}
