/*
 * pcrgate audit: offline checks of the verifier's audit log. `pcrgate audit verify` reads a
 * JSON-lines export (GET /v1/admin/audit), recomputes every entry's hash with the chain
 * function the verifier uses (lib/auditchain.h), and checks that seq numbers run without gap
 * and each entry links to the one before. It names the first entry that was edited, removed
 * or moved.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditchain.h"
#include "cli.h"

/* At most this many entries in one export (the verifier exports at most 10000 per request). */
#define AUDIT_VERIFY_MAX_LINES 10000000L

static void usage_verify(FILE *f)
{
	fputs("usage: pcrgate audit verify [--head HASH] [--prev HASH] FILE|-\n"
	      "\n"
	      "Checks a JSON-lines export of the verifier's audit log: every entry's hash, the\n"
	      "prev_hash links and that seq runs without gaps. Names the first entry that was\n"
	      "edited, removed or reordered.\n"
	      "\n"
	      "  --head HASH  the hash the export must end with (the verifier's current head),\n"
	      "               so removing entries from the end is noticed too\n"
	      "  --prev HASH  the hash before the export's first entry, for an export that does\n"
	      "               not start at seq 1 (default: the first entry must be seq 1 and\n"
	      "               link to 64 zeros)\n"
	      "\n"
	      "Exit status: 0 the chain is intact, 1 it is not (or the input is unreadable), 2 usage.\n",
	      f);
}

/* Reads one line of at most max bytes (without the newline) into buf; 1: a line, 0: end, <0: error. */
static int read_line(FILE *in, char *buf, size_t max, size_t *len, int *has_nul)
{
	size_t n = 0;
	int c;

	*has_nul = 0;
	while ((c = getc(in)) != EOF && c != '\n') {
		if (n == max)
			return PCRGATE_ERR_LIMIT;
		if (c == '\0')
			*has_nul = 1;
		buf[n++] = (char)c;
	}
	if (ferror(in))
		return PCRGATE_ERR_IO;
	if (c == EOF && n == 0)
		return 0;
	/* A line with only a carriage return left is the same line written on Windows. */
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 1;
}

struct verify {
	FILE *in;
	const char *name;
	char *buf;
	long line;
};

/* After a seq out of place: is the expected seq further down (moved) or nowhere (removed)? */
static void explain_gap(struct verify *v, int64_t expected, long line, int64_t found)
{
	size_t len;
	int nul;
	int r;

	while ((r = read_line(v->in, v->buf, AUDITCHAIN_MAX_LINE, &len, &nul)) == 1 &&
	       v->line < AUDIT_VERIFY_MAX_LINES) {
		json_t *doc = json_loadb(v->buf, len, 0, NULL);
		json_t *seq = json_object_get(doc, "seq");

		v->line++;
		if (json_is_integer(seq) && json_integer_value(seq) == expected) {
			json_decref(doc);
			cli_error("audit verify: %s: line %ld: entry seq %lld is out of order: expected seq %lld, "
				  "which is at line %ld (entries were reordered)",
				  v->name, line, (long long)found, (long long)expected, v->line);
			return;
		}
		json_decref(doc);
	}
	if (found - expected == 1)
		cli_error("audit verify: %s: line %ld: entry seq %lld was removed (the next line has seq %lld)",
			  v->name, line, (long long)expected, (long long)found);
	else
		cli_error("audit verify: %s: line %ld: entries seq %lld to %lld were removed (the next line has "
			  "seq %lld)",
			  v->name, line, (long long)expected, (long long)(found - 1), (long long)found);
}

