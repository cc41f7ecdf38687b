/*
 * pcrgate-boot, the boot core's Linux host port (internal): its settings, and the port
 * context that connects the core to files and a TPM. Slots are directories, the boot
 * state is one small file holding the record's two copies, the TPM is reached through a
 * TCTI, manifests are checked with OpenSSL CMS, and the event log is a file.
 * docs/boot.md ("The Linux host port") describes the files and settings.
 */
#ifndef PCRGATE_BOOT_HOST_H
#define PCRGATE_BOOT_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "boot/core.h"
#include "pcrgate/common.h"
#include "pcrgate/tpm.h"

/* Defaults; each can be changed in the config file or by an option (docs/boot.md). */
#define HOST_DEFAULT_STATE "/var/lib/pcrgate/boot/state"
#define HOST_DEFAULT_SLOTS "/var/lib/pcrgate/boot/slots"
#define HOST_DEFAULT_EVENTLOG "/run/pcrgate/boot-eventlog.bin"
#define HOST_DEFAULT_TRUST "/etc/pcrgate/trust/root.pem"
#define HOST_DEFAULT_RUN_DIR "/run/pcrgate/boot"
#define HOST_DEFAULT_COUNTER_INDEX PCRGATE_TPM_DEFAULT_COUNTER_INDEX

#define HOST_PATH_MAX 4096
/* Each copy of the boot-state record sits at the start of its own 4 KiB region of the file. */
#define HOST_STATE_REGION 4096
/* Image bytes read (and hashed) per image_read call. */
#define HOST_CHUNK (1024 * 1024)
/* The largest manifest.sig accepted. */
#define HOST_SIG_MAX (64 * 1024)

/* Environment variable for fault injection in tests; see host_fault_parse(). */
#define HOST_FAULT_ENV "PCRGATE_BOOT_FAULT"

/* Settings, from defaults, the config file and options (in rising precedence). */
struct host_config {
	char config[HOST_PATH_MAX]; /* the config file that was read, or "" */
	int config_named;           /* named by --config or PCRGATE_CONFIG (then pass it on) */
	char state[HOST_PATH_MAX];
	char slots[HOST_PATH_MAX];
	char eventlog[HOST_PATH_MAX];
	char trust[HOST_PATH_MAX];
	char run_dir[HOST_PATH_MAX]; /* where the verified images are handed to the next stage */
	char compatible[PCRGATE_MANIFEST_STRING_MAX + 1]; /* "" when unset: no hardware check */
	char tcti[PCRGATE_TCTI_MAX];                       /* "" when unset: the library chooses */
	uint32_t counter_index;
	int counter_absent_ok;
};

/* The options of the command line; NULL means not given. */
struct host_options {
	const char *config, *state, *slots, *eventlog, *trust, *run_dir, *compatible, *tcti, *counter_index;
};

/* Fills cfg from defaults, the config file and opts. */
int host_config_resolve(const struct host_options *opts, struct host_config *cfg, pcrgate_errinfo *ei);

/* Fault injection for the power-cut tests: before (cut) or in the middle of (torn) a state write. */
enum host_fault_kind { HOST_FAULT_NONE = 0, HOST_FAULT_CUT = 1, HOST_FAULT_TORN = 2 };

struct host_fault {
	enum host_fault_kind kind;
	unsigned at; /* the state write of this process it hits, from 1 */
};

/* Reads PCRGATE_BOOT_FAULT: unset, "cut:K" or "torn:K". */
int host_fault_parse(struct host_fault *fault, pcrgate_errinfo *ei);

/* What one run did, for `pcrgate-boot boot --stats` and the benchmark. */
struct host_stats {
	unsigned tpm_commands;  /* TPM commands this process sent */
	unsigned counter_reads; /* counter_read calls */
	unsigned extends;       /* pcr_extend calls */
	unsigned state_writes;
	uint64_t hashed_bytes; /* bytes through hash_update */
};

/*
 * An image the core verified (image_close(1)): a memfd sealed against any change, holding
 * exactly the bytes that were hashed, kept until it is handed to the next stage.
 */
