/* pcrgate: PCR value sets across banks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pcrgate/pcrs.h"

struct bank {
	uint16_t alg;
	uint32_t mask;
	uint8_t value[PCRGATE_MAX_PCRS][PCRGATE_MAX_DIGEST];
};

struct pcrgate_pcrs {
	size_t nbanks;
	struct bank banks[PCRGATE_MAX_BANKS]; /* kept sorted by TCG name */
};

pcrgate_pcrs *pcrgate_pcrs_new(void)
{
	return calloc(1, sizeof(pcrgate_pcrs));
}

void pcrgate_pcrs_free(pcrgate_pcrs **pcrs)
{
	if (pcrs == NULL || *pcrs == NULL)
		return;
	free(*pcrs);
	*pcrs = NULL;
}

pcrgate_pcrs *pcrgate_pcrs_dup(const pcrgate_pcrs *pcrs)
{
	pcrgate_pcrs *d;

	if (pcrs == NULL || (d = malloc(sizeof(*d))) == NULL)
		return NULL;
	memcpy(d, pcrs, sizeof(*d));
	return d;
}

static struct bank *find_bank(const pcrgate_pcrs *pcrs, uint16_t alg)
{
	size_t i;

	for (i = 0; i < pcrs->nbanks; i++)
		if (pcrs->banks[i].alg == alg)
			return (struct bank *)&pcrs->banks[i];
	return NULL;
}

int pcrgate_pcrs_set(pcrgate_pcrs *pcrs, uint16_t alg, unsigned index, const uint8_t *value, size_t len)
{
	struct bank *b;
	size_t i;

	if (pcrs == NULL || value == NULL || index >= PCRGATE_MAX_PCRS || len == 0 ||
	    len != pcrgate_alg_digest_size(alg))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((b = find_bank(pcrs, alg)) == NULL) {
		if (pcrs->nbanks == PCRGATE_MAX_BANKS)
			return PCRGATE_ERR_LIMIT;
		/* Insert in name order so iteration is already sorted. */
		for (i = pcrs->nbanks; i > 0; i--) {
			if (strcmp(pcrgate_alg_name(pcrs->banks[i - 1].alg), pcrgate_alg_name(alg)) < 0)
				break;
			pcrs->banks[i] = pcrs->banks[i - 1];
		}
		b = &pcrs->banks[i];
		memset(b, 0, sizeof(*b));
		b->alg = alg;
		pcrs->nbanks++;
	}
	memcpy(b->value[index], value, len);
	b->mask |= (uint32_t)1 << index;
	return PCRGATE_OK;
}

const uint8_t *pcrgate_pcrs_get(const pcrgate_pcrs *pcrs, uint16_t alg, unsigned index, size_t *len)
{
	const struct bank *b;

	if (pcrs == NULL || index >= PCRGATE_MAX_PCRS || (b = find_bank(pcrs, alg)) == NULL ||
	    !(b->mask & ((uint32_t)1 << index)))
		return NULL;
	if (len != NULL)
		*len = pcrgate_alg_digest_size(alg);
	return b->value[index];
}

size_t pcrgate_pcrs_bank_count(const pcrgate_pcrs *pcrs)
{
	return pcrs ? pcrs->nbanks : 0;
}

uint16_t pcrgate_pcrs_bank_alg(const pcrgate_pcrs *pcrs, size_t i)
{
	return (pcrs && i < pcrs->nbanks) ? pcrs->banks[i].alg : 0;
}

uint32_t pcrgate_pcrs_mask(const pcrgate_pcrs *pcrs, uint16_t alg)
{
	const struct bank *b = pcrs ? find_bank(pcrs, alg) : NULL;
	return b ? b->mask : 0;
}