static int run_verify(const char *path, const char *head, const char *prev)
{
	struct verify v = {.name = path};
	char last[AUDITCHAIN_HASH_HEX + 1];
	int64_t expected = 1;
	int64_t first = 0;
	int rc = CLI_EXIT_FAIL;

	snprintf(last, sizeof(last), "%s", prev != NULL ? prev : AUDITCHAIN_GENESIS);
	if (strcmp(path, "-") == 0) {
		v.in = stdin;
		v.name = "stdin";
	} else if ((v.in = fopen(path, "r")) == NULL) {
		cli_error("audit verify: cannot open %s: %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if ((v.buf = malloc(AUDITCHAIN_MAX_LINE + 1)) == NULL) {
		cli_error("audit verify: out of memory");
		goto done;
	}
	for (;;) {
		pcrgate_errinfo ei = {0};
		struct auditchain_entry e;
		char stored[AUDITCHAIN_HASH_HEX + 1];
		char computed[AUDITCHAIN_HASH_HEX + 1];
		json_t *doc = NULL;
		size_t len = 0;
		int nul = 0;
		int r = read_line(v.in, v.buf, AUDITCHAIN_MAX_LINE, &len, &nul);

		if (r == 0)
			break;
		v.line++;
		if (r < 0 || v.line > AUDIT_VERIFY_MAX_LINES) {
			if (r == PCRGATE_ERR_LIMIT)
				cli_error("audit verify: %s: line %ld: line longer than the maximum of %d bytes", v.name,
					  v.line, AUDITCHAIN_MAX_LINE);
			else if (r < 0)
				cli_error("audit verify: %s: line %ld: read error", v.name, v.line);
			else
				cli_error("audit verify: %s: line %ld: more lines than the maximum of %ld", v.name,
					  v.line, AUDIT_VERIFY_MAX_LINES);
			goto done;
		}
		if (nul) {
			cli_error("audit verify: %s: line %ld: contains a NUL byte", v.name, v.line);
			goto done;
		}
		if (auditchain_entry_parse(v.buf, len, &doc, &e, stored, &ei) != 0) {
			cli_error("audit verify: %s: line %ld: %s", v.name, v.line, ei.message);
			goto done;
		}
		if (v.line == 1 && prev != NULL)
			expected = e.seq;
		if (v.line == 1)
			first = e.seq;
		/* An edited entry fails its own hash; only then do seq and links tell removal from reordering. */
		if (auditchain_hash(&e, computed, &ei) != 0) {
			json_decref(doc);
			cli_error("audit verify: %s: line %ld: %s", v.name, v.line, ei.message);
			goto done;
		}
		if (!pcrgate_ct_equal(computed, stored, AUDITCHAIN_HASH_HEX)) {
			json_decref(doc);
			cli_error("audit verify: %s: line %ld: entry seq %lld was edited: its content does not match "
				  "its hash",
				  v.name, v.line, (long long)e.seq);
			goto done;
		}
		if (e.seq != expected) {
			int64_t seq = e.seq;

			json_decref(doc);
			if (seq > expected)
				explain_gap(&v, expected, v.line, seq);
			else
				cli_error("audit verify: %s: line %ld: entry seq %lld appears after seq %lld (entries "
					  "were reordered or duplicated)",
					  v.name, v.line, (long long)seq, (long long)expected - 1);
			goto done;
		}
		if (!pcrgate_ct_equal(e.prev_hash, last, AUDITCHAIN_HASH_HEX)) {
			json_decref(doc);
			if (v.line == 1)
				cli_error("audit verify: %s: line 1: entry seq %lld does not link to %s (%s)", v.name,
					  (long long)expected, prev != NULL ? "the hash given by --prev" : "the genesis hash",
					  prev != NULL ? "wrong --prev" : "an export not starting at seq 1 needs --prev");
			else
				cli_error("audit verify: %s: line %ld: entry seq %lld does not link to entry seq %lld: "
					  "entry seq %lld was edited (and re-hashed) or replaced",
					  v.name, v.line, (long long)expected, (long long)expected - 1,
					  (long long)expected - 1);
			goto done;
		}
		memcpy(last, stored, sizeof(last));
		json_decref(doc);
		expected++;
	}
	if (head != NULL && !pcrgate_ct_equal(head, last, AUDITCHAIN_HASH_HEX)) {
		cli_error("audit verify: %s: the export ends with hash %s, not the expected head %s: entries after "
			  "seq %lld were removed or the last entry was edited and re-hashed",
			  v.name, last, head, (long long)expected - 1);
		goto done;
	}
	if (v.line == 0)
		printf("audit chain intact: no entries, head %s\n", last);
	else
		printf("audit chain intact: %ld entries, seq %lld to %lld, head %s\n", v.line, (long long)first,
		       (long long)expected - 1, last);
	rc = CLI_EXIT_OK;
done:
	free(v.buf);
	if (v.in != NULL && v.in != stdin)
		fclose(v.in);
	return rc;
}

static int is_hash_arg(const char *s)
{
	if (strlen(s) != AUDITCHAIN_HASH_HEX)
		return 0;
	return strspn(s, "0123456789abcdef") == AUDITCHAIN_HASH_HEX;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"head", required_argument, NULL, 'H'},
		{"prev", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *head = NULL;
	const char *prev = NULL;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
		case 'p':
			if (!is_hash_arg(optarg)) {
				cli_error("audit verify: --%s must be 64 lower-case hex digits", c == 'H' ? "head" : "prev");
				return CLI_EXIT_USAGE;
			}
			if (c == 'H')
				head = optarg;
			else
				prev = optarg;
			break;
		case 'h':
			usage_verify(stdout);
			return CLI_EXIT_OK;
		default:
			cli_error("audit verify: %s '%s'; 'pcrgate audit verify --help' lists the options",
				  c == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cli_error("audit verify: give one export file (or - for stdin); see --help");
		return CLI_EXIT_USAGE;
	}
	return run_verify(argv[optind], head, prev);
}

static const struct cli_command commands[] = {
	{"verify", cmd_verify, "check an exported audit log: hashes, links, no gaps"},
};

static const struct cli_group group = {"audit", commands, sizeof(commands) / sizeof(commands[0]), NULL};

int cmd_audit(int argc, char **argv)
{
	return cli_dispatch(&group, argc, argv);
}
