/*
 * pcrgate-boot: the boot core on a Linux host. `boot` performs one boot (choose, verify,
 * check the counter, measure, log), writes the chosen slot's verified images into a private
 * directory, and prints the slot and those paths as KEY=VALUE lines for the next stage;
 * `status` shows the boot state; `mark-good`, `mark-bad`, `mark-empty` and `set-trial` are
 * the running system's (the agent's) calls.
 * docs/man/pcrgate-boot.1 is the manual.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pcrgate/pcr_map.h"
#include "host.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Options, and the commands that take each (bit per command). */
enum { CMD_BOOT = 1, CMD_STATUS = 2, CMD_MARK = 4, CMD_TRIAL = 8 };
enum { OPT_CONFIG = 256, OPT_STATE, OPT_SLOTS, OPT_EVENTLOG, OPT_TRUST, OPT_COMPATIBLE, OPT_TCTI,
       OPT_COUNTER_INDEX, OPT_STATS, OPT_JSON, OPT_TRIES, OPT_RUN_DIR };

static const struct option options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"state", required_argument, NULL, OPT_STATE},
	{"slots", required_argument, NULL, OPT_SLOTS},
	{"eventlog", required_argument, NULL, OPT_EVENTLOG},
	{"trust", required_argument, NULL, OPT_TRUST},
	{"compatible", required_argument, NULL, OPT_COMPATIBLE},
	{"tcti", required_argument, NULL, OPT_TCTI},
	{"counter-index", required_argument, NULL, OPT_COUNTER_INDEX},
	{"stats", no_argument, NULL, OPT_STATS},
	{"json", no_argument, NULL, OPT_JSON},
	{"tries", required_argument, NULL, OPT_TRIES},
	{"run-dir", required_argument, NULL, OPT_RUN_DIR},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Which commands accept each option, indexed by option value - OPT_CONFIG. */
static const unsigned option_commands[] = {
	CMD_BOOT | CMD_STATUS | CMD_MARK | CMD_TRIAL, /* --config */
	CMD_BOOT | CMD_STATUS | CMD_MARK | CMD_TRIAL, /* --state */
	CMD_BOOT,                                     /* --slots */
	CMD_BOOT,                                     /* --eventlog */
	CMD_BOOT,                                     /* --trust */
	CMD_BOOT,                                     /* --compatible */
	CMD_BOOT,                                     /* --tcti */
	CMD_BOOT,                                     /* --counter-index */
	CMD_BOOT,                                     /* --stats */
	CMD_STATUS,                                   /* --json */
	CMD_TRIAL,                                    /* --tries */
	CMD_BOOT,                                     /* --run-dir */
};

struct args {
	const char *command;
	unsigned kind;
	struct host_options opts;
	int stats, json;
	const char *tries;
	unsigned slot;
};

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;

	fputs("pcrgate-boot: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void log_to_stderr(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "pcrgate-boot: %s: %s\n",
		level <= PCRGATE_LOG_ERROR ? "error" : level == PCRGATE_LOG_WARNING ? "warning" : "info", msg);
}

static const char common_options[] =
	"  --config FILE        config file (default $PCRGATE_CONFIG, else " PCRGATE_DEFAULT_CONFIG ")\n"
	"  --state FILE         boot-state file (default " HOST_DEFAULT_STATE ")\n";

static void usage(FILE *f)
{
	fprintf(f, "usage: pcrgate-boot [--help | --version] COMMAND [OPTIONS] [SLOT]\n"
		   "\n"
		   "commands:\n"
		   "  boot                   choose, verify and measure a slot; print it as KEY=VALUE lines\n"
		   "  status                 show the boot state\n"
		   "  mark-good SLOT         commit SLOT (a or b) after a healthy boot: good and primary\n"
		   "  mark-bad SLOT          reject SLOT (a failed health check)\n"
		   "  mark-empty SLOT        empty SLOT before installing into it\n"
		   "  set-trial SLOT --tries N  arm SLOT for N trial boots (1-%d)\n"
		   "\n"
		   "'pcrgate-boot COMMAND --help' lists a command's options; 'man pcrgate-boot' has the details.\n",
		PCRGATE_BOOTSTATE_MAX_TRIES);
}

