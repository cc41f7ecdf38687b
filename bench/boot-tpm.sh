#!/bin/bash
# bench/boot-tpm.sh: the TPM commands of one `pcrgate-boot boot`, for bench/boot. Runs under
# tests/integration/with-swtpm (bench/boot starts it so); builds a device whose slot a has a
# kernel, an initrd and a device tree, provisions the anti-rollback counter, boots once, and
# prints KEY=VALUE lines: the commands counted on the wire (tpm2-tss's TCTI debug log, one
# "Sending command" line per command, by command code; resubmissions after TPM_RC_RETRY
# apart) beside the port's own count.
set -u
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/boot-lib.sh"

[ -n "${PCRGATE_SWTPM_CTRL:-}" ] || skip "run under tests/integration/with-swtpm"
make_scratch
boot_setup
boot_install a 1.0.0 1 full
boot_counter 1
boot_reboot

TSS2_LOG=tcti+debug,esys+debug boot_cmd boot --stats >"$SCRATCH/out" 2>"$SCRATCH/tss.log" ||
	fail "pcrgate-boot boot failed: $(grep -v '^debug' "$SCRATCH/tss.log" | tail -5)"

name() {
	case $1 in
	0x144) echo TPM2_Startup ;;
	0x17a) echo TPM2_GetCapability ;;
	0x169) echo TPM2_NV_ReadPublic ;;
	0x14e) echo TPM2_NV_Read ;;
	0x182) echo TPM2_PCR_Extend ;;
	*) echo "TPM_CC_$1" ;;
	esac
}

codes=$(grep -o 'Sending command with TPM_CC 0x[0-9a-f]*' "$SCRATCH/tss.log" | awk '{ print $NF }')
[ -n "$codes" ] || fail "no command in tpm2-tss's TCTI log (built without logging?)"
echo "WIRE_COMMANDS=$(printf '%s\n' "$codes" | wc -l)"
printf '%s\n' "$codes" | sort | uniq -c | while read -r n code; do
	echo "WIRE_$(name "$code")=$n"
done
# ESAPI sends a command again at once when the TPM answers TPM_RC_RETRY (swtpm sometimes does).
echo "WIRE_RESUBMISSIONS=$(grep -c 'triggers a resubmission' "$SCRATCH/tss.log")"
# The images measured: slot event, each image, two separators.
echo "MEASURED_EVENTS=$(($(grep -c '^image=' "$BOOT_DIR/slots/a/manifest") + 3))"
sed -n 's/^STATS_\([A-Z_]*\)=/PORT_\1=/p' "$SCRATCH/out"
