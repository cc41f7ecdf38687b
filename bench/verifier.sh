#!/bin/bash
# bench/verifier.sh: the verifier service benchmark. Starts pcrgate-verifierd over HTTPS on
# loopback with a fresh SQLite store, then with a private PostgreSQL server
# (tests/verifier/with-postgres), imports simulated devices through the admin API and drives
# them with bench/verifier_load: attestations per second end to end with keep-alive, p50 and
# p99 latency, for 1, 16 and 64 devices at once as fast as they are answered, then the most of
# them (64 by default) offering 2,000 attestations/s between them (the target rate: the p99
# target is judged there); beside the in-process verification rate of the same evidence and
# raw OpenSSL ECDSA P-256, measured in the same run. Prints figures, never fails on them
# (bench/README.md explains each).
#
# Options: --seconds S (each point, default 5), --warmup S (default 1), --devices N,N,...
# (default 1,16,64), --backends "sqlite postgresql" (default both), --threads N (the verifier's
# thread pool, default 2: one per core of the 2-core machine it was tuned on), --pool N (the store's connection pool, pool=N in the store URL;
# default the verifier's own), --paced R,R,... (the rates the most devices offer at the paced
# points, default 2000; 0 for none), --quick (0.5 s points; also PCRGATE_BENCH_QUICK=1), --json.
# Run from the build directory, or with top_srcdir and top_builddir set (make bench does).
set -u

me=bench/verifier
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(dirname "$here")}"
: "${top_builddir:=.}"
VERIFIERD=$top_builddir/verifier/pcrgate-verifierd
LOAD=$top_builddir/bench/verifier_load

# Said in the output: device requests are authenticated by their quotes alone here (see below).
client_certs="off (simulated devices have no TLS identity)"
seconds=5 warmup=1 devices=1,16,64 backends="sqlite postgresql" threads=2 pool= paced=2000 json=0 local_seconds=1 child=
[ "${PCRGATE_BENCH_QUICK:-0}" = 1 ] && seconds=0.5 warmup=0.3 local_seconds=0.2
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2 && shift ;;
	--warmup) warmup=$2 && shift ;;
	--devices) devices=$2 && shift ;;
	--backends) backends=$2 && shift ;;
	--threads) threads=$2 && shift ;;
	--pool) pool=$2 && shift ;;
	--paced) paced=$2 && shift ;;
	--quick) seconds=0.5 warmup=0.3 local_seconds=0.2 ;;
	--json) json=1 ;;
	--pg-child) child=$2 && shift ;; # internal: the PostgreSQL part, run under with-postgres
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "$me: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
[ "$paced" = 0 ] && paced=

die() {
	echo "$me: $*" >&2
	exit 1
}
# A JSON string.
jstr() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

for tool in "$VERIFIERD" "$LOAD"; do
	[ -x "$tool" ] || die "$tool is not built (run make first)"
done
command -v openssl >/dev/null || die "openssl not found"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"

# run_backend LABEL DB OUT: one verifier on store DB (a store URL; "sqlite" for a new SQLite
# database in its directory), driven at every device count; the load generator's output (text,
# or one JSON line) into OUT.
run_backend() {
	local label=$1 db=$2 out=$3 dir port pid i rc fmt=()
	dir=$(mktemp -d "$work/verifier.XXXXXX") || die "cannot make a directory"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pcrgate-bench \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$dir/tls.key" -out "$dir/tls.pem" >"$dir/openssl.log" 2>&1 &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/jws.key" \
			>>"$dir/openssl.log" 2>&1 || die "openssl failed: $(cat "$dir/openssl.log")"
	[ "$db" = sqlite ] && db=sqlite:$dir/verifier.db
	case $pool,$db in
	,*) ;;
	*\?*) db="$db&pool=$pool" ;;
	*) db="$db?pool=$pool" ;;
	esac
	{
		echo "listen_address = 127.0.0.1"
		# A port the kernel picks as the verifier starts; its log names it.
		echo "port = 0"
		echo "tls_cert = $dir/tls.pem"
		echo "tls_key = $dir/tls.key"
		echo "database = $db"
		echo "threads = $threads"
		echo "jws_key = $dir/jws.key"
		# Devices are imported by the operator: no EK certificates to check, and no TLS client
		# certificates (those come with enrollment): they authenticate by their quotes alone.
		echo "require_ek_certificate = no"
		echo "device_client_certs = no"
		# As root the daemon serves only after dropping to an unprivileged user.
		[ "$(id -u)" = 0 ] && echo "user = nobody"
	} >"$dir/verifier.conf"
	# As root, the daemon (token create too) works as nobody: its directory goes to nobody.
	if [ "$(id -u)" = 0 ]; then
		chmod 755 "$dir" && chown -R nobody "$dir" || die "cannot hand $dir to nobody"
	fi
	"$VERIFIERD" --config "$dir/verifier.conf" token create bench >"$dir/token.out" 2>&1 ||
		die "pcrgate-verifierd token create failed: $(cat "$dir/token.out")"
	grep -Eo '[0-9a-f]{64}' "$dir/token.out" | head -n 1 >"$dir/token"
	[ -s "$dir/token" ] || die "no token in: $(cat "$dir/token.out")"
	: >"$dir/log"
	"$VERIFIERD" --config "$dir/verifier.conf" serve >>"$dir/log" 2>&1 &
	pid=$!
	for ((i = 0; ; i++)); do
		kill -0 "$pid" 2>/dev/null || die "pcrgate-verifierd exited: $(cat "$dir/log")"
		port=$(sed -n 's/.*port = 0: listening on .* port \([0-9]*\),.*/\1/p' "$dir/log")
		[ -n "$port" ] && curl -sf --cacert "$dir/tls.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		[ "$i" -lt 750 ] || { kill "$pid"; die "pcrgate-verifierd did not answer: $(cat "$dir/log")"; }
		sleep 0.04
	done
	[ "$json" = 1 ] && fmt=(--json)
	"$LOAD" load --url "https://127.0.0.1:$port" --cacert "$dir/tls.pem" --token-file "$dir/token" \
		--devices "$devices" --seconds "$seconds" --warmup "$warmup" --server-pid "$pid" --label "$label" \
		${paced:+--paced "$paced"} "${fmt[@]}" >"$out" 2>"$dir/load.err"
	rc=$?
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ "$rc" != 0 ]; then
		echo "$me: $label: the load generator failed: $(cat "$dir/load.err")" >&2
		echo "$me: the verifier's last log lines:" >&2
		tail -n 5 "$dir/log" >&2
		rm -rf "$dir"
		return 1
	fi
	rm -rf "$dir"
}