static void usage_command(FILE *f, unsigned kind)
{
	switch (kind) {
	case CMD_BOOT:
		fprintf(f, "usage: pcrgate-boot boot [OPTIONS]\n"
			   "\n"
			   "Chooses a slot (trial slots first, then the primary), verifies its manifest signature,\n"
			   "security version and images, measures it into PCRs 9 and 8, appends the event log,\n"
			   "writes its verified images into a new private directory under the run directory and\n"
			   "prints SLOT=, VERSION=, KERNEL=, ... lines (the images' paths there). Exit 0 when a\n"
			   "slot is to be booted, 1 when nothing may be booted (the reason on stderr and as STOP=),\n"
			   "2 on usage errors.\n"
			   "\n"
			   "%s"
			   "  --slots DIR          slot directories DIR/a and DIR/b (default " HOST_DEFAULT_SLOTS ")\n"
			   "  --eventlog FILE      event log to append (default " HOST_DEFAULT_EVENTLOG ")\n"
			   "  --trust FILE         trust anchors for manifest signatures (default " HOST_DEFAULT_TRUST
			   ")\n"
			   "  --run-dir DIR        where the verified images go (default " HOST_DEFAULT_RUN_DIR ")\n"
			   "  --compatible STR     this hardware's compatible string (default: not checked)\n"
			   "  --tcti STR           TPM (default: config file, $PCRGATE_TCTI, " PCRGATE_TPM_DEFAULT_TCTI
			   ")\n"
			   "  --counter-index IDX  anti-rollback NV counter (default 0x%08x)\n"
			   "  --stats              also print what the boot cost (STATS_*= lines)\n",
			common_options, HOST_DEFAULT_COUNTER_INDEX);
		break;
	case CMD_STATUS:
		fprintf(f, "usage: pcrgate-boot status [OPTIONS]\n"
			   "\n"
			   "Shows the boot state: each copy of the record, the primary slot, each slot's status\n"
			   "and tries, and the last fallback.\n"
			   "\n"
			   "%s"
			   "  --json               print JSON\n",
			common_options);
		break;
	case CMD_TRIAL:
		fprintf(f, "usage: pcrgate-boot set-trial SLOT --tries N [OPTIONS]\n"
			   "\n"
			   "Arms SLOT (a or b) for N trial boots (1-%d) and clears the last fallback. Each boot\n"
			   "of the slot uses up one try before it is checked; without mark-good before the tries\n"
			   "run out, the slot is marked bad and the other slot boots.\n"
			   "\n"
			   "%s",
			PCRGATE_BOOTSTATE_MAX_TRIES, common_options);
		break;
	default:
		fprintf(f, "usage: pcrgate-boot mark-good|mark-bad|mark-empty SLOT [OPTIONS]\n"
			   "\n"
			   "mark-good commits SLOT (a or b): good and primary; it refuses a bad or empty slot.\n"
			   "mark-bad rejects SLOT and records it as the last fallback. mark-empty keeps a slot\n"
			   "from being tried while something is installed into it.\n"
			   "\n"
			   "%s",
			common_options);
		break;
	}
}

static unsigned command_kind(const char *name)
{
	if (strcmp(name, "boot") == 0)
		return CMD_BOOT;
	if (strcmp(name, "status") == 0)
		return CMD_STATUS;
	if (strcmp(name, "set-trial") == 0)
		return CMD_TRIAL;
	if (strcmp(name, "mark-good") == 0 || strcmp(name, "mark-bad") == 0 || strcmp(name, "mark-empty") == 0)
		return CMD_MARK;
	return 0;
}

static int parse_slot(const char *s, unsigned *slot)
{
	if (strcmp(s, "a") == 0)
		*slot = 0;
	else if (strcmp(s, "b") == 0)
		*slot = 1;
	else
		return -1;
	return 0;
}

