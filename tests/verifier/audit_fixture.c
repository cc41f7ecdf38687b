/*
 * Test helper: makes an audit log through the verifier's own code and exports it, for the
 * tests of `pcrgate audit verify`. Usage: audit_fixture STORE-URL COUNT EXPORT HEAD-FILE
 * appends COUNT entries, writes the JSON-lines export to EXPORT and the head hash to HEAD-FILE.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/audit.h"
#include "verifier/store.h"

struct job {
	long count;
	FILE *out;
	char head[AUDITCHAIN_HASH_HEX + 1];
};

static int append_all(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct job *j = arg;
	int r = 0;

	for (long i = 0; i < j->count && r == 0; i++) {
		/* Values a verifier writes: names with quotes, nested objects, unicode. */
		json_t *detail = json_pack("{s:s, s:I, s:{s:s, s:b}}", "reason", i % 2 ? "pcr-not-quoted" : "it's \"ok\"",
					   "n", (json_int_t)i, "release", "name", "v1.2 \xc3\xa9", "pass", (int)(i % 3 == 0));

		r = audit_append(tx, i % 4 ? "verifier" : "admin:ops", i % 2 ? "attest.fail" : "attest.pass", "device-42",
				 detail, ei);
		json_decref(detail);
	}
	return r;
}

static int write_line(const char *line, size_t len, void *arg, pcrgate_errinfo *ei)
{
	FILE *out = arg;

	if (fwrite(line, 1, len, out) != len || fputc('\n', out) == EOF)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot write the export");
	return 0;
}

static int export_all(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct job *j = arg;
	int64_t seq;
	int r = audit_export(tx, 0, 0, write_line, j->out, NULL, ei);

	return r != 0 ? r : audit_head(tx, &seq, j->head, ei);
}

int main(int argc, char **argv)
{
	pcrgate_errinfo ei = {0};
	struct job j = {0};
	vstore *s = NULL;
	FILE *head = NULL;
	int rc = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: audit_fixture STORE-URL COUNT EXPORT HEAD-FILE\n");
		return 2;
	}
	j.count = strtol(argv[2], NULL, 10);
	if (vstore_open(argv[1], &s, &ei) != 0 || vstore_run(s, append_all, &j, &ei) != 0)
		goto done;
	if ((j.out = fopen(argv[3], "w")) == NULL || vstore_run_read(s, export_all, &j, &ei) != 0)
		goto done;
	if ((head = fopen(argv[4], "w")) == NULL || fprintf(head, "%s\n", j.head) < 0)
		goto done;
	rc = 0;
done:
	if (rc != 0)
		fprintf(stderr, "audit_fixture: %s\n", ei.message[0] ? ei.message : "cannot write output");
	if (j.out != NULL && fclose(j.out) != 0)
		rc = 1;
	if (head != NULL && fclose(head) != 0)
		rc = 1;
	vstore_close(&s);
	return rc;
}
