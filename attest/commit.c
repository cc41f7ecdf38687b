/*
 * pcrgate-agent commit, and the reports of an update's outcome. Commit decides from facts,
 * not from what it last wrote: which slot this boot runs (the boot extension's event log),
 * that slot's status in the boot state, and the update recorded in update.json. So it can be
 * run again after a power cut at any point and completes what is left: the health check and
 * a fresh attestation while the slot is on trial; then mark-good; then the counter raised to
 * the release's security version (never before: DESIGN.md); then the trust store's update;
 * then the report. Running the old slot while an update was armed means the trial failed:
 * that is reported as a fallback.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bundle.h"
#include "truststore.h"
#include "update_internal.h"

#define REASON_MAX 512

int agent_report_text(const char *release, const char *outcome, const char *reason, const char *version,
		      const char *end_of_support, char **text, pcrgate_errinfo *ei)
{
	json_t *doc = json_pack("{s:s,s:s,s:s?,s:s?,s:s?}", "release", release, "outcome", outcome, "reason", reason,
				"version", version, "end_of_support", end_of_support);

	/* Sorted and compact: the bytes the quote binds are the bytes the verifier receives. */
	*text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (*text == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET,
					   "report: out of memory (or the text is not UTF-8)");
	return PCRGATE_OK;
}

int agent_send_report(pcrgate_tpm *tpm, const struct agent_config *cfg, const char *release, const char *outcome,
		      const char *reason, const char *version, const char *end_of_support, pcrgate_errinfo *ei)
{
	json_t *resp = NULL;
	char *text = NULL;
	const char *check;
	int r, authorized = 0;

	if ((r = agent_report_text(release, outcome, reason, version, end_of_support, &text, ei)) != PCRGATE_OK)
		return r;
	if ((r = agent_attest(tpm, cfg, (const uint8_t *)text, strlen(text), &resp, &authorized, ei)) == PCRGATE_OK &&
	    (check = agent_failed_check(resp)) != NULL)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the attestation that carried the report failed at %s", check);
	json_decref(resp);
	free(text);
	return r;
}

void agent_report_undelivered(const char *cmd, const char *outcome, int later, const pcrgate_errinfo *why)
{
	fprintf(stderr, "pcrgate-agent: %s: the report '%s' was not delivered%s: %s\n", cmd, outcome,
		later ? " (pcrgate-agent commit sends it later)" : "", why->message);
}

/* The update in progress, as update.json records it. */
struct pending {
	json_t *doc;
	const char *release, *version, *state, *eos, *reason;
	unsigned slot;
	uint64_t security_version;
	int reported;
	int trust_update; /* the bundle changes the trust store's roots */
};

static int load_pending(const struct agent_config *cfg, struct pending *p, pcrgate_errinfo *ei)
{
	const char *slot;
	json_t *sv;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = agent_state_read(cfg, AGENT_UPDATE_FILE, &p->doc, ei)) != PCRGATE_OK)
		return r;
	p->release = json_string_value(json_object_get(p->doc, "release"));
	p->version = json_string_value(json_object_get(p->doc, "version"));
	p->state = json_string_value(json_object_get(p->doc, "state"));
	p->eos = json_string_value(json_object_get(p->doc, "end_of_support"));
	p->reason = json_string_value(json_object_get(p->doc, "reason"));
	p->reported = json_is_true(json_object_get(p->doc, "reported"));
	p->trust_update = json_is_true(json_object_get(p->doc, "trust_update"));
	slot = json_string_value(json_object_get(p->doc, "slot"));
	sv = json_object_get(p->doc, "security_version");
	if (p->release == NULL || p->version == NULL || p->state == NULL || slot == NULL ||
	    (strcmp(slot, "a") != 0 && strcmp(slot, "b") != 0) || !json_is_integer(sv) || json_integer_value(sv) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "%s/%s is not an update record the agent wrote", cfg->state_dir,
					   AGENT_UPDATE_FILE);
	p->slot = (unsigned)(slot[0] - 'a');
	p->security_version = (uint64_t)json_integer_value(sv);
	return PCRGATE_OK;
}

