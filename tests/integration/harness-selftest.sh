#!/bin/bash
# Self test of the swtpm test driver (tests/integration/with-swtpm): it runs the
# driver on small inner scripts and checks that it passes the test's status through,
# fails a test that leaves a transient object in the TPM, copes with a power cycle,
# reports a dead swtpm, and in every case, interrupts included, leaves no swtpm
# process and no state directory behind.
set -u
. "$top_srcdir/tests/lib.sh"

driver=$top_srcdir/tests/integration/with-swtpm
if ! command -v swtpm >/dev/null || ! command -v tpm2_getcap >/dev/null; then
	skip "swtpm or tpm2-tools missing"
fi
make_scratch

# Every inner script first records its private swtpm for the checks afterwards.
record='printf "%s %s\n" "$PCRGATE_SWTPM_DIR" "$PCRGATE_SWTPM_PID" >"$RECORD"'

inner() {
	printf '#!/bin/bash\nset -u\n%s\n%s\n' "$record" "$2" >"$SCRATCH/$1.sh"
}

alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $state in Z*) return 1 ;; esac
	return 0
}

# run NAME EXPECTED_STATUS: runs the driver on inner script NAME, checks the status
# and that the swtpm it got is gone with its directory.
run() {
	local name=$1 want=$2 got dir pid
	rm -f "$SCRATCH/$name.record"
	RECORD=$SCRATCH/$name.record "$BASH" "$driver" "$SCRATCH/$name.sh" >"$SCRATCH/$name.log" 2>&1
	got=$?
	if [ "$got" -ne "$want" ]; then
		sed 's/^/    /' "$SCRATCH/$name.log" >&2
		fail "$name: driver exited with $got, expected $want"
	fi
	check_gone "$name"
}

check_gone() {
	local name=$1 dir pid
	[ -s "$SCRATCH/$name.record" ] || fail "$name: the inner test did not run"
	read -r dir pid <"$SCRATCH/$name.record"
	case $dir in */pcrgate-swtpm.*) ;; *) fail "$name: odd state directory '$dir'" ;; esac
	[ ! -e "$dir" ] || fail "$name: state directory $dir is still there"
	! alive "$pid" || fail "$name: swtpm (pid $pid) is still running"
}

# A clean test: the environment is complete, the banks are there, a flushed object is no leak.
inner pass '
[ "$PCRGATE_TCTI" = "swtpm:path=$PCRGATE_SWTPM_DIR/sock" ] || exit 11
[ "$TPM2TOOLS_TCTI" = "$PCRGATE_TCTI" ] || exit 12
grep -qx "tcti = $PCRGATE_TCTI" "$PCRGATE_CONFIG" || exit 13
[ -S "$PCRGATE_SWTPM_CTRL" ] || exit 14
tpm2_getcap pcrs >"$PCRGATE_SWTPM_DIR/pcrs" || exit 15
grep -q "sha1: \[ 0," "$PCRGATE_SWTPM_DIR/pcrs" && grep -q "sha256: \[ 0," "$PCRGATE_SWTPM_DIR/pcrs" || exit 16
tpm2_createprimary -Q -C o -c "$PCRGATE_SWTPM_DIR/primary.ctx" || exit 17
tpm2_flushcontext -t || exit 18
exit 0'
run pass 0

# A leaked transient object fails an otherwise passing test, and is named.
inner leak 'tpm2_createprimary -Q -C o -c "$PCRGATE_SWTPM_DIR/primary.ctx" || exit 11
exit 0'
run leak 1
if ! grep -q "left these handles" "$SCRATCH/leak.log" || ! grep -q "0x80" "$SCRATCH/leak.log"; then
	fail "leak: the driver did not name the leaked handle"
fi

# The test's own status passes through, a leak does not hide a failure.
inner skip 'exit 77'
run skip 77
inner failing 'tpm2_createprimary -Q -C o -c "$PCRGATE_SWTPM_DIR/primary.ctx"
exit 3'
run failing 3

# After a power cycle the TPM waits for TPM2_Startup; the leak check still works.
inner powercycle 'swtpm_ioctl --unix "$PCRGATE_SWTPM_CTRL" -i >/dev/null || exit 11
exit 0'
run powercycle 0

# swtpm dying under the test is a hard error, not a pass.
inner crash 'kill -KILL "$PCRGATE_SWTPM_PID"
exit 0'
run crash 99

# An interrupted run stops the test (and what it started) and swtpm, and cleans up.
inner interrupt 'sleep 60 &
echo $! >"$RECORD.sleep"
wait'
RECORD=$SCRATCH/interrupt.record "$BASH" "$driver" "$SCRATCH/interrupt.sh" >"$SCRATCH/interrupt.log" 2>&1 &
driver_pid=$!
for ((i = 0; i < 200; i++)); do
	[ -s "$SCRATCH/interrupt.record.sleep" ] && break
	sleep 0.05
done
[ -s "$SCRATCH/interrupt.record.sleep" ] || fail "interrupt: the inner test did not start"
kill -TERM "$driver_pid"
wait "$driver_pid"
got=$?
[ "$got" -eq 143 ] || fail "interrupt: driver exited with $got, expected 143"
check_gone interrupt
! alive "$(cat "$SCRATCH/interrupt.record.sleep")" || fail "interrupt: the test's child process is still running"

echo "PASS: with-swtpm passes status through, catches leaks and cleans up"
