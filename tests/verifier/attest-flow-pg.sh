#!/bin/bash
# The verifier's end-to-end test (attest-flow.sh) on PostgreSQL: a private server
# (tests/verifier/with-postgres) holds the verifier's state, and a second verifier process
# shares it: a nonce issued by one is answered at the other.
set -u
. "$top_srcdir/tests/lib.sh"
if [ -z "${PCRGATE_PG_URL:-}" ]; then
	exec "$top_srcdir/tests/verifier/with-postgres" "$BASH" "$0" "$@"
fi
# As root the verifier serves as nobody, which must reach the server's socket directory.
if [ "$(id -u)" = 0 ]; then
	pgdir=$(printf '%s\n' "$PCRGATE_PG_URL" | sed -n 's/.*[?&]host=\([^&]*\).*/\1/p')
	chmod o+x "$pgdir" || fail "cannot open $pgdir to the verifier's user"
fi
VERIFIER_DB=$PCRGATE_PG_URL exec "$BASH" "$top_srcdir/tests/verifier/attest-flow.sh"
