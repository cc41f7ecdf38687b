#!/bin/bash
# The store's unit test on PostgreSQL alone (test_store --postgresql; plain test_store runs the
# rest), on a private server (tests/verifier/with-postgres):
# migrations, typed parameters, rollback, the audit chain and concurrent appends on libpq, and
# (PostgreSQL only) a batch of submitted transactions run again whole after a deadlock.
exec "$top_srcdir/tests/verifier/with-postgres" "$top_builddir/tests/unit/test_store" --postgresql
