/*
 * pcrgate: TCG PC Client measured-boot event logs. Parses both formats (legacy SHA-1
 * TCG_PCR_EVENT logs and crypto-agile logs: a Spec ID event, then TCG_PCR_EVENT2
 * events), replays them into PCR values, describes event data for display, and
 * writes crypto-agile logs for the boot code. docs/eventlog.md has the rules.
 */
#ifndef PCRGATE_EVENTLOG_H
#define PCRGATE_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hard caps on an untrusted log; anything beyond them is refused with PCRGATE_ERR_LIMIT. */
#define PCRGATE_EVENTLOG_MAX_SIZE (16u * 1024 * 1024)    /* whole log, bytes */
#define PCRGATE_EVENTLOG_MAX_EVENTS 100000u              /* events, Spec ID event included */
#define PCRGATE_EVENTLOG_MAX_EVENT_DATA (1024u * 1024)   /* one event's data, bytes */
#define PCRGATE_EVENTLOG_MAX_ALGS 16u                    /* algorithms in the Spec ID event */

/* PCR index of events that belong to no PCR (Windows records some); never replayed. */
#define PCRGATE_EVENTLOG_NO_PCR 0xFFFFFFFFu

/* Event types of the TCG PC Client Platform Firmware Profile. */
#define PCRGATE_EV_PREBOOT_CERT 0x00000000u
#define PCRGATE_EV_POST_CODE 0x00000001u
#define PCRGATE_EV_UNUSED 0x00000002u
#define PCRGATE_EV_NO_ACTION 0x00000003u
#define PCRGATE_EV_SEPARATOR 0x00000004u
#define PCRGATE_EV_ACTION 0x00000005u
#define PCRGATE_EV_EVENT_TAG 0x00000006u
#define PCRGATE_EV_S_CRTM_CONTENTS 0x00000007u
#define PCRGATE_EV_S_CRTM_VERSION 0x00000008u
#define PCRGATE_EV_CPU_MICROCODE 0x00000009u
#define PCRGATE_EV_PLATFORM_CONFIG_FLAGS 0x0000000Au
#define PCRGATE_EV_TABLE_OF_DEVICES 0x0000000Bu
#define PCRGATE_EV_COMPACT_HASH 0x0000000Cu
#define PCRGATE_EV_IPL 0x0000000Du
#define PCRGATE_EV_IPL_PARTITION_DATA 0x0000000Eu
#define PCRGATE_EV_NONHOST_CODE 0x0000000Fu
#define PCRGATE_EV_NONHOST_CONFIG 0x00000010u
#define PCRGATE_EV_NONHOST_INFO 0x00000011u
#define PCRGATE_EV_OMIT_BOOT_DEVICE_EVENTS 0x00000012u
#define PCRGATE_EV_EFI_EVENT_BASE 0x80000000u
#define PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define PCRGATE_EV_EFI_VARIABLE_BOOT 0x80000002u
#define PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define PCRGATE_EV_EFI_BOOT_SERVICES_DRIVER 0x80000004u
#define PCRGATE_EV_EFI_RUNTIME_SERVICES_DRIVER 0x80000005u
#define PCRGATE_EV_EFI_GPT_EVENT 0x80000006u
#define PCRGATE_EV_EFI_ACTION 0x80000007u
#define PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB 0x80000008u
#define PCRGATE_EV_EFI_HANDOFF_TABLES 0x80000009u
#define PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB2 0x8000000Au
#define PCRGATE_EV_EFI_HANDOFF_TABLES2 0x8000000Bu
#define PCRGATE_EV_EFI_VARIABLE_BOOT2 0x8000000Cu
#define PCRGATE_EV_EFI_GPT_EVENT2 0x8000000Du
#define PCRGATE_EV_EFI_HCRTM_EVENT 0x80000010u
#define PCRGATE_EV_EFI_VARIABLE_AUTHORITY 0x800000E0u
#define PCRGATE_EV_EFI_SPDM_FIRMWARE_BLOB 0x800000E1u
#define PCRGATE_EV_EFI_SPDM_FIRMWARE_CONFIG 0x800000E2u
#define PCRGATE_EV_EFI_SPDM_DEVICE_POLICY 0x800000E3u
#define PCRGATE_EV_EFI_SPDM_DEVICE_AUTHORITY 0x800000E4u

/* Log formats. */
enum {
	PCRGATE_EVENTLOG_SHA1 = 1,         /* TCG_PCR_EVENT only, one SHA-1 digest per event */
	PCRGATE_EVENTLOG_CRYPTO_AGILE = 2, /* Spec ID event, then TCG_PCR_EVENT2 */
};

typedef struct pcrgate_eventlog pcrgate_eventlog; /* a parsed log; owns a copy of its bytes */
typedef struct pcrgate_event pcrgate_event;       /* one event, borrowed from its log */

/*
 * Parses a whole log of len bytes (the log keeps its own copy). Every failure sets ei
 * with the byte offset where the problem was found and what was wrong. *out is
 * written only on success.
 */
PCRGATE_API int pcrgate_eventlog_parse(const uint8_t *buf, size_t len, pcrgate_eventlog **out,
				       pcrgate_errinfo *ei);
PCRGATE_API void pcrgate_eventlog_free(pcrgate_eventlog **log);

/*
 * Replays the log: for every bank the log carries that pcrgate knows (sha1, sha256,
 * sha384, sha512, sm3_256), the final value of each PCR that at least one event
 * extends; nothing else. EV_NO_ACTION events and events at PCRGATE_EVENTLOG_NO_PCR
 * extend nothing; PCR 0 starts at the StartupLocality or H-CRTM value.
 */
