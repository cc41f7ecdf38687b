/*
 * pcrgate boot core: the boot run (slot choice, boot counting, fallback, verification,
 * measurement) and the running system's boot-state operations. The state machine and the
 * reasons for its order are in docs/boot.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "pcrgate/pcr_map.h"
#include "util.h"

/* One boot in progress. */
struct run {
	const struct pcrgate_boot_port *port;
	struct pcrgate_boot_result *result;
	struct pcrgate_bootstate st;
	int current; /* boot-state copy holding st, -1 for the fresh state */
	uint64_t counter;
};

/* A slot that passed verification. */
struct verified {
	struct pcrgate_manifest manifest;
	uint8_t manifest_sha256[PCRGATE_BOOT_HASH_SIZE];
};

static int port_complete(const struct pcrgate_boot_port *p)
{
	return p != NULL && p->pcr_extend != NULL && p->counter_read != NULL && p->hash_init != NULL &&
	       p->hash_update != NULL && p->hash_final != NULL && p->state_read != NULL && p->state_write != NULL &&
	       p->manifest_read != NULL && p->manifest_verify != NULL && p->image_open != NULL &&
	       p->image_read != NULL && p->image_close != NULL;
}

/*
 * The codes a port uses to judge a slot's contents (the slot is marked bad); any other
 * failure is the platform's, and only skips the slot for this boot.
 */
static int is_verdict(int err)
{
	return err == PCRGATE_ERR_NOT_FOUND || err == PCRGATE_ERR_FORMAT || err == PCRGATE_ERR_LIMIT ||
	       err == PCRGATE_ERR_VERIFY;
}

/* A port failure during verification: the verdict reason, or PLATFORM_FAULT. */
static enum pcrgate_boot_reason port_failure(struct pcrgate_boot_slot_report *rep, int err,
					     enum pcrgate_boot_reason verdict)
{
	rep->error = err < 0 ? err : PCRGATE_ERR_IO;
	return is_verdict(rep->error) ? verdict : PCRGATE_BOOT_REASON_PLATFORM_FAULT;
}

/* sha256 of data through the port. */
static int digest(const struct pcrgate_boot_port *port, const uint8_t *data, size_t len,
		  uint8_t out[PCRGATE_BOOT_HASH_SIZE])
{
	int r = port->hash_init(port->ctx, PCRGATE_BOOT_HASH_ALG);

	if (r == PCRGATE_OK)
		r = port->hash_update(port->ctx, data, len);
	if (r == PCRGATE_OK)
		r = port->hash_final(port->ctx, out, PCRGATE_BOOT_HASH_SIZE);
	return r;
}

/* Streams one image through the port's digest and compares size and digest with img. */
static enum pcrgate_boot_reason verify_image(const struct pcrgate_boot_port *port, unsigned slot,
					     const struct pcrgate_manifest_image *img,
					     struct pcrgate_boot_slot_report *rep)
{
	enum pcrgate_boot_reason reason = PCRGATE_BOOT_REASON_NONE;
	uint8_t got[PCRGATE_BOOT_HASH_SIZE];
	uint64_t total = 0;
	int r;

