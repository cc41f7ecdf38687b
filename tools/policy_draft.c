/*
 * pcrgate policy from-eventlog and check: reference policies from the command line.
 * `from-eventlog` drafts a policy from a known-good event log (an allow rule for every event on
 * the firmware's PCRs, the required events it can infer, a release for the PCR 8/9 values), for
 * an operator to review before storing it in the verifier. `check` replays event logs and
 * evaluates them against a policy exactly as the verifier does after a quote. docs/policies.md.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pcrgate/eventlog.h"
#include "pcrgate/pcr_map.h"
#include "refpolicy.h"
#include "slot_event.h"

#include "cli.h"
#include "policy_draft.h"

#define DRAFT_MAX_INLINE 1024u /* event data written into a rule as data; larger data goes by digest */
#define DRAFT_COMMENT 160      /* bytes of an event's description kept as a rule's comment */
#define EFI_GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"

struct draft_args {
	const char *log, *name, *bank, *pcrs, *rel_name, *rel_version, *sv, *out;
};

enum { O_NAME = 256, O_BANK, O_PCRS, O_REL_NAME, O_REL_VERSION, O_SV, O_OUT, O_POLICY, O_EVENTLOG, O_JSON };

static void usage_draft(FILE *f)
{
	fprintf(f, "usage: pcrgate policy from-eventlog LOG [--name N] [--bank B] [--pcrs LIST]\n"
		   "                    [--release-name N --release-version V --security-version S] [--out FILE]\n"
		   "\n"
		   "Drafts a reference policy (docs/policies.md) from a known-good TCG event log: an allow\n"
		   "rule for every event on the listed PCRs (by event data where its digest is the hash of\n"
		   "the data, by digest otherwise), the required events the log shows (Secure Boot\n"
		   "enabled, the separators) and, when the log extends PCR %u or %u, a release with their\n"
		   "replayed values. Review the draft before storing it in the verifier.\n"
		   "\n"
		   "  --name N             the policy's name (default: from LOG's file name)\n"
		   "  --bank B             the bank it speaks of (default sha256, else the log's first bank)\n"
		   "  --pcrs LIST          PCRs to write allow rules for, e.g. 0-7 or 0,2,4-7 (default 0-7)\n"
		   "  --release-name N     the release's name (default: draft)\n"
		   "  --release-version V  its version (default: from pcrgate's slot event, else unknown)\n"
		   "  --security-version S its security version, also the policy's minimum (default: from\n"
		   "                       pcrgate's slot event, else 0)\n"
		   "  --out FILE           write the policy to FILE (atomically) instead of standard output\n",
		PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT);
}

static void usage_check(FILE *f)
{
	fprintf(f, "usage: pcrgate policy check --policy FILE --eventlog LOG [--eventlog LOG...] [--json]\n"
		   "\n"
		   "Replays the event logs (the firmware's, then the boot extension's; they must extend\n"
		   "different PCRs) and evaluates them against the reference policy as the verifier does\n"
		   "after a quote, taking the replayed PCR values as the quoted ones. Prints pass or fail\n"
		   "with every reason; exits 0 on pass, 1 on fail or error.\n"
		   "\n"
		   "  --policy FILE   the reference policy (JSON)\n"
		   "  --eventlog LOG  a TCG event log; up to %d\n"
		   "  --json          print the verdict as JSON\n",
		PCRGATE_QUOTE_MAX_EVENTLOGS);
}

/* ---- Drafting ---- */

/* "0-7" or "0,2,4-7" into a mask of PCRs 0..23. */
static int parse_pcr_list(const char *list, uint32_t *mask)
{
	const char *s = list;
	unsigned long a, b;
	char *end;
	uint32_t m = 0;

	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return -1;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return -1;
			b = strtoul(end + 1, &end, 10);
		}
		if (a > 23 || b > 23 || a > b)
			return -1;
		for (; a <= b; a++)
			m |= (uint32_t)1 << a;
		if (*end == ',' && end[1] != '\0')
			end++;
		else if (*end != '\0')
			return -1;
		s = end;
	}
	if (m == 0)
		return -1;
	*mask = m;
	return 0;
}

static json_t *json_hex(const uint8_t *p, size_t n)
{
	char *hex = malloc(2 * n + 1);
	json_t *j;

	if (hex == NULL)
		return NULL;
	pcrgate_hex_encode(p, n, hex);
	j = json_string(hex);
	free(hex);
	return j;
}

