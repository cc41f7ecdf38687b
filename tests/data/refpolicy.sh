#!/bin/bash
# Reference policies from the real event logs of the shared test data: for every log the
# manifest accepts, `pcrgate policy from-eventlog` drafts a policy and `pcrgate policy check`
# passes the same log against it; another machine's log fails with named reasons. The example
# policies in policies/ parse and are checked against logs. Options and usage errors too.
set -u
. "$top_srcdir/tests/lib.sh"
need_testdata eventlogs
make_scratch

dir=$PCRGATE_TESTDATA/eventlogs
manifest=$dir/MANIFEST.tsv
[ -f "$manifest" ] || fail "the shared test data has eventlogs/ but no $manifest"

drafted=0
empty=0
failures=0
codes='^(measurement-not-allowed|required-event-missing|unknown-release|security-version-below-minimum|pcr-not-quoted): '

bad() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# Two machines that share no firmware: each one's policy is checked against the other's log.
machine_a=secboot__eventlog_dell_xps15_7590.bin
machine_b=tpm2-tools__event-arch-linux.bin

while IFS=$'\t' read -r name _repo _path _commit _sha verdict _note; do
	[ "$verdict" = accept ] || continue
	log=$dir/$name
	policy=$SCRATCH/$name.json
	if ! pcrgate policy from-eventlog "$log" --out "$policy" 2>"$SCRATCH/err"; then
		# Only a log that measures nothing into PCRs 0-9 leaves nothing to draft from.
		if grep -q 'the log has no .* event on PCRs 0-7 and does not extend PCR 8 or 9' "$SCRATCH/err" &&
			! pcrgate eventlog pcrs "$log" | grep -Eq '^[a-z0-9_]+:[0-9]='; then
			empty=$((empty + 1))
		else
			bad "$name: from-eventlog failed: $(cat "$SCRATCH/err")"
		fi
		continue
	fi
	drafted=$((drafted + 1))
	[ -s "$SCRATCH/err" ] && bad "$name: from-eventlog wrote to stderr: $(cat "$SCRATCH/err")"
	if ! pcrgate policy check --policy "$policy" --eventlog "$log" >"$SCRATCH/out" 2>&1; then
		bad "$name: its own policy fails it: $(head -4 "$SCRATCH/out")"
		continue
	fi
	head -1 "$SCRATCH/out" | grep -q '^pass: policy ' || bad "$name: check printed no pass line"
	other=$dir/$machine_a
	[ "$name" = "$machine_a" ] && other=$dir/$machine_b
	pcrgate policy check --policy "$policy" --eventlog "$other" >"$SCRATCH/out" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] || bad "$name: another machine's log exited $rc, not 1"
	head -1 "$SCRATCH/out" | grep -q '^fail: policy ' || bad "$name: another machine's log: no fail line"
	grep -Eq "${codes}PCR [0-9]+" "$SCRATCH/out" ||
		bad "$name: another machine's log: no reason naming a PCR: $(head -3 "$SCRATCH/out")"
done <"$manifest"

# A drafted policy names the bank's digests, by data where the data is trusted.
policy=$SCRATCH/$machine_a.json
grep -q '"name": "SecureBoot"' "$policy" || bad "$machine_a: no SecureBoot variable rule"
grep -q '"comment": "Secure Boot enabled"' "$policy" || bad "$machine_a: Secure Boot not required"
grep -q '"type": "EV_SEPARATOR",' "$policy" && grep -q '"data": "00000000"' "$policy" ||
	bad "$machine_a: no EV_SEPARATOR data rule"