	memcpy(rep->image, img->name, sizeof(rep->image));
	r = port->image_open(port->ctx, slot, img->name, img->size);
	if (r != PCRGATE_OK)
		return port_failure(rep, r, r == PCRGATE_ERR_LIMIT ? PCRGATE_BOOT_REASON_IMAGE_SIZE
								   : PCRGATE_BOOT_REASON_IMAGE_MISSING);
	r = port->hash_init(port->ctx, PCRGATE_BOOT_HASH_ALG);
	if (r != PCRGATE_OK) {
		reason = port_failure(rep, r, PCRGATE_BOOT_REASON_PLATFORM_FAULT);
		goto fail;
	}
	for (;;) {
		const uint8_t *chunk = NULL;
		size_t len = 0;

		r = port->image_read(port->ctx, &chunk, &len);
		if (r != PCRGATE_OK) {
			reason = port_failure(rep, r, r == PCRGATE_ERR_LIMIT ? PCRGATE_BOOT_REASON_IMAGE_SIZE
									   : PCRGATE_BOOT_REASON_IMAGE_MISSING);
			goto fail;
		}
		if (len == 0)
			break;
		if (chunk == NULL) {
			reason = port_failure(rep, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_BOOT_REASON_PLATFORM_FAULT);
			goto fail;
		}
		/* Stop at the first byte past the promised size: a port cannot make us hash forever. */
		if (img->size - total < len) {
			reason = PCRGATE_BOOT_REASON_IMAGE_SIZE;
			goto fail;
		}
		total += len;
		r = port->hash_update(port->ctx, chunk, len);
		if (r != PCRGATE_OK) {
			reason = port_failure(rep, r, PCRGATE_BOOT_REASON_PLATFORM_FAULT);
			goto fail;
		}
	}
	if (total != img->size) {
		reason = PCRGATE_BOOT_REASON_IMAGE_SIZE;
		goto fail;
	}
	r = port->hash_final(port->ctx, got, sizeof(got));
	if (r != PCRGATE_OK) {
		reason = port_failure(rep, r, PCRGATE_BOOT_REASON_PLATFORM_FAULT);
		goto fail;
	}
	if (!boot_ct_equal(got, img->sha256, sizeof(got))) {
		reason = PCRGATE_BOOT_REASON_IMAGE_DIGEST;
		goto fail;
	}
	port->image_close(port->ctx, 1);
	rep->image[0] = '\0';
	return PCRGATE_BOOT_REASON_NONE;

fail:
	port->image_close(port->ctx, 0);
	return reason;
}

/*
 * Verifies a slot, cheapest and most fundamental checks first: the signature before the
 * parser sees the bytes, the counter before any image is read.
 */
static enum pcrgate_boot_reason verify_slot(const struct run *run, unsigned slot, struct verified *v,
					    struct pcrgate_boot_slot_report *rep)
{
	const struct pcrgate_boot_port *port = run->port;
	uint8_t buf[PCRGATE_MANIFEST_MAX];
	struct pcrgate_manifest_error perr = {0, NULL};
	enum pcrgate_boot_reason reason;
	size_t len = 0;
	unsigned i;
	int r;

	r = port->manifest_read(port->ctx, slot, buf, sizeof(buf), &len);
	if (r == PCRGATE_OK && len > sizeof(buf))
		r = PCRGATE_ERR_INVALID_ARGUMENT;
	if (r != PCRGATE_OK)
		return port_failure(rep, r, r == PCRGATE_ERR_NOT_FOUND ? PCRGATE_BOOT_REASON_MANIFEST_MISSING
								      : PCRGATE_BOOT_REASON_MANIFEST_INVALID);
	r = port->manifest_verify(port->ctx, slot, buf, len);
	if (r != PCRGATE_OK)
		return port_failure(rep, r, PCRGATE_BOOT_REASON_SIGNATURE);
	r = pcrgate_manifest_parse(buf, len, &v->manifest, &perr);
	if (r != PCRGATE_OK) {
		rep->detail = perr.what;
		rep->offset = perr.offset;
		return PCRGATE_BOOT_REASON_MANIFEST_INVALID;
	}
	if (port->compatible != NULL) {
		size_t n = boot_strnlen(v->manifest.compatible, PCRGATE_MANIFEST_STRING_MAX);

		if (boot_strnlen(port->compatible, n + 1) != n || memcmp(port->compatible, v->manifest.compatible, n) != 0)
			return PCRGATE_BOOT_REASON_INCOMPATIBLE;
	}
	if (v->manifest.security_version < run->counter)
		return PCRGATE_BOOT_REASON_ROLLBACK;
	r = digest(port, buf, len, v->manifest_sha256);
	if (r != PCRGATE_OK)
		return port_failure(rep, r, PCRGATE_BOOT_REASON_PLATFORM_FAULT);
	for (i = 0; i < v->manifest.n_images; i++) {
		reason = verify_image(port, slot, &v->manifest.images[i], rep);
		if (reason != PCRGATE_BOOT_REASON_NONE)
			return reason;
	}
	return PCRGATE_BOOT_REASON_NONE;
}

