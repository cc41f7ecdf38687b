/* pcrgate: error codes, error details, logging and small helpers shared by every part. */
#ifndef PCRGATE_COMMON_H
#define PCRGATE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCRGATE_API __attribute__((visibility("default")))

/* Every function returns 0 or one of these negative codes. */
enum {
	PCRGATE_OK = 0,
	PCRGATE_ERR_INVALID_ARGUMENT = -1, /* a caller passed something unusable */
	PCRGATE_ERR_NOMEM = -2,            /* allocation failed */
	PCRGATE_ERR_IO = -3,               /* a file or device operation failed */
	PCRGATE_ERR_FORMAT = -4,           /* input bytes are malformed */
	PCRGATE_ERR_LIMIT = -5,            /* input exceeds a hard cap */
	PCRGATE_ERR_UNSUPPORTED = -6,      /* well-formed but not supported */
	PCRGATE_ERR_TPM = -7,              /* the TPM or its software stack failed */
	PCRGATE_ERR_CRYPTO = -8,           /* a cryptographic library call failed */
	PCRGATE_ERR_VERIFY = -9,           /* a verification check failed */
	PCRGATE_ERR_NOT_FOUND = -10,       /* a named thing does not exist */
	PCRGATE_ERR_CONFIG = -11,          /* configuration is invalid */
};

PCRGATE_API const char *pcrgate_strerror(int err);

/*
 * Details of a failure, for messages that name what was wrong. `offset` is the
 * byte offset into the input where the problem was found, when has_offset is set.
 */
typedef struct pcrgate_errinfo {
	int code;
	int has_offset;
	size_t offset;
	char message[256];
} pcrgate_errinfo;

/* Records code, message and (when offset != PCRGATE_NO_OFFSET) offset; returns code. ei may be NULL. */
#define PCRGATE_NO_OFFSET ((size_t)-1)
PCRGATE_API int pcrgate_errinfo_set(pcrgate_errinfo *ei, int code, size_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
PCRGATE_API void pcrgate_errinfo_clear(pcrgate_errinfo *ei);

/* Logging: to stderr by default, or to a callback. Levels follow syslog's order. */
enum { PCRGATE_LOG_ERROR = 3, PCRGATE_LOG_WARNING = 4, PCRGATE_LOG_INFO = 6, PCRGATE_LOG_DEBUG = 7 };
typedef void (*pcrgate_log_fn)(int level, const char *msg, void *arg);
PCRGATE_API void pcrgate_log_set_level(int level);
/* Reads PCRGATE_LOG (error, warning, info, debug) from the environment. */
PCRGATE_API void pcrgate_log_init_from_env(void);
PCRGATE_API void pcrgate_log_set_handler(pcrgate_log_fn fn, void *arg);
PCRGATE_API void pcrgate_log(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pg_err(...) pcrgate_log(PCRGATE_LOG_ERROR, __func__, __VA_ARGS__)
#define pg_warn(...) pcrgate_log(PCRGATE_LOG_WARNING, __func__, __VA_ARGS__)
#define pg_info(...) pcrgate_log(PCRGATE_LOG_INFO, __func__, __VA_ARGS__)
#define pg_debug(...) pcrgate_log(PCRGATE_LOG_DEBUG, __func__, __VA_ARGS__)

/* Logs and clears OpenSSL's error queue, prefixed by what was being done. */
PCRGATE_API void pcrgate_log_openssl(const char *func, const char *what);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
PCRGATE_API void pcrgate_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes hex (either case, no separators, even length) into out; writes *outlen on success. */
PCRGATE_API int pcrgate_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *outlen);

/* The two base64 alphabets of RFC 4648: standard (section 4) and URL-safe (section 5). */
enum { PCRGATE_BASE64_STD = 0, PCRGATE_BASE64_URL = 1 };
/*
 * Strict base64 of the n characters at s into out (cap bytes); writes *outlen on success.
 * PCRGATE_BASE64_STD text is padded with '=' to a multiple of 4 characters, PCRGATE_BASE64_URL
 * text is unpadded; no whitespace; bits left over in the last group must be zero, so each byte
 * string has one text. The whole text is checked before out is written. A bad text:
 * PCRGATE_ERR_FORMAT with the offending character's position as the offset (n for a length no
 * text has); more than cap bytes: PCRGATE_ERR_LIMIT. ei's message has no subject ("is not base64
 * (character 3)", "holds 40 bytes (at most 32)") so that callers can name what was decoded.
 */
PCRGATE_API int pcrgate_base64_decode(const char *s, size_t n, int alphabet, uint8_t *out, size_t cap,
				      size_t *outlen, pcrgate_errinfo *ei);

/*
 * Reads a whole regular file of at most max bytes; *buf is malloc'd (NUL-terminated
 * one past *len) and written only on success. Too large: PCRGATE_ERR_LIMIT.
 */
PCRGATE_API int pcrgate_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, pcrgate_errinfo *ei);

