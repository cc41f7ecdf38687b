/*
 * pcrgate: writes crypto-agile TCG event logs (the Spec ID event, then TCG_PCR_EVENT2
 * events) into a caller's buffer. For the boot code: no allocation, no hashing and no
 * libc beyond mem*; every write checks the room left first.
 */
#include "config.h"

#include <string.h>

#include "eventlog_internal.h"

static uint8_t *put_u16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

/* 1 when algs[0..n) are distinct banks pcrgate knows. */
static int banks_valid(size_t n, uint16_t (*alg_at)(const void *, size_t), const void *arg)
{
	size_t i, j;

	if (n == 0 || n > PCRGATE_EVENTLOG_MAX_ALGS)
		return 0;
	for (i = 0; i < n; i++) {
		if (pcrgate_alg_digest_size(alg_at(arg, i)) == 0)
			return 0;
		for (j = 0; j < i; j++)
			if (alg_at(arg, j) == alg_at(arg, i))
				return 0;
	}
	return 1;
}

static uint16_t alg_of_list(const void *arg, size_t i)
{
	return ((const uint16_t *)arg)[i];
}

static uint16_t alg_of_digests(const void *arg, size_t i)
{
	return ((const pcrgate_eventlog_digest *)arg)[i].alg;
}

size_t pcrgate_eventlog_header_size(size_t nalgs)
{
	if (nalgs == 0 || nalgs > PCRGATE_EVENTLOG_MAX_ALGS)
		return 0;
	return EL_PCR_EVENT_HEADER + EL_SPEC_ID_HEADER + 4 * nalgs + 1;
}

int pcrgate_eventlog_write_header(uint8_t *out, size_t cap, const uint16_t *algs, size_t nalgs, size_t *written)
{
	size_t need = pcrgate_eventlog_header_size(nalgs), i;
	uint8_t *p = out;

	if (out == NULL || algs == NULL || written == NULL || !banks_valid(nalgs, alg_of_list, algs))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (cap < need)
		return PCRGATE_ERR_LIMIT;
	p = put_u32le(p, 0);
	p = put_u32le(p, PCRGATE_EV_NO_ACTION);
	memset(p, 0, 20);
	p += 20;
	p = put_u32le(p, (uint32_t)(need - EL_PCR_EVENT_HEADER));
	memcpy(p, EL_SPEC_ID_SIGNATURE, 16);
	p += 16;
	p = put_u32le(p, 0); /* platformClass: client */
	*p++ = 0;            /* specVersionMinor */
	*p++ = 2;            /* specVersionMajor */
	*p++ = 2;            /* specErrata, as the PC Client PFP revisions that added it */
	*p++ = sizeof(void *) == 4 ? 1 : 2;
	p = put_u32le(p, (uint32_t)nalgs);
	for (i = 0; i < nalgs; i++) {
		p = put_u16le(p, algs[i]);
		p = put_u16le(p, (uint16_t)pcrgate_alg_digest_size(algs[i]));
	}
	*p++ = 0; /* vendorInfoSize */
	*written = (size_t)(p - out);
	return PCRGATE_OK;
}

size_t pcrgate_eventlog_event_size(const pcrgate_eventlog_digest *digests, size_t ndigests, size_t data_len)
{
	size_t need = 12 + 4, i;

	if (digests == NULL || !banks_valid(ndigests, alg_of_digests, digests) ||
	    data_len > PCRGATE_EVENTLOG_MAX_EVENT_DATA)
		return 0;
	for (i = 0; i < ndigests; i++)
		need += 2 + pcrgate_alg_digest_size(digests[i].alg);
	return need + data_len;
}

int pcrgate_eventlog_write_event(uint8_t *out, size_t cap, uint32_t pcr, uint32_t type,
				 const pcrgate_eventlog_digest *digests, size_t ndigests, const uint8_t *data,
				 size_t data_len, size_t *written)
{
	size_t need = pcrgate_eventlog_event_size(digests, ndigests, data_len), i, n;
	uint8_t *p = out;

	if (out == NULL || written == NULL || need == 0 || (data == NULL && data_len > 0) ||
	    (pcr >= PCRGATE_MAX_PCRS && pcr != PCRGATE_EVENTLOG_NO_PCR))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	for (i = 0; i < ndigests; i++)
		if (digests[i].digest == NULL)
			return PCRGATE_ERR_INVALID_ARGUMENT;
	if (cap < need)
		return PCRGATE_ERR_LIMIT;
	p = put_u32le(p, pcr);
	p = put_u32le(p, type);
	p = put_u32le(p, (uint32_t)ndigests);
	for (i = 0; i < ndigests; i++) {
		n = pcrgate_alg_digest_size(digests[i].alg);
		p = put_u16le(p, digests[i].alg);
		memcpy(p, digests[i].digest, n);
		p += n;
	}
	p = put_u32le(p, (uint32_t)data_len);
	if (data_len > 0)
		memcpy(p, data, data_len);
	p += data_len;
	*written = (size_t)(p - out);
	return PCRGATE_OK;
}