/* Records slot as bad for `reason` and as the last fallback; a failed write is remembered. */
static void mark_bad(struct run *run, unsigned slot, enum pcrgate_boot_reason reason)
{
	struct pcrgate_bootstate next = run->st;
	int r;

	next.slot[slot].status = PCRGATE_SLOT_BAD;
	next.slot[slot].tries = 0;
	next.fallback_slot = slot;
	next.fallback_reason = reason;
	r = pcrgate_bootstate_store(run->port, &next, &run->current);
	if (r == PCRGATE_OK) {
		run->st = next;
		run->result->slots[slot].marked_bad = 1;
	} else if (run->result->state_error == 0) {
		run->result->state_error = r;
	}
	/* Bad for the rest of this boot, recorded or not. */
	run->st.slot[slot].status = PCRGATE_SLOT_BAD;
	run->st.slot[slot].tries = 0;
}

/*
 * Tries one candidate. A trial slot is booted while it has tries, and each attempt is
 * recorded before anything else, so a boot that hangs or resets still uses one up.
 */
static int try_slot(struct run *run, unsigned slot, struct verified *v)
{
	struct pcrgate_boot_slot_report *rep = &run->result->slots[slot];
	enum pcrgate_boot_reason reason;
	int trial = run->st.slot[slot].status == PCRGATE_SLOT_TRIAL;

	if (trial) {
		struct pcrgate_bootstate next = run->st;
		int r;

		if (run->st.slot[slot].tries == 0) {
			rep->reason = PCRGATE_BOOT_REASON_TRIES_EXHAUSTED;
			mark_bad(run, slot, PCRGATE_BOOT_REASON_TRIES_EXHAUSTED);
			return 0;
		}
		next.slot[slot].tries--;
		r = pcrgate_bootstate_store(run->port, &next, &run->current);
		if (r != PCRGATE_OK) {
			/* An unrecorded attempt could repeat forever: not this boot. */
			if (run->result->state_error == 0)
				run->result->state_error = r;
			rep->reason = PCRGATE_BOOT_REASON_STATE_WRITE;
			rep->error = r;
			return 0;
		}
		run->st = next;
	}
	reason = verify_slot(run, slot, v, rep);
	if (reason == PCRGATE_BOOT_REASON_NONE) {
		run->result->trial = trial;
		run->result->tries_left = trial ? run->st.slot[slot].tries : 0;
		return 1;
	}
	rep->reason = reason;
	if (reason <= PCRGATE_BOOT_REASON_LAST_STORED)
		mark_bad(run, slot, reason);
	return 0;
}

/* Extends one event through the port. */
static int extend(struct run *run, const struct pcrgate_boot_event *ev)
{
	int r = run->port->pcr_extend(run->port->ctx, ev->pcr, ev->type, ev->data + ev->hashed_off,
				      ev->hashed_len, ev->data, ev->len);

	run->result->extends++;
	return r == PCRGATE_OK ? PCRGATE_OK : (r < 0 ? r : PCRGATE_ERR_TPM);
}

unsigned pcrgate_boot_cap_pcrs(const struct pcrgate_boot_port *port)
{
	static const uint32_t pcrs[] = {PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT};
	struct pcrgate_boot_event ev;
	unsigned i;

	for (i = 0; i < sizeof(pcrs) / sizeof(pcrs[0]); i++) {
		pcrgate_boot_event_separator(pcrs[i], PCRGATE_SEPARATOR_ERROR, &ev);
		(void)port->pcr_extend(port->ctx, ev.pcr, ev.type, ev.data + ev.hashed_off, ev.hashed_len, ev.data,
				       ev.len);
	}
	return i;
}

