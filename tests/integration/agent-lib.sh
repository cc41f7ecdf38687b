# Helpers for the device agent's swtpm tests; sourced after tests/lib.sh, never run.
#
# After agent_setup:
#   AGENT        the pcrgate-agent binary of this build
#   AGENT_DIR    the device's agent files: agent.conf, state/ (mode 0700), vendor.key/.pem
#   PCRGATE_AGENT_CONFIG  exported: agent.conf, which names the state directory and the vendor's
#                policy public key (the TPM is the one with-swtpm exports)

AGENT=$top_builddir/attest/pcrgate-agent
AGENT_COUNTER=0x01500100

# Skips unless every named tool is there (the agent tests' name for need, tests/lib.sh).
agent_need() {
	need "$@"
}

# Quiet openssl: agent_openssl ARGS... (its output goes to $AGENT_DIR/openssl.log).
agent_openssl() {
	openssl "$@" >>"$AGENT_DIR/openssl.log" 2>&1 || fail "openssl $1 failed (see $AGENT_DIR/openssl.log)"
}

# An EC P-256 key pair: agent_keypair NAME makes NAME.key and NAME.pem in $AGENT_DIR.
agent_keypair() {
	agent_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$AGENT_DIR/$1.key"
	agent_openssl pkey -in "$AGENT_DIR/$1.key" -pubout -out "$AGENT_DIR/$1.pem"
}

# The device's agent configuration, state directory and the vendor's policy key. Call after make_scratch.
agent_setup() {
	[ -n "${PCRGATE_TCTI:-}" ] || skip "no private swtpm (run under tests/integration/with-swtpm)"
	[ -x "$AGENT" ] || fail "$AGENT is not built"
	agent_need openssl tpm2_readpublic tpm2_nvreadpublic tpm2_nvread tpm2_getcap
	AGENT_DIR=$SCRATCH/agent
	mkdir -p "$AGENT_DIR" && mkdir -m 700 "$AGENT_DIR/state" || fail "cannot create $AGENT_DIR"
	agent_keypair vendor
	{
		echo "state_dir = $AGENT_DIR/state"
		echo "policy_key = $AGENT_DIR/vendor.pem"
		echo "counter_index = $AGENT_COUNTER"
	} >"$AGENT_DIR/agent.conf"
	PCRGATE_AGENT_CONFIG=$AGENT_DIR/agent.conf
	export PCRGATE_AGENT_CONFIG
}

# Runs the agent, its output in $AGENT_DIR/out and err: agent_ok ARGS... must succeed.
agent_ok() {
	"$AGENT" "$@" >"$AGENT_DIR/out" 2>"$AGENT_DIR/err" ||
		fail "pcrgate-agent $* failed: $(cat "$AGENT_DIR/err")"
}

# agent_fails PATTERN ARGS...: the agent must fail (exit 1) with PATTERN in its message.
agent_fails() {
	local pattern=$1 rc
	shift
	"$AGENT" "$@" >"$AGENT_DIR/out" 2>"$AGENT_DIR/err"
	rc=$?
	[ "$rc" -eq 1 ] || fail "pcrgate-agent $* exited $rc, expected 1: $(cat "$AGENT_DIR/out" "$AGENT_DIR/err")"
	grep -q -- "$pattern" "$AGENT_DIR/err" || fail "pcrgate-agent $*: '$pattern' not in: $(cat "$AGENT_DIR/err")"
}

# A member of the status document: agent_status_get PYTHON_EXPRESSION_ON_d
agent_status_get() {
	"$AGENT" status --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print('"$1"')'
}

# No transient object or session may be left in the TPM, at any point of a test.
# A tpm2_getcap that fails lists nothing, which must not pass for an empty TPM.
# Behind tpm2-abrmd (PCRGATE_SWTPM_ABRMD=1) a client sees only its own transient objects and
# sessions, and abrmd flushes each client's when it disconnects, so nothing another process
# left can be seen or can stay: the check says so and checks nothing there. The tests without
# abrmd (agent-quote, agent-counter, agent-faults, quote-swtpm, ...) and with-swtpm's own check
# are where a leak of pcrgate's code shows.
agent_no_handles() {
	local left= kind out
	# with-swtpm always exports the direct TCTI; abrmd is in front only when PCRGATE_TCTI differs.
	if [ -n "${PCRGATE_SWTPM_DIRECT_TCTI:-}" ] && [ "${PCRGATE_TCTI:-}" != "$PCRGATE_SWTPM_DIRECT_TCTI" ]; then
		echo "note: behind tpm2-abrmd no other client's transient objects are visible${1:+ (after $1)}"
		return 0
	fi
	for kind in handles-transient handles-loaded-session handles-saved-session; do
		out=$(tpm2_getcap "$kind") || fail "tpm2_getcap $kind failed${1:+ after $1}"
		[ -z "$out" ] || left="${left:+$left$'\n'}$out"
	done
	[ -z "$left" ] || fail "handles left in the TPM${1:+ after $1}: $left"
}

# The counter's value, read with tpm2-tools as pcrgate-boot reads it (owner authorization).
agent_counter_value() {
	local hex
	hex=$(tpm2_nvread -C o -s 8 "$AGENT_COUNTER" 2>/dev/null | od -An -tx1 | tr -d ' \n')
	[ -n "$hex" ] || fail "tpm2_nvread -C o $AGENT_COUNTER failed"
	echo $((16#$hex))
}

# agent_expect_counter N [CONTEXT]: the counter must be at N.
agent_expect_counter() {
	local v
	v=$(agent_counter_value) || exit 1
	[ "$v" = "$1" ] || fail "${2:+$2: }the counter is at $v, expected $1"
}

# A power cut: swtpm loses power (transient objects and sessions go, PCRs reset) and starts again.
agent_power_cycle() {
	swtpm_ioctl --unix "$PCRGATE_SWTPM_CTRL" -i >/dev/null || fail "cannot power-cycle swtpm"
	tpm2_startup -c >/dev/null 2>&1 || fail "TPM2_Startup after the power cycle failed"
}
