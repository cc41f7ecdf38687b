/*
 * pcrgate: EFI device paths as text, following the UEFI specification's "Device Path
 * Text Representation" for the node types firmware logs carry (PCI, ACPI, SATA, NVMe,
 * USB, MAC, hard-drive partitions, file paths, firmware volumes, ...). Unknown nodes
 * print as Path(type,subtype,hex). The path is untrusted: every node is bounded.
 */
#include "config.h"

#include <string.h>

#include "pcrgate/eventlog.h"

#include "eventlog_text.h"
#include "reader.h"

#define DP_MAX_NODES 64

/* Node types and subtypes (UEFI specification, "Device Path Protocol"). */
enum { DP_HW = 1, DP_ACPI = 2, DP_MSG = 3, DP_MEDIA = 4, DP_BBS = 5, DP_END = 0x7F };

static void vendor_node(struct sb *s, const char *name, struct reader *r)
{
	const uint8_t *g;

	if (reader_bytes(r, 16, &g) < 0)
		return;
	sb_printf(s, "%s(", name);
	sb_guid(s, g);
	if (r->left > 0) {
		sb_str(s, ",");
		sb_hex(s, r->p, r->left, 32);
	}
	sb_str(s, ")");
}

static int hw_node(struct sb *s, uint8_t sub, struct reader *r)
{
	uint8_t a, b;
	uint32_t v;
	uint64_t x, y;

	switch (sub) {
	case 1:
		if (reader_u8(r, &a) < 0 || reader_u8(r, &b) < 0)
			return -1;
		sb_printf(s, "Pci(0x%x,0x%x)", b, a);
		return 0;
	case 2:
		if (reader_u8(r, &a) < 0)
			return -1;
		sb_printf(s, "PcCard(0x%x)", a);
		return 0;
	case 3:
		if (reader_u32le(r, &v) < 0 || reader_u64le(r, &x) < 0 || reader_u64le(r, &y) < 0)
			return -1;
		sb_printf(s, "MemoryMapped(0x%x,0x%llx,0x%llx)", v, (unsigned long long)x, (unsigned long long)y);
		return 0;
	case 4:
		if (r->left < 16)
			return -1;
		vendor_node(s, "VenHw", r);
		return 0;
	case 5:
		if (reader_u32le(r, &v) < 0)
			return -1;
		sb_printf(s, "Ctrl(0x%x)", v);
		return 0;
	case 6:
		if (reader_u8(r, &a) < 0 || reader_u64le(r, &x) < 0)
			return -1;
		sb_printf(s, "BMC(0x%x,0x%llx)", a, (unsigned long long)x);
		return 0;
	default:
		return -1;
	}
}

static int acpi_node(struct sb *s, uint8_t sub, struct reader *r)
{
	uint32_t hid, uid;

	if (sub == 3) {
		if (reader_u32le(r, &hid) < 0)
			return -1;
		sb_printf(s, "AcpiAdr(0x%x", hid);
		while (reader_u32le(r, &hid) == 0)
			sb_printf(s, ",0x%x", hid);
		sb_str(s, ")");
		return 0;
	}
	if (sub != 1 || reader_u32le(r, &hid) < 0 || reader_u32le(r, &uid) < 0)
		return -1;
	/* EISA ids: "PNP" compressed in the low 16 bits, the product number in the high ones. */
	if (hid == 0x0A0341D0)
		sb_printf(s, "PciRoot(0x%x)", uid);
	else if (hid == 0x0A0841D0)
		sb_printf(s, "PcieRoot(0x%x)", uid);
	else if (hid == 0x060441D0)
		sb_printf(s, "Floppy(0x%x)", uid);
	else if ((hid & 0xFFFF) == 0x41D0)
		sb_printf(s, "Acpi(PNP%04X,0x%x)", hid >> 16, uid);
	else
		sb_printf(s, "Acpi(0x%08x,0x%x)", hid, uid);
	return 0;
}