/* Measures the chosen slot: slot event, images in manifest order, separators. */
static int measure(struct run *run, unsigned slot, const struct verified *v)
{
	struct pcrgate_boot_event events[PCRGATE_BOOT_MAX_EVENTS];
	size_t n = 0, i;
	int r;

	r = pcrgate_boot_events(slot, &v->manifest, v->manifest_sha256, events, PCRGATE_BOOT_MAX_EVENTS, &n);
	for (i = 0; r == PCRGATE_OK && i < n; i++)
		r = extend(run, &events[i]);
	return r;
}

/* Candidate order: trial slots (the non-primary first), then good or unknown slots, primary first. */
static size_t candidates(const struct pcrgate_bootstate *st, unsigned order[2 * PCRGATE_BOOT_SLOTS])
{
	const unsigned prim = st->primary, other = (st->primary + 1) % PCRGATE_BOOT_SLOTS;
	const unsigned trial_order[2] = {other, prim}, good_order[2] = {prim, other};
	size_t n = 0;
	unsigned i;

	for (i = 0; i < 2; i++)
		if (st->slot[trial_order[i]].status == PCRGATE_SLOT_TRIAL)
			order[n++] = trial_order[i];
	for (i = 0; i < 2; i++)
		if (st->slot[good_order[i]].status == PCRGATE_SLOT_GOOD ||
		    st->slot[good_order[i]].status == PCRGATE_SLOT_UNKNOWN)
			order[n++] = good_order[i];
	return n;
}

static int stop(struct run *run, enum pcrgate_boot_reason why, int err)
{
	run->result->stop = why;
	run->result->booted = 0;
	run->result->extends += pcrgate_boot_cap_pcrs(run->port);
	return err;
}

int pcrgate_boot_run(const struct pcrgate_boot_port *port, struct pcrgate_boot_result *result)
{
	struct run run;
	struct verified v;
	unsigned order[2 * PCRGATE_BOOT_SLOTS];
	size_t n, i;
	int chosen = -1, r;

	if (result == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	memset(result, 0, sizeof(*result));
	if (!port_complete(port)) {
		result->stop = PCRGATE_BOOT_REASON_PORT;
		return PCRGATE_ERR_INVALID_ARGUMENT;
	}
	memset(&run, 0, sizeof(run));
	run.port = port;
	run.result = result;
	r = pcrgate_bootstate_load(port, &run.st, &run.current);
	if (r != PCRGATE_OK)
		return stop(&run, PCRGATE_BOOT_REASON_PORT, r);
	r = port->counter_read(port->ctx, &run.counter);
	if (r != PCRGATE_OK)
		return stop(&run, PCRGATE_BOOT_REASON_COUNTER, r < 0 ? r : PCRGATE_ERR_TPM);
	result->counter = run.counter;

	n = candidates(&run.st, order);
	for (i = 0; i < n && chosen < 0; i++) {
		if (try_slot(&run, order[i], &v))
			chosen = (int)order[i];
		else
			result->fell_back = 1;
	}
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++) {
		if (result->slots[i].reason != PCRGATE_BOOT_REASON_NONE || (int)i == chosen)
			continue;
		if (run.st.slot[i].status == PCRGATE_SLOT_BAD)
			result->slots[i].reason = PCRGATE_BOOT_REASON_SLOT_BAD;
		else if (run.st.slot[i].status == PCRGATE_SLOT_EMPTY)
			result->slots[i].reason = PCRGATE_BOOT_REASON_SLOT_EMPTY;
	}
	if (chosen < 0)
		return stop(&run, PCRGATE_BOOT_REASON_NO_BOOTABLE_SLOT, PCRGATE_ERR_VERIFY);

	r = measure(&run, (unsigned)chosen, &v);
	if (r != PCRGATE_OK)
		return stop(&run, PCRGATE_BOOT_REASON_MEASURE, r);
	result->booted = 1;
	result->slot = (unsigned)chosen;
	result->manifest = v.manifest;
	memcpy(result->manifest_sha256, v.manifest_sha256, sizeof(result->manifest_sha256));
	return PCRGATE_OK;
}

