/*
 * pcrgate: the eventlog check, the last of quote verification. A device sends several TCG
 * event logs (the firmware's, then the boot extension's); they are parsed only here, once the
 * signed quote and the PCR values it vouches for passed every other check, replayed in the
 * order given into one PCR state (a PCR both extend gets the firmware's events first, as the
 * TPM did), and that state must explain every quoted PCR. Messages name the log at fault.
 * The parsed logs stay in the result, for the policy evaluation to read the same events.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "eventlog_internal.h"
#include "quote_internal.h"

_Static_assert(PCRGATE_QUOTE_MAX_EVENTLOGS <= EL_REPLAY_MAX_LOGS, "a PCR's extending logs fit a byte mask");

/* The logs, the quoted banks and the PCR state the logs replay to in them. */
struct replay {
	pcrgate_eventlog *log[PCRGATE_QUOTE_MAX_EVENTLOGS];
	size_t nlogs;
	uint32_t quoted[PCRGATE_MAX_BANKS]; /* of bank st.alg[i] */
	struct el_replay st;
};

const char *quote_log_label(const struct pcrgate_quote_eventlog *l, char out[QUOTE_LOG_LABEL_MAX])
{
	if (l->name == NULL || l->name[0] == '\0')
		return "event log";
	snprintf(out, QUOTE_LOG_LABEL_MAX, "%.24s event log", l->name);
	return out;
}

/*
 * "the boot event log" for one log of mask, "the event logs (firmware, boot)" for several;
 * *plural tells which, for the verb.
 */
static const char *logs_label(const pcrgate_quote_input *in, unsigned mask, char *out, size_t cap, int *plural)
{
	char l[QUOTE_LOG_LABEL_MAX];
	size_t i, used, n = 0;

	for (i = 0; i < in->eventlog_count; i++)
		n += (mask >> i) & 1u;
	*plural = n > 1;
	for (i = 0; n == 1 && i < in->eventlog_count; i++)
		if ((mask >> i) & 1u) {
			snprintf(out, cap, "the %s", quote_log_label(&in->eventlogs[i], l));
			return out;
		}
	used = (size_t)snprintf(out, cap, "the event logs (");
	for (i = 0, n = 0; i < in->eventlog_count && used < cap; i++) {
		const char *name = in->eventlogs[i].name;
		if (!((mask >> i) & 1u))
			continue;
		used += (size_t)snprintf(out + used, cap - used, "%s%.24s", n++ ? ", " : "",
					 name != NULL && name[0] != '\0' ? name : "unnamed");
	}
	if (used < cap)
		snprintf(out + used, cap - used, ")");
	return out;
}

int quote_check_eventlog_input(const pcrgate_quote_input *in, pcrgate_errinfo *ei)
{
	size_t i;

	if (in->eventlog_count > PCRGATE_QUOTE_MAX_EVENTLOGS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "%zu event logs (at most %d)", in->eventlog_count,
					   PCRGATE_QUOTE_MAX_EVENTLOGS);
	for (i = 0; i < in->eventlog_count; i++)
		if (in->eventlogs[i].data == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "event log %zu has no bytes", i);
	if (in->eventlog_count > 0 && in->pcrs == NULL)
		return pcrgate_errinfo_set(
			ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
			"an event log is compared with the quoted PCR values, which were not given");
	return PCRGATE_OK;
}

/* Names the banks a log carries ("sha1, sha256"), for messages. */
static const char *log_banks(const pcrgate_eventlog *log, char *out, size_t cap)
{
	char b[PCRGATE_ALG_LABEL_MAX];
	size_t i, used = 0, n = pcrgate_eventlog_bank_count(log);

	out[0] = '\0';
	for (i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "",
					 pcrgate_alg_label(pcrgate_eventlog_bank_alg(log, i), b));
	return n ? out : "none";
}

static int log_carries(const pcrgate_eventlog *log, uint16_t alg)
{
	size_t i, n = pcrgate_eventlog_bank_count(log);

	for (i = 0; i < n; i++)
		if (pcrgate_eventlog_bank_alg(log, i) == alg)
			return 1;
	return 0;
}

/* Every log, in order; a malformed one is named with the parser's offset. */
static int parse_logs(const pcrgate_quote_input *in, struct replay *rp, pcrgate_quote_result *res,
		      pcrgate_errinfo *ei)
{
	pcrgate_errinfo lei;
	char l[QUOTE_LOG_LABEL_MAX];
	const char *why;
	size_t i;
	int r;

	for (i = 0; i < in->eventlog_count; i++) {
		pcrgate_errinfo_clear(&lei);
		r = pcrgate_eventlog_parse(in->eventlogs[i].data, in->eventlogs[i].len, &rp->log[i], &lei);
		if (r != 0) {
			why = lei.message[0] ? lei.message : pcrgate_strerror(r);
			if (lei.has_offset)
				quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG,
					     "the %s is malformed at offset %zu: %s",
					     quote_log_label(&in->eventlogs[i], l), lei.offset, why);
			else
				quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "the %s is malformed: %s",
					     quote_log_label(&in->eventlogs[i], l), why);
			return r == PCRGATE_ERR_NOMEM ? r : PCRGATE_ERR_VERIFY;
		}
		rp->nlogs = i + 1;
	}
	return PCRGATE_OK;
}

