/*
 * Test driver for the enrollment cryptography (tests/integration/enroll-*.tpm): each command
 * runs one library function on files, so shell tests can put it between tpm2-tools and
 * pcrgate-agent.
 *   trust CA_PATH                       load the CAs, print "anchors=N intermediates=M"
 *   ekcert CERT CA_PATH [EK_PUB]        verify an EK certificate (and its key against EK_PUB)
 *   makecred EK_PUB AK_PUB SECRET OUT   MakeCredential, OUT in tpm2-tools' format, OUT.blob, OUT.secret
 *   activate CRED OUT                   agent_activate of a tpm2-tools credential file
 *   wrap KEY_PUB CONTENT_KEY OUT        keywrap_wrap
 * EK_PUB, AK_PUB, KEY_PUB: TPM2B_PUBLIC files (tpm2_readpublic -o). Exit 0, or 1 with the error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_mu.h>

#include "attest/agent.h"
#include "attest/tpmobj.h"
#include "verifier/credential.h"
#include "verifier/ekcert.h"
#include "verifier/keywrap.h"

#define MAX_FILE (64u * 1024)

static int fail(const char *what, const pcrgate_errinfo *ei)
{
	fprintf(stderr, "enroll_tool: %s: %s\n", what, ei->message[0] ? ei->message : pcrgate_strerror(ei->code));
	return 1;
}

static int read_public(const char *path, TPM2B_PUBLIC *pub, pcrgate_errinfo *ei)
{
	uint8_t *buf = NULL;
	size_t len;
	int r;

	if ((r = pcrgate_file_read(path, MAX_FILE, &buf, &len, ei)) == PCRGATE_OK)
		r = tpmobj_public_unmarshal(buf, len, pub, ei);
	free(buf);
	return r;
}

static int cmd_trust(char **argv)
{
	pcrgate_errinfo ei = {0};
	ekcert_trust *t = NULL;
	size_t a, i;

	if (ekcert_trust_load(argv[0], &t, &ei) != PCRGATE_OK)
		return fail(argv[0], &ei);
	ekcert_trust_count(t, &a, &i);
	printf("anchors=%zu intermediates=%zu\n", a, i);
	ekcert_trust_free(&t);
	return 0;
}

static int cmd_ekcert(int argc, char **argv)
{
	pcrgate_errinfo ei = {0};
	struct ekcert_result res = {0};
	TPM2B_PUBLIC ek;
	uint8_t *der = NULL;
	size_t len;
	int rc = 1;

	if (pcrgate_file_read(argv[0], MAX_FILE, &der, &len, &ei) != PCRGATE_OK) {
		fail(argv[0], &ei);
		goto out;
	}
	if (ekcert_verify(der, len, argv[1], &res, &ei) != PCRGATE_OK) {
		fail("ekcert_verify", &ei);
		goto out;
	}
	printf("defects=0x%x\nissuer=%s\nanchor=%s\n", res.defects, res.issuer, res.anchor);
	if (argc > 2) {
		if (read_public(argv[2], &ek, &ei) != PCRGATE_OK) {
			fail(argv[2], &ei);
			goto out;
		}
		if (ekcert_match_public(res.pkey, &ek, &ei) != PCRGATE_OK) {
			fail("ekcert_match_public", &ei);
			goto out;
		}
		printf("ek=match\n");
	}
	rc = 0;
out:
	ekcert_result_clear(&res);
	free(der);
	return rc;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	pcrgate_errinfo ei = {0};

	if (pcrgate_file_write_atomic(path, data, len, 0600, &ei) != PCRGATE_OK)
		return fail(path, &ei);
	return 0;
}

static int cmd_makecred(char **argv)
{
	pcrgate_errinfo ei = {0};
	TPM2B_PUBLIC ek, ak;
	TPM2B_NAME name;
	struct credential cred;
	uint8_t *secret = NULL, file[sizeof(cred.blob) + sizeof(cred.secret) + 8];
	size_t slen, flen;
	char path[4096];
	int rc = 1;

	if (read_public(argv[0], &ek, &ei) != PCRGATE_OK || read_public(argv[1], &ak, &ei) != PCRGATE_OK ||
	    tpmobj_name(&ak.publicArea, &name) != PCRGATE_OK ||
	    pcrgate_file_read(argv[2], MAX_FILE, &secret, &slen, &ei) != PCRGATE_OK) {
		fail("inputs", &ei);
		goto out;
	}
	if (credential_make(&ek, &name, secret, slen, &cred, &ei) != PCRGATE_OK) {
		fail("credential_make", &ei);
		goto out;
	}
	if (credential_tpm2tools_file(&cred, file, sizeof(file), &flen) != PCRGATE_OK || write_file(argv[3], file, flen))
		goto out;
	snprintf(path, sizeof(path), "%s.blob", argv[3]);
	if (write_file(path, cred.blob, cred.blob_len))
		goto out;
	snprintf(path, sizeof(path), "%s.secret", argv[3]);
	if (write_file(path, cred.secret, cred.secret_len))
		goto out;
	rc = 0;
out:
	free(secret);
	return rc;
}

/* A tpm2-tools credential file: header, then TPM2B_ID_OBJECT, then TPM2B_ENCRYPTED_SECRET. */
static int cmd_activate(char **argv)
{
	pcrgate_errinfo ei = {0};
	struct agent_config cfg;
	struct agent_options opts = {0};
	pcrgate_tpm *tpm = NULL;
	TPM2B_ID_OBJECT id;
	uint8_t *file = NULL, *out = NULL;
	size_t flen, off = 8, outlen = 0, bloblen;
	int rc = 1;

	if (pcrgate_file_read(argv[0], MAX_FILE, &file, &flen, &ei) != PCRGATE_OK) {
		fail(argv[0], &ei);
		goto out;
	}
	if (flen < 8 || Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(file, flen, &off, &id) != TSS2_RC_SUCCESS) {
		fprintf(stderr, "enroll_tool: %s is not a tpm2-tools credential file\n", argv[0]);
		goto out;
	}
	bloblen = off - 8;
	if (agent_config_resolve(&opts, &cfg, &ei) != PCRGATE_OK || agent_open_tpm(&cfg, &tpm, &ei) != PCRGATE_OK) {
		fail("agent", &ei);
		goto out;
	}
	if (agent_activate(tpm, &cfg, file + 8, bloblen, file + off, flen - off, &out, &outlen, &ei) != PCRGATE_OK) {
		fail("agent_activate", &ei);
		goto out;
	}
	rc = write_file(argv[1], out, outlen);
out:
	if (out != NULL)
		OPENSSL_clear_free(out, outlen);
	pcrgate_tpm_close(&tpm);
	free(file);
	return rc;
}