/* Loads the state, lets `change` edit it, and stores it when it changed. */
static int update_state(const struct pcrgate_boot_port *port, unsigned slot,
			int (*change)(struct pcrgate_bootstate *st, unsigned slot, unsigned arg), unsigned arg)
{
	struct pcrgate_bootstate st, next;
	int current, r;

	if (port == NULL || port->state_read == NULL || port->state_write == NULL || slot >= PCRGATE_BOOT_SLOTS)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	r = pcrgate_bootstate_load(port, &st, &current);
	if (r != PCRGATE_OK)
		return r;
	next = st;
	r = change(&next, slot, arg);
	if (r != PCRGATE_OK)
		return r;
	/* Nothing to do is not worth a flash write. */
	if (current >= 0 && pcrgate_bootstate_equal(&next, &st))
		return PCRGATE_OK;
	return pcrgate_bootstate_store(port, &next, &current);
}

static int change_trial(struct pcrgate_bootstate *st, unsigned slot, unsigned tries)
{
	if (tries == 0 || tries > PCRGATE_BOOTSTATE_MAX_TRIES)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	st->slot[slot].status = PCRGATE_SLOT_TRIAL;
	st->slot[slot].tries = tries;
	st->fallback_slot = PCRGATE_BOOTSTATE_NO_SLOT;
	st->fallback_reason = PCRGATE_BOOT_REASON_NONE;
	return PCRGATE_OK;
}

static int change_good(struct pcrgate_bootstate *st, unsigned slot, unsigned unused)
{
	enum pcrgate_slot_status s = st->slot[slot].status;

	(void)unused;
	/* A bad or empty slot cannot be running, so it cannot have passed a health check. */
	if (s != PCRGATE_SLOT_TRIAL && s != PCRGATE_SLOT_GOOD && s != PCRGATE_SLOT_UNKNOWN)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	st->slot[slot].status = PCRGATE_SLOT_GOOD;
	st->slot[slot].tries = 0;
	st->primary = slot;
	return PCRGATE_OK;
}

static int change_bad(struct pcrgate_bootstate *st, unsigned slot, unsigned unused)
{
	(void)unused;
	if (st->slot[slot].status == PCRGATE_SLOT_BAD)
		return PCRGATE_OK;
	st->slot[slot].status = PCRGATE_SLOT_BAD;
	st->slot[slot].tries = 0;
	st->fallback_slot = slot;
	st->fallback_reason = PCRGATE_BOOT_REASON_MARKED_BAD;
	return PCRGATE_OK;
}

static int change_empty(struct pcrgate_bootstate *st, unsigned slot, unsigned unused)
{
	(void)unused;
	st->slot[slot].status = PCRGATE_SLOT_EMPTY;
	st->slot[slot].tries = 0;
	return PCRGATE_OK;
}

int pcrgate_boot_set_trial(const struct pcrgate_boot_port *port, unsigned slot, unsigned tries)
{
	return update_state(port, slot, change_trial, tries);
}

int pcrgate_boot_mark_good(const struct pcrgate_boot_port *port, unsigned slot)
{
	return update_state(port, slot, change_good, 0);
}

int pcrgate_boot_mark_bad(const struct pcrgate_boot_port *port, unsigned slot)
{
	return update_state(port, slot, change_bad, 0);
}

int pcrgate_boot_mark_empty(const struct pcrgate_boot_port *port, unsigned slot)
{
	return update_state(port, slot, change_empty, 0);
}

int pcrgate_boot_status(const struct pcrgate_boot_port *port, struct pcrgate_bootstate *st, int *current)
{
	if (port == NULL || port->state_read == NULL || st == NULL || current == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	return pcrgate_bootstate_load(port, st, current);
}
