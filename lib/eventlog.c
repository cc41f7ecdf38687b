/*
 * pcrgate: TCG PC Client event log parser (legacy SHA-1 and crypto-agile formats),
 * its accessors, and replay into PCR values. Every byte of the log is untrusted and
 * read through the bounded reader; every error names its byte offset.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog_internal.h"
#include "reader.h"

struct parse_state {
	pcrgate_eventlog *log;
	struct reader r;
	size_t pad_start;  /* where trailing 0x00/0xFF fill begins (len when there is none) */
	int pcr0_extended; /* an event before this one extended PCR 0 */
	pcrgate_errinfo *ei;
};

/*
 * Firmware hands over its log area with the unused tail left as erased flash (0xFF) or
 * zeroed memory. Where the bytes after the last event are all one such fill value, the
 * log ends there; any other trailing bytes must parse as events.
 */
static size_t padding_start(const uint8_t *p, size_t len)
{
	size_t i = len;
	uint8_t fill;

	if (len == 0)
		return 0;
	fill = p[len - 1];
	if (fill != 0x00 && fill != 0xFF)
		return len;
	while (i > 0 && p[i - 1] == fill)
		i--;
	return i;
}

static int truncated(struct parse_state *st, size_t evno, const char *what, size_t need)
{
	return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, st->r.off,
				   "event %zu: the log ends inside its %s (%zu bytes needed, %zu left)", evno, what,
				   need, st->r.left);
}

static int check_pcr(struct parse_state *st, size_t evno, size_t start, uint32_t pcr)
{
	if (pcr < PCRGATE_MAX_PCRS || pcr == PCRGATE_EVENTLOG_NO_PCR)
		return PCRGATE_OK;
	return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, start,
				   "event %zu: PCR index %u is out of range (0-%u, or 0xffffffff for none)", evno, pcr,
				   PCRGATE_MAX_PCRS - 1);
}

/* The event data: a size, then that many bytes, both bounded. */
static int read_data(struct parse_state *st, size_t evno, struct pcrgate_event *ev)
{
	uint32_t size;

	if (reader_u32le(&st->r, &size) < 0)
		return truncated(st, evno, "event data size", 4);
	if (size > PCRGATE_EVENTLOG_MAX_EVENT_DATA)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_LIMIT, st->r.off - 4,
					   "event %zu: event data size %u is over the cap of %u bytes", evno, size,
					   PCRGATE_EVENTLOG_MAX_EVENT_DATA);
	if (reader_bytes(&st->r, size, &ev->data) < 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, st->r.off,
					   "event %zu: event data of %u bytes runs past the end of the log (%zu bytes "
					   "left)",
					   evno, size, st->r.left);
	ev->data_len = size;
	return PCRGATE_OK;
}

/* A TCG_PCR_EVENT: every event of a legacy log, and the first event of a crypto-agile one. */
static int parse_pcr_event(struct parse_state *st, size_t evno, struct pcrgate_event *ev)
{
	struct reader *r = &st->r;
	size_t start = r->off;
	int rc;

	if (r->left < EL_PCR_EVENT_HEADER)
		return truncated(st, evno, "TCG_PCR_EVENT header", EL_PCR_EVENT_HEADER);
	ev->offset = start;
	ev->legacy = 1;
	reader_u32le(r, &ev->pcr);
	reader_u32le(r, &ev->type);
	reader_skip(r, 20);
	if ((rc = check_pcr(st, evno, start, ev->pcr)) < 0)
		return rc;
	return read_data(st, evno, ev);
}

static const struct el_alg *find_alg(const struct el_alg *algs, size_t n, uint16_t alg, size_t *index)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (algs[i].alg == alg) {
			if (index != NULL)
				*index = i;
			return &algs[i];
		}
	}
	return NULL;
}

/*
 * A TCG_PCR_EVENT2. Digest sizes come from the Spec ID event, so algorithms pcrgate
 * does not know are still skipped correctly. Every event must carry the same banks
 * as the first one: a bank some events skip cannot be replayed.
 */
