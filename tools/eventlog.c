/*
 * pcrgate eventlog: replays a TCG measured-boot event log into PCR values (`pcrs`)
 * and lists its events with their decoded data (`show`), as text or JSON.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pcrgate/eventlog.h"

#include "attest/jsonutil.h"
#include "cli.h"

#define DESCRIBE_MAX 4096 /* text of one event's decoded data */

struct args {
	const char *file;
	int json;
};

static const struct option options[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage_pcrs(FILE *f)
{
	fprintf(f, "usage: pcrgate eventlog pcrs FILE [--json]\n"
		   "\n"
		   "Replays FILE and prints, for every bank the log carries, the final value of each\n"
		   "PCR that at least one event extends: one BANK:INDEX=HEX line each, sorted by bank\n"
		   "name then index. Exit 0 when the log parses, 1 (with the byte offset and what is\n"
		   "wrong on stderr) when it does not.\n"
		   "\n"
		   "  --json  print {\"BANK\": {\"INDEX\": \"HEX\", ...}, ...} instead\n");
}

static void usage_show(FILE *f)
{
	fprintf(f, "usage: pcrgate eventlog show FILE [--json]\n"
		   "\n"
		   "Lists every event of FILE: number, byte offset, PCR, type, digest per bank and the\n"
		   "event data decoded where its type is known (hex otherwise). The data is untrusted:\n"
		   "only the digests were extended.\n"
		   "\n"
		   "  --json  print one JSON object with the log's format, banks and events\n");
}

/* "SUB [--json] FILE": 0 to run, 1 after --help, -1 after a usage error. */
static int parse_args(int argc, char **argv, void (*help)(FILE *), struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->json = 1;
			break;
		case 'h':
			help(stdout);
			return 1;
		default:
			cli_error("eventlog %s: unknown option '%s'; 'pcrgate eventlog %s --help' lists them", argv[0],
				  argv[optind - 1], argv[0]);
			return -1;
		}
	}
	if (argc - optind != 1) {
		cli_error("eventlog %s: expected one FILE; 'pcrgate eventlog %s --help' shows the usage", argv[0],
			  argv[0]);
		return -1;
	}
	a->file = argv[optind];
	return 0;
}

static int load(const char *sub, const char *path, pcrgate_eventlog **log)
{
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;
	char context[32];
	int r;

	pcrgate_errinfo_clear(&ei);
	snprintf(context, sizeof(context), "eventlog %s", sub);
	if ((r = pcrgate_file_read(path, PCRGATE_EVENTLOG_MAX_SIZE, &buf, &len, &ei)) < 0) {
		cli_report(context, &ei);
		return r;
	}
	r = pcrgate_eventlog_parse(buf, len, log, &ei);
	free(buf);
	if (r < 0)
		cli_report(path, &ei);
	return r;
}

static int cmp_alg_name(const void *a, const void *b)
{
	return strcmp(pcrgate_alg_name(*(const uint16_t *)a), pcrgate_alg_name(*(const uint16_t *)b));
}