/* 0 to run, 1 after --help, -1 after a usage error (reported). */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->command = argv[0];
	a->kind = command_kind(argv[0]);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			usage_command(stdout, a->kind);
			return 1;
		}
		if (c < OPT_CONFIG || c > OPT_RUN_DIR) {
			err("%s: unknown option or missing value '%s'; 'pcrgate-boot %s --help' lists the options",
			    a->command, argv[optind - 1], a->command);
			return -1;
		}
		if (!(option_commands[c - OPT_CONFIG] & a->kind)) {
			err("%s: option '%s' does not apply to this command", a->command, argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case OPT_CONFIG:
			a->opts.config = optarg;
			break;
		case OPT_STATE:
			a->opts.state = optarg;
			break;
		case OPT_SLOTS:
			a->opts.slots = optarg;
			break;
		case OPT_EVENTLOG:
			a->opts.eventlog = optarg;
			break;
		case OPT_TRUST:
			a->opts.trust = optarg;
			break;
		case OPT_COMPATIBLE:
			a->opts.compatible = optarg;
			break;
		case OPT_TCTI:
			a->opts.tcti = optarg;
			break;
		case OPT_COUNTER_INDEX:
			a->opts.counter_index = optarg;
			break;
		case OPT_STATS:
			a->stats = 1;
			break;
		case OPT_JSON:
			a->json = 1;
			break;
		case OPT_RUN_DIR:
			a->opts.run_dir = optarg;
			break;
		default:
			a->tries = optarg;
			break;
		}
	}
	if (a->kind == CMD_MARK || a->kind == CMD_TRIAL) {
		if (argc - optind != 1 || parse_slot(argv[optind], &a->slot) != 0) {
			err("%s: expected one SLOT, a or b", a->command);
			return -1;
		}
		if (a->kind == CMD_TRIAL && a->tries == NULL) {
			err("set-trial: --tries N is required");
			return -1;
		}
	} else if (argc - optind != 0) {
		err("%s: unexpected argument '%s'", a->command, argv[optind]);
		return -1;
	}
	return 0;
}

static int load_config(const struct args *a, struct host_config *cfg)
{
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (host_config_resolve(&a->opts, cfg, &ei) != PCRGATE_OK) {
		err("%s", ei.message);
		return -1;
	}
	return 0;
}

/* One stderr line for a slot that was rejected or skipped in this boot. */
static void report_slot(unsigned slot, const struct pcrgate_boot_slot_report *rep)
{
	char extra[PCRGATE_MANIFEST_NAME_MAX + 96] = "";
	const char *verb = "rejected";

	if (rep->reason == PCRGATE_BOOT_REASON_SLOT_BAD || rep->reason == PCRGATE_BOOT_REASON_SLOT_EMPTY)
		verb = "not tried";
	else if (rep->reason == PCRGATE_BOOT_REASON_PLATFORM_FAULT || rep->reason == PCRGATE_BOOT_REASON_STATE_WRITE)
		verb = "skipped this boot, not marked";
	if (rep->detail != NULL)
		snprintf(extra, sizeof(extra), ": %s at byte %zu", rep->detail, rep->offset);
	else if (rep->image[0] != '\0')
		snprintf(extra, sizeof(extra), " (image %s)", rep->image);
	if (rep->error != 0 && rep->reason == PCRGATE_BOOT_REASON_PLATFORM_FAULT)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ": %s", pcrgate_strerror(rep->error));
	err("slot %s %s: %s%s%s", pcrgate_boot_slot_name(slot), verb, pcrgate_boot_reason_str(rep->reason), extra,
	    rep->marked_bad ? "; marked bad" : "");
}

static void upper(const char *in, char *out, size_t cap)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < cap; i++)
		out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
	out[i] = '\0';
}

static int print_booted(const struct host_port *hp, const struct pcrgate_boot_result *res)
{
	char path[HOST_PATH_MAX + 64], key[PCRGATE_MANIFEST_NAME_MAX], hex[65];
	unsigned i, other = (res->slot + 1) % PCRGATE_BOOT_SLOTS;

	pcrgate_hex_encode(res->manifest_sha256, sizeof(res->manifest_sha256), hex);
	printf("SLOT=%s\nVERSION=%s\nSECURITY_VERSION=%u\nCOUNTER=%llu\nMANIFEST_SHA256=%s\n",
	       pcrgate_boot_slot_name(res->slot), res->manifest.version, (unsigned)res->manifest.security_version,
	       (unsigned long long)res->counter, hex);
	printf("TRIAL=%s\nTRIES_LEFT=%u\n", res->trial ? "yes" : "no", res->tries_left);
	for (i = 0; i < res->manifest.n_images; i++) {
		if (host_image_path(hp, res->manifest.images[i].name, path, sizeof(path)) != PCRGATE_OK)
			return -1;
		upper(res->manifest.images[i].name, key, sizeof(key));
		printf("%s=%s\n", key, path);
	}
	printf("FALLBACK=%s\n", res->fell_back ? "yes" : "no");
	if (res->fell_back)
		printf("FALLBACK_FROM=%s\nFALLBACK_REASON=%s\n", pcrgate_boot_slot_name(other),
		       pcrgate_boot_reason_token(res->slots[other].reason));
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++)
		if (i != res->slot && res->slots[i].reason != PCRGATE_BOOT_REASON_NONE)
			printf("SLOT_%c_REASON=%s\n", 'A' + i, pcrgate_boot_reason_token(res->slots[i].reason));
	printf("EVENTLOG=%s\n", hp->cfg->eventlog);
	return 0;
}