static int parse_pcr_event2(struct parse_state *st, size_t evno, struct pcrgate_event *ev)
{
	pcrgate_eventlog *log = st->log;
	struct reader *r = &st->r;
	struct el_alg first[PCRGATE_EVENTLOG_MAX_ALGS];
	size_t start = r->off, i, bank;
	uint32_t count, seen = 0;
	const struct el_alg *a;
	uint16_t alg;
	char label[8];
	int rc;

	if (r->left < 12)
		return truncated(st, evno, "TCG_PCR_EVENT2 header", 12);
	ev->offset = start;
	reader_u32le(r, &ev->pcr);
	reader_u32le(r, &ev->type);
	reader_u32le(r, &count);
	if ((rc = check_pcr(st, evno, start, ev->pcr)) < 0)
		return rc;
	if (count == 0 || count > log->nalgs)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, start + 8,
					   "event %zu: digest count %u does not match the %zu algorithms of the Spec ID "
					   "event",
					   evno, count, log->nalgs);
	if (log->banks_fixed && count != log->nbanks)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, start + 8,
					   "event %zu: digest count %u does not match the %zu banks of the log's "
					   "first event",
					   evno, count, log->nbanks);
	for (i = 0; i < count; i++) {
		size_t aoff = r->off;

		if (reader_u16le(r, &alg) < 0)
			return truncated(st, evno, "digest algorithm", 2);
		if ((a = find_alg(log->algs, log->nalgs, alg, NULL)) == NULL)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, aoff,
						   "event %zu: digest algorithm 0x%04x is not declared in the Spec ID "
						   "event",
						   evno, alg);
		if (!log->banks_fixed) {
			if (find_alg(first, i, alg, NULL) != NULL)
				return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, aoff,
							   "event %zu: two digests for algorithm %s", evno,
							   pcrgate_alg_label(alg, label));
			first[i] = *a;
			bank = i;
		} else if (find_alg(log->banks, log->nbanks, alg, &bank) == NULL) {
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, aoff,
						   "event %zu: algorithm %s is not among the banks of the log's first "
						   "event",
						   evno, pcrgate_alg_label(alg, label));
		} else if (seen & (1u << bank)) {
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, aoff,
						   "event %zu: two digests for algorithm %s", evno,
						   pcrgate_alg_label(alg, label));
		}
		seen |= 1u << bank;
		ev->digest_off[bank] = (uint16_t)(r->off - start);
		if (reader_skip(r, a->size) < 0)
			return truncated(st, evno, "digest", a->size);
	}
	if ((rc = read_data(st, evno, ev)) < 0)
		return rc;
	if (!log->banks_fixed) {
		memcpy(log->banks, first, count * sizeof(first[0]));
		log->nbanks = count;
		log->banks_fixed = 1;
	}
	return PCRGATE_OK;
}

