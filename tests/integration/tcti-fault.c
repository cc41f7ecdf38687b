/*
 * A TCTI for tests that stands between a program and its TPM and answers chosen commands with
 * chosen response codes, as a busy, rate-limited or locked-out TPM would. The TCTI loader
 * loads it by path: "PATH/libtss2-tcti-pcrgatefault.so:NEXT|RULES", where NEXT is the TCTI
 * string of the real TPM (e.g. swtpm:path=/tmp/x/sock) and RULES is a ';'-separated list of
 *
 *   CC:RC:FIRST:COUNT   answer command code CC (hex) with response code RC (hex) from its
 *                       FIRST-th occurrence on (1 = the first), for COUNT occurrences
 *   log=FILE            append one line per command: "CC sent" or "CC injected RC"
 *
 * An answered command is not passed on, so the TPM never executes it: that is what a TPM
 * answering TPM_RC_RETRY, TPM_RC_NV_RATE or TPM_RC_LOCKOUT means.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_tcti.h>
#include <tss2/tss2_tctildr.h>

#define FAULT_MAGIC 0x70636667666c7431ULL
#define MAX_RULES 8
#define MAX_CONF 1024
#define RESPONSE_SIZE 10

struct rule {
	uint32_t cc, rc;
	unsigned long first, count, seen;
};

struct fault_ctx {
	TSS2_TCTI_CONTEXT_COMMON_V2 common;
	TSS2_TCTI_CONTEXT *next;
	struct rule rules[MAX_RULES];
	size_t nrules;
	char log[MAX_CONF];
	int pending;
	uint8_t response[RESPONSE_SIZE];
};

static struct fault_ctx *fault(TSS2_TCTI_CONTEXT *ctx)
{
	struct fault_ctx *f = (struct fault_ctx *)ctx;

	return f != NULL && TSS2_TCTI_MAGIC(ctx) == FAULT_MAGIC ? f : NULL;
}

static void log_line(const struct fault_ctx *f, uint32_t cc, const char *what, uint32_t rc)
{
	FILE *out;

	if (f->log[0] == '\0' || (out = fopen(f->log, "a")) == NULL)
		return;
	if (rc != 0)
		fprintf(out, "0x%08x %s 0x%08x\n", (unsigned)cc, what, (unsigned)rc);
	else
		fprintf(out, "0x%08x %s\n", (unsigned)cc, what);
	fclose(out);
}

static TSS2_RC fault_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *command)
{
	struct fault_ctx *f = fault(ctx);
	uint32_t cc;
	size_t i;

	if (f == NULL || command == NULL)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (f->pending)
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	if (size < RESPONSE_SIZE)
		return Tss2_Tcti_Transmit(f->next, size, command);
	cc = (uint32_t)command[6] << 24 | (uint32_t)command[7] << 16 | (uint32_t)command[8] << 8 | command[9];
	for (i = 0; i < f->nrules; i++) {
		struct rule *r = &f->rules[i];

		if (r->cc != cc)
			continue;
		r->seen++;
		if (r->seen >= r->first && r->seen - r->first < r->count) {
			/* TPM_ST_NO_SESSIONS, size 10, the response code. */
			const uint8_t resp[RESPONSE_SIZE] = {0x80, 0x01, 0, 0, 0, RESPONSE_SIZE, (uint8_t)(r->rc >> 24),
							     (uint8_t)(r->rc >> 16), (uint8_t)(r->rc >> 8), (uint8_t)r->rc};

			memcpy(f->response, resp, sizeof(resp));
			f->pending = 1;
			log_line(f, cc, "injected", r->rc);
			return TSS2_RC_SUCCESS;
		}
	}
	log_line(f, cc, "sent", 0);
	return Tss2_Tcti_Transmit(f->next, size, command);
}

static TSS2_RC fault_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *response, int32_t timeout)
{
	struct fault_ctx *f = fault(ctx);

	if (f == NULL || size == NULL)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (!f->pending)
		return Tss2_Tcti_Receive(f->next, size, response, timeout);
	if (response == NULL) {
		*size = RESPONSE_SIZE;
		return TSS2_RC_SUCCESS;
	}
	if (*size < RESPONSE_SIZE)
		return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
	memcpy(response, f->response, RESPONSE_SIZE);
	*size = RESPONSE_SIZE;
	f->pending = 0;
	return TSS2_RC_SUCCESS;
}

static void fault_finalize(TSS2_TCTI_CONTEXT *ctx)
{
	struct fault_ctx *f = fault(ctx);

	if (f != NULL && f->next != NULL)
		Tss2_TctiLdr_Finalize(&f->next);
}

