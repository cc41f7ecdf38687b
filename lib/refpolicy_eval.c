/*
 * pcrgate: reference policies, the evaluation. After a quote has been verified (its event logs
 * replayed to the quoted PCRs), every event on a PCR the policy lists must match one of that
 * PCR's allow rules, every required event must be present, and the quoted boot PCRs must be
 * those of a known release at or above the minimum security version. Event data is read only
 * where the digest that was extended vouches for it (docs/policies.md, "Trusting event data").
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcrgate/eventlog.h"
#include "reader.h"
#include "refpolicy_internal.h"

static const char *const code_names[PCRGATE_REFPOLICY_CODE_COUNT] = {
	[PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED] = "measurement-not-allowed",
	[PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING] = "required-event-missing",
	[PCRGATE_REFPOLICY_UNKNOWN_RELEASE] = "unknown-release",
	[PCRGATE_REFPOLICY_SECURITY_VERSION_LOW] = "security-version-below-minimum",
	[PCRGATE_REFPOLICY_PCR_NOT_QUOTED] = "pcr-not-quoted",
};

const char *pcrgate_refpolicy_code_name(pcrgate_refpolicy_code code)
{
	if ((unsigned)code >= PCRGATE_REFPOLICY_CODE_COUNT)
		return NULL;
	return code_names[code];
}

/*
 * The event types whose digest the TCG PC Client Platform Firmware Profile defines as the
 * hash of the whole event data. EV_POST_CODE, EV_IPL, image loads and firmware blobs are not
 * among them: their digest covers code or a part of the data, so their data proves nothing.
 */
int pcrgate_refpolicy_type_data_hashed(uint32_t type)
{
	switch (type) {
	case PCRGATE_EV_SEPARATOR:
	case PCRGATE_EV_ACTION:
	case PCRGATE_EV_S_CRTM_VERSION:
	case PCRGATE_EV_PLATFORM_CONFIG_FLAGS:
	case PCRGATE_EV_OMIT_BOOT_DEVICE_EVENTS:
	case PCRGATE_EV_EFI_ACTION:
	case PCRGATE_EV_EFI_GPT_EVENT:
	case PCRGATE_EV_EFI_GPT_EVENT2:
		return 1;
	default:
		return pcrgate_refpolicy_type_variable(type);
	}
}

int pcrgate_refpolicy_type_variable(uint32_t type)
{
	return type == PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG || type == PCRGATE_EV_EFI_VARIABLE_BOOT ||
	       type == PCRGATE_EV_EFI_VARIABLE_BOOT2 || type == PCRGATE_EV_EFI_VARIABLE_AUTHORITY;
}

int pcrgate_refpolicy_event_data_trusted(const struct pcrgate_event *ev, uint16_t bank)
{
	uint8_t h[PCRGATE_MAX_DIGEST];
	const uint8_t *d, *data;
	size_t dlen = 0, len = 0;

	if (ev == NULL || !pcrgate_refpolicy_type_data_hashed(pcrgate_event_type(ev)))
		return 0;
	if ((d = pcrgate_event_digest(ev, bank, &dlen)) == NULL || dlen != pcrgate_alg_digest_size(bank))
		return 0;
	if ((data = pcrgate_event_data(ev, &len)) == NULL)
		data = (const uint8_t *)"";
	if (pcrgate_digest(bank, data, len, h) != 0)
		return 0;
	return pcrgate_ct_equal(h, d, dlen);
}