/* The Spec ID event's data: TCG_EfiSpecIDEventStruct (PC Client PFP, "Spec ID Event03"). */
static int parse_spec_id(struct parse_state *st, const struct pcrgate_event *ev)
{
	static const uint8_t zero[20];
	pcrgate_eventlog *log = st->log;
	size_t base = ev->offset + EL_PCR_EVENT_HEADER, i, off;
	struct reader r;
	uint32_t nalgs;
	uint16_t id, size;
	size_t known;
	uint8_t vendor;
	char label[8];

	if (ev->pcr != 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset,
					   "Spec ID event is recorded at PCR %u, not 0", ev->pcr);
	if (memcmp(log->buf + ev->offset + 8, zero, sizeof(zero)) != 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset + 8,
					   "Spec ID event's digest field is not zero");
	reader_init(&r, ev->data, ev->data_len);
	r.off = base;
	if (r.left < EL_SPEC_ID_HEADER)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, base,
					   "Spec ID event data is %u bytes, too short for its %u-byte header",
					   ev->data_len, EL_SPEC_ID_HEADER);
	/* The signature, then platformClass, which nothing depends on. */
	reader_skip(&r, 16 + 4);
	reader_u8(&r, &log->spec_minor);
	reader_u8(&r, &log->spec_major);
	reader_skip(&r, 1); /* specErrata */
	reader_u8(&r, &log->uintn_size);
	reader_u32le(&r, &nalgs);
	if (log->spec_major != 2 || log->spec_minor != 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, base + 20,
					   "Spec ID event has version %u.%u; only 2.0 is defined for crypto-agile logs",
					   log->spec_major, log->spec_minor);
	if (log->uintn_size != 1 && log->uintn_size != 2)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, base + 23,
					   "Spec ID event has uintnSize %u; only 1 (UINT32) or 2 (UINT64) are defined",
					   log->uintn_size);
	if (nalgs == 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, base + 24,
					   "Spec ID event declares no algorithms");
	if (nalgs > PCRGATE_EVENTLOG_MAX_ALGS)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_LIMIT, base + 24,
					   "Spec ID event declares %u algorithms, over the cap of %u", nalgs,
					   PCRGATE_EVENTLOG_MAX_ALGS);
	for (i = 0; i < nalgs; i++) {
		off = r.off;
		if (reader_u16le(&r, &id) < 0 || reader_u16le(&r, &size) < 0)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, off,
						   "Spec ID event ends inside its table of %u algorithms", nalgs);
		if (size == 0 || size > PCRGATE_MAX_DIGEST)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, off + 2,
						   "Spec ID event declares a %u-byte digest for algorithm %s "
						   "(1-%u bytes allowed)",
						   size, pcrgate_alg_label(id, label), PCRGATE_MAX_DIGEST);
		known = pcrgate_alg_digest_size(id);
		if (known != 0 && known != size)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, off + 2,
						   "Spec ID event declares a %u-byte digest for %s, which has %zu",
						   size, pcrgate_alg_name(id), known);
		if (find_alg(log->algs, i, id, NULL) != NULL)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, off,
						   "Spec ID event declares algorithm %s twice",
						   pcrgate_alg_label(id, label));
		log->algs[i].alg = id;
		log->algs[i].size = size;
	}
	log->nalgs = nalgs;
	off = r.off;
	if (reader_u8(&r, &vendor) < 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, off,
					   "Spec ID event ends before its vendorInfoSize");
	if (vendor > r.left)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, off,
					   "Spec ID vendor info of %u bytes runs past the end of the event (%zu bytes "
					   "left)",
					   vendor, r.left);
	reader_skip(&r, vendor);
	if (r.left > 0)
		return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, r.off,
					   "%zu unexpected bytes after the Spec ID event's vendor info", r.left);
	/* Until an event shows which banks it carries, the declared ones are the log's banks. */
	memcpy(log->banks, log->algs, nalgs * sizeof(log->algs[0]));
	log->nbanks = nalgs;
	return PCRGATE_OK;
}

/*
 * Rules for PCR 0's initial value (PC Client PFP): a StartupLocality EV_NO_ACTION event
 * names the locality of TPM2_Startup, which becomes PCR 0's last byte; an H-CRTM
 * sequence starts PCR 0 at 4. Both must come before anything is measured into PCR 0.
 */