struct host_image {
	int fd; /* -1 when this entry is free */
	unsigned slot;
	char name[PCRGATE_MANIFEST_NAME_MAX];
};

struct host_port {
	struct pcrgate_boot_port port; /* port.ctx points back here */
	const struct host_config *cfg;
	struct host_stats stats;
	struct host_fault fault;

	int state_fd;   /* -1 when the file cannot be opened; reads find nothing */
	int state_rw;   /* state_fd is writable */
	int slots_fd;   /* the slots directory; -1 when it cannot be opened (a platform fault) */
	int slots_errno;

	/* The TPM and its active banks (read once, on the first extend). */
	pcrgate_tpm *tpm;
	uint16_t banks[PCRGATE_MAX_BANKS];
	size_t nbanks;
	int log_fd; /* the event log, opened on the first extend */

	/* Hashing and image streaming. */
	void *md_ctx;   /* EVP_MD_CTX */
	void *md;       /* EVP_MD fetched for md_alg */
	uint16_t md_alg;
	int image_fd;   /* the slot's image file being read */
	int copy_fd;    /* the memfd every byte read is copied into, and handed out from */
	uint64_t image_left; /* bytes the manifest still promises */
	unsigned image_slot;
	char image_name[PCRGATE_MANIFEST_NAME_MAX];
	uint8_t *chunk; /* HOST_CHUNK bytes */
	struct host_image kept[PCRGATE_MANIFEST_MAX_IMAGES];

	/* The private directory the booted slot's images are written to for the next stage. */
	int pub_fd; /* -1 until host_images_prepare */
	int published;
	char pub_dir[HOST_PATH_MAX];

	void *trust_store; /* struct pcrgate_truststore, loaded on the first signature check */
};

/*
 * Prepares the port: opens and locks the boot-state file (exclusively when writable is set)
 * and the slots directory. Neither failure is fatal here: the core then finds no state or
 * no slots and reports it. The TPM is opened separately, only for a boot.
 */
int host_port_init(struct host_port *hp, const struct host_config *cfg, int writable, pcrgate_errinfo *ei);
void host_port_free(struct host_port *hp);

/* Connects to the TPM (for a boot). */
int host_port_open_tpm(struct host_port *hp, pcrgate_errinfo *ei);

/*
 * Makes the private directory for this boot's images: cfg->run_dir is created when missing
 * (mode 0700) and must belong to this user or root and be writable by nobody else; in it a
 * new directory (mkdtemp, 0700). Call before pcrgate_boot_run, so that a run directory that
 * cannot be used stops the boot before anything is measured. CONFIG for an unsafe run
 * directory, IO when it cannot be made.
 */
int host_images_prepare(struct host_port *hp, pcrgate_errinfo *ei);

/*
 * Writes the kept (verified, sealed) copies of every image of manifest m of slot into the
 * private directory, each a new file of mode 0400 named by its manifest name, and drops
 * the copies. On failure nothing is left in the directory, and the directory is removed.
 */
int host_images_publish(struct host_port *hp, unsigned slot, const struct pcrgate_manifest *m, pcrgate_errinfo *ei);

/* The absolute path of a published image, as the next boot stage gets it. */
int host_image_path(const struct host_port *hp, const char *name, char *out, size_t cap);

/*
 * Reads a whole regular file of a slot (not a symbolic link) of at most cap bytes. Verdicts
 * about the slot: NOT_FOUND (missing), FORMAT (a link or not a regular file), LIMIT (too
 * large); anything else is a platform fault.
 */
int host_slot_read(struct host_port *hp, unsigned slot, const char *name, uint8_t *buf, size_t cap, size_t *len);

/* The port functions, one file each: files and hashing, signatures, TPM. */
void host_port_files(struct pcrgate_boot_port *port);
int host_manifest_verify(void *ctx, unsigned slot, const uint8_t *manifest, size_t len);
int host_pcr_extend(void *ctx, uint32_t pcr, uint32_t event_type, const uint8_t *hashed, size_t hashed_len,
		    const uint8_t *event, size_t event_len);
int host_counter_read(void *ctx, uint64_t *value);
void host_verify_free(struct host_port *hp);

#endif