/* Records a new state (and why), before the step that depends on it. */
static int set_state(const struct agent_config *cfg, struct pending *p, const char *state, const char *reason,
		     int reported, pcrgate_errinfo *ei)
{
	if (json_object_set_new(p->doc, "state", json_string(state)) != 0 ||
	    (reason != NULL && json_object_set_new(p->doc, "reason", json_string(reason)) != 0) ||
	    json_object_set_new(p->doc, "reported", json_boolean(reported)) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	p->state = json_string_value(json_object_get(p->doc, "state"));
	p->reason = json_string_value(json_object_get(p->doc, "reason"));
	p->reported = reported;
	return agent_state_write(cfg, AGENT_UPDATE_FILE, p->doc, 0600, ei);
}

/* Reports the final outcome, then forgets the update; a verifier out of reach keeps it for the next run. */
static int finish(pcrgate_tpm *tpm, const struct agent_config *cfg, struct pending *p, const char *outcome,
		  pcrgate_errinfo *ei)
{
	pcrgate_errinfo rei;

	pcrgate_errinfo_clear(&rei);
	if (!p->reported && agent_send_report(tpm, cfg, p->release, outcome, p->reason, p->version, p->eos, &rei) !=
				    PCRGATE_OK) {
		agent_report_undelivered("commit", outcome, 1, &rei);
		return PCRGATE_OK;
	}
	return agent_state_remove(cfg, AGENT_UPDATE_FILE, ei);
}

/*
 * A bundle's root rotation, applied to the trust-store directory boot.trust once the release
 * is committed (update refused such a bundle when boot.trust is no such directory). The
 * bundle's head in the slot is verified again: the slot's files are trusted no further than
 * the store signs them.
 */
static int apply_trust_update(const struct host_config *host, const struct pending *p, pcrgate_errinfo *ei)
{
	struct pcrgate_truststore *ts = NULL;
	struct pcrgate_bundle *b = NULL;
	struct pcrgate_bundle_policy pol = {NULL, 0};
	char path[AGENT_PATH_MAX];
	uint8_t *head = NULL;
	size_t len = 0;
	int r;

	if (!p->trust_update)
		return PCRGATE_OK;
	if ((r = update_slot_path(host, p->slot, AGENT_SLOT_BUNDLE_HEAD, path, sizeof(path), ei)) != PCRGATE_OK)
		return r;
	if ((r = pcrgate_file_read(path, PCRGATE_BUNDLE_HEADER_SIZE + PCRGATE_BUNDLE_MANIFEST_MAX + PCRGATE_BUNDLE_SIG_MAX,
				   &head, &len, ei)) != PCRGATE_OK)
		return r;
	if ((r = pcrgate_truststore_load(&ts, host->trust, ei)) != PCRGATE_OK ||
	    (r = pcrgate_bundle_load(head, len, &b, ei)) != PCRGATE_OK ||
	    (r = pcrgate_bundle_verify(b, ts, &pol, ei)) != PCRGATE_OK)
		goto fail;
	if ((r = pcrgate_truststore_apply_update(host->trust, b, ei)) == PCRGATE_OK)
		printf("trust store %s updated by release %s\n", host->trust, p->release);
fail:
	pcrgate_bundle_free(&b);
	pcrgate_truststore_free(&ts);
	free(head);
	return r;
}

/*
 * The failed slot still runs until the reboot: "failed" is reported now, and the record kept
 * so that the commit in the old slot reports the fallback.
 */
static int failed_report(pcrgate_tpm *tpm, const struct agent_config *cfg, struct pending *p, pcrgate_errinfo *ei)
{
	pcrgate_errinfo rei;

	printf("update to %s failed: %s; slot %c marked bad, reboot to fall back\n", p->release,
	       p->reason != NULL ? p->reason : "?", 'a' + (int)p->slot);
	if (p->reported)
		return PCRGATE_OK;
	pcrgate_errinfo_clear(&rei);
	if (agent_send_report(tpm, cfg, p->release, "failed", p->reason, p->version, p->eos, &rei) != PCRGATE_OK) {
		agent_report_undelivered("commit", "failed", 1, &rei);
		return PCRGATE_OK;
	}
	return set_state(cfg, p, "failed", NULL, 1, ei);
}

/* The health check failed, or the new slot did not attest: it is marked bad; a reboot falls back. */
static int reject(pcrgate_tpm *tpm, const struct agent_config *cfg, struct pending *p, const char *reason,
		  pcrgate_errinfo *ei)
{
	int r;

	if ((r = set_state(cfg, p, "failed", reason, 0, ei)) != PCRGATE_OK ||
	    (r = agent_boot_change(cfg, "mark-bad", p->slot, 0, ei)) != PCRGATE_OK)
		return r;
	return failed_report(tpm, cfg, p, ei);
}

/* The trial slot runs: health check, attestation, then mark-good. 1 when it was rejected. */
static int accept_trial(pcrgate_tpm *tpm, const struct agent_config *cfg, struct pending *p, pcrgate_errinfo *ei)
{
	char reason[REASON_MAX];
	json_t *resp = NULL;
	const char *check;
	int r, authorized = 0;

	if ((r = agent_health_check(cfg, p->release, p->slot, reason, sizeof(reason), ei)) != PCRGATE_OK)
		return r;
	if (reason[0] == '\0') {
		if ((r = agent_attest(tpm, cfg, NULL, 0, &resp, &authorized, ei)) != PCRGATE_OK)
			return r;
		if ((check = agent_failed_check(resp)) != NULL)
			snprintf(reason, sizeof(reason), "attestation failed at %s", check);
		json_decref(resp);
	}
	if (reason[0] != '\0')
		return (r = reject(tpm, cfg, p, reason, ei)) != PCRGATE_OK ? r : 1;
	return agent_boot_change(cfg, "mark-good", p->slot, 0, ei);
}

int agent_commit(pcrgate_tpm *tpm, const struct agent_config *cfg, int *outcome, pcrgate_errinfo *ei)
{
	struct host_config host;
	struct pending p;
	char version[PCRGATE_MANIFEST_STRING_MAX + 1], reason[REASON_MAX];
	const char *status, *why;
	json_t *boot = NULL;
	unsigned running;
	uint64_t before = 0, steps = 0;
	int r, lock = -1;

	memset(&p, 0, sizeof(p));
	*outcome = AGENT_UPDATE_FAILED;
	if ((r = agent_lock_file(cfg, AGENT_UPDATE_LOCK_FILE, &lock, ei)) != PCRGATE_OK)
		return r;
	if ((r = load_pending(cfg, &p, ei)) == PCRGATE_ERR_NOT_FOUND) {
		printf("nothing to commit\n");
		*outcome = AGENT_UPDATE_NOTHING;
		r = PCRGATE_OK;
		goto done;
	}
	if (r != PCRGATE_OK || (r = agent_boot_settings(cfg, &host, ei)) != PCRGATE_OK ||
	    (r = agent_running_slot(cfg, &running, version, sizeof(version), ei)) != PCRGATE_OK ||
	    (r = agent_boot_status(cfg, &boot, ei)) != PCRGATE_OK)
		goto done;
	status = agent_boot_slot_status(boot, p.slot);
	*outcome = AGENT_UPDATE_NOTHING;
	if (strcmp(p.state, "failed") == 0 && strcmp(status, "trial") == 0) {
		/* Recorded failed, then cut (or refused) before the mark-bad: a failed trial is not tried again. */
		if ((r = agent_boot_change(cfg, "mark-bad", p.slot, 0, ei)) != PCRGATE_OK)
			goto done;
		status = "bad";
	}
	if (strcmp(p.state, "failed") == 0 && running == p.slot) {
		/* Marked bad, not rebooted yet. */
		*outcome = AGENT_UPDATE_FAILED;
		r = failed_report(tpm, cfg, &p, ei);
		goto done;
	}
	if (strcmp(p.state, "failed") == 0) {
		/* The reboot after a failed check went back to the old slot: the fallback is reported. */
		snprintf(reason, sizeof(reason), "slot %c marked bad: %s", 'a' + (int)p.slot,
			 p.reason != NULL ? p.reason : "?");
		if ((r = set_state(cfg, &p, "fell-back", reason, 0, ei)) != PCRGATE_OK)
			goto done;
	}
	if (strcmp(p.state, "fell-back") == 0) {
		/* Decided; only its report may still be owed. */
		printf("update to %s fell back: %s\n", p.release, p.reason != NULL ? p.reason : "?");
		*outcome = AGENT_UPDATE_DONE;
		r = finish(tpm, cfg, &p, "fell-back", ei);
		goto done;
	}
	if (strcmp(p.state, "committed") == 0) {
		printf("release %s is committed\n", p.release);
		r = finish(tpm, cfg, &p, "committed", ei);
		goto done;
	}
	if (running != p.slot) {
		if (strcmp(status, "trial") == 0) {
			printf("release %s is armed in slot %c: reboot to try it\n", p.release, 'a' + (int)p.slot);
			goto done;
		}
		if (strcmp(p.state, "installing") == 0) {
			printf("the install of %s into slot %c was interrupted: run pcrgate-agent update again\n", p.release,
			       'a' + (int)p.slot);
			goto done;
		}
		/* Armed, and this boot runs the old slot: the trial failed and the boot fell back. */
		why = json_string_value(json_object_get(json_object_get(boot, "last_fallback"), "description"));
		snprintf(reason, sizeof(reason), "slot %c %s", 'a' + (int)p.slot, why != NULL ? why : status);
		if ((r = set_state(cfg, &p, "fell-back", reason, 0, ei)) != PCRGATE_OK)
			goto done;
		printf("update to %s fell back: %s\n", p.release, reason);
		*outcome = AGENT_UPDATE_DONE;
		r = finish(tpm, cfg, &p, "fell-back", ei);
		goto done;
	}
	/* This boot runs the new slot: the release recorded, or the slot changed under the record. */
	if (strcmp(version, p.version) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"slot %c runs version %s, but the update recorded is release %s version %s",
					'a' + (int)p.slot, version, p.release, p.version);
		goto done;
	}
	if (strcmp(status, "trial") == 0) {
		if ((r = accept_trial(tpm, cfg, &p, ei)) != PCRGATE_OK) {
			if (r == 1) {
				*outcome = AGENT_UPDATE_FAILED;
				r = PCRGATE_OK;
			}
			goto done;
		}
	} else if (strcmp(status, "good") != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"slot %c runs release %s but its boot status is %s", 'a' + (int)p.slot, p.release,
					status);
		goto done;
	}
	/* Good: the counter goes up only now, then the trust store, then the report. */
	if ((r = agent_counter_raise(tpm, cfg, p.security_version, &before, &steps, ei)) != PCRGATE_OK ||
	    (r = apply_trust_update(&host, &p, ei)) != PCRGATE_OK ||
	    (r = set_state(cfg, &p, "committed", NULL, 0, ei)) != PCRGATE_OK)
		goto done;
	printf("committed release %s in slot %c; counter at %" PRIu64 "\n", p.release, 'a' + (int)p.slot,
	       p.security_version);
	*outcome = AGENT_UPDATE_DONE;
	r = finish(tpm, cfg, &p, "committed", ei);
done:
	json_decref(boot);
	json_decref(p.doc);
	agent_unlock(&lock);
	return r;
}
