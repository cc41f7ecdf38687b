/*
 * pcrgate: the PCR map, shared by the measuring side (boot/) and the predicting and
 * verifying side (verifier/, tools/). Every PCR index and event type pcrgate's boot
 * extension uses is named here and nowhere else; docs/pcr-map.md describes each event
 * byte by byte. Macros only and freestanding-safe, so a bootloader port can include it.
 *
 * A platform may override a value by defining it before this header is included (for
 * example with -D); the checks at the end reject maps that cannot work.
 */
#ifndef PCRGATE_PCR_MAP_H
#define PCRGATE_PCR_MAP_H

/* PCRs 0-7 belong to the platform firmware (TCG PC Client / EBBR); pcrgate never extends them. */
#ifndef PCRGATE_PCR_FIRMWARE_FIRST
#define PCRGATE_PCR_FIRMWARE_FIRST 0
#endif
#ifndef PCRGATE_PCR_FIRMWARE_LAST
#define PCRGATE_PCR_FIRMWARE_LAST 7
#endif

/* The images the boot extension hands control to: kernel, initrd, device tree (as U-Boot does). */
#ifndef PCRGATE_PCR_BOOT_IMAGES
#define PCRGATE_PCR_BOOT_IMAGES 8
#endif

/* The slot identity and its signed manifest: slot, version, security version, manifest digest. */
#ifndef PCRGATE_PCR_BOOT_SLOT
#define PCRGATE_PCR_BOOT_SLOT 9
#endif

/* The same sets as bit masks (bit n is PCR n), for PCR selections. */
#define PCRGATE_PCR_MASK_FIRMWARE \
	(((1UL << (PCRGATE_PCR_FIRMWARE_LAST + 1)) - 1) & ~((1UL << PCRGATE_PCR_FIRMWARE_FIRST) - 1))
#define PCRGATE_PCR_MASK_BOOT ((1UL << PCRGATE_PCR_BOOT_IMAGES) | (1UL << PCRGATE_PCR_BOOT_SLOT))

/*
 * TCG event types (TCG PC Client Platform Firmware Profile, "Event types"), spelled exactly
 * as pcrgate/eventlog.h spells them, so the two headers can be included together.
 */
#ifndef PCRGATE_EV_SEPARATOR
#define PCRGATE_EV_SEPARATOR 0x00000004u
#endif
#ifndef PCRGATE_EV_IPL
#define PCRGATE_EV_IPL 0x0000000Du
#endif

/*
 * The event type of each boot-extension event. EV_IPL is the type the PC Client spec gives
 * to measurements made by the initial program loader, and the one GRUB, shim and
 * systemd-stub use on PCRs 8 and 9; tpm2_eventlog shows its data as text and, on PCR 8,
 * checks the digest against it. EV_SEPARATOR closes the boot extension's PCRs, as firmware
 * closes PCRs 0-7.
 */
#ifndef PCRGATE_EVENT_SLOT
#define PCRGATE_EVENT_SLOT PCRGATE_EV_IPL
#endif
#ifndef PCRGATE_EVENT_IMAGE
#define PCRGATE_EVENT_IMAGE PCRGATE_EV_IPL
#endif
#ifndef PCRGATE_EVENT_SEPARATOR
#define PCRGATE_EVENT_SEPARATOR PCRGATE_EV_SEPARATOR
#endif

/*
 * Event data of the EV_IPL events is "LABEL FIELDS\0"; the extended digest covers FIELDS
 * only (the bytes after the first space, without the NUL), the convention of GRUB's
 * EV_IPL events. The labels are informational: a verifier interprets FIELDS alone.
 */
#define PCRGATE_EVENT_LABEL_SLOT "pcrgate.slot:"
#define PCRGATE_EVENT_LABEL_IMAGE "pcrgate.image:"

/* Separator event data: a 32-bit little-endian value, 0 normally and 1 after an error. */
#define PCRGATE_SEPARATOR_OK 0x00000000u
#define PCRGATE_SEPARATOR_ERROR 0x00000001u

#if PCRGATE_PCR_BOOT_IMAGES == PCRGATE_PCR_BOOT_SLOT
#error "PCRGATE_PCR_BOOT_IMAGES and PCRGATE_PCR_BOOT_SLOT must differ"
#endif
#if PCRGATE_PCR_BOOT_IMAGES > 23 || PCRGATE_PCR_BOOT_SLOT > 23
#error "the boot extension's PCRs must exist in a PC Client TPM (0-23)"
#endif
#if (PCRGATE_PCR_BOOT_IMAGES >= PCRGATE_PCR_FIRMWARE_FIRST && PCRGATE_PCR_BOOT_IMAGES <= PCRGATE_PCR_FIRMWARE_LAST) || \
	(PCRGATE_PCR_BOOT_SLOT >= PCRGATE_PCR_FIRMWARE_FIRST && PCRGATE_PCR_BOOT_SLOT <= PCRGATE_PCR_FIRMWARE_LAST)
#error "the boot extension must not extend the firmware's PCRs"
#endif

#endif
