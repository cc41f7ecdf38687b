/* pcrgate: error strings and error details. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pcrgate/common.h"

const char *pcrgate_strerror(int err)
{
	switch (err) {
	case PCRGATE_OK:
		return "success";
	case PCRGATE_ERR_INVALID_ARGUMENT:
		return "invalid argument";
	case PCRGATE_ERR_NOMEM:
		return "out of memory";
	case PCRGATE_ERR_IO:
		return "input/output error";
	case PCRGATE_ERR_FORMAT:
		return "malformed input";
	case PCRGATE_ERR_LIMIT:
		return "input exceeds a limit";
	case PCRGATE_ERR_UNSUPPORTED:
		return "not supported";
	case PCRGATE_ERR_TPM:
		return "TPM error";
	case PCRGATE_ERR_CRYPTO:
		return "cryptographic library error";
	case PCRGATE_ERR_VERIFY:
		return "verification failed";
	case PCRGATE_ERR_NOT_FOUND:
		return "not found";
	case PCRGATE_ERR_CONFIG:
		return "invalid configuration";
	default:
		return "unknown error";
	}
}

int pcrgate_errinfo_set(pcrgate_errinfo *ei, int code, size_t offset, const char *fmt, ...)
{
	va_list ap;

	if (ei == NULL)
		return code;
	ei->code = code;
	ei->has_offset = offset != PCRGATE_NO_OFFSET;
	ei->offset = ei->has_offset ? offset : 0;
	va_start(ap, fmt);
	vsnprintf(ei->message, sizeof(ei->message), fmt, ap);
	va_end(ap);
	return code;
}

void pcrgate_errinfo_clear(pcrgate_errinfo *ei)
{
	if (ei != NULL)
		memset(ei, 0, sizeof(*ei));
}
