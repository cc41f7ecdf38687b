# Helpers for the verifier's end-to-end tests; sourced after tests/lib.sh, never run.
#
# verifier_setup DB [EXTRA_LINES] makes a TLS certificate for 127.0.0.1, the ES256
# authorization key, a config in $VERIFIER_DIR (with EXTRA_LINES added) and an admin token,
# starts pcrgate-verifierd on a free loopback port with the store DB (a store URL) and points
# the agent's config at it (it needs agent-lib.sh's agent_setup first). verifier_setup_plain DB
# [EXTRA_LINES] does the same for a verifier without TPM-related keys and device certificates,
# for tests without a TPM or an agent. After either:
#   VERIFIER_URL  https://127.0.0.1:PORT
#   VERIFIER_DIR  its files: verifier.conf, tls.pem/key, token, log (verifier_setup: also
#                 jws.key/.pem, device-ca.pem/key, vendor.pem, ek-ca/)
#   PCRGATE_ADMIN_URL, PCRGATE_ADMIN_CACERT, PCRGATE_ADMIN_TOKEN_FILE  exported for `pcrgate admin`

VERIFIERD=$top_builddir/verifier/pcrgate-verifierd
VERIFIER_PIDS=
VERIFIER_LOGS=

verifier_openssl() {
	openssl "$@" >>"$VERIFIER_DIR/openssl.log" 2>&1 || fail "openssl $1 failed (see $VERIFIER_DIR/openssl.log)"
}

# The lines every config has: verifier_config_common DB. The port is 0, one the kernel picks
# when the verifier starts (so no other test can take it first); verifier_start finds it in
# the log.
verifier_config_common() {
	echo "listen_address = 127.0.0.1"
	echo "port = 0"
	echo "tls_cert = $VERIFIER_DIR/tls.pem"
	echo "tls_key = $VERIFIER_DIR/tls.key"
	echo "database = $1"
	# As root the daemon serves only after dropping to an unprivileged user.
	[ "$(id -u)" != 0 ] || echo "user = nobody"
}

# verifier_config FILE DB [EXTRA_LINES]: a config for one verifier process.
verifier_config() {
	{
		verifier_config_common "$2"
		echo "threads = 4"
		echo "jws_key = $VERIFIER_DIR/jws.key"
		echo "policy_key = $VERIFIER_DIR/vendor.pem"
		echo "counter_index = $AGENT_COUNTER"
		echo "ek_ca = $VERIFIER_DIR/ek-ca"
		echo "device_ca_cert = $VERIFIER_DIR/device-ca.pem"
		echo "device_ca_key = $VERIFIER_DIR/device-ca.key"
		echo "nonce_ttl = ${VERIFIER_NONCE_TTL:-300}"
		echo "authorization_ttl = 600"
		[ -z "${3:-}" ] || printf '%s\n' "$3"
	} >"$1"
}

# verifier_config_plain FILE DB [EXTRA_LINES]: a config, on a free port, for a verifier without
# TPM-related keys and without device client certificates.
verifier_config_plain() {
	{
		verifier_config_common "$2"
		echo "device_client_certs = no"
		[ -z "${3:-}" ] || printf '%s\n' "$3"
	} >"$1"
}

# The verifier's TLS certificate and key for 127.0.0.1: VERIFIER_DIR/tls.pem and tls.key.
verifier_tls_cert() {
	mkdir -p "$VERIFIER_DIR" || fail "cannot create $VERIFIER_DIR"
	verifier_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=pcrgate-verifier -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$VERIFIER_DIR/tls.key" -out "$VERIFIER_DIR/tls.pem"
}

# As root, VERIFIER_DIR goes to the user the daemon drops to, which must reach it.
verifier_hand_over() {
	if [ "$(id -u)" = 0 ]; then
		chmod o+x "$SCRATCH" && chown -R nobody "$VERIFIER_DIR" || fail "cannot hand $VERIFIER_DIR to nobody"
	fi
}

# An admin token in VERIFIER_DIR/token, made with the daemon's config CONF: verifier_token CONF
verifier_token() {
	"$VERIFIERD" --config "$1" token create test >"$VERIFIER_DIR/token.out" 2>&1 ||
		fail "pcrgate-verifierd token create failed: $(cat "$VERIFIER_DIR/token.out")"
	grep -Eo '[0-9a-f]{64}' "$VERIFIER_DIR/token.out" | head -n 1 >"$VERIFIER_DIR/token"
	[ -s "$VERIFIER_DIR/token" ] || fail "no token in: $(cat "$VERIFIER_DIR/token.out")"
	chmod 600 "$VERIFIER_DIR/token"
}

# verifier_start CONF LOG: starts one verifier (CONF has port = 0) and waits until /healthz
# answers on the port its log names ("port = 0: listening on ... port N,"); its URL in $REPLY.
verifier_start() {
	local conf=$1 log=$2 port= pid i
	: >"$log"
	"$VERIFIERD" --config "$conf" serve >>"$log" 2>&1 &
	pid=$!
	VERIFIER_PIDS="$VERIFIER_PIDS $pid"
	VERIFIER_LOGS="$VERIFIER_LOGS $log"
	for ((i = 0; i < 750; i++)); do
		kill -0 "$pid" 2>/dev/null || fail "pcrgate-verifierd exited: $(cat "$log")"
		port=$(sed -n 's/.*port = 0: listening on .* port \([0-9]*\),.*/\1/p' "$log")
		if [ -n "$port" ] && curl -sf --cacert "$VERIFIER_DIR/tls.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
			REPLY=https://127.0.0.1:$port
			return 0
		fi
		sleep 0.04
	done
	fail "pcrgate-verifierd did not answer on port $port: $(cat "$log")"
}