static int msg_node(struct sb *s, uint8_t sub, struct reader *r)
{
	const uint8_t *b;
	uint8_t u8a, u8b, u8c;
	uint16_t a, c, d;
	uint32_t v;
	uint64_t x, y;

	switch (sub) {
	case 1:
		if (reader_u8(r, &u8a) < 0 || reader_u8(r, &u8b) < 0 || reader_u16le(r, &a) < 0)
			return -1;
		sb_printf(s, "Ata(%s,%s,0x%x)", u8a ? "Secondary" : "Primary", u8b ? "Slave" : "Master", a);
		return 0;
	case 2:
		if (reader_u16le(r, &a) < 0 || reader_u16le(r, &c) < 0)
			return -1;
		sb_printf(s, "Scsi(0x%x,0x%x)", a, c);
		return 0;
	case 3:
		if (reader_u32le(r, &v) < 0 || reader_u64le(r, &x) < 0 || reader_u64le(r, &y) < 0)
			return -1;
		sb_printf(s, "Fibre(0x%llx,0x%llx)", (unsigned long long)x, (unsigned long long)y);
		return 0;
	case 5:
		if (reader_u8(r, &u8a) < 0 || reader_u8(r, &u8b) < 0)
			return -1;
		sb_printf(s, "USB(0x%x,0x%x)", u8a, u8b);
		return 0;
	case 10:
		if (r->left < 16)
			return -1;
		vendor_node(s, "VenMsg", r);
		return 0;
	case 11:
		if (reader_bytes(r, 32, &b) < 0 || reader_u8(r, &u8a) < 0)
			return -1;
		sb_str(s, "MAC(");
		/* Ethernet and IEEE 802 addresses are 6 bytes; others use the whole field. */
		sb_hex(s, b, u8a <= 1 ? 6 : 32, 32);
		sb_printf(s, ",0x%x)", u8a);
		return 0;
	case 12:
		if (reader_skip(r, 4) < 0 || reader_bytes(r, 4, &b) < 0)
			return -1;
		sb_printf(s, "IPv4(%u.%u.%u.%u)", b[0], b[1], b[2], b[3]);
		return 0;
	case 13:
		if (reader_skip(r, 16) < 0 || reader_bytes(r, 16, &b) < 0)
			return -1;
		sb_str(s, "IPv6(");
		sb_hex(s, b, 16, 16);
		sb_str(s, ")");
		return 0;
	case 15:
		if (reader_u16le(r, &a) < 0 || reader_u16le(r, &c) < 0 || reader_u8(r, &u8a) < 0 ||
		    reader_u8(r, &u8b) < 0 || reader_u8(r, &u8c) < 0)
			return -1;
		sb_printf(s, "UsbClass(0x%x,0x%x,0x%x,0x%x,0x%x)", a, c, u8a, u8b, u8c);
		return 0;
	case 16:
		if (reader_u16le(r, &a) < 0 || reader_u16le(r, &c) < 0 || reader_u16le(r, &d) < 0)
			return -1;
		sb_printf(s, "UsbWwid(0x%x,0x%x,0x%x,\"", c, d, a);
		sb_utf16(s, r->p, r->left / 2, 1);
		sb_str(s, "\")");
		return 0;
	case 17:
		if (reader_u8(r, &u8a) < 0)
			return -1;
		sb_printf(s, "Unit(0x%x)", u8a);
		return 0;
	case 18:
		if (reader_u16le(r, &a) < 0 || reader_u16le(r, &c) < 0 || reader_u16le(r, &d) < 0)
			return -1;
		sb_printf(s, "Sata(0x%x,0x%x,0x%x)", a, c, d);
		return 0;
	case 23:
		if (reader_u32le(r, &v) < 0 || reader_bytes(r, 8, &b) < 0)
			return -1;
		sb_printf(s, "NVMe(0x%x,%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X)", v, b[7], b[6], b[5], b[4], b[3],
			  b[2], b[1], b[0]);
		return 0;
	case 24:
		sb_str(s, "Uri(");
		sb_ascii(s, r->p, r->left);
		sb_str(s, ")");
		return 0;
	case 26:
	case 29:
		if (reader_u8(r, &u8a) < 0)
			return -1;
		sb_printf(s, "%s(0x%x)", sub == 26 ? "SD" : "eMMC", u8a);
		return 0;
	default:
		return -1;
	}
}

