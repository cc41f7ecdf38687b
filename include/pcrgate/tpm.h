/*
 * pcrgate: access to the TPM through tpm2-tss (TCTI loader + ESAPI).
 *
 * A pcrgate_tpm is one connection to one TPM, named by a TCTI string. The string is
 * chosen, first match wins, from: the caller's option, the `tcti` key of the config
 * file, the environment variable PCRGATE_TCTI, and finally "device:/dev/tpmrm0".
 * Every TSS2_RC is mapped to PCRGATE_ERR_TPM, with a message naming the TPM command
 * and the decoded response code (Tss2_RC_Decode).
 */
#ifndef PCRGATE_TPM_H
#define PCRGATE_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCRGATE_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define PCRGATE_DEFAULT_CONFIG "/etc/pcrgate/pcrgate.conf"
#define PCRGATE_TCTI_MAX 512 /* bytes of a TCTI string, with its NUL */
/* The anti-rollback counter's NV index when none is configured: the boot, the agent, the verifier and pcrgate policy. */
#define PCRGATE_TPM_DEFAULT_COUNTER_INDEX 0x01500100u

/* Where the TCTI string came from. */
enum {
	PCRGATE_TCTI_FROM_OPTION = 1,
	PCRGATE_TCTI_FROM_CONFIG = 2,
	PCRGATE_TCTI_FROM_ENV = 3,
	PCRGATE_TCTI_FROM_DEFAULT = 4,
};

/* "option", "config file", "environment (PCRGATE_TCTI)" or "default". */
PCRGATE_API const char *pcrgate_tcti_source_name(int source);

/*
 * Chooses the TCTI string without touching a TPM. option: the caller's own setting
 * or NULL. config_path: the config file, or NULL for $PCRGATE_CONFIG, else
 * PCRGATE_DEFAULT_CONFIG; a missing default file is fine, a missing named one is an
 * error. Writes the string into tcti (cap bytes) and its origin into *source.
 */
PCRGATE_API int pcrgate_tcti_resolve(const char *option, const char *config_path, char *tcti, size_t cap,
				     int *source, pcrgate_errinfo *ei);

typedef struct pcrgate_tpm pcrgate_tpm;

/*
 * Connects to the TPM (TCTI chosen as pcrgate_tcti_resolve does) and sends
 * TPM2_Startup(CLEAR); a TPM that is already started is fine.
 */
PCRGATE_API int pcrgate_tpm_open(const char *tcti_option, const char *config_path, pcrgate_tpm **tpm,
				 pcrgate_errinfo *ei);
PCRGATE_API void pcrgate_tpm_close(pcrgate_tpm **tpm);

/* The TCTI string in use and where it came from (PCRGATE_TCTI_FROM_*). */
PCRGATE_API const char *pcrgate_tpm_tcti(const pcrgate_tpm *tpm);
PCRGATE_API int pcrgate_tpm_tcti_source(const pcrgate_tpm *tpm);

/* The ESAPI context, for library code that issues its own TPM commands. */
struct ESYS_CONTEXT;
PCRGATE_API struct ESYS_CONTEXT *pcrgate_tpm_esys(pcrgate_tpm *tpm);

/*
 * Algorithms of the PCR banks that have at least one PCR allocated, in the TPM's
 * order. More than cap banks: PCRGATE_ERR_LIMIT. The handle asks the TPM
 * (TPM2_GetCapability) once, on the first call of this or of an extend, and keeps the
 * answer: a bank allocation changes only with a TPM reset, which also clears the PCRs.
 */
PCRGATE_API int pcrgate_tpm_get_banks(pcrgate_tpm *tpm, uint16_t *algs, size_t cap, size_t *count,
				      pcrgate_errinfo *ei);

/*
 * Extends PCR pcr in every active bank with that bank's digest of data, in one
 * TPM2_PCR_Extend (plus TPM2_GetCapability the first time the handle needs its banks).
 */