# Everything this run writes is under $work, removed on exit whatever happens.
work=$(mktemp -d "${TMPDIR:-/tmp}/pcrgate-bench.XXXXXX") || die "cannot make a directory"
trap 'rm -rf "$work"' EXIT
[ "$(id -u)" = 0 ] && chmod 755 "$work"

# The PostgreSQL part, under with-postgres: the server's socket directory must be reachable by
# the user the verifier serves as.
if [ -n "$child" ]; then
	if [ "$(id -u)" = 0 ]; then
		chmod o+x "${PCRGATE_PG_DIR:?not under with-postgres}" || die "cannot open $PCRGATE_PG_DIR"
	fi
	run_backend postgresql "$PCRGATE_PG_URL" "$child"
	exit
fi


if [ "$json" = 0 ]; then
	echo "pcrgate verifier benchmark: $(nproc) cores, load generator on the same machine;"
	echo "verifier threads = $threads; each point ${seconds} s after a ${warmup} s warm-up;"
	echo "one attestation = POST /v1/attest/nonce + POST /v1/attest over HTTPS (keep-alive)"
	echo "client certificates: $client_certs"
	# Other load lowers every figure: say how busy the machine was.
	echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	"$LOAD" local --seconds "$local_seconds" || die "the in-process figures failed"
	echo
	echo "end to end (targets with SQLite at 64 devices: >= 2000 attestations/s as fast as they are answered;"
	echo "p99 < 25 ms when they offer 2000/s, each device on a timer of its own, latency from when each was due):"
else
	"$LOAD" local --seconds "$local_seconds" --json >"$work/local.json" || die "the in-process figures failed"
fi

status=0 pg_skipped=
for backend in $backends; do
	out=$work/$backend.out
	case $backend in
	sqlite) run_backend sqlite sqlite "$out" </dev/null ||
		status=1 ;;
	postgresql)
		"$top_srcdir/tests/verifier/with-postgres" "$BASH" "$0" --pg-child "$out" --seconds "$seconds" \
			--warmup "$warmup" --devices "$devices" --threads "$threads" ${pool:+--pool "$pool"} \
			--paced "${paced:-0}" \
			$([ "$json" = 1 ] && echo --json) </dev/null >"$work/with-postgres.out"
		rc=$?
		# with-postgres says why it skipped on stdout, which --json keeps to the document.
		if [ "$rc" = 77 ]; then
			why=$(sed -n 's/^SKIP: //p' "$work/with-postgres.out" | head -n 1)
			pg_skipped=${why:-no PostgreSQL server binaries}
			echo "  postgresql: skipped ($pg_skipped)" >&2
		elif [ "$rc" != 0 ]; then
			cat "$work/with-postgres.out" >&2
			status=1
		fi
		;;
	*) die "unknown backend $backend (sqlite, postgresql)" ;;
	esac
	[ "$json" = 0 ] && [ -f "$out" ] && cat "$out"
done

if [ "$json" = 1 ]; then
	printf '{"benchmark":"verifier","config":{"seconds":%s,"warmup":%s,"devices":[%s],"paced":[%s],"verifier_threads":%s,"cores":%s,' \
		"$seconds" "$warmup" "$devices" "$paced" "$threads" "$(nproc)"
	printf '"client_certificates":"%s"},' "$client_certs"
	printf '"targets":{"backend":"sqlite","devices":64,"attestations_per_s_min":2000,"p99_ms_max":25,"p99_at_offered_per_s":2000,"paced_answered_min":0.98},'
	printf '"local":%s' "$(cat "$work/local.json")"
	# A backend that failed printed nothing: null, and the exit status says it failed.
	for backend in $backends; do
		printf ',"%s":%s' "$backend" "$([ -s "$work/$backend.out" ] && cat "$work/$backend.out" || echo null)"
	done
	# Why a backend was skipped, by name.
	printf ',"skipped":{%s}' "$([ -n "$pg_skipped" ] && printf '"postgresql":%s' "$(jstr "$pg_skipped")")"
	printf '}\n'
fi
exit "$status"