static int media_node(struct sb *s, uint8_t sub, struct reader *r)
{
	const uint8_t *sig, *g;
	uint8_t fmt, sigtype;
	uint32_t v;
	uint64_t x, y;

	switch (sub) {
	case 1:
		if (reader_u32le(r, &v) < 0 || reader_u64le(r, &x) < 0 || reader_u64le(r, &y) < 0 ||
		    reader_bytes(r, 16, &sig) < 0 || reader_u8(r, &fmt) < 0 || reader_u8(r, &sigtype) < 0)
			return -1;
		if (sigtype == 2) {
			sb_printf(s, "HD(%u,GPT,", v);
			sb_guid(s, sig);
		} else if (sigtype == 1) {
			sb_printf(s, "HD(%u,MBR,0x%08x", v,
				  (unsigned)((uint32_t)sig[0] | ((uint32_t)sig[1] << 8) | ((uint32_t)sig[2] << 16) |
					     ((uint32_t)sig[3] << 24)));
		} else {
			sb_printf(s, "HD(%u,%u,0", v, sigtype);
		}
		sb_printf(s, ",0x%llx,0x%llx)", (unsigned long long)x, (unsigned long long)y);
		return 0;
	case 2:
		if (reader_u32le(r, &v) < 0 || reader_u64le(r, &x) < 0 || reader_u64le(r, &y) < 0)
			return -1;
		sb_printf(s, "CDROM(0x%x,0x%llx,0x%llx)", v, (unsigned long long)x, (unsigned long long)y);
		return 0;
	case 3:
		if (r->left < 16)
			return -1;
		vendor_node(s, "VenMedia", r);
		return 0;
	case 4:
		sb_utf16(s, r->p, r->left / 2, 1);
		return 0;
	case 5:
	case 6:
	case 7:
		if (reader_bytes(r, 16, &g) < 0)
			return -1;
		sb_str(s, sub == 5 ? "Media(" : sub == 6 ? "FvFile(" : "Fv(");
		sb_guid(s, g);
		sb_str(s, ")");
		return 0;
	case 8:
		if (reader_u32le(r, &v) < 0 || reader_u64le(r, &x) < 0 || reader_u64le(r, &y) < 0)
			return -1;
		sb_printf(s, "Offset(0x%llx,0x%llx)", (unsigned long long)x, (unsigned long long)y);
		return 0;
	case 9:
		if (reader_u64le(r, &x) < 0 || reader_u64le(r, &y) < 0 || reader_bytes(r, 16, &g) < 0)
			return -1;
		sb_printf(s, "RamDisk(0x%llx,0x%llx,", (unsigned long long)x, (unsigned long long)y);
		sb_guid(s, g);
		sb_str(s, ")");
		return 0;
	default:
		return -1;
	}
}

static int bbs_node(struct sb *s, uint8_t sub, struct reader *r)
{
	uint16_t type, status;

	if (sub != 1 || reader_u16le(r, &type) < 0 || reader_u16le(r, &status) < 0)
		return -1;
	sb_printf(s, "BBS(0x%x,\"", type);
	sb_ascii(s, r->p, r->left);
	sb_printf(s, "\",0x%x)", status);
	return 0;
}

int el_devpath_text(struct sb *s, const uint8_t *p, size_t len)
{
	struct reader r, body;
	uint8_t type, sub;
	uint16_t nlen;
	size_t nodes = 0, mark;
	const uint8_t *node;
	int first = 1, ok;

	reader_init(&r, p, len);
	while (r.left > 0 && !s->full) {
		node = r.p;
		if (r.left < 4 || (nlen = (uint16_t)(node[2] | (node[3] << 8))) < 4 || nlen > r.left) {
			sb_str(s, first ? "<malformed device path: " : "/<malformed: ");
			sb_hex(s, r.p, r.left, 32);
			sb_str(s, ">");
			return -1;
		}
		type = node[0];
		sub = node[1];
		reader_skip(&r, nlen);
		if (type == DP_END) {
			if (sub == 0xFF)
				return 0;
			sb_str(s, ",");
			first = 1;
			continue;
		}
		if (++nodes > DP_MAX_NODES) {
			sb_str(s, "/...");
			return 0;
		}
		if (!first)
			sb_str(s, "/");
		first = 0;
		reader_init(&body, node + 4, nlen - 4u);
		mark = s->len;
		switch (type) {
		case DP_HW:
			ok = hw_node(s, sub, &body);
			break;
		case DP_ACPI:
			ok = acpi_node(s, sub, &body);
			break;
		case DP_MSG:
			ok = msg_node(s, sub, &body);
			break;
		case DP_MEDIA:
			ok = media_node(s, sub, &body);
			break;
		case DP_BBS:
			ok = bbs_node(s, sub, &body);
			break;
		default:
			ok = -1;
			break;
		}
		/* A node too short for its fields prints raw, like an unknown one. */
		if (ok < 0 && !s->full) {
			s->len = mark;
			s->p[mark] = '\0';
			sb_printf(s, "Path(%u,%u", type, sub);
			if (nlen > 4) {
				sb_str(s, ",");
				sb_hex(s, node + 4, nlen - 4u, 32);
			}
			sb_str(s, ")");
		}
	}
	return 0;
}

int pcrgate_efi_device_path_text(const uint8_t *path, size_t len, char *out, size_t cap)
{
	struct sb s;

	if (out == NULL || cap == 0 || (path == NULL && len > 0))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	sb_init(&s, out, cap);
	el_devpath_text(&s, path, len);
	return PCRGATE_OK;
}