/*
 * The quoted banks (the supplied set holds exactly them, pcr-selection passed), each of which
 * every log must carry: a log without a bank says nothing of what its events did there. PCR
 * 0's starting value is the first log's (the firmware records TPM2_Startup's locality or an
 * H-CRTM sequence before anything else); a later log that claims one is refused.
 */
static int prepare(const pcrgate_quote_input *in, struct replay *rp, pcrgate_quote_result *res,
		   pcrgate_errinfo *ei)
{
	char l[QUOTE_LOG_LABEL_MAX], b[PCRGATE_ALG_LABEL_MAX], banks[64];
	size_t i, j, nb = pcrgate_pcrs_bank_count(in->pcrs);

	for (i = 0; i < nb; i++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(in->pcrs, i);
		uint32_t q = quote_quoted_mask(res, alg);
		if (q == 0)
			continue;
		/* A PCR set holds at most as many banks; checked so that no bank goes unexplained. */
		if (rp->st.nbanks == PCRGATE_MAX_BANKS)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "more than %d quoted banks",
					    PCRGATE_MAX_BANKS);
		for (j = 0; j < rp->nlogs; j++)
			if (!log_carries(rp->log[j], alg))
				return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG,
						    "the quote selects bank %s, which the %s does not carry "
						    "(it carries %s)",
						    pcrgate_alg_label(alg, b),
						    quote_log_label(&in->eventlogs[j], l),
						    log_banks(rp->log[j], banks, sizeof(banks)));
		rp->st.alg[rp->st.nbanks] = alg;
		rp->quoted[rp->st.nbanks++] = q;
	}
	for (j = 1; j < rp->nlogs; j++)
		if (pcrgate_eventlog_pcr0_start(rp->log[j]) != 0)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG,
					    "the %s sets PCR 0's starting value (a StartupLocality or H-CRTM "
					    "event), which only the first log may",
					    quote_log_label(&in->eventlogs[j], l));
	return PCRGATE_OK;
}

/* Every extending event of every log, in order, into the quoted banks (el_replay_logs). */
static int replay_logs(const pcrgate_quote_input *in, struct replay *rp, pcrgate_quote_result *res,
		       pcrgate_errinfo *ei)
{
	char l[QUOTE_LOG_LABEL_MAX], b[PCRGATE_ALG_LABEL_MAX];
	const pcrgate_event *ev;
	const char *lab;
	int r;

	if ((r = el_replay_logs((const pcrgate_eventlog *const *)rp->log, rp->nlogs, &rp->st)) == 0)
		return PCRGATE_OK;
	ev = pcrgate_eventlog_event(rp->log[rp->st.fail_log], rp->st.fail_event);
	lab = quote_log_label(&in->eventlogs[rp->st.fail_log], l);
	switch (r) {
	case PCRGATE_ERR_FORMAT:
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "the %s's event at offset %zu extends PCR %u",
				    lab, pcrgate_event_offset(ev), pcrgate_event_pcr(ev));
	case PCRGATE_ERR_NOT_FOUND:
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "the %s's event at offset %zu has no %s digest",
				    lab, pcrgate_event_offset(ev), pcrgate_alg_label(rp->st.fail_alg, b));
	default:
		quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "cannot extend %s:%u",
			     pcrgate_alg_label(rp->st.fail_alg, b), pcrgate_event_pcr(ev));
		return PCRGATE_ERR_CRYPTO;
	}
}

/* A PCR's value after a TPM reset when nothing extended it, as the PC Client profile fixes it. */
static void reset_value(unsigned pcr, unsigned pcr0_start, size_t len, uint8_t *out)
{
	/* PCRs 17 to 22 belong to a dynamic root of trust: all ones until it resets them. */
	memset(out, pcr >= 17 && pcr <= 22 ? 0xff : 0x00, len);
	/* PCR 0 starts with the locality the CRTM started in (or 4 after an H-CRTM event). */
	if (pcr == 0)
		out[len - 1] = (uint8_t)pcr0_start;
}

