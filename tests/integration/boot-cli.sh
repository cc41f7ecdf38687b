#!/bin/bash
# pcrgate-boot and `pcrgate policy predict` without a TPM: usage errors, settings from the
# config file and options, the state commands and `status` (text and JSON), fault-injection
# parsing, and the PCR prediction checked against values computed here with sha256sum
# from the event layout in docs/pcr-map.md (an oracle independent of the C code).
set -u
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/boot-lib.sh"

make_scratch
unset PCRGATE_TCTI PCRGATE_BOOT_FAULT
export PCRGATE_CONFIG=$SCRATCH/none.conf
: >"$PCRGATE_CONFIG"
boot_setup
pcrgate=$top_builddir/tools/pcrgate

# Usage errors exit 2 and say what is wrong.
expect_status 2 "$PCRGATE_BOOT"
expect_status 2 "$PCRGATE_BOOT" frobnicate
expect_err "unknown command 'frobnicate'"
expect_status 2 "$PCRGATE_BOOT" mark-good c --config "$BOOT_CONF"
expect_err "expected one SLOT, a or b"
expect_status 2 "$PCRGATE_BOOT" set-trial b --config "$BOOT_CONF"
expect_err "--tries N is required"
expect_status 2 "$PCRGATE_BOOT" set-trial b --tries 0 --config "$BOOT_CONF"
expect_err "--tries must be 1 to 32"
expect_status 2 "$PCRGATE_BOOT" set-trial b --tries 33 --config "$BOOT_CONF"
expect_status 2 "$PCRGATE_BOOT" status --tries 3
expect_err "does not apply"
expect_status 2 "$PCRGATE_BOOT" status extra
expect_status 0 "$PCRGATE_BOOT" --help
grep -q "set-trial SLOT --tries N" "$SCRATCH/out" || fail "--help lacks set-trial"
for cmd in boot status mark-good set-trial; do
	expect_status 0 "$PCRGATE_BOOT" "$cmd" --help
	grep -q "^usage: pcrgate-boot" "$SCRATCH/out" || fail "$cmd --help prints no usage"
done

# Settings: bad values name their source; a named config file must exist.
expect_status 1 "$PCRGATE_BOOT" status --config "$SCRATCH/missing.conf"
expect_err "does not exist"
printf 'boot.counter_index = 0x81000001\n' >"$SCRATCH/bad.conf"
expect_status 1 "$PCRGATE_BOOT" status --config "$SCRATCH/bad.conf"
expect_err "bad.conf:1: boot.counter_index: '0x81000001' is not an NV index"
printf 'boot.counter_absent_ok = maybe\n' >"$SCRATCH/bad.conf"
expect_status 1 "$PCRGATE_BOOT" status --config "$SCRATCH/bad.conf"
expect_err "bad.conf:1: boot.counter_absent_ok: 'maybe' is not yes or no"
expect_status 1 "$PCRGATE_BOOT" boot --config "$BOOT_CONF" --counter-index 12
expect_err "--counter-index: '12' is not an NV index"
expect_status 2 "$PCRGATE_BOOT" status --run-dir "$SCRATCH/run"
expect_err "does not apply"
expect_status 1 "$PCRGATE_BOOT" boot --config "$BOOT_CONF" --run-dir ""
expect_err "--run-dir: empty path"
expect_status 0 "$PCRGATE_BOOT" boot --help
grep -q -- "--run-dir DIR" "$SCRATCH/out" || fail "boot --help lacks --run-dir"
PCRGATE_BOOT_FAULT=cut:0 expect_status 1 boot_cmd status
expect_err "PCRGATE_BOOT_FAULT"
PCRGATE_BOOT_FAULT=melt:1 expect_status 1 boot_cmd status
expect_err "is not cut:N or torn:N"

# A missing state file is the fresh state, and status does not create it.
expect_status 0 boot_cmd status
grep -qx "no valid copy: the fresh state" "$SCRATCH/out" || fail "no fresh state: $(cat "$SCRATCH/out")"
grep -qx "slot a: unknown" "$SCRATCH/out" || fail "slot a not unknown"
[ ! -e "$BOOT_DIR/state" ] || fail "status created the state file"

# The commands of the running system, each one whole-record write into the other copy.
expect_status 0 boot_cmd set-trial b --tries 3
expect_status 0 boot_cmd status
grep -qx "slot b: trial, 3 tries left" "$SCRATCH/out" || fail "set-trial: $(cat "$SCRATCH/out")"
grep -qx "copy 0: sequence 1 (current)" "$SCRATCH/out" || fail "first write not in copy 0: $(cat "$SCRATCH/out")"
[ "$(stat -c %s "$BOOT_DIR/state")" -eq 24 ] || fail "state file of $(stat -c %s "$BOOT_DIR/state") bytes"
expect_status 0 boot_cmd mark-good b
expect_status 0 boot_cmd status
grep -qx "primary: b" "$SCRATCH/out" || fail "mark-good did not make b primary"
grep -qx "copy 1: sequence 2 (current)" "$SCRATCH/out" || fail "second write not in copy 1: $(cat "$SCRATCH/out")"
[ "$(stat -c %s "$BOOT_DIR/state")" -eq $((4096 + 24)) ] || fail "copy 1 is not at offset 4096"
expect_status 0 boot_cmd mark-good b
expect_status 0 boot_cmd status
grep -qx "copy 1: sequence 2 (current)" "$SCRATCH/out" || fail "an unchanged state was written again"
expect_status 0 boot_cmd mark-bad a
expect_status 1 boot_cmd mark-good a
expect_err "slot a is bad; only a slot that can have booted"
expect_status 0 boot_cmd mark-empty a
expect_status 0 boot_cmd status --json
grep -q '"primary": "b"' "$SCRATCH/out" && grep -q '"status": "empty"' "$SCRATCH/out" &&
	grep -q '"reason": "marked_bad"' "$SCRATCH/out" && grep -q '"current_copy": 1' "$SCRATCH/out" ||
	fail "status --json: $(cat "$SCRATCH/out")"

