/*
 * pcrgate-boot: the host port's TPM side. pcr_extend hashes the event's digested bytes in
 * every active bank, sends one TPM2_PCR_Extend (pcrgate_tpm_extend_digests, which checks the
 * digests against the banks the library read once), and then appends the TCG_PCR_EVENT2 to the
 * event log file (Spec ID event first, for the same banks in the same order), so the log
 * never holds an entry the TPM did not get. counter_read reads the anti-rollback NV
 * counter. Every TPM command sent is counted for `pcrgate-boot boot --stats`.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/eventlog.h"
#include "host.h"

/* A TCG_PCR_EVENT2 of ours: header, PCRGATE_MAX_BANKS digests, at most PCRGATE_BOOT_EVENT_MAX data. */
#define EVENT_BUF (16 + PCRGATE_MAX_BANKS * (2 + PCRGATE_MAX_DIGEST) + PCRGATE_BOOT_EVENT_MAX)
#define HEADER_BUF 256

int host_port_open_tpm(struct host_port *hp, pcrgate_errinfo *ei)
{
	const char *tcti = hp->cfg->tcti[0] != '\0' ? hp->cfg->tcti : NULL;
	const char *config = hp->cfg->config_named ? hp->cfg->config : NULL;
	int r;

	if (hp->tpm != NULL)
		return PCRGATE_OK;
	r = pcrgate_tpm_open(tcti, config, &hp->tpm, ei);
	/* TPM2_Startup, answered "already started" on a running device. */
	hp->stats.tpm_commands++;
	return r;
}

/*
 * The TPM's active banks, for the log's header and every extend. The library asks the TPM
 * once per handle and keeps the answer, so only the first call here sends a command, and
 * pcrgate_tpm_extend_digests checks each extend against the same list without another.
 */
static int load_banks(struct host_port *hp)
{
	pcrgate_errinfo ei;
	size_t i;
	int r;

	if (hp->nbanks > 0)
		return PCRGATE_OK;
	pcrgate_errinfo_clear(&ei);
	hp->stats.tpm_commands++;
	if ((r = pcrgate_tpm_get_banks(hp->tpm, hp->banks, PCRGATE_MAX_BANKS, &hp->nbanks, &ei)) != PCRGATE_OK) {
		hp->nbanks = 0;
		pg_err("%s", ei.message);
		return r;
	}
	for (i = 0; i < hp->nbanks; i++) {
		if (pcrgate_alg_digest_size(hp->banks[i]) == 0) {
			pg_err("the TPM has an active PCR bank (algorithm 0x%04x) pcrgate cannot compute",
			       (unsigned)hp->banks[i]);
			hp->nbanks = 0;
			return PCRGATE_ERR_UNSUPPORTED;
		}
	}
	return PCRGATE_OK;
}

/*
 * Opens the event log for appending. A new or empty file gets the Spec ID event for the
 * active banks; an existing one must start with exactly that event, or its entries would
 * be read with the wrong digest sizes. The directory (/run/pcrgate) is made when missing:
 * /run is empty after every reboot, as the log must be, since the PCRs are.
 */
static int open_log(struct host_port *hp)
{
	const char *path = hp->cfg->eventlog;
	uint8_t header[HEADER_BUF], existing[HEADER_BUF];
	char dir[HOST_PATH_MAX], *slash;
	size_t hlen = 0;
	struct stat st;
	int fd;

	if (hp->log_fd >= 0)
		return PCRGATE_OK;
	if (pcrgate_eventlog_write_header(header, sizeof(header), hp->banks, hp->nbanks, &hlen) != PCRGATE_OK)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			pg_warn("event log directory %s: %s", dir, strerror(errno));
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0 || fstat(fd, &st) != 0) {
		pg_err("event log %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		pg_err("event log %s is not a regular file", path);
		goto fail;
	}
	if (st.st_size == 0) {
		if (pcrgate_write_all(fd, header, hlen) != 0 || fdatasync(fd) != 0) {
			pg_err("event log %s: writing the Spec ID event: %s", path, strerror(errno));
			goto fail;
		}
	} else if (pread(fd, existing, hlen, 0) != (ssize_t)hlen || memcmp(existing, header, hlen) != 0) {
		pg_err("event log %s does not start with the Spec ID event for this TPM's banks; it belongs to "
		       "another TPM or boot (keep it where every reboot clears it, such as /run)",
		       path);
		goto fail;
	}
	hp->log_fd = fd;
	return PCRGATE_OK;
fail:
	if (fd >= 0)
		close(fd);
	return PCRGATE_ERR_IO;
}