/*
 * Replaces path atomically: writes a temporary file in the same directory, fsyncs
 * it, renames it over path and fsyncs the directory. A crash leaves either the old
 * or the new content, never a mix. mode is used for a new file.
 */
PCRGATE_API int pcrgate_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode,
					  pcrgate_errinfo *ei);

/* Constant-time equality of two byte strings of the same length; 1 when equal. */
PCRGATE_API int pcrgate_ct_equal(const void *a, const void *b, size_t len);
/* Writes the low n bytes of v (n at most 8) to out, most significant first (big-endian). */
PCRGATE_API void pcrgate_store_be(uint8_t *out, uint64_t v, size_t n);

/* 1 when the len bytes at s are a date YYYY-MM-DD (year 1970 or later) that the Gregorian calendar has. */
PCRGATE_API int pcrgate_date_valid(const char *s, size_t len);

/*
 * Loads a key through OpenSSL's OSSL_STORE: a PEM/DER file or a provider URI (pkcs11:,
 * handle:, ...). want_private: the private key (a passphrase is asked on the terminal); else a
 * public key, also taken from a certificate. Messages name the URI without its query (which
 * may hold a PIN). *out (an EVP_PKEY, the caller's to free) only on success.
 */
struct evp_pkey_st;
PCRGATE_API int pcrgate_key_load(const char *uri, int want_private, struct evp_pkey_st **out, pcrgate_errinfo *ei);

/*
 * A key's file name or URI as messages show it: without a URI's query ("?...", which may hold
 * a PIN), cut to fit out (cap > 0). Returns 1 when a query was cut off, else 0.
 */
PCRGATE_API int pcrgate_key_uri_shown(const char *uri, char *out, size_t cap);

/*
 * Replaces path atomically like pcrgate_file_write_atomic, with content streamed by write_fn
 * into the temporary file's descriptor fd (write_fn returns 0 or a negative PCRGATE_ERR_* after
 * setting ei); then fsync, rename over path, fsync of the directory. On failure path is
 * untouched and the temporary file removed. mode is the new file's mode.
 */
typedef int (*pcrgate_file_write_fn)(void *ctx, int fd, pcrgate_errinfo *ei);
PCRGATE_API int pcrgate_file_write_atomic_fn(const char *path, unsigned mode, pcrgate_file_write_fn write_fn,
					     void *ctx, pcrgate_errinfo *ei);
/*
 * Creates path, which must not exist (nor be a link), holding len bytes with mode whatever the
 * umask, synced; the write is a tearable fault point. Not atomic: for a file in a directory
 * that is renamed into place, or removed, as a whole afterwards.
 */
PCRGATE_API int pcrgate_file_create(const char *path, const uint8_t *data, size_t len, unsigned mode,
				    pcrgate_errinfo *ei);
/* Writes all len bytes to fd (retrying short writes and EINTR); 0, or -1 with errno set. */
PCRGATE_API int pcrgate_write_all(int fd, const void *buf, size_t len);
/* fsyncs the directory path (so that an entry created, renamed or removed in it is durable). */
PCRGATE_API int pcrgate_fsync_dir(const char *path, pcrgate_errinfo *ei);
/* fsyncs the directory that holds path (its name up to the last '/', "." without one). */
PCRGATE_API int pcrgate_fsync_parent(const char *path, pcrgate_errinfo *ei);

/*
 * The unsigned decimal at *p: one or more digits (no blank, sign or base prefix), at most max;
 * advances *p past them. PCRGATE_ERR_FORMAT when *p is not a digit, PCRGATE_ERR_LIMIT when the
 * value is above max (also past 64 bits). *p and *out change only on success.
 */
PCRGATE_API int pcrgate_parse_decimal(const char **p, uint64_t max, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