static int note_event(struct parse_state *st, size_t evno, const struct pcrgate_event *ev)
{
	pcrgate_eventlog *log = st->log;

	if (ev->type == PCRGATE_EV_NO_ACTION) {
		if (ev->pcr != 0 || ev->data_len < 16 || memcmp(ev->data, EL_STARTUP_LOCALITY, 16) != 0)
			return PCRGATE_OK;
		if (ev->data_len != 17)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset,
						   "event %zu: StartupLocality event data is %u bytes, not 17", evno,
						   ev->data_len);
		if (log->has_locality)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset,
						   "event %zu: a second StartupLocality event", evno);
		if (st->pcr0_extended)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset,
						   "event %zu: StartupLocality event after PCR 0 was extended", evno);
		/* TPM2_Startup comes from locality 0 or 3; 4 is the H-CRTM's, which firmware also records. */
		if (ev->data[16] != 0 && ev->data[16] != 3 && ev->data[16] != 4)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset,
						   "event %zu: StartupLocality %u is not a startup locality (0, 3 or 4)",
						   evno, ev->data[16]);
		log->locality = ev->data[16];
		log->has_locality = 1;
		return PCRGATE_OK;
	}
	if (ev->pcr != 0)
		return PCRGATE_OK;
	if (ev->type == PCRGATE_EV_EFI_HCRTM_EVENT) {
		if (st->pcr0_extended)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_FORMAT, ev->offset,
						   "event %zu: H-CRTM event is not the first measurement into PCR 0",
						   evno);
		log->hcrtm = 1;
	}
	st->pcr0_extended = 1;
	return PCRGATE_OK;
}

/* One array for all events: no allocation per event. */
static int push_event(struct parse_state *st, const struct pcrgate_event *ev)
{
	pcrgate_eventlog *log = st->log;
	struct pcrgate_event *grown;
	size_t cap;

	if (log->nevents == log->cap) {
		cap = log->cap ? 2 * log->cap : 128;
		if (cap > PCRGATE_EVENTLOG_MAX_EVENTS)
			cap = PCRGATE_EVENTLOG_MAX_EVENTS;
		if ((grown = realloc(log->events, cap * sizeof(*grown))) == NULL)
			return pcrgate_errinfo_set(st->ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET,
						   "out of memory for %zu events", cap);
		log->events = grown;
		log->cap = cap;
	}
	log->events[log->nevents++] = *ev;
	return PCRGATE_OK;
}

int pcrgate_eventlog_parse(const uint8_t *buf, size_t len, pcrgate_eventlog **out, pcrgate_errinfo *ei)
{
	struct parse_state st;
	struct pcrgate_event ev;
	pcrgate_eventlog *log = NULL;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (out == NULL || (buf == NULL && len > 0)) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no event log given");
		goto fail;
	}
	if (len == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "the event log is empty");
		goto fail;
	}
	if (len > PCRGATE_EVENTLOG_MAX_SIZE) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_EVENTLOG_MAX_SIZE,
					"the event log is %zu bytes, over the cap of %u", len,
					PCRGATE_EVENTLOG_MAX_SIZE);
		goto fail;
	}
	if ((log = calloc(1, sizeof(*log))) == NULL || (log->buf = malloc(len)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory for the log");
		goto fail;
	}
	memcpy(log->buf, buf, len);
	log->len = len;
	memset(&st, 0, sizeof(st));
	st.log = log;
	st.ei = ei;
	reader_init(&st.r, log->buf, len);
	st.pad_start = padding_start(log->buf, len);

	/* Both formats start with a TCG_PCR_EVENT; a Spec ID event in it makes the log crypto-agile. */
	memset(&ev, 0, sizeof(ev));
	ev.log = log;
	if ((r = parse_pcr_event(&st, 0, &ev)) < 0)
		goto fail;
	if (ev.type == PCRGATE_EV_NO_ACTION && ev.data_len >= 16 && memcmp(ev.data, EL_SPEC_ID_SIGNATURE, 16) == 0) {
		log->format = PCRGATE_EVENTLOG_CRYPTO_AGILE;
		if ((r = parse_spec_id(&st, &ev)) < 0)
			goto fail;
	} else {
		log->format = PCRGATE_EVENTLOG_SHA1;
		log->nalgs = log->nbanks = 1;
		log->algs[0].alg = log->banks[0].alg = PCRGATE_ALG_SHA1;
		log->algs[0].size = log->banks[0].size = 20;
		log->banks_fixed = 1;
		ev.digest_off[0] = 8;
		if ((r = note_event(&st, 0, &ev)) < 0)
			goto fail;
	}
	if ((r = push_event(&st, &ev)) < 0)
		goto fail;

	while (st.r.left > 0) {
		if (st.r.off >= st.pad_start) {
			log->pad_off = st.r.off;
			log->pad_len = st.r.left;
			break;
		}
		if (log->nevents >= PCRGATE_EVENTLOG_MAX_EVENTS) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, st.r.off, "the log has more than %u events",
						PCRGATE_EVENTLOG_MAX_EVENTS);
			goto fail;
		}
		memset(&ev, 0, sizeof(ev));
		ev.log = log;
		if (log->format == PCRGATE_EVENTLOG_CRYPTO_AGILE) {
			r = parse_pcr_event2(&st, log->nevents, &ev);
		} else {
			r = parse_pcr_event(&st, log->nevents, &ev);
			ev.digest_off[0] = 8;
		}
		if (r < 0 || (r = note_event(&st, log->nevents, &ev)) < 0 || (r = push_event(&st, &ev)) < 0)
			goto fail;
	}
	pg_debug("%zu events, %zu banks, format %d", log->nevents, log->nbanks, log->format);
	*out = log;
	return PCRGATE_OK;
