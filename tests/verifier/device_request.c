/*
 * Test tool: one request to the verifier as a device, over the device's TLS client identity
 * (a certificate and its key in the TPM, through the tpm2-openssl provider, or a key file), so
 * the end-to-end tests can send the verifier hand-made and tampered requests on the same kind
 * of channel the agent uses.
 *
 * Usage: device_request --ca CA --cert CERT (--tpm-key URI [--tcti TCTI] | --key FILE)
 *                       --out FILE URL PATH [BODY_FILE]
 * Prints the HTTP status; the response body goes to FILE. Without BODY_FILE: a GET.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "httpclient.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"ca", required_argument, NULL, 'a'},      {"cert", required_argument, NULL, 'c'},
					     {"tpm-key", required_argument, NULL, 't'}, {"tcti", required_argument, NULL, 'T'},
					     {"key", required_argument, NULL, 'k'},     {"out", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	struct httpclient_options o = {0};
	const char *out = NULL;
	pcrgate_errinfo ei = {0};
	httpclient *c = NULL;
	uint8_t *req = NULL, *resp = NULL;
	size_t rlen = 0, len = 0;
	long status = 0;
	FILE *f;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': o.ca_file = optarg; break;
		case 'c': o.cert_file = optarg; break;
		case 't': o.tpm_key_uri = optarg; break;
		case 'T': o.tcti = optarg; break;
		case 'k': o.key_file = optarg; break;
		case 'o': out = optarg; break;
		default: return 2;
		}
	}
	if (out == NULL || argc - optind < 2 || argc - optind > 3) {
		fprintf(stderr, "usage: device_request --ca CA --cert CERT (--tpm-key URI | --key FILE) --out FILE URL PATH [BODY]\n");
		return 2;
	}
	o.base_url = argv[optind];
	if (httpclient_new(&o, &c, &ei) != PCRGATE_OK ||
	    (argc - optind == 3 && pcrgate_file_read(argv[optind + 2], 64u * 1024 * 1024, &req, &rlen, &ei) != PCRGATE_OK) ||
	    httpclient_post_raw(c, argv[optind + 1], req != NULL ? req : NULL, rlen, &status, &resp, &len, &ei) != PCRGATE_OK) {
		fprintf(stderr, "device_request: %s\n", ei.message);
		goto done;
	}
	if ((f = fopen(out, "wb")) == NULL || fwrite(resp, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "device_request: cannot write %s\n", out);
		goto done;
	}
	printf("%ld\n", status);
	rc = 0;
done:
	free(req);
	free(resp);
	httpclient_free(&c);
	return rc;
}