# A corrupt copy is reported and the other one used: here the newer one, so slot a is back
# to the bad of sequence 3.
printf 'XXXX' | dd of="$BOOT_DIR/state" bs=1 seek=4096 conv=notrunc status=none
expect_status 0 boot_cmd status
grep -q "^copy 1: invalid" "$SCRATCH/out" && grep -qx "copy 0: sequence 3 (current)" "$SCRATCH/out" ||
	fail "corrupt copy 0 not reported: $(cat "$SCRATCH/out")"
grep -qx "slot a: bad" "$SCRATCH/out" || fail "the older copy was not used: $(cat "$SCRATCH/out")"

# A state file that cannot be written: the command fails and says so.
chmod 0400 "$BOOT_DIR/state"
if [ "$(id -u)" -ne 0 ]; then
	expect_status 1 boot_cmd set-trial a --tries 1
	expect_err "cannot record the boot state"
fi
chmod 0600 "$BOOT_DIR/state"

# Prediction: usage errors, then values against an independent computation.
expect_status 2 "$pcrgate" policy predict
expect_err "--slot DIR is required"
mkdir -p "$SCRATCH/release"
expect_status 2 "$pcrgate" policy predict --slot "$SCRATCH/release"
expect_err "say which slot the release boots from with --as a|b"
expect_status 2 "$pcrgate" policy predict --slot "$BOOT_DIR/slots/a" --banks sha256,md5
expect_err "unknown bank 'md5'"
expect_status 2 "$pcrgate" policy predict --slot "$BOOT_DIR/slots/a" --as c
boot_install a 4.2.0 7 full
printf 'pcrgate-manifest 1\ncompatible=acme,gw-100\nversion=1.0\nsecurity_version=01\n' \
	>"$SCRATCH/release/manifest"
expect_status 1 "$pcrgate" policy predict --slot "$SCRATCH/release" --as a
expect_err "at offset 71: number with a leading zero"

sha() {
	sha256sum | cut -d' ' -f1
}
zero=$(printf '%064d' 0)
sep=$(printf '\0\0\0\0' | sha)
mdigest=$(sha <"$BOOT_DIR/slots/a/manifest")
pcr9=$(boot_extend "$zero" "$(printf '%s' "slot=b version=4.2.0 security_version=7 manifest_sha256=$mdigest" | sha)")
pcr9=$(boot_extend "$pcr9" "$sep")
pcr8=$zero
while read -r line; do
	pcr8=$(boot_extend "$pcr8" "$(printf '%s' "$line" | sha)")
done < <(grep '^image=' "$BOOT_DIR/slots/a/manifest")
pcr8=$(boot_extend "$pcr8" "$sep")
cp "$BOOT_DIR/slots/a/manifest" "$SCRATCH/release/manifest"
expect_status 0 "$pcrgate" policy predict --slot "$SCRATCH/release" --as b
printf 'sha256:8=%s\nsha256:9=%s\n' "$pcr8" "$pcr9" >"$SCRATCH/expected"
diff -u "$SCRATCH/expected" "$SCRATCH/out" >&2 || fail "prediction differs from the independent computation"

# Banks sorted by name, then index; the slot name from the directory; JSON.
expect_status 0 "$pcrgate" policy predict --slot "$BOOT_DIR/slots/a/" --banks sha512,sha1,sha384,sha256
[ "$(cut -d: -f1 "$SCRATCH/out" | uniq | paste -sd' ')" = "sha1 sha256 sha384 sha512" ] ||
	fail "banks not sorted: $(cat "$SCRATCH/out")"
[ "$(wc -l <"$SCRATCH/out")" -eq 8 ] || fail "expected 8 values"
grep -q "^sha256:8=$pcr8\$" "$SCRATCH/out" || fail "slot a changed PCR 8, which does not name the slot"
grep -q "^sha256:9=$pcr9\$" "$SCRATCH/out" && fail "slot a and b predict the same PCR 9"
expect_status 0 "$pcrgate" policy predict --slot "$SCRATCH/release" --as b --json
grep -q "\"8\": \"$pcr8\"" "$SCRATCH/out" || fail "JSON prediction: $(cat "$SCRATCH/out")"
echo "PASS: pcrgate-boot commands and settings; prediction matches the event layout"
