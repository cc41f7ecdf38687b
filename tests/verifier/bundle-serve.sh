#!/bin/bash
# The verifier serves release bundles from bundle_dir (GET/HEAD /v1/bundles/NAME), no TPM
# needed: a random 3 MB file whole and in ranges (A-B, A-, -N), 416 past its end, several or
# malformed ranges answered whole, an empty file, HEAD, ETag and If-Range; names with "..", "/", a leading
# dot, a symbolic link, a directory, a FIFO are refused and never served; the route counts in
# /metrics; without bundle_dir the route answers 404, and a bundle_dir that is not a directory
# stops the start.
set -u
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/verifier/verifier-lib.sh"
make_scratch
need sha256sum timeout

BUNDLES=$SCRATCH/bundles
SIZE=3145728
mkdir -p "$BUNDLES/subdir" || fail "cannot create the scratch directories"
head -c "$SIZE" /dev/urandom >"$BUNDLES/release-1.2.bundle" || fail "cannot write the bundle"
echo "not served" >"$BUNDLES/.hidden"
echo "not served" >"$BUNDLES/subdir/inner"
ln -s /etc/passwd "$BUNDLES/passwd-link"
ln -s release-1.2.bundle "$BUNDLES/link.bundle"
mkfifo "$BUNDLES/fifo"
: >"$BUNDLES/empty.bundle"
chmod 0644 "$BUNDLES/release-1.2.bundle"
DB=sqlite:$SCRATCH/verifier/verifier.db
verifier_setup_plain "$DB" "bundle_dir = $BUNDLES"
URL=$VERIFIER_URL/v1/bundles

# get NAME [CURL_OPTIONS...]: status in $status, body in $SCRATCH/body (its size in $received),
# headers in $SCRATCH/headers.
get() {
	local name=$1 out
	shift
	out=$(curl -s --path-as-is --max-time 10 --cacert "$VERIFIER_DIR/tls.pem" -D "$SCRATCH/headers" \
		-o "$SCRATCH/body" -w '%{http_code} %{size_download}' "$@" "$URL/$name") || fail "curl $name $* failed"
	read -r status received <<<"$out"
}
# header NAME: a response header's value from the last get.
header() {
	sed -n "s/^$1: *//Ip" "$SCRATCH/headers" | tr -d '\r' | tail -n 1
}
expect() {
	[ "$status" = "$1" ] || fail "$2: HTTP $status, not $1: $(head -c 300 "$SCRATCH/body")"
}
# slice FIRST COUNT: those bytes of the bundle.
slice() {
	tail -c +$(($1 + 1)) "$BUNDLES/release-1.2.bundle" | head -c "$2"
}
same() {
	cmp -s "$1" "$2" || fail "$3: the bytes differ"
}