static void print_stats(const struct host_port *hp)
{
	printf("STATS_TPM_COMMANDS=%u\nSTATS_COUNTER_READS=%u\nSTATS_EXTENDS=%u\nSTATS_STATE_WRITES=%u\n"
	       "STATS_HASHED_BYTES=%llu\n",
	       hp->stats.tpm_commands, hp->stats.counter_reads, hp->stats.extends, hp->stats.state_writes,
	       (unsigned long long)hp->stats.hashed_bytes);
}

static int cmd_boot(const struct args *a)
{
	struct host_config cfg;
	struct host_port hp;
	struct pcrgate_boot_result res;
	pcrgate_errinfo ei;
	unsigned i;
	int r, rc = EXIT_FAIL;

	if (load_config(a, &cfg) != 0)
		return EXIT_FAIL;
	pcrgate_errinfo_clear(&ei);
	if (host_port_init(&hp, &cfg, 1, &ei) != PCRGATE_OK) {
		err("%s", ei.message);
		return EXIT_FAIL;
	}
	if (host_port_open_tpm(&hp, &ei) != PCRGATE_OK) {
		err("cannot reach the TPM: %s; nothing booted", ei.message);
		printf("STOP=tpm\n");
		goto out;
	}
	/* Before the run: a run directory that cannot be used stops the boot before it counts. */
	if (host_images_prepare(&hp, &ei) != PCRGATE_OK) {
		err("cannot hand over images: %s; nothing booted", ei.message);
		(void)pcrgate_boot_cap_pcrs(&hp.port);
		printf("STOP=images\n");
		goto out;
	}
	r = pcrgate_boot_run(&hp.port, &res);
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++) {
		const struct pcrgate_boot_slot_report *rep = &res.slots[i];

		/* Slots marked bad in an earlier boot are only news when nothing boots. */
		int old_news = rep->reason == PCRGATE_BOOT_REASON_SLOT_BAD ||
			       rep->reason == PCRGATE_BOOT_REASON_SLOT_EMPTY;

		if (rep->reason != PCRGATE_BOOT_REASON_NONE && (r != PCRGATE_OK || !old_news))
			report_slot(i, rep);
	}
	if (res.state_error != 0)
		err("warning: the boot state could not be recorded (%s): %s", pcrgate_strerror(res.state_error),
		    cfg.state);
	if (r == PCRGATE_OK && host_images_publish(&hp, res.slot, &res.manifest, &ei) != PCRGATE_OK) {
		err("slot %s verified, but its images cannot be handed over: %s; nothing booted",
		    pcrgate_boot_slot_name(res.slot), ei.message);
		(void)pcrgate_boot_cap_pcrs(&hp.port);
		printf("STOP=images\n");
	} else if (r == PCRGATE_OK) {
		if (print_booted(&hp, &res) != 0)
			goto out;
		rc = EXIT_OK;
	} else {
		err("nothing booted: %s (%s)", pcrgate_boot_reason_str(res.stop), pcrgate_strerror(r));
		printf("STOP=%s\n", pcrgate_boot_reason_token(res.stop));
		for (i = 0; i < PCRGATE_BOOT_SLOTS; i++)
			if (res.slots[i].reason != PCRGATE_BOOT_REASON_NONE)
				printf("SLOT_%c_REASON=%s\n", 'A' + i, pcrgate_boot_reason_token(res.slots[i].reason));
	}
	if (a->stats)
		print_stats(&hp);
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		err("cannot write the output");
		rc = EXIT_FAIL;
	}
	host_port_free(&hp);
	return rc;
}

/* What one copy of the record holds: valid with its sequence number, or why not. */
struct copy_info {
	int valid;
	uint32_t seq;
	const char *why;
};

