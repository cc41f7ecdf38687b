/*
 * pcrgate boot core: builds the boot extension's event data (layout in docs/pcr-map.md).
 * Text fields after a label, so tpm2_eventlog shows them and checks their digest the way
 * it checks GRUB's EV_IPL events; the labels themselves are never digested.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bootstate.h"
#include "measure.h"
#include "pcrgate/pcr_map.h"
#include "util.h"

/* Starts "LABEL " and returns the offset where the digested fields begin. */
static size_t start_labelled(struct boot_out *o, const char *label)
{
	boot_out_str(o, label);
	boot_out_bytes(o, " ", 1);
	return o->len;
}

/* Ends with the NUL that is logged but not digested, and fills in ev. */
static int finish_labelled(struct boot_out *o, size_t hashed_off, uint32_t pcr, uint32_t type,
			   struct pcrgate_boot_event *ev)
{
	size_t hashed_len = o->len - hashed_off;

	boot_out_bytes(o, "", 1);
	if (o->overflow)
		return PCRGATE_ERR_LIMIT;
	ev->pcr = pcr;
	ev->type = type;
	ev->len = o->len;
	ev->hashed_off = hashed_off;
	ev->hashed_len = hashed_len;
	return PCRGATE_OK;
}

int pcrgate_boot_event_slot(unsigned slot, const struct pcrgate_manifest *m, const uint8_t manifest_sha256[32],
			    struct pcrgate_boot_event *ev)
{
	struct pcrgate_boot_event e;
	struct boot_out o;
	size_t off;
	int r;

	if (slot >= PCRGATE_BOOT_SLOTS || m == NULL || manifest_sha256 == NULL || ev == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	boot_out_init(&o, e.data, sizeof(e.data));
	off = start_labelled(&o, PCRGATE_EVENT_LABEL_SLOT);
	boot_out_str(&o, "slot=");
	boot_out_str(&o, pcrgate_boot_slot_name(slot));
	boot_out_str(&o, " version=");
	boot_out_bytes(&o, m->version, boot_strnlen(m->version, PCRGATE_MANIFEST_STRING_MAX));
	boot_out_str(&o, " security_version=");
	boot_out_u64(&o, m->security_version);
	boot_out_str(&o, " manifest_sha256=");
	boot_out_hex(&o, manifest_sha256, 32);
	r = finish_labelled(&o, off, PCRGATE_PCR_BOOT_SLOT, PCRGATE_EVENT_SLOT, &e);
	if (r != PCRGATE_OK)
		return r;
	*ev = e;
	return PCRGATE_OK;
}

int pcrgate_boot_event_image(const struct pcrgate_manifest_image *img, struct pcrgate_boot_event *ev)
{
	struct pcrgate_boot_event e;
	struct boot_out o;
	size_t off;
	int r;

	if (img == NULL || ev == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	boot_out_init(&o, e.data, sizeof(e.data));
	off = start_labelled(&o, PCRGATE_EVENT_LABEL_IMAGE);
	boot_out_str(&o, "image=");
	boot_out_bytes(&o, img->name, boot_strnlen(img->name, PCRGATE_MANIFEST_NAME_MAX - 1));
	boot_out_str(&o, " size=");
	boot_out_u64(&o, img->size);
	boot_out_str(&o, " sha256=");
	boot_out_hex(&o, img->sha256, sizeof(img->sha256));
	r = finish_labelled(&o, off, PCRGATE_PCR_BOOT_IMAGES, PCRGATE_EVENT_IMAGE, &e);
	if (r != PCRGATE_OK)
		return r;
	*ev = e;
	return PCRGATE_OK;
}

void pcrgate_boot_event_separator(uint32_t pcr, uint32_t value, struct pcrgate_boot_event *ev)
{
	ev->pcr = pcr;
	ev->type = PCRGATE_EVENT_SEPARATOR;
	ev->data[0] = (uint8_t)value;
	ev->data[1] = (uint8_t)(value >> 8);
	ev->data[2] = (uint8_t)(value >> 16);
	ev->data[3] = (uint8_t)(value >> 24);
	ev->len = 4;
	ev->hashed_off = 0;
	ev->hashed_len = 4;
}

int pcrgate_boot_events(unsigned slot, const struct pcrgate_manifest *m, const uint8_t manifest_sha256[32],
			struct pcrgate_boot_event *events, size_t cap, size_t *n)
{
	size_t count = 0;
	unsigned i;
	int r;

	if (m == NULL || events == NULL || n == NULL || m->n_images > PCRGATE_MANIFEST_MAX_IMAGES)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (cap < 1 + (size_t)m->n_images + 2)
		return PCRGATE_ERR_LIMIT;
	r = pcrgate_boot_event_slot(slot, m, manifest_sha256, &events[count++]);
	if (r != PCRGATE_OK)
		return r;
	for (i = 0; i < m->n_images; i++) {
		r = pcrgate_boot_event_image(&m->images[i], &events[count++]);
		if (r != PCRGATE_OK)
			return r;
	}
	pcrgate_boot_event_separator(PCRGATE_PCR_BOOT_IMAGES, PCRGATE_SEPARATOR_OK, &events[count++]);
	pcrgate_boot_event_separator(PCRGATE_PCR_BOOT_SLOT, PCRGATE_SEPARATOR_OK, &events[count++]);
	*n = count;
	return PCRGATE_OK;
}
