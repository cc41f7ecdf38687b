#!/bin/bash
# Smoke test of bench/boot, so it keeps building and running: a small image and one run must
# exit 0 with every figure in its JSON, and the TPM part (when swtpm is there) must have found
# one counter read, one extend per measured event and the 11 TPM commands docs/boot.md counts
# for a slot of three images. How fast anything was is never looked at.
set -u
. "$top_srcdir/tests/lib.sh"

bench=$top_builddir/bench/boot
[ -x "$bench" ] || fail "$bench was not built"
make_scratch

"$bench" --size 2 --runs 1 --json >"$SCRATCH/out.json" 2>"$SCRATCH/err" ||
	fail "bench/boot failed: $(cat "$SCRATCH/err")"
for key in '"benchmark": "boot"' '"port_mib_s":' '"openssl_mib_s":' '"ratio":' '"meets_target":' '"tpm": {'; do
	grep -q "$key" "$SCRATCH/out.json" || fail "bench/boot --json lacks $key: $(cat "$SCRATCH/out.json")"
done
if grep -q '"present": true' "$SCRATCH/out.json"; then
	grep -q '"counter_reads": 1,' "$SCRATCH/out.json" && grep -q '"extends": 6,' "$SCRATCH/out.json" &&
		grep -q '"measured_events": 6,' "$SCRATCH/out.json" ||
		fail "bench/boot counted other TPM calls: $(cat "$SCRATCH/out.json")"
	# docs/boot.md's count for three images: Startup, GetCapability once, 3 for the counter, 6
	# extends; on the wire (ESAPI's resubmissions apart) and as the port counts them.
	figure() { sed -n "s/.*\"$1\": \([0-9]*\),.*/\1/p" "$SCRATCH/out.json"; }
	wire=$(figure wire_commands) resent=$(figure wire_resubmissions) port=$(figure port_commands)
	[ -n "$wire" ] && [ -n "$resent" ] && [ $((wire - resent)) -eq 11 ] && [ "$port" = 11 ] ||
		fail "a boot sent other than 11 TPM commands: $(cat "$SCRATCH/out.json")"
else
	grep -q '"present": false' "$SCRATCH/out.json" || fail "bench/boot --json: no tpm.present: $(cat "$SCRATCH/out.json")"
	skip_part "no swtpm: the TPM commands of a boot were not counted"
fi
echo "PASS: bench/boot runs and reports every figure"
finish
