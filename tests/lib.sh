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

# The shared real test data, or skip when it is absent.
need_testdata() {
	[ -n "${PCRGATE_TESTDATA:-}" ] && [ -d "$PCRGATE_TESTDATA/$1" ] ||
		skip "shared test data $1 not found (PCRGATE_TESTDATA=${PCRGATE_TESTDATA:-unset})"
}

# A private scratch directory removed on exit.
make_scratch() {
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pcrgate-test.XXXXXX")
	trap 'rm -rf "$SCRATCH"' EXIT
}