PCRGATE_API int pcrgate_tpm_extend_data(pcrgate_tpm *tpm, unsigned pcr, const void *data, size_t len,
					pcrgate_errinfo *ei);

/* One bank's digest, for pcrgate_tpm_extend_digests. */
typedef struct pcrgate_tpm_digest {
	uint16_t alg;
	uint8_t digest[PCRGATE_MAX_DIGEST]; /* pcrgate_alg_digest_size(alg) bytes used */
} pcrgate_tpm_digest;

/*
 * Extends PCR pcr with caller-given digests, in one TPM2_PCR_Extend. The digests
 * must name every active bank exactly once and no other bank, so no bank is left
 * behind by a measurement.
 */
PCRGATE_API int pcrgate_tpm_extend_digests(pcrgate_tpm *tpm, unsigned pcr, const pcrgate_tpm_digest *digests,
					   size_t count, pcrgate_errinfo *ei);

/* PCRs of one bank: bit i of mask selects PCR i. */
typedef struct pcrgate_tpm_bank_select {
	uint16_t alg;
	uint32_t mask;
} pcrgate_tpm_bank_select;

/*
 * Reads the selected PCRs into a new *pcrs. TPM2_PCR_Read answers only part of a
 * large selection, so this reads until every PCR is in; when the PCRs change
 * between two of those reads it starts again, so the set is one consistent state.
 */
PCRGATE_API int pcrgate_tpm_pcr_read(pcrgate_tpm *tpm, const pcrgate_tpm_bank_select *sel, size_t count,
				     pcrgate_pcrs **pcrs, pcrgate_errinfo *ei);

/* Number of transient objects loaded in the TPM (tests use it to find leaks). */
PCRGATE_API int pcrgate_tpm_count_transient(pcrgate_tpm *tpm, size_t *count, pcrgate_errinfo *ei);

/*
 * Maps a failed TSS2_RC to PCRGATE_ERR_TPM: records "COMMAND: <Tss2_RC_Decode>" in
 * ei (or logs it as an error when ei is NULL) and logs the raw code for debugging.
 * A dictionary-attack lockout gets a message that says so. Returns 0 for success.
 */
PCRGATE_API int pcrgate_tpm_error(const char *command, uint32_t rc, pcrgate_errinfo *ei);

/*
 * The TPM's response code without its layer and without the handle, parameter or session
 * number a format-one code carries (TPM2_RC_HANDLE for a bad handle of any number), to
 * compare with TPM2_RC_*; 0 for success or a code that did not come from the TPM (or from
 * the resource manager on its behalf).
 */
PCRGATE_API uint32_t pcrgate_tpm_rc_base(uint32_t rc);

/* 1 when rc is TPM_RC_RETRY, TPM_RC_YIELDED or TPM_RC_TESTING: the TPM asks to be asked again. */
PCRGATE_API int pcrgate_tpm_rc_retryable(uint32_t rc);
/* Sleeps before retry number attempt (1, 2, ...): 25 ms, doubling each time. */
PCRGATE_API void pcrgate_tpm_backoff(uint32_t rc, unsigned attempt);

#define PCRGATE_TPM_RETRIES 5

/*
 * rc = call, repeated while the TPM answers RETRY, YIELDED or TESTING, at most
 * PCRGATE_TPM_RETRIES more times with a growing pause. ESAPI already resubmits at
 * once a few times; this adds time for a TPM busy with self tests. Lockout is
 * never retried: each attempt could count against the dictionary-attack limit.
 */
#define PCRGATE_TPM_RETRY(rc, call)                                                                            \
	do {                                                                                                   \
		unsigned pcrgate_attempt_ = 0;                                                                 \
		while (((rc) = (call)) != 0 && pcrgate_tpm_rc_retryable(rc) &&                                 \
		       pcrgate_attempt_ < PCRGATE_TPM_RETRIES)                                                 \
			pcrgate_tpm_backoff((rc), ++pcrgate_attempt_);                                         \
	} while (0)

#ifdef __cplusplus
}
#endif
#endif
