/*
 * pcrgate-agent (internal): ESAPI helpers every agent operation uses: response codes, retries
 * for commands that write NV, persistent objects (read, check, make persistent), handle
 * clean-up that never leaks a transient object or session, and salted sessions.
 */
#ifndef PCRGATE_ATTEST_TPMUTIL_H
#define PCRGATE_ATTEST_TPMUTIL_H

#include <stdint.h>

#include <tss2/tss2_esys.h>

#include "agent.h"
#include "pcrgate/tpm.h"

/* pcrgate_tpm_rc_base (the library's one definition), under the name the agent's files use. */
static inline uint32_t tpmutil_rc_base(uint32_t rc)
{
	return pcrgate_tpm_rc_base(rc);
}

/*
 * 1 when a command that writes NV should be sent again: the TPM is busy (RETRY, YIELDED,
 * TESTING) or rate-limits NV writes (NV_RATE) or cannot reach NV right now (NV_UNAVAILABLE).
 */
int tpmutil_rc_nv_busy(uint32_t rc);
/* Sleeps before retry number attempt: 100 ms for NV_RATE, doubling up to 3.2 s; else the library's pause. */
void tpmutil_nv_backoff(uint32_t rc, unsigned attempt);

#define TPMUTIL_NV_RETRIES 8

/* PCRGATE_TPM_RETRY for commands that write NV: also waits out NV rate limiting. */
#define TPMUTIL_NV_RETRY(rc, call)                                                                             \
	do {                                                                                                   \
		unsigned tpmutil_attempt_ = 0;                                                                 \
		while (((rc) = (call)) != 0 && tpmutil_rc_nv_busy(rc) && tpmutil_attempt_ < TPMUTIL_NV_RETRIES) \
			tpmutil_nv_backoff((rc), ++tpmutil_attempt_);                                          \
	} while (0)

/*
 * Opens the persistent object at handle: its ESYS_TR (closed with tpmutil_close), public
 * area, name and qualified name (each may be NULL). PCRGATE_ERR_NOT_FOUND when nothing is
 * there; what names the object in messages.
 */
int tpmutil_open_persistent(ESYS_CONTEXT *esys, uint32_t handle, const char *what, ESYS_TR *tr, TPM2B_PUBLIC *pub,
			    TPM2B_NAME *name, TPM2B_NAME *qn, pcrgate_errinfo *ei);

/* Forgets a persistent object's or NV index's ESYS_TR (no TPM command); sets it to ESYS_TR_NONE. */
void tpmutil_close(ESYS_CONTEXT *esys, ESYS_TR *tr);
/* Flushes a transient object or session from the TPM; sets it to ESYS_TR_NONE. */
void tpmutil_flush(ESYS_CONTEXT *esys, ESYS_TR *tr);

/* TPM2_EvictControl: makes a loaded object persistent at handle (owner authorization, empty). */
int tpmutil_persist(ESYS_CONTEXT *esys, ESYS_TR object, uint32_t handle, const char *what, pcrgate_errinfo *ei);

/*
 * Opens the SRK at cfg->srk_handle after checking it against the SRK template, so a
 * session salted with it encrypts to a storage key of this TPM's owner hierarchy.
 */
int tpmutil_open_srk(ESYS_CONTEXT *esys, const struct agent_config *cfg, ESYS_TR *srk, pcrgate_errinfo *ei);

/*
 * Starts a session salted with salt_key (whose private part only the TPM has), AES-128-CFB
 * for parameter encryption, SHA-256; attrs are its TPMA_SESSION bits (continueSession is
 * added). Flush it with tpmutil_flush.
 */
int tpmutil_start_session(ESYS_CONTEXT *esys, ESYS_TR salt_key, TPM2_SE type, TPMA_SESSION attrs, ESYS_TR *session,
			  pcrgate_errinfo *ei);

/* "0x81000001" style handle text into buf (11 bytes). */
const char *tpmutil_handle_str(uint32_t handle, char buf[11]);

#endif