/* One quoted bank:index against the replayed state; the failure names it and the logs. */
static int explain_pcr(const pcrgate_quote_input *in, const struct replay *rp, size_t bk, unsigned k,
		       pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	const struct el_replay *st = &rp->st;
	uint16_t alg = st->alg[bk];
	size_t ql = 0, size = pcrgate_alg_digest_size(alg);
	uint8_t reset[PCRGATE_MAX_DIGEST];
	char h1[QUOTE_HEX_PREFIX_MAX], h2[QUOTE_HEX_PREFIX_MAX], b[PCRGATE_ALG_LABEL_MAX];
	char who[128], l[QUOTE_LOG_LABEL_MAX];
	const uint8_t *qv = pcrgate_pcrs_get(in->pcrs, alg, k, &ql);
	int plural;

	if (qv == NULL || ql != size)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "%s:%u has no quoted value",
				    pcrgate_alg_label(alg, b), k);
	if (!(st->extended & ((uint32_t)1 << k))) {
		reset_value(k, st->pcr0_start, ql, reset);
		if (pcrgate_ct_equal(qv, reset, ql))
			return PCRGATE_OK;
		logs_label(in, (1u << rp->nlogs) - 1, who, sizeof(who), &plural);
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG,
				    "%s:%u is quoted with a value %s do%s not explain (no event extends it): "
				    "%s, not its reset value %s",
				    pcrgate_alg_label(alg, b), k, who, plural ? "" : "es",
				    quote_hex_prefix(qv, ql, h1), quote_hex_prefix(reset, ql, h2));
	}
	if (pcrgate_ct_equal(st->value[bk][k], qv, ql))
		return PCRGATE_OK;
	logs_label(in, st->by[k], who, sizeof(who), &plural);
	return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG,
			    "%s:%u: %s replay%s to %s, the quote has %s (last event at offset %zu of the %s)",
			    pcrgate_alg_label(alg, b), k, who, plural ? "" : "s",
			    quote_hex_prefix(st->value[bk][k], size, h1), quote_hex_prefix(qv, ql, h2),
			    st->last_off[k], quote_log_label(&in->eventlogs[st->last_log[k]], l));
}

/* Moves the parsed logs into the result, with their names, once the check passed. */
static void keep_logs(const pcrgate_quote_input *in, struct replay *rp, pcrgate_quote_result *res)
{
	const char *name;
	size_t i;

	for (i = 0; i < rp->nlogs; i++) {
		name = in->eventlogs[i].name;
		snprintf(res->eventlogs[i].name, sizeof(res->eventlogs[i].name), "%s", name != NULL ? name : "");
		res->eventlogs[i].log = rp->log[i];
		rp->log[i] = NULL;
	}
	res->eventlog_count = rp->nlogs;
	rp->nlogs = 0;
}

void pcrgate_quote_result_clear(pcrgate_quote_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->eventlog_count && i < PCRGATE_QUOTE_MAX_EVENTLOGS; i++)
		pcrgate_eventlog_free(&res->eventlogs[i].log);
	res->eventlog_count = 0;
}

/*
 * Every quoted PCR must be explained by the logs: in a bank every log carries, either replayed
 * to its quoted value or, when no event of any log extends it, at its reset value. Logs that
 * extend none of the quoted PCRs prove nothing and are refused. The logs are kept in the result
 * when the check passes, freed when it fails.
 */
int quote_check_eventlog(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	struct replay rp;
	size_t i, compared = 0;
	unsigned k;
	int r;

	if (in->eventlog_count == 0) {
		quote_skip(res, PCRGATE_QUOTE_CHECK_EVENTLOG);
		return PCRGATE_OK;
	}
	memset(&rp, 0, sizeof(rp));
	if ((r = parse_logs(in, &rp, res, ei)) != 0 || (r = prepare(in, &rp, res, ei)) != 0 ||
	    (r = replay_logs(in, &rp, res, ei)) != 0)
		goto fail;
	for (i = 0; i < rp.st.nbanks; i++) {
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			if (!(rp.quoted[i] & ((uint32_t)1 << k)))
				continue;
			if ((r = explain_pcr(in, &rp, i, k, res, ei)) != 0)
				goto fail;
			compared += (rp.st.extended >> k) & 1u;
		}
	}
	if (compared == 0) {
		r = quote_reject(res, ei, PCRGATE_QUOTE_CHECK_EVENTLOG, "the event log%s extend%s none of the quoted "
				 "PCRs in any bank the quote covers",
				 rp.nlogs > 1 ? "s" : "", rp.nlogs > 1 ? "" : "s");
		goto fail;
	}
	res->eventlog_compared = compared;
	res->eventlog_verified_count = rp.st.nbanks;
	for (i = 0; i < rp.st.nbanks; i++) {
		res->eventlog_verified[i].alg = rp.st.alg[i];
		res->eventlog_verified[i].mask = rp.quoted[i];
	}
	keep_logs(in, &rp, res);
	quote_pass(res, PCRGATE_QUOTE_CHECK_EVENTLOG);
	r = PCRGATE_OK;
fail:
	for (i = 0; i < rp.nlogs; i++)
		pcrgate_eventlog_free(&rp.log[i]);
	return r;
}