static int cmd_wrap(char **argv)
{
	pcrgate_errinfo ei = {0};
	TPM2B_PUBLIC uk;
	uint8_t *key = NULL, out[KEYWRAP_MAX_WRAPPED];
	size_t klen, olen;
	int rc = 1;

	if (read_public(argv[0], &uk, &ei) != PCRGATE_OK ||
	    pcrgate_file_read(argv[1], MAX_FILE, &key, &klen, &ei) != PCRGATE_OK) {
		fail("inputs", &ei);
		goto out;
	}
	if (keywrap_wrap(&uk, key, klen, out, sizeof(out), &olen, &ei) != PCRGATE_OK) {
		fail("keywrap_wrap", &ei);
		goto out;
	}
	rc = write_file(argv[2], out, olen);
out:
	free(key);
	return rc;
}

int main(int argc, char **argv)
{
	pcrgate_log_init_from_env();
	if (argc == 3 && strcmp(argv[1], "trust") == 0)
		return cmd_trust(argv + 2);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "ekcert") == 0)
		return cmd_ekcert(argc - 2, argv + 2);
	if (argc == 6 && strcmp(argv[1], "makecred") == 0)
		return cmd_makecred(argv + 2);
	if (argc == 4 && strcmp(argv[1], "activate") == 0)
		return cmd_activate(argv + 2);
	if (argc == 5 && strcmp(argv[1], "wrap") == 0)
		return cmd_wrap(argv + 2);
	fprintf(stderr, "usage: enroll_tool trust|ekcert|makecred|activate|wrap ARGS (see the source)\n");
	return 2;
}
