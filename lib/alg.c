/* pcrgate: hash algorithm table (TPM_ALG_ID, TCG name, size, OpenSSL name), digests and PCR extension. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "pcrgate/alg.h"

struct alg_info {
	uint16_t id;
	const char *name;
	size_t size;
	const char *ossl;
};

static const struct alg_info algs[] = {
	{PCRGATE_ALG_SHA1, "sha1", 20, "SHA1"},
	{PCRGATE_ALG_SHA256, "sha256", 32, "SHA256"},
	{PCRGATE_ALG_SHA384, "sha384", 48, "SHA384"},
	{PCRGATE_ALG_SHA512, "sha512", 64, "SHA512"},
	{PCRGATE_ALG_SM3_256, "sm3_256", 32, "SM3"},
};

static const struct alg_info *find(uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].id == id)
			return &algs[i];
	return NULL;
}

const char *pcrgate_alg_name(uint16_t alg)
{
	const struct alg_info *a = find(alg);
	return a ? a->name : NULL;
}

const char *pcrgate_alg_label(uint16_t alg, char buf[PCRGATE_ALG_LABEL_MAX])
{
	const struct alg_info *a = find(alg);

	if (a != NULL)
		return a->name;
	snprintf(buf, PCRGATE_ALG_LABEL_MAX, "0x%04x", alg);
	return buf;
}

uint16_t pcrgate_alg_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, name) == 0)
			return algs[i].id;
	return 0;
}

size_t pcrgate_alg_digest_size(uint16_t alg)
{
	const struct alg_info *a = find(alg);
	return a ? a->size : 0;
}

const char *pcrgate_alg_openssl_name(uint16_t alg)
{
	const struct alg_info *a = find(alg);
	return a ? a->ossl : NULL;
}

/*
 * Every digest is fetched once, on first use, under pthread_once: EVP_MD_fetch is costly, the
 * replay path hashes per event, and the verifier hashes from several threads.
 */
static EVP_MD *md_cache[sizeof(algs) / sizeof(algs[0])];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch_all(void)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		md_cache[i] = EVP_MD_fetch(NULL, algs[i].ossl, NULL);
}

static const EVP_MD *md_for(uint16_t alg)
{
	size_t i;

	pthread_once(&md_once, md_fetch_all);
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].id == alg)
			return md_cache[i];
	return NULL;
}

int pcrgate_digest(uint16_t alg, const void *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = md_for(alg);
	unsigned int n = 0;

	if (md == NULL || out == NULL || (data == NULL && len > 0))
		return PCRGATE_ERR_UNSUPPORTED;
	if (EVP_Digest(data, len, out, &n, md, NULL) != 1) {
		pcrgate_log_openssl(__func__, "EVP_Digest");
		return PCRGATE_ERR_CRYPTO;
	}
	return PCRGATE_OK;
}

int pcrgate_pcr_extend(uint16_t alg, uint8_t *pcr, const uint8_t *digest)
{
	uint8_t buf[2 * PCRGATE_MAX_DIGEST];
	size_t n = pcrgate_alg_digest_size(alg);

	if (n == 0 || pcr == NULL || digest == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	memcpy(buf, pcr, n);
	memcpy(buf + n, digest, n);
	return pcrgate_digest(alg, buf, 2 * n, pcr);
}