# The whole bundle.
get release-1.2.bundle
expect 200 "GET"
[ "$(sha256sum <"$SCRATCH/body")" = "$(sha256sum <"$BUNDLES/release-1.2.bundle")" ] || fail "GET: sha256 differs"
[ "$(header Accept-Ranges)" = bytes ] || fail "GET: no Accept-Ranges: bytes"
[ "$(header Content-Length)" = "$SIZE" ] || fail "GET: Content-Length $(header Content-Length)"
[ "$(header Content-Type)" = application/octet-stream ] || fail "GET: Content-Type $(header Content-Type)"
etag=$(header ETag)
[[ $etag =~ ^\"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+\"$ ]] || fail "GET: no strong ETag: '$etag'"
echo "ok: GET whole, ETag $etag"

# Ranges of each form.
get release-1.2.bundle -H "Range: bytes=1000-1999"
expect 206 "bytes=1000-1999"
[ "$(header Content-Range)" = "bytes 1000-1999/$SIZE" ] || fail "A-B: Content-Range $(header Content-Range)"
slice 1000 1000 >"$SCRATCH/want"
same "$SCRATCH/body" "$SCRATCH/want" "A-B"
get release-1.2.bundle -H "Range: bytes=3145000-"
expect 206 "bytes=3145000-"
[ "$(header Content-Range)" = "bytes 3145000-3145727/$SIZE" ] || fail "A-: Content-Range $(header Content-Range)"
slice 3145000 728 >"$SCRATCH/want"
same "$SCRATCH/body" "$SCRATCH/want" "A-"
get release-1.2.bundle -H "Range: bytes=-500"
expect 206 "bytes=-500"
[ "$(header Content-Range)" = "bytes 3145228-3145727/$SIZE" ] || fail "-N: Content-Range $(header Content-Range)"
tail -c 500 "$BUNDLES/release-1.2.bundle" >"$SCRATCH/want"
same "$SCRATCH/body" "$SCRATCH/want" "-N"
get release-1.2.bundle -H "Range: bytes=3000000-9999999"
expect 206 "a range past the end, clamped"
[ "$(header Content-Range)" = "bytes 3000000-3145727/$SIZE" ] || fail "clamp: Content-Range $(header Content-Range)"
echo "ok: ranges A-B, A-, -N"

# Unsatisfiable: 416 with the size.
get release-1.2.bundle -H "Range: bytes=$SIZE-"
expect 416 "a range from the end"
[ "$(header Content-Range)" = "bytes */$SIZE" ] || fail "416: Content-Range $(header Content-Range)"
# Several ranges, or a malformed one: the whole bundle.
for r in "bytes=0-1,5-6" "bytes=x-1" "bytes=5-2" "items=0-1"; do
	get release-1.2.bundle -H "Range: $r"
	expect 200 "Range: $r"
	[ "$(stat -c %s "$SCRATCH/body")" = "$SIZE" ] || fail "Range: $r: not the whole bundle"
done
# An empty file: served empty; no range of it exists.
get empty.bundle
expect 200 "an empty bundle"
[ "$received" = 0 ] && [ "$(header Content-Length)" = 0 ] || fail "an empty bundle: $received bytes"
get empty.bundle -H "Range: bytes=0-"
expect 416 "a range of an empty bundle"
echo "ok: 416, and several or malformed ranges served whole"

# HEAD: the headers of GET, no body.
get release-1.2.bundle -I
expect 200 "HEAD"
[ "$(header Content-Length)" = "$SIZE" ] && [ "$(header ETag)" = "$etag" ] || fail "HEAD: wrong headers"
[ "$received" = 0 ] || fail "HEAD: a body of $received bytes"
get release-1.2.bundle -I -H "Range: bytes=10-19"
expect 206 "HEAD with a range"
[ "$(header Content-Length)" = 10 ] || fail "HEAD with a range: Content-Length $(header Content-Length)"
echo "ok: HEAD"

# If-Range: the current ETag keeps the range; another one gets the whole (new) bundle.
get release-1.2.bundle -H "Range: bytes=10-19" -H "If-Range: $etag"
expect 206 "If-Range with the ETag"
get release-1.2.bundle -H "Range: bytes=10-19" -H 'If-Range: "0-0-0"'
expect 200 "If-Range with another ETag"
[ "$(stat -c %s "$SCRATCH/body")" = "$SIZE" ] || fail "If-Range with another ETag: not the whole bundle"
get release-1.2.bundle -H "Range: bytes=10-19" -H "If-Range: W/$etag"
expect 200 "If-Range with a weak ETag"
touch -d '2001-01-01' "$BUNDLES/release-1.2.bundle"
get release-1.2.bundle -H "Range: bytes=10-19" -H "If-Range: $etag"
expect 200 "If-Range after the file changed"
[ "$(header ETag)" != "$etag" ] || fail "the ETag did not change with the file"
echo "ok: ETag and If-Range"

# Names that are not one plain file name of the directory, and files that are not regular:
# bad_name STATUS NAME [FILE]: GET NAME is refused with STATUS, and does not serve FILE.
bad_name() {
	get "$2"
	expect "$1" "name '$2'"
	[ -z "${3:-}" ] || ! cmp -s "$SCRATCH/body" "$3" || fail "name '$2': served $3"
	echo "ok: '$2' refused with $status"
}
bad_name 400 .. /etc/passwd
bad_name 400 %2e%2e /etc/passwd
bad_name 404 ../verifier/tls.key "$VERIFIER_DIR/tls.key"
bad_name 404 ..%2Fverifier%2Ftls.key "$VERIFIER_DIR/tls.key"
bad_name 400 .hidden "$BUNDLES/.hidden"
bad_name 404 subdir/inner "$BUNDLES/subdir/inner"
bad_name 404 subdir%2Finner "$BUNDLES/subdir/inner"
bad_name 404 subdir "$BUNDLES/subdir/inner"
bad_name 404 passwd-link /etc/passwd
bad_name 404 link.bundle "$BUNDLES/release-1.2.bundle"
bad_name 404 fifo
bad_name 404 missing.bundle
bad_name 400 "$(printf 'a%.0s' {1..129})"
bad_name 400 'a%20b'

# Counted like every other route.
status=$(curl -s --cacert "$VERIFIER_DIR/tls.pem" -o "$SCRATCH/metrics" -w '%{http_code}' "$VERIFIER_URL/metrics")
[ "$status" = 200 ] || fail "/metrics: HTTP $status"
grep -q 'pcrgate_verifier_requests_total{route="/v1/bundles/{}",method="GET",status="206"}' "$SCRATCH/metrics" ||
	fail "/metrics counts no 206 of the bundle route: $(grep bundles "$SCRATCH/metrics")"
grep -q 'route="/v1/bundles/{}",method="HEAD"' "$SCRATCH/metrics" || fail "/metrics counts no HEAD"
verifier_stop_all
echo "ok: /metrics"

# Without bundle_dir the route answers 404.
verifier_config_plain "$VERIFIER_DIR/plain.conf" "$DB"
verifier_start "$VERIFIER_DIR/plain.conf" "$VERIFIER_DIR/plain.log"
URL=$REPLY/v1/bundles
get release-1.2.bundle
expect 404 "without bundle_dir"
grep -q "serves no bundles" "$SCRATCH/body" || fail "without bundle_dir: $(cat "$SCRATCH/body")"
verifier_stop_all
echo "ok: no bundle_dir, 404"

# A bundle_dir that is not a directory: the configuration check and the start both refuse it.
verifier_config_plain "$VERIFIER_DIR/bad.conf" "$DB" "bundle_dir = $BUNDLES/release-1.2.bundle"
out=$(timeout 20 "$VERIFIERD" --config "$VERIFIER_DIR/bad.conf" serve 2>&1)
rc=$?
[ "$rc" -ne 124 ] || fail "served for 20 s with a file as bundle_dir: $out"
[ "$rc" -ne 0 ] || fail "served with a file as bundle_dir: $out"
grep -q "bundle_dir" <<<"$out" || fail "the start failure does not name bundle_dir: $out"
verifier_config_plain "$VERIFIER_DIR/bad.conf" "$DB" "bundle_dir = $SCRATCH/none"
out=$("$VERIFIERD" --config "$VERIFIER_DIR/bad.conf" --check-config 2>&1) &&
	fail "--check-config passed a missing bundle_dir"
grep -q "bundle_dir" <<<"$out" || fail "--check-config does not name bundle_dir: $out"
echo "ok: a bad bundle_dir is refused"
finish