static void inspect_copies(struct host_port *hp, struct copy_info info[PCRGATE_BOOT_STATE_COPIES])
{
	uint8_t buf[PCRGATE_BOOTSTATE_SIZE];
	struct pcrgate_bootstate st;
	unsigned i;
	size_t len;
	int r;

	for (i = 0; i < PCRGATE_BOOT_STATE_COPIES; i++) {
		memset(&info[i], 0, sizeof(info[i]));
		len = 0;
		r = hp->port.state_read(hp, i, buf, sizeof(buf), &len);
		if (r == PCRGATE_ERR_NOT_FOUND) {
			info[i].why = "never written";
		} else if (r != PCRGATE_OK) {
			info[i].why = pcrgate_strerror(r);
		} else if (pcrgate_bootstate_decode(buf, len, &st, &info[i].why) == PCRGATE_OK) {
			info[i].valid = 1;
			info[i].seq = st.seq;
		}
	}
}

static int status_text(const struct host_config *cfg, const struct copy_info *info,
		       const struct pcrgate_bootstate *st, int current)
{
	unsigned i;

	printf("state file: %s\n", cfg->state);
	for (i = 0; i < PCRGATE_BOOT_STATE_COPIES; i++) {
		if (info[i].valid)
			printf("copy %u: sequence %lu%s\n", i, (unsigned long)info[i].seq,
			       (int)i == current ? " (current)" : "");
		else
			printf("copy %u: invalid (%s)\n", i, info[i].why != NULL ? info[i].why : "invalid");
	}
	if (current < 0)
		printf("no valid copy: the fresh state\n");
	printf("primary: %s\n", pcrgate_boot_slot_name(st->primary));
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++) {
		printf("slot %s: %s", pcrgate_boot_slot_name(i), pcrgate_slot_status_str(st->slot[i].status));
		if (st->slot[i].status == PCRGATE_SLOT_TRIAL)
			printf(", %u tries left", st->slot[i].tries);
		printf("\n");
	}
	if (st->fallback_reason == PCRGATE_BOOT_REASON_NONE)
		printf("last fallback: none\n");
	else
		printf("last fallback: slot %s: %s (%s)\n", pcrgate_boot_slot_name(st->fallback_slot),
		       pcrgate_boot_reason_str(st->fallback_reason), pcrgate_boot_reason_token(st->fallback_reason));
	return 0;
}