grep -lq '"text": "Calling EFI Application from Boot Option"' "$SCRATCH"/*.json ||
	bad "no drafted policy allows the boot option EV_EFI_ACTION by its text"

# The verdict as JSON.
pcrgate policy check --json --policy "$policy" --eventlog "$dir/$machine_b" >"$SCRATCH/json"
[ $? -eq 1 ] || bad "check --json of another machine: not exit 1"
grep -q '"verdict": "fail"' "$SCRATCH/json" || bad "check --json: no fail verdict"
grep -q '"code": "measurement-not-allowed"' "$SCRATCH/json" || bad "check --json: no reason code"

# Options: the bank, the PCR list, release fields; a log extending PCR 8/9 gets a release.
pcrgate policy from-eventlog "$dir/$machine_b" --bank sha1 --pcrs 0,7 --name arch --release-name arch-1 \
	--release-version 1.2 --security-version 5 >"$SCRATCH/opt.json" 2>"$SCRATCH/err" ||
	bad "from-eventlog with options failed: $(cat "$SCRATCH/err")"
grep -q '"bank": "sha1"' "$SCRATCH/opt.json" || bad "--bank sha1 not used"
grep -q '"name": "arch"' "$SCRATCH/opt.json" || bad "--name not used"
grep -Eq '^    "[1-6]": \[' "$SCRATCH/opt.json" && bad "--pcrs 0,7 drafted rules for other PCRs"
grep -q '"name": "arch-1"' "$SCRATCH/opt.json" || bad "--release-name not used"
grep -q '"min_security_version": 5' "$SCRATCH/opt.json" || bad "--security-version not the minimum"
pcrgate policy check --policy "$SCRATCH/opt.json" --eventlog "$dir/$machine_b" >"$SCRATCH/out" ||
	bad "the sha1 policy fails its own log: $(head -3 "$SCRATCH/out")"
grep -q '^release: arch-1 1.2, security version 5' "$SCRATCH/out" || bad "check names no release"

# The example policies parse; the x86 one was drafted from a log of the shared test data.
for example in x86-uefi-gateway arm-uboot-gateway; do
	file=$top_srcdir/policies/$example.json
	pcrgate policy check --policy "$file" --eventlog "$dir/uboot-linaro-blog__uboot-2021.10-qemu-arm64-swtpm.bin" \
		>"$SCRATCH/out" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] || bad "$example: exit $rc against another device's log, not 1: $(head -3 "$SCRATCH/out")"
	head -1 "$SCRATCH/out" | grep -q "^fail: policy $example " || bad "$example: not parsed: $(head -1 "$SCRATCH/out")"
done
# Its firmware part passes the log it was drafted from; that log has no boot events, so the
# releases' PCRs 8 and 9 are the only reasons.
pcrgate policy check --policy "$top_srcdir/policies/x86-uefi-gateway.json" \
	--eventlog "$dir/secboot__2020-05-qemu-ovmf__eventlog1.bin" >"$SCRATCH/out" 2>&1
grep -E "$codes" "$SCRATCH/out" | sed -E 's/^([a-z-]+: PCR [0-9]+).*/\1/' >"$SCRATCH/reasons"
printf 'pcr-not-quoted: PCR 8\npcr-not-quoted: PCR 9\n' | cmp -s - "$SCRATCH/reasons" ||
	bad "x86-uefi-gateway against the log it was drafted from: $(cat "$SCRATCH/out")"

# Usage errors exit 2, bad input 1, help 0.
pcrgate policy from-eventlog >/dev/null 2>&1; [ $? -eq 2 ] || bad "from-eventlog without LOG: not exit 2"
pcrgate policy from-eventlog "$dir/$machine_a" --pcrs 0-30 >/dev/null 2>&1; [ $? -eq 2 ] || bad "--pcrs 0-30: not exit 2"
pcrgate policy from-eventlog "$dir/$machine_a" --bank md5 >/dev/null 2>&1; [ $? -eq 2 ] || bad "--bank md5: not exit 2"
pcrgate policy check --policy "$policy" >/dev/null 2>&1; [ $? -eq 2 ] || bad "check without --eventlog: not exit 2"
pcrgate policy check --policy "$SCRATCH/missing" --eventlog "$dir/$machine_a" 2>/dev/null; [ $? -eq 1 ] ||
	bad "check with a missing policy: not exit 1"
echo '{"format": "pcrgate-refpolicy", "version": 1, "name": "x", "measurements": {"0": [{"bogus": 1}]}}' \
	>"$SCRATCH/bad.json"
pcrgate policy check --policy "$SCRATCH/bad.json" --eventlog "$dir/$machine_a" 2>"$SCRATCH/err"
[ $? -eq 1 ] || bad "check with an invalid policy: not exit 1"
grep -q 'measurements.0\[0\].bogus: unknown member' "$SCRATCH/err" || bad "invalid policy: path not named: $(cat "$SCRATCH/err")"
pcrgate policy from-eventlog --help | grep -q '^usage: pcrgate policy from-eventlog' || bad "from-eventlog --help"
pcrgate policy check --help | grep -q '^usage: pcrgate policy check' || bad "check --help"

echo "refpolicy: $drafted logs drafted and checked, $empty without measurements, $failures failures"
[ "$drafted" -gt 0 ] || fail "no accepted log in the manifest"
[ "$failures" -eq 0 ] || exit 1
exit 0