fail:
	pg_debug("event log rejected: %s", ei ? ei->message : pcrgate_strerror(r));
	pcrgate_eventlog_free(&log);
	return r;
}

void pcrgate_eventlog_free(pcrgate_eventlog **log)
{
	if (log == NULL || *log == NULL)
		return;
	free((*log)->events);
	free((*log)->buf);
	free(*log);
	*log = NULL;
}

int pcrgate_eventlog_format(const pcrgate_eventlog *log)
{
	return log ? log->format : 0;
}

size_t pcrgate_eventlog_count(const pcrgate_eventlog *log)
{
	return log ? log->nevents : 0;
}

const pcrgate_event *pcrgate_eventlog_event(const pcrgate_eventlog *log, size_t i)
{
	return (log && i < log->nevents) ? &log->events[i] : NULL;
}

size_t pcrgate_eventlog_bank_count(const pcrgate_eventlog *log)
{
	return log ? log->nbanks : 0;
}

uint16_t pcrgate_eventlog_bank_alg(const pcrgate_eventlog *log, size_t i)
{
	return (log && i < log->nbanks) ? log->banks[i].alg : 0;
}

unsigned pcrgate_eventlog_uintn_size(const pcrgate_eventlog *log)
{
	if (log == NULL || log->format != PCRGATE_EVENTLOG_CRYPTO_AGILE)
		return 0;
	return log->uintn_size == 1 ? 4 : 8;
}

unsigned pcrgate_eventlog_pcr0_start(const pcrgate_eventlog *log)
{
	if (log == NULL)
		return 0;
	return log->hcrtm ? 4 : log->locality;
}

size_t pcrgate_eventlog_padding(const pcrgate_eventlog *log, size_t *offset)
{
	if (log == NULL)
		return 0;
	if (offset != NULL)
		*offset = log->pad_off;
	return log->pad_len;
}

size_t pcrgate_event_offset(const pcrgate_event *ev)
{
	return ev ? ev->offset : 0;
}

uint32_t pcrgate_event_pcr(const pcrgate_event *ev)
{
	return ev ? ev->pcr : 0;
}

uint32_t pcrgate_event_type(const pcrgate_event *ev)
{
	return ev ? ev->type : 0;
}

int pcrgate_event_extends(const pcrgate_event *ev)
{
	return ev != NULL && ev->type != PCRGATE_EV_NO_ACTION && ev->pcr != PCRGATE_EVENTLOG_NO_PCR;
}

