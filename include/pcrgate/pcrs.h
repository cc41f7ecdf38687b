/* pcrgate: a set of PCR values across banks (replayed from a log, or supplied with a quote). */
#ifndef PCRGATE_PCRS_H
#define PCRGATE_PCRS_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/alg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcrgate_pcrs pcrgate_pcrs;

PCRGATE_API pcrgate_pcrs *pcrgate_pcrs_new(void);
PCRGATE_API void pcrgate_pcrs_free(pcrgate_pcrs **pcrs);
PCRGATE_API pcrgate_pcrs *pcrgate_pcrs_dup(const pcrgate_pcrs *pcrs);

/* Sets bank alg, PCR index to value (len must be the bank's digest size). Copies value. */
PCRGATE_API int pcrgate_pcrs_set(pcrgate_pcrs *pcrs, uint16_t alg, unsigned index, const uint8_t *value, size_t len);
/* Borrowed pointer to the value, or NULL when absent; *len gets its size when non-NULL. */
PCRGATE_API const uint8_t *pcrgate_pcrs_get(const pcrgate_pcrs *pcrs, uint16_t alg, unsigned index, size_t *len);
/* Number of banks holding at least one value, and the i-th such bank's algorithm, sorted by TCG name. */
PCRGATE_API size_t pcrgate_pcrs_bank_count(const pcrgate_pcrs *pcrs);
PCRGATE_API uint16_t pcrgate_pcrs_bank_alg(const pcrgate_pcrs *pcrs, size_t i);
/* Bit i set when PCR i of bank alg holds a value. */
PCRGATE_API uint32_t pcrgate_pcrs_mask(const pcrgate_pcrs *pcrs, uint16_t alg);

#ifdef __cplusplus
}
#endif
#endif