static int status_json(const struct host_config *cfg, const struct copy_info *info,
		       const struct pcrgate_bootstate *st, int current)
{
	json_t *root = json_object(), *copies = json_array(), *slots = json_object(), *fb = json_null();
	unsigned i;
	int bad = root == NULL || copies == NULL || slots == NULL, r = -1;

	for (i = 0; !bad && i < PCRGATE_BOOT_STATE_COPIES; i++) {
		json_t *c = info[i].valid ? json_pack("{s:I,s:b,s:I}", "copy", (json_int_t)i, "valid", 1, "sequence",
						      (json_int_t)info[i].seq)
					  : json_pack("{s:I,s:b,s:s}", "copy", (json_int_t)i, "valid", 0, "error",
						      info[i].why != NULL ? info[i].why : "invalid");
		bad |= json_array_append_new(copies, c) != 0;
	}
	for (i = 0; !bad && i < PCRGATE_BOOT_SLOTS; i++)
		bad |= json_object_set_new(slots, pcrgate_boot_slot_name(i),
					   json_pack("{s:s,s:I}", "status", pcrgate_slot_status_str(st->slot[i].status),
						     "tries", (json_int_t)st->slot[i].tries)) != 0;
	if (st->fallback_reason != PCRGATE_BOOT_REASON_NONE)
		fb = json_pack("{s:s,s:s,s:s}", "slot", pcrgate_boot_slot_name(st->fallback_slot), "reason",
			       pcrgate_boot_reason_token(st->fallback_reason), "description",
			       pcrgate_boot_reason_str(st->fallback_reason));
	if (!bad) {
		bad |= json_object_set_new(root, "state_file", json_string(cfg->state)) != 0;
		bad |= json_object_set_new(root, "copies", copies) != 0;
		copies = NULL;
		bad |= json_object_set_new(root, "current_copy",
					   current < 0 ? json_null() : json_integer(current)) != 0;
		bad |= json_object_set_new(root, "sequence", json_integer(st->seq)) != 0;
		bad |= json_object_set_new(root, "primary", json_string(pcrgate_boot_slot_name(st->primary))) != 0;
		bad |= json_object_set_new(root, "slots", slots) != 0;
		slots = NULL;
		bad |= json_object_set_new(root, "last_fallback", fb) != 0;
		fb = NULL;
	}
	if (!bad && json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', stdout) != EOF)
		r = 0;
	json_decref(copies);
	json_decref(slots);
	json_decref(fb);
	json_decref(root);
	return r;
}

static int cmd_status(const struct args *a)
{
	struct copy_info info[PCRGATE_BOOT_STATE_COPIES];
	struct pcrgate_bootstate st;
	struct host_config cfg;
	struct host_port hp;
	pcrgate_errinfo ei;
	int current = -1, rc = EXIT_FAIL, r;

	if (load_config(a, &cfg) != 0)
		return EXIT_FAIL;
	pcrgate_errinfo_clear(&ei);
	if (host_port_init(&hp, &cfg, 0, &ei) != PCRGATE_OK) {
		err("%s", ei.message);
		return EXIT_FAIL;
	}
	inspect_copies(&hp, info);
	if ((r = pcrgate_boot_status(&hp.port, &st, &current)) != PCRGATE_OK) {
		err("cannot read the boot state %s: %s", cfg.state, pcrgate_strerror(r));
		goto out;
	}
	if ((a->json ? status_json(&cfg, info, &st, current) : status_text(&cfg, info, &st, current)) != 0 ||
	    fflush(stdout) != 0 || ferror(stdout)) {
		err("cannot write the output");
		goto out;
	}
	rc = EXIT_OK;
out:
	host_port_free(&hp);
	return rc;
}

/* mark-good, mark-bad, mark-empty and set-trial: one boot-state write each (none when nothing changes). */
static int cmd_change(const struct args *a)
{
	struct pcrgate_bootstate st;
	struct host_config cfg;
	struct host_port hp;
	pcrgate_errinfo ei;
	unsigned long tries = 0;
	const char *name = pcrgate_boot_slot_name(a->slot);
	char *end;
	int current, r, rc = EXIT_FAIL;

	if (a->kind == CMD_TRIAL) {
		tries = strtoul(a->tries, &end, 10);
		if (a->tries[0] < '1' || a->tries[0] > '9' || *end != '\0' || tries > PCRGATE_BOOTSTATE_MAX_TRIES) {
			err("set-trial: --tries must be 1 to %d, not '%s'", PCRGATE_BOOTSTATE_MAX_TRIES, a->tries);
			return EXIT_USAGE;
		}
	}
	if (load_config(a, &cfg) != 0)
		return EXIT_FAIL;
	pcrgate_errinfo_clear(&ei);
	if (host_port_init(&hp, &cfg, 1, &ei) != PCRGATE_OK) {
		err("%s", ei.message);
		return EXIT_FAIL;
	}
	if (strcmp(a->command, "set-trial") == 0)
		r = pcrgate_boot_set_trial(&hp.port, a->slot, (unsigned)tries);
	else if (strcmp(a->command, "mark-good") == 0)
		r = pcrgate_boot_mark_good(&hp.port, a->slot);
	else if (strcmp(a->command, "mark-bad") == 0)
		r = pcrgate_boot_mark_bad(&hp.port, a->slot);
	else
		r = pcrgate_boot_mark_empty(&hp.port, a->slot);
	if (r == PCRGATE_ERR_INVALID_ARGUMENT && strcmp(a->command, "mark-good") == 0 &&
	    pcrgate_boot_status(&hp.port, &st, &current) == PCRGATE_OK) {
		err("mark-good: slot %s is %s; only a slot that can have booted (trial, good or unknown) can be "
		    "committed",
		    name, pcrgate_slot_status_str(st.slot[a->slot].status));
	} else if (r != PCRGATE_OK) {
		err("%s %s: cannot record the boot state in %s: %s", a->command, name, cfg.state, pcrgate_strerror(r));
	} else {
		rc = EXIT_OK;
	}
	host_port_free(&hp);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a;
	int r;

	pcrgate_log_set_handler(log_to_stderr, NULL);
	pcrgate_log_init_from_env();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pcrgate-boot %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (command_kind(argv[1]) == 0) {
		err("unknown command '%s'; 'pcrgate-boot --help' lists them", argv[1]);
		return EXIT_USAGE;
	}
	if ((r = parse_args(argc - 1, argv + 1, &a)) != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	switch (a.kind) {
	case CMD_BOOT:
		return cmd_boot(&a);
	case CMD_STATUS:
		return cmd_status(&a);
	default:
		return cmd_change(&a);
	}
}