static TSS2_RC fault_cancel(TSS2_TCTI_CONTEXT *ctx)
{
	struct fault_ctx *f = fault(ctx);

	return f == NULL ? TSS2_TCTI_RC_BAD_REFERENCE : Tss2_Tcti_Cancel(f->next);
}

static TSS2_RC fault_poll(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *handles, size_t *count)
{
	struct fault_ctx *f = fault(ctx);

	return f == NULL ? TSS2_TCTI_RC_BAD_REFERENCE : Tss2_Tcti_GetPollHandles(f->next, handles, count);
}

static TSS2_RC fault_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
	struct fault_ctx *f = fault(ctx);

	return f == NULL ? TSS2_TCTI_RC_BAD_REFERENCE : Tss2_Tcti_SetLocality(f->next, locality);
}

static TSS2_RC fault_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky)
{
	struct fault_ctx *f = fault(ctx);

	return f == NULL ? TSS2_TCTI_RC_BAD_REFERENCE : Tss2_Tcti_MakeSticky(f->next, handle, sticky);
}

static int parse_rule(struct fault_ctx *f, char *item)
{
	unsigned long v[4];
	char *p = item, *end;
	int i;

	if (strncmp(item, "log=", 4) == 0) {
		if (strlen(item + 4) >= sizeof(f->log))
			return -1;
		strcpy(f->log, item + 4);
		return 0;
	}
	if (f->nrules == MAX_RULES)
		return -1;
	for (i = 0; i < 4; i++) {
		errno = 0;
		v[i] = strtoul(p, &end, i < 2 ? 16 : 10);
		if (end == p || errno != 0 || *end != (i < 3 ? ':' : '\0'))
			return -1;
		p = end + 1;
	}
	if (v[0] > 0xffffffffUL || v[1] == 0 || v[1] > 0xffffffffUL || v[2] == 0 || v[3] == 0)
		return -1;
	f->rules[f->nrules++] = (struct rule){(uint32_t)v[0], (uint32_t)v[1], v[2], v[3], 0};
	return 0;
}

static TSS2_RC fault_init(TSS2_TCTI_CONTEXT *ctx, size_t *size, const char *conf)
{
	struct fault_ctx *f = (struct fault_ctx *)ctx;
	char buf[MAX_CONF], *bar, *item, *save = NULL;
	TSS2_RC rc;

	if (size == NULL)
		return TSS2_TCTI_RC_BAD_VALUE;
	if (ctx == NULL) {
		*size = sizeof(*f);
		return TSS2_RC_SUCCESS;
	}
	if (conf == NULL || strlen(conf) >= sizeof(buf) || *size < sizeof(*f))
		return TSS2_TCTI_RC_BAD_VALUE;
	strcpy(buf, conf);
	memset(f, 0, sizeof(*f));
	if ((bar = strrchr(buf, '|')) != NULL) {
		*bar = '\0';
		for (item = strtok_r(bar + 1, ";", &save); item != NULL; item = strtok_r(NULL, ";", &save))
			if (parse_rule(f, item) != 0) {
				fprintf(stderr, "pcrgatefault: bad rule '%s' (CC:RC:FIRST:COUNT or log=FILE)\n", item);
				return TSS2_TCTI_RC_BAD_VALUE;
			}
	}
	if ((rc = Tss2_TctiLdr_Initialize(buf, &f->next)) != TSS2_RC_SUCCESS)
		return rc;
	TSS2_TCTI_MAGIC(f) = FAULT_MAGIC;
	TSS2_TCTI_VERSION(f) = 2;
	TSS2_TCTI_TRANSMIT(f) = fault_transmit;
	TSS2_TCTI_RECEIVE(f) = fault_receive;
	TSS2_TCTI_FINALIZE(f) = fault_finalize;
	TSS2_TCTI_CANCEL(f) = fault_cancel;
	TSS2_TCTI_GET_POLL_HANDLES(f) = fault_poll;
	TSS2_TCTI_SET_LOCALITY(f) = fault_locality;
	TSS2_TCTI_MAKE_STICKY(f) = fault_sticky;
	return TSS2_RC_SUCCESS;
}

static const TSS2_TCTI_INFO info = {
	.version = 2,
	.name = "pcrgatefault",
	.description = "pcrgate test TCTI: answers chosen TPM commands with chosen response codes",
	.config_help = "NEXT_TCTI|CC:RC:FIRST:COUNT;...;log=FILE",
	.init = fault_init,
};

const TSS2_TCTI_INFO *Tss2_Tcti_Info(void);
const TSS2_TCTI_INFO *Tss2_Tcti_Info(void)
{
	return &info;
}