/* Writes JSON and a newline to stdout; 0 or -1. */
static int print_json(json_t *root)
{
	if (root == NULL || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
		return -1;
	return fputc('\n', stdout) == EOF ? -1 : 0;
}

static int pcrs_json(const pcrgate_eventlog *log, const pcrgate_pcrs *pcrs)
{
	uint16_t algs[PCRGATE_EVENTLOG_MAX_ALGS];
	char hex[2 * PCRGATE_MAX_DIGEST + 1], index[12];
	size_t n = 0, i, len;
	const uint8_t *v;
	json_t *root = json_object(), *bank;
	unsigned p;
	int r = -1;

	for (i = 0; i < pcrgate_eventlog_bank_count(log); i++)
		if (pcrgate_alg_name(pcrgate_eventlog_bank_alg(log, i)) != NULL)
			algs[n++] = pcrgate_eventlog_bank_alg(log, i);
	qsort(algs, n, sizeof(algs[0]), cmp_alg_name);
	for (i = 0; root != NULL && i < n; i++) {
		if ((bank = json_object()) == NULL || json_object_set_new(root, pcrgate_alg_name(algs[i]), bank) != 0)
			goto fail;
		for (p = 0; p < PCRGATE_MAX_PCRS; p++) {
			if ((v = pcrgate_pcrs_get(pcrs, algs[i], p, &len)) == NULL)
				continue;
			pcrgate_hex_encode(v, len, hex);
			snprintf(index, sizeof(index), "%u", p);
			if (json_object_set_new(bank, index, json_string(hex)) != 0)
				goto fail;
		}
	}
	r = print_json(root);
fail:
	json_decref(root);
	return r;
}

static int cmd_pcrs(int argc, char **argv)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;
	struct args a;
	int r;

	if ((r = parse_args(argc, argv, usage_pcrs, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (load("pcrs", a.file, &log) < 0)
		return CLI_EXIT_FAIL;
	r = CLI_EXIT_FAIL;
	if (pcrgate_eventlog_replay(log, &pcrs, &ei) < 0) {
		cli_report(a.file, &ei);
		goto out;
	}
	if ((a.json ? pcrs_json(log, pcrs) : cli_write_pcrs(stdout, pcrs)) < 0 || fflush(stdout) != 0) {
		cli_error("eventlog pcrs: cannot write the output");
		goto out;
	}
	r = CLI_EXIT_OK;
out:
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
	return r;
}

static const char *type_label(uint32_t type, char *buf, size_t cap)
{
	const char *name = pcrgate_event_type_name(type);

	if (name != NULL)
		return name;
	snprintf(buf, cap, "0x%08x", type);
	return buf;
}

/* The banks to show an event's digests in: the log's, and SHA-1 for a TCG_PCR_EVENT header. */
static size_t digest_algs(const pcrgate_eventlog *log, uint16_t *algs)
{
	size_t n = pcrgate_eventlog_bank_count(log), i;
	int has_sha1 = 0;

	for (i = 0; i < n; i++) {
		algs[i] = pcrgate_eventlog_bank_alg(log, i);
		has_sha1 |= algs[i] == PCRGATE_ALG_SHA1;
	}
	if (!has_sha1)
		algs[n++] = PCRGATE_ALG_SHA1;
	return n;
}

static const char *format_name(const pcrgate_eventlog *log)
{
	return pcrgate_eventlog_format(log) == PCRGATE_EVENTLOG_CRYPTO_AGILE ? "crypto-agile" : "sha1";
}

static int show_text(const pcrgate_eventlog *log)
{
	uint16_t algs[PCRGATE_EVENTLOG_MAX_ALGS + 1];
	char label[12], hex[2 * PCRGATE_MAX_DIGEST + 1], desc[DESCRIBE_MAX];
	size_t nalgs = digest_algs(log, algs), i, k, len, pad_off, pad;
	const pcrgate_event *ev;
	const uint8_t *d;

	printf("format %s, %zu events, banks", format_name(log), pcrgate_eventlog_count(log));
	for (i = 0; i < pcrgate_eventlog_bank_count(log); i++)
		printf(" %s", pcrgate_alg_label(pcrgate_eventlog_bank_alg(log, i), label));
	printf(", PCR 0 starts at %u\n", pcrgate_eventlog_pcr0_start(log));
	for (i = 0; i < pcrgate_eventlog_count(log); i++) {
		ev = pcrgate_eventlog_event(log, i);
		printf("\nevent %zu at offset %zu: ", i, pcrgate_event_offset(ev));
		if (pcrgate_event_pcr(ev) == PCRGATE_EVENTLOG_NO_PCR)
			printf("no PCR (0xffffffff)");
		else
			printf("PCR %u", pcrgate_event_pcr(ev));
		printf(", %s\n", type_label(pcrgate_event_type(ev), label, sizeof(label)));
		for (k = 0; k < nalgs; k++) {
			if ((d = pcrgate_event_digest(ev, algs[k], &len)) == NULL)
				continue;
			pcrgate_hex_encode(d, len, hex);
			printf("  %s: %s\n", pcrgate_alg_label(algs[k], label), hex);
		}
		pcrgate_event_data(ev, &len);
		pcrgate_event_describe(ev, desc, sizeof(desc));
		printf("  data (%zu bytes): %s\n", len, desc);
	}
	if ((pad = pcrgate_eventlog_padding(log, &pad_off)) > 0)
		printf("\n%zu bytes of fill after the last event, at offset %zu\n", pad, pad_off);
	return 0;
}

static json_t *event_json(const pcrgate_eventlog *log, const pcrgate_event *ev, size_t number)
{
	uint16_t algs[PCRGATE_EVENTLOG_MAX_ALGS + 1];
	char label[12], hex[2 * PCRGATE_MAX_DIGEST + 1], desc[DESCRIBE_MAX];
	size_t nalgs = digest_algs(log, algs), k, len;
	const uint8_t *d, *data;
	json_t *o = json_object(), *digests = json_object();
	int bad = o == NULL || digests == NULL;

	for (k = 0; !bad && k < nalgs; k++) {
		if ((d = pcrgate_event_digest(ev, algs[k], &len)) == NULL)
			continue;
		pcrgate_hex_encode(d, len, hex);
		bad |= json_object_set_new(digests, pcrgate_alg_label(algs[k], label), json_string(hex));
	}
	data = pcrgate_event_data(ev, &len);
	pcrgate_event_describe(ev, desc, sizeof(desc));
	bad |= json_object_set_new(o, "number", json_integer((json_int_t)number));
	bad |= json_object_set_new(o, "offset", json_integer((json_int_t)pcrgate_event_offset(ev)));
	bad |= json_object_set_new(o, "pcr", json_integer(pcrgate_event_pcr(ev)));
	bad |= json_object_set_new(o, "type", json_string(type_label(pcrgate_event_type(ev), label, sizeof(label))));
	bad |= json_object_set_new(o, "type_value", json_integer(pcrgate_event_type(ev)));
	bad |= json_object_set_new(o, "extends", json_boolean(pcrgate_event_extends(ev)));
	bad |= json_object_set_new(o, "digests", digests);
	digests = NULL;
	bad |= json_object_set_new(o, "data_size", json_integer((json_int_t)len));
	bad |= json_object_set_new(o, "data", jsonutil_hex(data, len));
	bad |= json_object_set_new(o, "description", json_string(desc));
	json_decref(digests);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int show_json(const pcrgate_eventlog *log)
{
	json_t *root = json_object(), *banks = json_array(), *events = json_array(), *pad;
	const char *name;
	char label[12];
	size_t i, pad_off, pad_len;
	int bad = root == NULL || banks == NULL || events == NULL, r;

	for (i = 0; !bad && i < pcrgate_eventlog_bank_count(log); i++) {
		name = pcrgate_alg_label(pcrgate_eventlog_bank_alg(log, i), label);
		bad |= json_array_append_new(banks, json_string(name));
	}
	for (i = 0; !bad && i < pcrgate_eventlog_count(log); i++)
		bad |= json_array_append_new(events, event_json(log, pcrgate_eventlog_event(log, i), i));
	bad |= json_object_set_new(root, "format", json_string(format_name(log)));
	bad |= json_object_set_new(root, "banks", banks);
	bad |= json_object_set_new(root, "pcr0_start", json_integer(pcrgate_eventlog_pcr0_start(log)));
	bad |= json_object_set_new(root, "events", events);
	if ((pad_len = pcrgate_eventlog_padding(log, &pad_off)) > 0) {
		pad = json_pack("{s:I,s:I}", "offset", (json_int_t)pad_off, "size", (json_int_t)pad_len);
		bad |= json_object_set_new(root, "padding", pad);
	}
	r = bad ? -1 : print_json(root);
	json_decref(root);
	return r;
}

static int cmd_show(int argc, char **argv)
{
	pcrgate_eventlog *log = NULL;
	struct args a;
	int r;

	if ((r = parse_args(argc, argv, usage_show, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (load("show", a.file, &log) < 0)
		return CLI_EXIT_FAIL;
	r = CLI_EXIT_OK;
	if ((a.json ? show_json(log) : show_text(log)) < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("eventlog show: cannot write the output");
		r = CLI_EXIT_FAIL;
	}
	pcrgate_eventlog_free(&log);
	return r;
}

static const struct cli_command commands[] = {
	{"pcrs", cmd_pcrs, "print the PCR values that replaying the log gives (BANK:INDEX=HEX)"},
	{"show", cmd_show, "list the events: PCR, type, digests and decoded data"},
};

static const struct cli_group group = {
	"eventlog", commands, sizeof(commands) / sizeof(commands[0]),
	"FILE is a TCG PC Client event log, legacy SHA-1 or crypto-agile, such as\n"
	"/sys/kernel/security/tpm0/binary_bios_measurements."};

int cmd_eventlog(int argc, char **argv)
{
	return cli_dispatch(&group, argc, argv);
}