const uint8_t *pcrgate_event_digest(const pcrgate_event *ev, uint16_t alg, size_t *len)
{
	const uint8_t *start;
	size_t i;

	if (ev == NULL)
		return NULL;
	start = ev->log->buf + ev->offset;
	if (ev->legacy) {
		if (alg != PCRGATE_ALG_SHA1)
			return NULL;
		if (len != NULL)
			*len = 20;
		return start + 8;
	}
	if (find_alg(ev->log->banks, ev->log->nbanks, alg, &i) == NULL)
		return NULL;
	if (len != NULL)
		*len = ev->log->banks[i].size;
	return start + ev->digest_off[i];
}

const uint8_t *pcrgate_event_data(const pcrgate_event *ev, size_t *len)
{
	if (ev == NULL)
		return NULL;
	if (len != NULL)
		*len = ev->data_len;
	return ev->data;
}

static const struct {
	uint32_t type;
	const char *name;
} type_names[] = {
	{PCRGATE_EV_PREBOOT_CERT, "EV_PREBOOT_CERT"},
	{PCRGATE_EV_POST_CODE, "EV_POST_CODE"},
	{PCRGATE_EV_UNUSED, "EV_UNUSED"},
	{PCRGATE_EV_NO_ACTION, "EV_NO_ACTION"},
	{PCRGATE_EV_SEPARATOR, "EV_SEPARATOR"},
	{PCRGATE_EV_ACTION, "EV_ACTION"},
	{PCRGATE_EV_EVENT_TAG, "EV_EVENT_TAG"},
	{PCRGATE_EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS"},
	{PCRGATE_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION"},
	{PCRGATE_EV_CPU_MICROCODE, "EV_CPU_MICROCODE"},
	{PCRGATE_EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS"},
	{PCRGATE_EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES"},
	{PCRGATE_EV_COMPACT_HASH, "EV_COMPACT_HASH"},
	{PCRGATE_EV_IPL, "EV_IPL"},
	{PCRGATE_EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA"},
	{PCRGATE_EV_NONHOST_CODE, "EV_NONHOST_CODE"},
	{PCRGATE_EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG"},
	{PCRGATE_EV_NONHOST_INFO, "EV_NONHOST_INFO"},
	{PCRGATE_EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS"},
	{PCRGATE_EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE"},
	{PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
	{PCRGATE_EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT"},
	{PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
	{PCRGATE_EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER"},
	{PCRGATE_EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
	{PCRGATE_EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT"},
	{PCRGATE_EV_EFI_ACTION, "EV_EFI_ACTION"},
	{PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
	{PCRGATE_EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES"},
	{PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
	{PCRGATE_EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2"},
	{PCRGATE_EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2"},
	{PCRGATE_EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2"},
	{PCRGATE_EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT"},
	{PCRGATE_EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY"},
	{PCRGATE_EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB"},
	{PCRGATE_EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
	{PCRGATE_EV_EFI_SPDM_DEVICE_POLICY, "EV_EFI_SPDM_DEVICE_POLICY"},
	{PCRGATE_EV_EFI_SPDM_DEVICE_AUTHORITY, "EV_EFI_SPDM_DEVICE_AUTHORITY"},
};

const char *pcrgate_event_type_name(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

int pcrgate_event_type_from_name(const char *name, uint32_t *type)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(type_names[i].name, name) == 0) {
			*type = type_names[i].type;
			return PCRGATE_OK;
		}
	return PCRGATE_ERR_NOT_FOUND;
}

/* Stops a replay at event e of log i, in bank alg (0 when none), with error r. */
static int replay_stop(struct el_replay *rp, size_t i, size_t e, uint16_t alg, int r)
{
	rp->fail_log = i;
	rp->fail_event = e;
	rp->fail_alg = alg;
	return r;
}

int el_replay_logs(const pcrgate_eventlog *const *logs, size_t nlogs, struct el_replay *rp)
{
	const struct pcrgate_event *ev;
	const uint8_t *d;
	size_t i, e, b, size, dlen;
	uint32_t bit;
	int r;

	rp->extended = 0;
	memset(rp->by, 0, sizeof(rp->by));
	rp->pcr0_start = nlogs > 0 ? pcrgate_eventlog_pcr0_start(logs[0]) : 0;
	if (nlogs > EL_REPLAY_MAX_LOGS || rp->nbanks > PCRGATE_MAX_BANKS)
		return replay_stop(rp, 0, 0, 0, PCRGATE_ERR_LIMIT);
	for (i = 0; i < nlogs; i++) {
		for (e = 0; e < logs[i]->nevents; e++) {
			ev = &logs[i]->events[e];
			if (!pcrgate_event_extends(ev))
				continue;
			if (ev->pcr >= PCRGATE_MAX_PCRS)
				return replay_stop(rp, i, e, 0, PCRGATE_ERR_FORMAT);
			bit = (uint32_t)1 << ev->pcr;
			for (b = 0; b < rp->nbanks; b++) {
				size = pcrgate_alg_digest_size(rp->alg[b]);
				d = pcrgate_event_digest(ev, rp->alg[b], &dlen);
				if (d == NULL || dlen != size || size == 0)
					return replay_stop(rp, i, e, rp->alg[b], PCRGATE_ERR_NOT_FOUND);
				if (!(rp->extended & bit)) {
					memset(rp->value[b][ev->pcr], 0, size);
					if (ev->pcr == 0)
						rp->value[b][0][size - 1] = (uint8_t)rp->pcr0_start;
				}
				if ((r = pcrgate_pcr_extend(rp->alg[b], rp->value[b][ev->pcr], d)) < 0)
					return replay_stop(rp, i, e, rp->alg[b], r);
			}
			rp->extended |= bit;
			rp->by[ev->pcr] |= (uint8_t)(1u << i);
			rp->last_log[ev->pcr] = i;
			rp->last_off[ev->pcr] = ev->offset;
		}
	}
	return PCRGATE_OK;
}

/*
 * Replay: every extending event's digest in each known bank, in log order, into its
 * PCR. The working values live on the stack; the result is built once at the end.
 */
int pcrgate_eventlog_replay(const pcrgate_eventlog *log, pcrgate_pcrs **out, pcrgate_errinfo *ei)
{
	struct el_replay rp;
	char b[PCRGATE_ALG_LABEL_MAX];
	pcrgate_pcrs *pcrs = NULL;
	size_t i;
	unsigned p;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (log == NULL || out == NULL) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no event log given");
		goto fail;
	}
	rp.nbanks = 0;
	for (i = 0; i < log->nbanks && rp.nbanks < PCRGATE_MAX_BANKS; i++)
		if (pcrgate_alg_name(log->banks[i].alg) != NULL)
			rp.alg[rp.nbanks++] = log->banks[i].alg;
	if ((r = el_replay_logs(&log, 1, &rp)) < 0) {
		const struct pcrgate_event *ev = &log->events[rp.fail_event];

		pcrgate_errinfo_set(ei, r, ev->offset, "event %zu: extending PCR %u in bank %s failed",
				    rp.fail_event, ev->pcr, pcrgate_alg_label(rp.fail_alg, b));
		goto fail;
	}
	if ((pcrs = pcrgate_pcrs_new()) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory for PCR values");
		goto fail;
	}
	for (i = 0; i < rp.nbanks; i++) {
		for (p = 0; p < PCRGATE_MAX_PCRS; p++) {
			if (!(rp.extended & ((uint32_t)1 << p)))
				continue;
			if ((r = pcrgate_pcrs_set(pcrs, rp.alg[i], p, rp.value[i][p],
						  pcrgate_alg_digest_size(rp.alg[i]))) < 0) {
				pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot store PCR %u", p);
				goto fail;
			}
		}
	}
	*out = pcrs;
	return PCRGATE_OK;
fail:
	pcrgate_pcrs_free(&pcrs);
	return r;
}
