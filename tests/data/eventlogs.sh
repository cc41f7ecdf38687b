#!/bin/bash
# The real event logs of the shared test data through `pcrgate eventlog`: every log the
# manifest accepts must replay to exactly its .pcrs file and show as text and JSON; every
# log it rejects must fail with one line on stderr that names a byte offset.
set -u
. "$top_srcdir/tests/lib.sh"
need_testdata eventlogs
make_scratch

dir=$PCRGATE_TESTDATA/eventlogs
manifest=$dir/MANIFEST.tsv
[ -f "$manifest" ] || fail "the shared test data has eventlogs/ but no $manifest"

accepted=0
rejected=0
failures=0

bad() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

while IFS=$'\t' read -r name _repo _path _commit _sha verdict _note; do
	[ "$name" = name ] && continue
	log=$dir/$name
	case $verdict in
	accept)
		if ! pcrgate eventlog pcrs "$log" >"$SCRATCH/pcrs" 2>"$SCRATCH/err"; then
			bad "$name: pcrs failed: $(cat "$SCRATCH/err")"
			continue
		fi
		cmp -s "$SCRATCH/pcrs" "$log.pcrs" ||
			bad "$name: replay differs from $name.pcrs: $(diff "$log.pcrs" "$SCRATCH/pcrs" | head -5)"
		[ -s "$SCRATCH/err" ] && bad "$name: pcrs wrote to stderr: $(cat "$SCRATCH/err")"
		pcrgate eventlog pcrs --json "$log" >"$SCRATCH/json" 2>"$SCRATCH/err" ||
			bad "$name: pcrs --json failed: $(cat "$SCRATCH/err")"
		pcrgate eventlog show "$log" >"$SCRATCH/show" 2>"$SCRATCH/err" ||
			bad "$name: show failed: $(cat "$SCRATCH/err")"
		pcrgate eventlog show --json "$log" >"$SCRATCH/showjson" 2>"$SCRATCH/err" ||
			bad "$name: show --json failed: $(cat "$SCRATCH/err")"
		accepted=$((accepted + 1))
		;;
	reject)
		for sub in pcrs show; do
			pcrgate eventlog $sub "$log" >"$SCRATCH/out" 2>"$SCRATCH/err"
			rc=$?
			[ "$rc" -ne 0 ] || bad "$name: $sub accepted a log the manifest rejects"
			[ "$rc" -eq 1 ] || bad "$name: $sub exited $rc, not 1"
			[ "$(wc -l <"$SCRATCH/err")" -eq 1 ] ||
				bad "$name: $sub: not exactly one line on stderr: $(cat "$SCRATCH/err")"
			grep -q 'at offset [0-9]' "$SCRATCH/err" ||
				bad "$name: $sub: error names no offset: $(cat "$SCRATCH/err")"
			[ -s "$SCRATCH/out" ] && bad "$name: $sub wrote to stdout for a rejected log"
		done
		rejected=$((rejected + 1))
		;;
	*)
		bad "$name: unknown verdict '$verdict'"
		;;
	esac
done <"$manifest"

# The JSON output has the same values as the text output.
first=$(awk -F'\t' '$6 == "accept" { print $1; exit }' "$manifest")
if ! command -v python3 >/dev/null; then
	skip_part "python3 not found: pcrs --json not compared with the text output"
elif [ -n "$first" ]; then
	pcrgate eventlog pcrs --json "$dir/$first" | python3 -c '
import json, sys
for bank, pcrs in sorted(json.load(sys.stdin).items()):
    for index, value in sorted(pcrs.items(), key=lambda kv: int(kv[0])):
        print("%s:%s=%s" % (bank, index, value))' >"$SCRATCH/fromjson" || bad "$first: pcrs --json is not JSON"
	cmp -s "$SCRATCH/fromjson" "$dir/$first.pcrs" || bad "$first: pcrs --json differs from $first.pcrs"
fi

# Usage errors exit 2; help exits 0.
pcrgate eventlog >/dev/null 2>&1; [ $? -eq 2 ] || bad "no subcommand: not exit 2"
pcrgate eventlog frob x >/dev/null 2>&1; [ $? -eq 2 ] || bad "unknown subcommand: not exit 2"
pcrgate eventlog pcrs >/dev/null 2>&1; [ $? -eq 2 ] || bad "pcrs without FILE: not exit 2"
pcrgate eventlog pcrs --bogus x >/dev/null 2>&1; [ $? -eq 2 ] || bad "unknown option: not exit 2"
pcrgate eventlog show a b >/dev/null 2>&1; [ $? -eq 2 ] || bad "two FILEs: not exit 2"
for args in "--help" "pcrs --help" "show -h"; do
	# shellcheck disable=SC2086
	pcrgate eventlog $args | grep -q '^usage: pcrgate eventlog' || bad "'$args' prints no usage"
done
pcrgate eventlog pcrs "$SCRATCH/missing" 2>"$SCRATCH/err"; [ $? -eq 1 ] || bad "missing file: not exit 1"

echo "eventlogs: $accepted accepted logs replayed and shown, $rejected rejected logs refused, $failures failures"
[ "$accepted" -gt 0 ] && [ "$rejected" -gt 0 ] || fail "the manifest listed no accepted or no rejected log"
[ "$failures" -eq 0 ] || exit 1
finish