static json_t *type_json(uint32_t type)
{
	const char *tn = pcrgate_event_type_name(type);
	return tn != NULL ? json_string(tn) : json_integer(type);
}

static int printable(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return n > 0;
}

/* {guid, name, data?} of a trusted variable event, or NULL when its data does not read as one. */
static json_t *variable_json(const uint8_t *data, size_t len)
{
	char guid[37], name[PCRGATE_REFPOLICY_MAX_NAME + 1];
	struct pcrgate_efi_variable var;
	json_t *v;

	if (pcrgate_efi_variable_parse(data, len, &var) != 0 || var.name_chars == 0 ||
	    pcrgate_efi_name_utf8(var.name, var.name_chars, name, sizeof(name)) != 0)
		return NULL;
	pcrgate_efi_guid_text(var.guid, guid);
	v = json_pack("{s:s, s:s}", "guid", guid, "name", name);
	if (v != NULL && var.data_len <= DRAFT_MAX_INLINE &&
	    json_object_set_new(v, "data", json_hex(var.data, var.data_len)) != 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* The allow rule for one event: by data where its data is trusted and small, by digest otherwise. */
static json_t *event_rule(const pcrgate_event *ev, uint16_t bank)
{
	uint32_t type = pcrgate_event_type(ev);
	const uint8_t *data, *digest;
	size_t len = 0, dlen = 0;
	char comment[DRAFT_COMMENT];
	json_t *rule, *var;

	data = pcrgate_event_data(ev, &len);
	digest = pcrgate_event_digest(ev, bank, &dlen);
	if ((rule = json_object()) == NULL || json_object_set_new(rule, "type", type_json(type)) != 0)
		goto fail;
	if (pcrgate_refpolicy_event_data_trusted(ev, bank)) {
		if (pcrgate_refpolicy_type_variable(type) && (var = variable_json(data, len)) != NULL) {
			if (json_object_set_new(rule, "variable", var) != 0)
				goto fail;
			/* A large variable (a signature database) is pinned by its digest instead. */
			if (json_object_get(var, "data") == NULL &&
			    json_object_set_new(rule, "digest", json_hex(digest, dlen)) != 0)
				goto fail;
			return rule;
		}
		if (!pcrgate_refpolicy_type_variable(type) && len <= DRAFT_MAX_INLINE) {
			if (json_object_set_new(rule, printable(data, len) ? "text" : "data",
						printable(data, len) ? json_stringn((const char *)data, len)
								     : json_hex(data, len)) != 0)
				goto fail;
			return rule;
		}
	}
	if (json_object_set_new(rule, "digest", json_hex(digest, dlen)) != 0)
		goto fail;
	if (pcrgate_event_describe(ev, comment, sizeof(comment)) == 0 && comment[0] != '\0' &&
	    json_object_set_new(rule, "comment", json_string(comment)) != 0)
		goto fail;
	return rule;
fail:
	json_decref(rule);
	return NULL;
}

/* Appends rule to arr unless an equal rule is there (a log repeats events, e.g. separators). */
static int add_unique(json_t *arr, json_t *rule, size_t *count)
{
	size_t i;

	for (i = 0; i < json_array_size(arr); i++)
		if (json_equal(json_array_get(arr, i), rule)) {
			json_decref(rule);
			return 0;
		}
	if (*count >= PCRGATE_REFPOLICY_MAX_RULES) {
		json_decref(rule);
		return -1;
	}
	(*count)++;
	return json_array_append_new(arr, rule);
}

/* The required events the log shows: Secure Boot enabled (PCR 7) and each PCR's separator. */
static int infer_required(const pcrgate_event *ev, uint16_t bank, uint32_t pcrs, json_t *required,
			  uint32_t *separated)
{
	static const uint8_t sep_ok[4] = {0, 0, 0, 0};
	uint32_t pcr = pcrgate_event_pcr(ev), type = pcrgate_event_type(ev);
	struct pcrgate_efi_variable var;
	char guid[37], name[16];
	const uint8_t *data;
	size_t len = 0;
	json_t *req;

	if (pcr > 23 || !(pcrs & ((uint32_t)1 << pcr)) || !pcrgate_refpolicy_event_data_trusted(ev, bank))
		return 0;
	data = pcrgate_event_data(ev, &len);
	if (type == PCRGATE_EV_SEPARATOR && pcr <= PCRGATE_PCR_FIRMWARE_LAST && len == 4 &&
	    memcmp(data, sep_ok, 4) == 0 && !(*separated & ((uint32_t)1 << pcr))) {
		*separated |= (uint32_t)1 << pcr;
		req = json_pack("{s:i, s:s, s:s, s:s}", "pcr", (int)pcr, "type", "EV_SEPARATOR", "data", "00000000",
				"comment", "the firmware finished measuring this PCR");
		return req != NULL ? json_array_append_new(required, req) : -1;
	}
	if (type != PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG || pcr != 7 ||
	    pcrgate_efi_variable_parse(data, len, &var) != 0)
		return 0;
	pcrgate_efi_guid_text(var.guid, guid);
	if (strcmp(guid, EFI_GLOBAL_GUID) != 0 ||
	    pcrgate_efi_name_utf8(var.name, var.name_chars, name, sizeof(name)) != 0 ||
	    strcmp(name, "SecureBoot") != 0 || var.data_len != 1 || var.data[0] != 1)
		return 0;
	req = json_pack("{s:i, s:s, s:{s:s, s:s, s:s}, s:s}", "pcr", 7, "type", "EV_EFI_VARIABLE_DRIVER_CONFIG",
			"variable", "guid", EFI_GLOBAL_GUID, "name", "SecureBoot", "data", "01", "comment",
			"Secure Boot enabled");
	return req != NULL ? json_array_append_new(required, req) : -1;
}

/*
 * The version and security version pcrgate's slot event on PCR 9 names, when its digest (over
 * the fields after the label) vouches for them; otherwise version and sv stay as they are.
 */
static void slot_event_fields(const pcrgate_event *ev, uint16_t bank, char *version, size_t vcap, char *sv,
			      size_t svcap)
{
	struct pcrgate_slot_event se;

	if (pcrgate_slot_event_parse(ev, bank, &se) != PCRGATE_OK)
		return;
	snprintf(version, vcap, "%s", se.version);
	snprintf(sv, svcap, "%" PRIu64, se.security_version);
}

/* A policy name from the log's file name: the characters a name allows, others as '-'. */
static void default_name(const char *path, char *out, size_t cap)
{
	const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	size_t i, n = 0;

	for (i = 0; base[i] != '\0' && n + 1 < cap && n < PCRGATE_REFPOLICY_MAX_NAME; i++) {
		char c = base[i];
		out[n++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			    c == '_' || c == '-' || c == '+')
				   ? c
				   : '-';
	}
	if (n == 0)
		out[n++] = 'x';
	out[n] = '\0';
}

/* The bank to draft in: --bank when the log carries it, else sha256, else the log's first known bank. */
static uint16_t pick_bank(const pcrgate_eventlog *log, const char *want)
{
	uint16_t alg, first = 0, w = want != NULL ? pcrgate_alg_from_name(want) : PCRGATE_ALG_SHA256;
	size_t i;

	for (i = 0; i < pcrgate_eventlog_bank_count(log); i++) {
		alg = pcrgate_eventlog_bank_alg(log, i);
		if (alg == w && pcrgate_alg_digest_size(alg) != 0)
			return alg;
		if (first == 0 && pcrgate_alg_digest_size(alg) != 0)
			first = alg;
	}
	return want != NULL ? 0 : first;
}

static int parse_draft_args(int argc, char **argv, struct draft_args *a)
{
	static const struct option options[] = {
		{"name", required_argument, NULL, O_NAME},
		{"bank", required_argument, NULL, O_BANK},
		{"pcrs", required_argument, NULL, O_PCRS},
		{"release-name", required_argument, NULL, O_REL_NAME},
		{"release-version", required_argument, NULL, O_REL_VERSION},
		{"security-version", required_argument, NULL, O_SV},
		{"out", required_argument, NULL, O_OUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **slot[] = {&a->name, &a->bank, &a->pcrs, &a->rel_name, &a->rel_version, &a->sv, &a->out};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			usage_draft(stdout);
			return 1;
		}
		if (c < O_NAME || c > O_OUT) {
			cli_error("policy from-eventlog: unknown option or missing value '%s'; "
				  "'pcrgate policy from-eventlog --help' lists them",
				  argv[optind - 1]);
			return -1;
		}
		*slot[c - O_NAME] = optarg;
	}
	if (argc - optind != 1) {
		cli_error("policy from-eventlog: give exactly one event log");
		return -1;
	}
	a->log = argv[optind];
	return 0;
}

/* Builds the draft document; NULL with a message on stderr when it cannot. */
static json_t *draft(const struct draft_args *a, const pcrgate_eventlog *log, const pcrgate_pcrs *replayed,
		     uint16_t bank, uint32_t pcrs)
{
	char name[PCRGATE_REFPOLICY_MAX_NAME + 1], version[PCRGATE_REFPOLICY_MAX_NAME + 1] = "unknown",
		sv_text[24] = "0", key[4], desc[256];
	json_t *doc = NULL, *meas = NULL, *required = NULL, *arr[24] = {NULL}, *rel = NULL, *rpcrs;
	uint32_t separated = 0, pcr, boot = 0;
	const pcrgate_event *ev;
	size_t i, count = 0;
	unsigned long long sv;
	const uint8_t *val;
	char *end;
	unsigned k;

	if ((meas = json_object()) == NULL || (required = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < pcrgate_eventlog_count(log); i++) {
		ev = pcrgate_eventlog_event(log, i);
		pcr = pcrgate_event_pcr(ev);
		slot_event_fields(ev, bank, version, sizeof(version), sv_text, sizeof(sv_text));
		if (!pcrgate_event_extends(ev) || pcr > 23 || !(pcrs & ((uint32_t)1 << pcr)) ||
		    pcrgate_event_digest(ev, bank, NULL) == NULL)
			continue;
		if (arr[pcr] == NULL && (arr[pcr] = json_array()) == NULL)
			goto nomem;
		json_t *rule = event_rule(ev, bank);
		if (rule == NULL)
			goto nomem;
		if (add_unique(arr[pcr], rule, &count) != 0) {
			cli_error("policy from-eventlog: more than %u distinct events", PCRGATE_REFPOLICY_MAX_RULES);
			goto fail;
		}
		if (infer_required(ev, bank, pcrs, required, &separated) != 0)
			goto nomem;
	}
	for (k = 0; k < 24; k++) {
		if (arr[k] == NULL)
			continue;
		snprintf(key, sizeof(key), "%u", k);
		if (json_object_set_new(meas, key, arr[k]) != 0) {
			arr[k] = NULL;
			goto nomem;
		}
		arr[k] = NULL;
	}
	boot = pcrgate_pcrs_mask(replayed, bank) & PCRGATE_PCR_MASK_BOOT;
	if (boot != 0) {
		if (a->rel_version != NULL)
			snprintf(version, sizeof(version), "%s", a->rel_version);
		if (a->sv != NULL)
			snprintf(sv_text, sizeof(sv_text), "%s", a->sv);
		sv = strtoull(sv_text, &end, 10);
		if (sv_text[0] < '0' || sv_text[0] > '9' || *end != '\0' || sv > 0xFFFFFFFFull) {
			cli_error("policy from-eventlog: security version '%s' is not a number from 0 to 4294967295",
				  sv_text);
			goto fail;
		}
		if ((rpcrs = json_object()) == NULL ||
		    (rel = json_pack("{s:s, s:s, s:I, s:o}", "name", a->rel_name != NULL ? a->rel_name : "draft",
				     "version", version, "security_version", (json_int_t)sv, "pcrs", rpcrs)) == NULL)
			goto nomem;
		for (k = 0; k < 24; k++) {
			size_t vlen = 0;
			if (!(boot & ((uint32_t)1 << k)) || (val = pcrgate_pcrs_get(replayed, bank, k, &vlen)) == NULL)
				continue;
			snprintf(key, sizeof(key), "%u", k);
			if (json_object_set_new(rpcrs, key, json_hex(val, vlen)) != 0)
				goto nomem;
		}
	} else if (a->rel_name != NULL || a->rel_version != NULL || a->sv != NULL) {
		cli_error("policy from-eventlog: the log extends neither PCR %u nor %u in %s, so it names no release",
			  PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT, pcrgate_alg_name(bank));
		goto fail;
	}
	if (json_object_size(meas) == 0 && json_array_size(required) == 0 && rel == NULL) {
		cli_error("policy from-eventlog: the log has no %s event on PCRs %s and does not extend PCR %u or %u",
			  pcrgate_alg_name(bank), a->pcrs != NULL ? a->pcrs : "0-7", PCRGATE_PCR_BOOT_IMAGES,
			  PCRGATE_PCR_BOOT_SLOT);
		goto fail;
	}
	if (a->name != NULL)
		snprintf(name, sizeof(name), "%s", a->name);
	else
		default_name(a->log, name, sizeof(name));
	snprintf(desc, sizeof(desc), "Drafted by pcrgate policy from-eventlog from %s (%zu events); review it",
		 strrchr(a->log, '/') != NULL ? strrchr(a->log, '/') + 1 : a->log, pcrgate_eventlog_count(log));
	doc = json_pack("{s:s, s:i, s:s, s:s, s:s}", "format", PCRGATE_REFPOLICY_FORMAT, "version",
			PCRGATE_REFPOLICY_VERSION, "name", name, "description", desc, "bank", pcrgate_alg_name(bank));
	if (doc == NULL)
		goto nomem;
	if (json_object_size(meas) > 0 && json_object_set(doc, "measurements", meas) != 0)
		goto nomem;
	if (json_array_size(required) > 0 && json_object_set(doc, "required", required) != 0)
		goto nomem;
	if (rel != NULL && (json_object_set_new(doc, "releases", json_pack("[O]", rel)) != 0 ||
			    json_object_set(doc, "min_security_version", json_object_get(rel, "security_version")) != 0))
		goto nomem;
	json_decref(rel);
	json_decref(meas);
	json_decref(required);
	return doc;
nomem:
	cli_error("policy from-eventlog: out of memory");
fail:
	for (k = 0; k < 24; k++)
		json_decref(arr[k]);
	json_decref(doc);
	json_decref(rel);
	json_decref(meas);
	json_decref(required);
	return NULL;
}

int cmd_policy_from_eventlog(int argc, char **argv)
{
	struct draft_args a;
	pcrgate_eventlog *log = NULL;
	pcrgate_refpolicy *check = NULL;
	pcrgate_pcrs *replayed = NULL;
	pcrgate_errinfo ei;
	json_t *doc = NULL;
	uint8_t *buf = NULL;
	char *text = NULL;
	size_t len = 0;
	uint32_t pcrs = PCRGATE_PCR_MASK_FIRMWARE;
	uint16_t bank;
	int r;

	if ((r = parse_draft_args(argc, argv, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.pcrs != NULL && parse_pcr_list(a.pcrs, &pcrs) != 0) {
		cli_error("policy from-eventlog: --pcrs '%s' is not a list of PCRs 0 to 23 (e.g. 0-7 or 0,2,4-7)", a.pcrs);
		return CLI_EXIT_USAGE;
	}
	if (a.bank != NULL && pcrgate_alg_from_name(a.bank) == 0) {
		cli_error("policy from-eventlog: unknown bank '%s' (sha1, sha256, sha384, sha512, sm3_256)", a.bank);
		return CLI_EXIT_USAGE;
	}
	r = CLI_EXIT_FAIL;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(a.log, PCRGATE_EVENTLOG_MAX_SIZE, &buf, &len, &ei) != 0 ||
	    pcrgate_eventlog_parse(buf, len, &log, &ei) != 0 || pcrgate_eventlog_replay(log, &replayed, &ei) != 0) {
		cli_report(a.log, &ei);
		goto fail;
	}
	if ((bank = pick_bank(log, a.bank)) == 0) {
		cli_error("policy from-eventlog: %s: the log carries no %s digests", a.log,
			  a.bank != NULL ? a.bank : "known");
		goto fail;
	}
	if ((doc = draft(&a, log, replayed, bank, pcrs)) == NULL)
		goto fail;
	if ((text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		cli_error("policy from-eventlog: out of memory");
		goto fail;
	}
	/* What is written must be a policy the verifier accepts. */
	if (pcrgate_refpolicy_parse((const uint8_t *)text, strlen(text), &check, &ei) != 0) {
		cli_report("policy from-eventlog: the draft is not a valid policy", &ei);
		goto fail;
	}
	if (a.out != NULL) {
		size_t n = strlen(text);
		text[n] = '\n';
		if (pcrgate_file_write_atomic(a.out, (const uint8_t *)text, n + 1, 0644, &ei) != 0) {
			text[n] = '\0';
			cli_report(a.out, &ei);
			goto fail;
		}
		text[n] = '\0';
	} else if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		cli_error("policy from-eventlog: cannot write the output");
		goto fail;
	}
	r = CLI_EXIT_OK;
fail:
	pcrgate_refpolicy_free(&check);
	free(text);
	json_decref(doc);
	pcrgate_pcrs_free(&replayed);
	pcrgate_eventlog_free(&log);
	free(buf);
	return r;
}

/* ---- Checking ---- */

struct check_args {
	const char *policy;
	const char *logs[PCRGATE_QUOTE_MAX_EVENTLOGS];
	size_t nlogs;
	int json;
};

static int parse_check_args(int argc, char **argv, struct check_args *a)
{
	static const struct option options[] = {
		{"policy", required_argument, NULL, O_POLICY},
		{"eventlog", required_argument, NULL, O_EVENTLOG},
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_check(stdout);
			return 1;
		case O_POLICY:
			a->policy = optarg;
			break;
		case O_EVENTLOG:
			if (a->nlogs == PCRGATE_QUOTE_MAX_EVENTLOGS) {
				cli_error("policy check: more than %d event logs", PCRGATE_QUOTE_MAX_EVENTLOGS);
				return -1;
			}
			a->logs[a->nlogs++] = optarg;
			break;
		case O_JSON:
			a->json = 1;
			break;
		default:
			cli_error("policy check: unknown option or missing value '%s'; "
				  "'pcrgate policy check --help' lists them",
				  argv[optind - 1]);
			return -1;
		}
	}
	if (argc != optind) {
		cli_error("policy check: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (a->policy == NULL || a->nlogs == 0) {
		cli_error("policy check: --policy FILE and at least one --eventlog LOG are required");
		return -1;
	}
	return 0;
}

/*
 * Replays each log and merges the values in the policy's bank. Logs that extend the same PCR
 * would need one replay across both; the firmware's and pcrgate's logs never do. The parsed
 * logs go into qr, named by their file names.
 */
static int replay_logs(const struct check_args *a, uint16_t bank, pcrgate_pcrs *all, uint32_t *mask,
		       pcrgate_quote_result *qr)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *one = NULL;
	pcrgate_errinfo ei;
	const uint8_t *v;
	size_t i, vlen;
	unsigned k;
	int r = -1;

	*mask = 0;
	for (i = 0; i < a->nlogs; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;

		pcrgate_errinfo_clear(&ei);
		/* The parsed log keeps its own copy: the file's bytes go as soon as it is parsed. */
		r = pcrgate_file_read(a->logs[i], PCRGATE_EVENTLOG_MAX_SIZE, &buf, &len, &ei);
		if (r == 0)
			r = pcrgate_eventlog_parse(buf, len, &log, &ei);
		free(buf);
		if (r != 0 || pcrgate_eventlog_replay(log, &one, &ei) != 0) {
			r = -1;
			cli_report(a->logs[i], &ei);
			goto fail;
		}
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			if ((v = pcrgate_pcrs_get(one, bank, k, &vlen)) == NULL)
				continue;
			if (*mask & ((uint32_t)1 << k)) {
				cli_error("policy check: %s extends PCR %u, which an earlier log extends too", a->logs[i],
					  k);
				goto fail;
			}
			if (pcrgate_pcrs_set(all, bank, k, v, vlen) != 0) {
				cli_error("policy check: out of memory");
				goto fail;
			}
			*mask |= (uint32_t)1 << k;
		}
		pcrgate_pcrs_free(&one);
		/* Kept for the evaluation, as a verified quote's result keeps the logs it replayed. */
		snprintf(qr->eventlogs[i].name, sizeof(qr->eventlogs[i].name), "%s",
			 strrchr(a->logs[i], '/') != NULL ? strrchr(a->logs[i], '/') + 1 : a->logs[i]);
		qr->eventlogs[i].log = log;
		qr->eventlog_count = i + 1;
		log = NULL;
	}
	r = 0;
fail:
	pcrgate_pcrs_free(&one);
	pcrgate_eventlog_free(&log);
	return r;
}

static int print_verdict_json(const pcrgate_refpolicy *p, const pcrgate_refpolicy_verdict *v)
{
	json_t *doc, *reasons;
	size_t i;
	int r = -1;

	doc = json_pack("{s:s, s:s, s:s, s:[], s:I}", "verdict", v->ok ? "pass" : "fail", "policy",
			pcrgate_refpolicy_name(p), "policy_digest", pcrgate_refpolicy_digest(p), "reasons", "omitted",
			(json_int_t)v->omitted);
	if (doc == NULL)
		return -1;
	reasons = json_object_get(doc, "reasons");
	for (i = 0; i < v->reason_count; i++)
		if (json_array_append_new(reasons, json_pack("{s:s, s:s}", "code", v->reasons[i].code_name, "detail",
							     v->reasons[i].detail)) != 0)
			goto fail;
	if (v->release_matched &&
	    json_object_set_new(doc, "release",
				json_pack("{s:s, s:s, s:I}", "name", v->release_name, "version", v->release_version,
					  "security_version", (json_int_t)v->security_version)) != 0)
		goto fail;
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', stdout) != EOF)
		r = 0;
fail:
	json_decref(doc);
	return r;
}

static int print_verdict_text(const pcrgate_refpolicy *p, const pcrgate_refpolicy_verdict *v)
{
	size_t i, c;
	int sep = 0;

	printf("%s: policy %s (sha256 %s)\n", v->ok ? "pass" : "fail", pcrgate_refpolicy_name(p),
	       pcrgate_refpolicy_digest(p));
	if (v->release_matched)
		printf("release: %s %s, security version %llu\n", v->release_name, v->release_version,
		       (unsigned long long)v->security_version);
	for (i = 0; i < v->reason_count; i++)
		printf("%s: %s\n", v->reasons[i].code_name, v->reasons[i].detail);
	if (v->omitted > 0) {
		printf("and %zu more (", v->omitted);
		for (c = 0; c < PCRGATE_REFPOLICY_CODE_COUNT; c++)
			if (v->counts[c] > 0) {
				printf("%s%s: %zu", sep ? ", " : "", pcrgate_refpolicy_code_name((pcrgate_refpolicy_code)c),
				       v->counts[c]);
				sep = 1;
			}
		printf(" in all)\n");
	}
	return ferror(stdout) ? -1 : 0;
}

int cmd_policy_check(int argc, char **argv)
{
	uint8_t *pbuf = NULL;
	size_t plen = 0;
	pcrgate_refpolicy_verdict *v = NULL;
	pcrgate_quote_result *qr = NULL;
	pcrgate_refpolicy *p = NULL;
	pcrgate_pcrs *pcrs = NULL;
	struct check_args a;
	pcrgate_errinfo ei;
	uint32_t mask = 0;
	int r;

	if ((r = parse_check_args(argc, argv, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	r = CLI_EXIT_FAIL;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(a.policy, PCRGATE_REFPOLICY_MAX_SIZE, &pbuf, &plen, &ei) != 0 ||
	    pcrgate_refpolicy_parse(pbuf, plen, &p, &ei) != 0) {
		cli_report(a.policy, &ei);
		goto fail;
	}
	if ((pcrs = pcrgate_pcrs_new()) == NULL || (qr = calloc(1, sizeof(*qr))) == NULL ||
	    (v = calloc(1, sizeof(*v))) == NULL) {
		cli_error("policy check: out of memory");
		goto fail;
	}
	if (replay_logs(&a, pcrgate_refpolicy_bank(p), pcrs, &mask, qr) != 0)
		goto fail;
	/* As if a quote of exactly the replayed PCRs had been verified against these logs. */
	qr->failed = PCRGATE_QUOTE_CHECK_NONE;
	qr->selection_count = 1;
	qr->selection[0].alg = pcrgate_refpolicy_bank(p);
	qr->selection[0].mask = mask;
	qr->eventlog_verified_count = 1;
	qr->eventlog_verified[0].alg = pcrgate_refpolicy_bank(p);
	qr->eventlog_verified[0].mask = mask;
	if (pcrgate_refpolicy_evaluate(p, pcrs, qr, v, &ei) != 0) {
		cli_report("policy check", &ei);
		goto fail;
	}
	if ((a.json ? print_verdict_json(p, v) : print_verdict_text(p, v)) != 0 || fflush(stdout) != 0) {
		cli_error("policy check: cannot write the output");
		goto fail;
	}
	r = v->ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
fail:
	free(v);
	pcrgate_quote_result_clear(qr);
	free(qr);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_refpolicy_free(&p);
	free(pbuf);
	return r;
}