# Stops every verifier this test started (SIGTERM: a graceful stop, which must succeed: each
# must exit 0). verifier_stop_all lenient, for the EXIT trap after a failure, only stops them.
verifier_stop_all() {
	local pid rc bad= i=0
	local -a logs
	read -r -a logs <<<"$VERIFIER_LOGS"
	for pid in $VERIFIER_PIDS; do
		# One that is gone already still has its exit status for wait.
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		[ "$rc" -eq 0 ] || bad="$bad; pid $pid exited $rc: $(tail -n 5 "${logs[i]}" 2>/dev/null)"
		i=$((i + 1))
	done
	VERIFIER_PIDS=
	VERIFIER_LOGS=
	[ "${1:-}" = lenient ] || [ -z "$bad" ] || fail "pcrgate-verifierd did not stop cleanly$bad"
}

# The token, the start with VERIFIER_DIR/verifier.conf and the exports: the end of both setups.
verifier_serve() {
	verifier_token "$VERIFIER_DIR/verifier.conf"
	trap 'verifier_stop_all lenient; rm -rf "$SCRATCH"' EXIT
	verifier_start "$VERIFIER_DIR/verifier.conf" "$VERIFIER_DIR/log"
	VERIFIER_URL=$REPLY
	export PCRGATE_ADMIN_URL=$VERIFIER_URL PCRGATE_ADMIN_CACERT=$VERIFIER_DIR/tls.pem
	export PCRGATE_ADMIN_TOKEN_FILE=$VERIFIER_DIR/token
}

# verifier_setup DB [EXTRA_LINES]: the verifier of the agent's tests (see the top of this file).
verifier_setup() {
	[ -x "$VERIFIERD" ] || fail "$VERIFIERD is not built"
	need curl python3
	VERIFIER_DIR=$SCRATCH/verifier
	verifier_tls_cert
	# The CA that issues the devices' TLS client certificates at enrollment.
	verifier_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=pcrgate-device-ca -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$VERIFIER_DIR/device-ca.key" -out "$VERIFIER_DIR/device-ca.pem"
	verifier_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VERIFIER_DIR/jws.key"
	verifier_openssl pkey -in "$VERIFIER_DIR/jws.key" -pubout -out "$VERIFIER_DIR/jws.pem"
	# What the daemon reads after dropping privileges: its keys, the vendor policy key, the EK CAs.
	cp "$AGENT_DIR/vendor.pem" "$VERIFIER_DIR/" &&
		cp -r "${PCRGATE_SWTPM_EK_CA_DIR:?run under with-swtpm with PCRGATE_SWTPM_EK_CA=1}" "$VERIFIER_DIR/ek-ca" ||
		fail "cannot copy the verifier's trust anchors"
	verifier_hand_over
	verifier_config "$VERIFIER_DIR/verifier.conf" "$1" "${2:-}"
	verifier_serve
	{
		echo "verifier_url = $VERIFIER_URL"
		echo "verifier_ca = $VERIFIER_DIR/tls.pem"
		echo "verifier_jws_key = $VERIFIER_DIR/jws.pem"
	} >>"$AGENT_DIR/agent.conf"
}

# verifier_setup_plain DB [EXTRA_LINES]: a verifier for tests without a TPM or an agent.
verifier_setup_plain() {
	[ -x "$VERIFIERD" ] || fail "$VERIFIERD is not built"
	need curl python3 openssl
	VERIFIER_DIR=$SCRATCH/verifier
	verifier_tls_cert
	verifier_hand_over
	verifier_config_plain "$VERIFIER_DIR/verifier.conf" "$1" "${2:-}"
	verifier_serve
}

# api METHOD PATH [BODY_FILE]: a raw request to the verifier; body in $SCRATCH/resp, status in $status.
# Device requests (/v1/attest...) go over a device's TLS client identity: by default the
# enrolled agent's (its certificate, its key in the TPM); API_IDENTITY=none sends none, and
# API_IDENTITY=PREFIX uses PREFIX.pem with the key file PREFIX.key. Admin requests carry no
# token unless API_IDENTITY=token (the test's admin token).
api() {
	local args=(-s -o "$SCRATCH/resp" -w '%{http_code}' --cacert "$VERIFIER_DIR/tls.pem" -X "$1")
	case $2:${API_IDENTITY:-} in
	/v1/admin*:token) args+=(-H "Authorization: Bearer $(cat "$VERIFIER_DIR/token")") ;;
	/v1/attest*:none | /v1/enroll*:* | /v1/admin*:* | /healthz:* | /metrics:*) ;;
	/v1/attest*:)
		status=$("$top_builddir/tests/verifier/device_request" --ca "$VERIFIER_DIR/tls.pem" \
			--cert "$AGENT_DIR/state/client-cert.pem" --tpm-key "handle:0x81000012" --tcti "$PCRGATE_TCTI" \
			--out "$SCRATCH/resp" "${API_URL:-$VERIFIER_URL}" "$2" ${3:+"$3"}) || fail "device request $2 failed"
		return
		;;
	/v1/attest*:*) args+=(--cert "$API_IDENTITY.pem" --key "$API_IDENTITY.key") ;;
	esac
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
	status=$(curl "${args[@]}" "${API_URL:-$VERIFIER_URL}$2") || fail "curl $1 $2 failed"
}

# jget EXPR: a value from the last response (python expression on d).
jget() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print('"$1"')' "$SCRATCH/resp"
}

# pcrgate admin with the test's verifier and token.
admin() {
	pcrgate admin "$@" >"$SCRATCH/admin.out" 2>"$SCRATCH/admin.err" ||
		fail "pcrgate admin $* failed: $(cat "$SCRATCH/admin.err")"
}