int host_pcr_extend(void *ctx, uint32_t pcr, uint32_t event_type, const uint8_t *hashed, size_t hashed_len,
		    const uint8_t *event, size_t event_len)
{
	struct host_port *hp = ctx;
	pcrgate_eventlog_digest log_digests[PCRGATE_MAX_BANKS];
	pcrgate_tpm_digest digests[PCRGATE_MAX_BANKS];
	pcrgate_errinfo ei;
	uint8_t rec[EVENT_BUF];
	size_t i, len = 0;
	int r;

	hp->stats.extends++;
	if (hp->tpm == NULL || pcr > 23 || hashed_len > PCRGATE_BOOT_EVENT_MAX || event_len > PCRGATE_BOOT_EVENT_MAX)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((r = load_banks(hp)) != PCRGATE_OK)
		return r;
	memset(digests, 0, sizeof(digests));
	for (i = 0; i < hp->nbanks; i++) {
		digests[i].alg = hp->banks[i];
		if ((r = pcrgate_digest(hp->banks[i], hashed, hashed_len, digests[i].digest)) != 0)
			return r;
		log_digests[i].alg = hp->banks[i];
		log_digests[i].digest = digests[i].digest;
	}
	pcrgate_errinfo_clear(&ei);
	hp->stats.tpm_commands++;
	if ((r = pcrgate_tpm_extend_digests(hp->tpm, pcr, digests, hp->nbanks, &ei)) != PCRGATE_OK) {
		pg_err("%s", ei.message);
		return r;
	}
	/* Extended first: a log entry without its extension would be a lie, a missing one is not. */
	if ((r = open_log(hp)) != PCRGATE_OK)
		return r;
	r = pcrgate_eventlog_write_event(rec, sizeof(rec), pcr, event_type, log_digests, hp->nbanks, event, event_len,
					 &len);
	if (r != PCRGATE_OK)
		return r;
	if (pcrgate_write_all(hp->log_fd, rec, len) != 0 || fdatasync(hp->log_fd) != 0) {
		pg_err("event log %s: %s", hp->cfg->eventlog, strerror(errno));
		return PCRGATE_ERR_IO;
	}
	return PCRGATE_OK;
}

/* An index that is not there yet, or never incremented: 0 only when the config allows it. */
static int unprovisioned(struct host_port *hp, const char *what, uint64_t *value)
{
	if (!hp->cfg->counter_absent_ok) {
		pg_err("anti-rollback counter 0x%08x %s; a provisioned device has it (set boot.counter_absent_ok = yes "
		       "only before provisioning)",
		       (unsigned)hp->cfg->counter_index, what);
		return PCRGATE_ERR_NOT_FOUND;
	}
	pg_info("anti-rollback counter 0x%08x %s: counting it as 0 (boot.counter_absent_ok)",
		(unsigned)hp->cfg->counter_index, what);
	*value = 0;
	return PCRGATE_OK;
}

int host_counter_read(void *ctx, uint64_t *value)
{
	struct host_port *hp = ctx;
	const uint32_t index = hp->cfg->counter_index;
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(hp->tpm);
	TPM2B_NV_PUBLIC *pub = NULL;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR nv = ESYS_TR_NONE, auth;
	TPMA_NV attrs;
	uint64_t v = 0;
	size_t off = 0;
	TSS2_RC rc;
	int r = PCRGATE_ERR_TPM;

	hp->stats.counter_reads++;
	if (esys == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	hp->stats.tpm_commands++;
	PCRGATE_TPM_RETRY(rc, Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv));
	/* TPM_RC_HANDLE (for any handle): the index is not defined. */
	if (pcrgate_tpm_rc_base(rc) == TPM2_RC_HANDLE)
		return unprovisioned(hp, "is not defined", value);
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error("TPM2_NV_ReadPublic (anti-rollback counter)", rc, NULL);
	/* The type matters: only a TPM_NT_COUNTER can never go down, even when redefined. */
	hp->stats.tpm_commands++;
	PCRGATE_TPM_RETRY(rc, Esys_NV_ReadPublic(esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("TPM2_NV_ReadPublic (anti-rollback counter)", rc, NULL);
		goto fail;
	}
	attrs = pub->nvPublic.attributes;
	if (((attrs & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) != TPM2_NT_COUNTER ||
	    pub->nvPublic.dataSize != 8) {
		pg_err("NV index 0x%08x is not a TPM_NT_COUNTER: it cannot be the anti-rollback counter",
		       (unsigned)index);
		r = PCRGATE_ERR_VERIFY;
		goto fail;
	}
	if (!(attrs & TPMA_NV_WRITTEN)) {
		r = unprovisioned(hp, "was never incremented", value);
		goto fail;
	}
	/*
	 * The index's own empty authValue only when it is exempt from dictionary-attack
	 * protection: a device that loses power often piles up non-orderly shutdowns, each
	 * counted as a failed try, and in lockout such a read fails. Else the owner
	 * hierarchy's (empty) authorization, which lockout does not block.
	 */
	if ((attrs & TPMA_NV_AUTHREAD) && (attrs & TPMA_NV_NO_DA)) {
		auth = nv;
	} else if (attrs & TPMA_NV_OWNERREAD) {
		auth = ESYS_TR_RH_OWNER;
	} else if (attrs & TPMA_NV_AUTHREAD) {
		auth = nv;
	} else {
		pg_err("anti-rollback counter 0x%08x allows neither TPMA_NV_AUTHREAD nor TPMA_NV_OWNERREAD",
		       (unsigned)index);
		r = PCRGATE_ERR_UNSUPPORTED;
		goto fail;
	}
	hp->stats.tpm_commands++;
	PCRGATE_TPM_RETRY(rc, Esys_NV_Read(esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &data));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("TPM2_NV_Read (anti-rollback counter)", rc, NULL);
		goto fail;
	}
	if (data->size != 8 || Tss2_MU_UINT64_Unmarshal(data->buffer, data->size, &off, &v) != TSS2_RC_SUCCESS) {
		pg_err("TPM2_NV_Read (anti-rollback counter): %u bytes instead of 8", (unsigned)data->size);
		goto fail;
	}
	*value = v;
	r = PCRGATE_OK;
fail:
	Esys_Free(pub);
	Esys_Free(data);
	/* Forgets the ESAPI handle; no TPM command. */
	Esys_TR_Close(esys, &nv);
	return r;
}