int pcrgate_efi_variable_parse(const uint8_t *buf, size_t len, struct pcrgate_efi_variable *var)
{
	struct pcrgate_efi_variable v;
	struct reader r;
	uint64_t name_chars, data_len;

	if (buf == NULL || var == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	reader_init(&r, buf, len);
	if (reader_bytes(&r, 16, &v.guid) < 0 || reader_u64le(&r, &name_chars) < 0 || reader_u64le(&r, &data_len) < 0)
		return PCRGATE_ERR_FORMAT;
	/* Subtractions on what is left, never a sum that could wrap. */
	if (name_chars > r.left / 2 || data_len != r.left - 2 * name_chars)
		return PCRGATE_ERR_FORMAT;
	if (reader_bytes(&r, (size_t)name_chars * 2, &v.name) < 0 || reader_bytes(&r, (size_t)data_len, &v.data) < 0)
		return PCRGATE_ERR_FORMAT;
	v.name_chars = (size_t)name_chars;
	v.data_len = (size_t)data_len;
	*var = v;
	return 0;
}

void pcrgate_efi_guid_text(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3], g[2], g[1],
		 g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

int pcrgate_efi_name_utf8(const uint8_t *name, size_t chars, char *out, size_t cap)
{
	size_t i, n = 0, need;
	uint32_t c, lo;
	uint8_t enc[4];

	if (name == NULL || out == NULL || cap == 0)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	for (i = 0; i < chars; i++) {
		c = (uint32_t)name[2 * i] | ((uint32_t)name[2 * i + 1] << 8);
		if (c == 0 || (c >= 0xDC00 && c <= 0xDFFF))
			return PCRGATE_ERR_FORMAT;
		if (c >= 0xD800 && c <= 0xDBFF) {
			if (i + 1 >= chars)
				return PCRGATE_ERR_FORMAT;
			lo = (uint32_t)name[2 * i + 2] | ((uint32_t)name[2 * i + 3] << 8);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return PCRGATE_ERR_FORMAT;
			c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			i++;
		}
		if (c < 0x80) {
			enc[0] = (uint8_t)c;
			need = 1;
		} else if (c < 0x800) {
			enc[0] = (uint8_t)(0xC0 | (c >> 6));
			enc[1] = (uint8_t)(0x80 | (c & 0x3F));
			need = 2;
		} else if (c < 0x10000) {
			enc[0] = (uint8_t)(0xE0 | (c >> 12));
			enc[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
			enc[2] = (uint8_t)(0x80 | (c & 0x3F));
			need = 3;
		} else {
			enc[0] = (uint8_t)(0xF0 | (c >> 18));
			enc[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
			enc[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
			enc[3] = (uint8_t)(0x80 | (c & 0x3F));
			need = 4;
		}
		if (cap - n <= need)
			return PCRGATE_ERR_LIMIT;
		memcpy(out + n, enc, need);
		n += need;
	}
	out[n] = '\0';
	return 0;
}

static int bytes_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int rp_rule_matches(const struct rp_rule *r, size_t digest_size, uint32_t type, const uint8_t *digest,
		    const uint8_t *data, size_t data_len, int data_trusted)
{
	struct pcrgate_efi_variable var;

	if (r->has_type && r->type != type)
		return 0;
	if (r->has_digest && (digest == NULL || !pcrgate_ct_equal(r->digest, digest, digest_size)))
		return 0;
	if (!r->has_data && !r->has_variable)
		return 1;
	/* A digest the rule pins vouches for the data as well as the hash of the data would. */
	if (!r->has_digest && !data_trusted)
		return 0;
	if (r->has_data)
		return bytes_equal(r->data, r->data_len, data, data_len);
	if (data == NULL || pcrgate_efi_variable_parse(data, data_len, &var) != 0)
		return 0;
	if (memcmp(var.guid, r->guid, 16) != 0 ||
	    !bytes_equal(var.name, var.name_chars * 2, r->var_name, r->var_name_chars * 2))
		return 0;
	return !r->has_var_data || bytes_equal(var.data, var.data_len, r->var_data, r->var_data_len);
}

/* ---- Verdict ---- */

__attribute__((format(printf, 3, 4))) static void add_reason(pcrgate_refpolicy_verdict *v, pcrgate_refpolicy_code code,
							    const char *fmt, ...)
{
	pcrgate_refpolicy_reason *r;
	va_list ap;

	v->counts[code]++;
	/* Events may fail by the hundred: they leave room for the other reasons. */
	if (v->reason_count == PCRGATE_REFPOLICY_MAX_REASONS ||
	    (code == PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED &&
	     v->counts[code] > PCRGATE_REFPOLICY_MAX_EVENT_REASONS)) {
		v->omitted++;
		return;
	}
	r = &v->reasons[v->reason_count++];
	r->code = code;
	r->code_name = code_names[code];
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* What a required event is, for messages: its comment, else its type and variable or data. */
static void rule_label(const struct rp_rule *r, char *out, size_t cap)
{
	const char *tn = r->has_type ? pcrgate_event_type_name(r->type) : NULL;
	char name[PCRGATE_REFPOLICY_MAX_NAME * 3 + 1];

	if (r->comment != NULL) {
		snprintf(out, cap, "\"%.100s\"", r->comment);
	} else if (r->has_variable && pcrgate_efi_name_utf8(r->var_name, r->var_name_chars, name, sizeof(name)) == 0) {
		snprintf(out, cap, "%s %.64s", tn != NULL ? tn : "event", name);
	} else if (r->has_digest) {
		char hex[17];
		pcrgate_hex_encode(r->digest, 8, hex);
		snprintf(out, cap, "%s digest %s...", tn != NULL ? tn : "event", hex);
	} else {
		snprintf(out, cap, "%s", tn != NULL ? tn : "event");
	}
}

/* The bank:PCRs the quote vouches for: events (from the log check) and values (quoted). */
static void vouched_masks(const pcrgate_refpolicy *p, const pcrgate_pcrs *quoted, const pcrgate_quote_result *qr,
			  uint32_t *events, uint32_t *values)
{
	size_t i;
	unsigned k;

	*events = 0;
	*values = 0;
	for (i = 0; i < qr->eventlog_verified_count && i < PCRGATE_MAX_BANKS; i++)
		if (qr->eventlog_verified[i].alg == p->bank)
			*events |= qr->eventlog_verified[i].mask;
	for (i = 0; i < qr->selection_count && i < PCRGATE_QUOTE_MAX_SELECTION; i++)
		if (qr->selection[i].alg == p->bank)
			*values |= qr->selection[i].mask;
	for (k = 0; k < PCRGATE_MAX_PCRS; k++)
		if (pcrgate_pcrs_get(quoted, p->bank, k, NULL) == NULL)
			*values &= ~((uint32_t)1 << k);
	/* An event is vouched for only on a PCR whose value is quoted too. */
	*events &= *values;
}

struct eval {
	const pcrgate_refpolicy *p;
	pcrgate_refpolicy_verdict *v;
	uint32_t events_ok; /* PCRs whose events may be read */
	uint8_t satisfied[PCRGATE_REFPOLICY_MAX_REQUIRED];
};

static void check_event(struct eval *e, const char *logname, size_t index, const pcrgate_event *ev)
{
	const pcrgate_refpolicy *p = e->p;
	const uint8_t *digest, *data;
	size_t dlen = 0, len = 0, i;
	uint32_t pcr = pcrgate_event_pcr(ev), type = pcrgate_event_type(ev);
	char hex[2 * PCRGATE_MAX_DIGEST + 1], b[PCRGATE_ALG_LABEL_MAX], tbuf[16];
	const char *tn = pcrgate_event_type_name(type);
	int trusted, by_data = 0;

	if (!pcrgate_event_extends(ev) || pcr > RP_MAX_PCR || !(e->events_ok & ((uint32_t)1 << pcr)))
		return;
	if (tn == NULL) {
		snprintf(tbuf, sizeof(tbuf), "0x%08x", (unsigned)type);
		tn = tbuf;
	}
	digest = pcrgate_event_digest(ev, p->bank, &dlen);
	if (digest == NULL || dlen != p->digest_size) {
		if (p->measured_mask & ((uint32_t)1 << pcr))
			add_reason(e->v, PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED,
				   "PCR %u, %s event %zu (%s): no %s digest", (unsigned)pcr, logname, index, tn,
				   pcrgate_alg_label(p->bank, b));
		return;
	}
	data = pcrgate_event_data(ev, &len);
	trusted = pcrgate_refpolicy_event_data_trusted(ev, p->bank);
	for (i = 0; i < p->nrequired; i++)
		if (p->required[i].pcr == pcr &&
		    rp_rule_matches(&p->required[i], p->digest_size, type, digest, data, len, trusted))
			e->satisfied[i] = 1;
	if (!(p->measured_mask & ((uint32_t)1 << pcr)))
		return;
	for (i = p->rule_first[pcr]; i < p->rule_first[pcr] + p->rule_count[pcr]; i++) {
		const struct rp_rule *r = &p->rules[i];
		if (rp_rule_matches(r, p->digest_size, type, digest, data, len, trusted))
			return;
		if (!r->has_digest && (r->has_data || r->has_variable))
			by_data = 1;
	}
	pcrgate_hex_encode(digest, dlen, hex);
	add_reason(e->v, PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED, "PCR %u, %s event %zu (%s), %s %s: %s",
		   (unsigned)pcr, logname, index, tn, pcrgate_alg_label(p->bank, b), hex,
		   by_data && pcrgate_refpolicy_type_data_hashed(type) && !trusted
			   ? "no rule allows it (its data does not hash to its digest, so it is not trusted)"
			   : "no rule allows it");
}

static void check_releases(const pcrgate_refpolicy *p, const pcrgate_pcrs *quoted, uint32_t values,
			   pcrgate_refpolicy_verdict *v)
{
	char hex[2 * PCRGATE_MAX_DIGEST + 1], seen[256], b[PCRGATE_ALG_LABEL_MAX];
	const struct rp_release *rel = NULL;
	uint32_t need = 0;
	size_t i, n = 0;
	unsigned k;

	for (i = 0; i < p->nreleases; i++)
		need |= p->releases[i].mask;
	/* Values that are not quoted cannot tell releases apart: each is a reason of its own. */
	for (k = 0; k <= RP_MAX_PCR; k++)
		if ((need & ((uint32_t)1 << k)) && !(values & ((uint32_t)1 << k)))
			add_reason(v, PCRGATE_REFPOLICY_PCR_NOT_QUOTED,
				   "PCR %u (%s): the quote does not cover it, and releases are told apart by it", k,
				   pcrgate_alg_label(p->bank, b));
	if ((need & values) != need)
		return;
	for (i = 0; i < p->nreleases && rel == NULL; i++) {
		for (k = 0; k <= RP_MAX_PCR; k++)
			if ((p->releases[i].mask & ((uint32_t)1 << k)) &&
			    !pcrgate_ct_equal(pcrgate_pcrs_get(quoted, p->bank, k, NULL), p->releases[i].value[k],
					      p->digest_size))
				break;
		if (k > RP_MAX_PCR)
			rel = &p->releases[i];
	}
	if (rel == NULL) {
		seen[0] = '\0';
		for (k = 0; k <= RP_MAX_PCR; k++) {
			if (!(need & ((uint32_t)1 << k)))
				continue;
			pcrgate_hex_encode(pcrgate_pcrs_get(quoted, p->bank, k, NULL), p->digest_size, hex);
			n += (size_t)snprintf(seen + n, n < sizeof(seen) ? sizeof(seen) - n : 0, "%sPCR %u %.16s...",
					      n ? ", " : "", k, hex);
			if (n >= sizeof(seen))
				break;
		}
		add_reason(v, PCRGATE_REFPOLICY_UNKNOWN_RELEASE, "%s (%s): the values of no release in the policy",
			   seen, pcrgate_alg_label(p->bank, b));
		return;
	}
	v->release_matched = 1;
	snprintf(v->release_name, sizeof(v->release_name), "%s", rel->name);
	snprintf(v->release_version, sizeof(v->release_version), "%s", rel->version);
	v->security_version = rel->security_version;
	if (p->has_min_sv && rel->security_version < p->min_sv)
		add_reason(v, PCRGATE_REFPOLICY_SECURITY_VERSION_LOW,
			   "release %s %s has security version %llu, below the minimum %llu", rel->name, rel->version,
			   (unsigned long long)rel->security_version, (unsigned long long)p->min_sv);
}

int pcrgate_refpolicy_evaluate(const pcrgate_refpolicy *p, const pcrgate_pcrs *quoted,
			       const pcrgate_quote_result *qr, pcrgate_refpolicy_verdict *out, pcrgate_errinfo *ei)
{
	pcrgate_refpolicy_verdict *v = NULL;
	const pcrgate_eventlog *log;
	struct eval e;
	char b[PCRGATE_ALG_LABEL_MAX], label[160];
	uint32_t values, reported = 0, bit;
	size_t i, j;
	unsigned k;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (p == NULL || quoted == NULL || qr == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "policy, quoted PCRs, quote result and verdict needed");
	if (qr->eventlog_count > PCRGATE_QUOTE_MAX_EVENTLOGS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "more than %d event logs",
					   PCRGATE_QUOTE_MAX_EVENTLOGS);
	if (qr->failed != PCRGATE_QUOTE_CHECK_NONE)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the quote was not accepted (%s)",
					   qr->failed_name != NULL ? qr->failed_name : "failed");
	/* The verdict is large (reasons with their details): built on the heap, copied at the end. */
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	memset(&e, 0, sizeof(e));
	e.p = p;
	e.v = v;
	vouched_masks(p, quoted, qr, &e.events_ok, &values);

	for (k = 0; k <= RP_MAX_PCR; k++) {
		bit = (uint32_t)1 << k;
		if ((p->measured_mask & bit) && !(e.events_ok & bit)) {
			add_reason(v, PCRGATE_REFPOLICY_PCR_NOT_QUOTED,
				   "PCR %u (%s): the policy lists its events, but the quote does not vouch for them", k,
				   pcrgate_alg_label(p->bank, b));
			reported |= bit;
		}
	}
	for (i = 0; i < qr->eventlog_count; i++) {
		const char *name = qr->eventlogs[i].name[0] != '\0' ? qr->eventlogs[i].name : "event log";
		if ((log = qr->eventlogs[i].log) == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "%s: not parsed",
						name);
			goto fail;
		}
		for (j = 0; j < pcrgate_eventlog_count(log); j++)
			check_event(&e, name, j, pcrgate_eventlog_event(log, j));
	}
	for (i = 0; i < p->nrequired; i++) {
		const struct rp_rule *req = &p->required[i];
		bit = (uint32_t)1 << req->pcr;
		if (e.satisfied[i])
			continue;
		if (!(e.events_ok & bit)) {
			if (!(reported & bit))
				add_reason(v, PCRGATE_REFPOLICY_PCR_NOT_QUOTED,
					   "PCR %u (%s): the policy requires an event on it, but the quote does not vouch for its events",
					   (unsigned)req->pcr, pcrgate_alg_label(p->bank, b));
			reported |= bit;
			continue;
		}
		rule_label(req, label, sizeof(label));
		add_reason(v, PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING, "PCR %u: required event %zu (%s) is not in the log",
			   (unsigned)req->pcr, i, label);
	}
	if (p->nreleases > 0)
		check_releases(p, quoted, values, v);
	v->ok = v->reason_count == 0 && v->omitted == 0;
	*out = *v;
	r = PCRGATE_OK;
fail:
	free(v);
	return r;
}