PCRGATE_API int pcrgate_eventlog_replay(const pcrgate_eventlog *log, pcrgate_pcrs **out, pcrgate_errinfo *ei);

/* PCRGATE_EVENTLOG_SHA1 or PCRGATE_EVENTLOG_CRYPTO_AGILE; 0 for NULL. */
PCRGATE_API int pcrgate_eventlog_format(const pcrgate_eventlog *log);
/* Number of events, the crypto-agile Spec ID event (event 0) included. */
PCRGATE_API size_t pcrgate_eventlog_count(const pcrgate_eventlog *log);
/* The i-th event in log order, or NULL when i is out of range. */
PCRGATE_API const pcrgate_event *pcrgate_eventlog_event(const pcrgate_eventlog *log, size_t i);
/*
 * The banks the log carries, in the order its events list them: sha1 for a legacy log;
 * for a crypto-agile log the algorithms of its TCG_PCR_EVENT2 events (every event must
 * carry the same ones), or those the Spec ID event declares when there is no such event.
 * May include algorithms pcrgate does not know (they are parsed but not replayed).
 */
PCRGATE_API size_t pcrgate_eventlog_bank_count(const pcrgate_eventlog *log);
PCRGATE_API uint16_t pcrgate_eventlog_bank_alg(const pcrgate_eventlog *log, size_t i);
/* Size in bytes of the firmware's UINTN from the Spec ID event (4 or 8); 0 for a legacy log. */
PCRGATE_API unsigned pcrgate_eventlog_uintn_size(const pcrgate_eventlog *log);
/* Last byte of PCR 0's initial value: the StartupLocality (0 or 3), or 4 after an H-CRTM event. */
PCRGATE_API unsigned pcrgate_eventlog_pcr0_start(const pcrgate_eventlog *log);
/* Bytes of trailing 0x00 or 0xFF fill after the last event, and where it starts (may be NULL). */
PCRGATE_API size_t pcrgate_eventlog_padding(const pcrgate_eventlog *log, size_t *offset);

/* Byte offset of the event in the log. */
PCRGATE_API size_t pcrgate_event_offset(const pcrgate_event *ev);
PCRGATE_API uint32_t pcrgate_event_pcr(const pcrgate_event *ev);
PCRGATE_API uint32_t pcrgate_event_type(const pcrgate_event *ev);
/* 1 when replay extends this event's digests into its PCR, else 0. */
PCRGATE_API int pcrgate_event_extends(const pcrgate_event *ev);
/* The event's digest in bank alg (borrowed; *len gets its size), or NULL when it has none. */
PCRGATE_API const uint8_t *pcrgate_event_digest(const pcrgate_event *ev, uint16_t alg, size_t *len);
/* The event data (borrowed, untrusted: only the digest was extended). */
PCRGATE_API const uint8_t *pcrgate_event_data(const pcrgate_event *ev, size_t *len);

/* The specification's name of an event type ("EV_POST_CODE", ...), or NULL when unknown. */
PCRGATE_API const char *pcrgate_event_type_name(uint32_t type);

/*
 * Describes the event data for display, as one line of valid UTF-8 in out (cap bytes,
 * NUL-terminated, ending in "..." when cut short): EFI variables, image loads with
 * their device path, firmware blobs, strings, separators, Spec ID and StartupLocality
 * events; hex where the data does not decode. For display only: the data is untrusted.
 */
PCRGATE_API int pcrgate_event_describe(const pcrgate_event *ev, char *out, size_t cap);
/* An EFI device path of len bytes as UEFI text ("PciRoot(0x0)/Pci(0x1,0x1)/..."), like describe. */
PCRGATE_API int pcrgate_efi_device_path_text(const uint8_t *path, size_t len, char *out, size_t cap);

/*
 * Writing crypto-agile logs (for the boot code): no allocation, no hashing; each
 * function serializes into out (cap bytes) and returns PCRGATE_ERR_LIMIT when it does
 * not fit. *written gets the bytes written, only on success.
 */
typedef struct pcrgate_eventlog_digest {
	uint16_t alg;          /* a bank pcrgate knows */
	const uint8_t *digest; /* pcrgate_alg_digest_size(alg) bytes */
} pcrgate_eventlog_digest;

/* Size of the Spec ID event for nalgs banks. */
PCRGATE_API size_t pcrgate_eventlog_header_size(size_t nalgs);
/* The Spec ID event (a TCG_PCR_EVENT at PCR 0, EV_NO_ACTION) declaring the banks algs[0..nalgs). */
PCRGATE_API int pcrgate_eventlog_write_header(uint8_t *out, size_t cap, const uint16_t *algs, size_t nalgs,
					      size_t *written);
/* Size of a TCG_PCR_EVENT2 with these banks and data_len bytes of data; 0 when invalid. */
PCRGATE_API size_t pcrgate_eventlog_event_size(const pcrgate_eventlog_digest *digests, size_t ndigests,
					       size_t data_len);
/* A TCG_PCR_EVENT2: pcr, type, one digest per bank (same banks and order as the header), data. */
PCRGATE_API int pcrgate_eventlog_write_event(uint8_t *out, size_t cap, uint32_t pcr, uint32_t type,
					     const pcrgate_eventlog_digest *digests, size_t ndigests,
					     const uint8_t *data, size_t data_len, size_t *written);

#ifdef __cplusplus
}
#endif
#endif
