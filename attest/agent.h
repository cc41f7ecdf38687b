/*
 * pcrgate-agent (internal): the device agent's settings and the operations its command
 * line runs: provisioning, the anti-rollback counter, signed PCR policies and the update
 * key, certification and quotes. docs/agent.md describes what each does in the TPM.
 */
#ifndef PCRGATE_ATTEST_AGENT_H
#define PCRGATE_ATTEST_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <tss2/tss2_esys.h>

#include "boot/bootstate.h" /* PCRGATE_BOOTSTATE_MAX_TRIES bounds update_tries */
#include "pcrgate/common.h"
#include "pcrgate/tpm.h"

#define AGENT_PATH_MAX 4096
#define AGENT_URL_MAX 2048
#define AGENT_GROUP_MAX 128

/* Defaults; each can be changed in the agent's config file (docs/agent.md). */
#define AGENT_DEFAULT_CONFIG "/etc/pcrgate/agent.conf"
#define AGENT_CONFIG_ENV "PCRGATE_AGENT_CONFIG"
#define AGENT_DEFAULT_STATE_DIR "/var/lib/pcrgate/agent"
#define AGENT_DEFAULT_POLICY_KEY "/etc/pcrgate/trust/policy-key.pem"
#define AGENT_DEFAULT_COUNTER_INDEX PCRGATE_TPM_DEFAULT_COUNTER_INDEX
#define AGENT_DEFAULT_SRK_HANDLE 0x81000001u
#define AGENT_DEFAULT_EK_RSA_HANDLE 0x81010001u
#define AGENT_DEFAULT_EK_ECC_HANDLE 0x81010002u
#define AGENT_DEFAULT_AK_HANDLE 0x81000010u
#define AGENT_DEFAULT_UPDATE_KEY_HANDLE 0x81000011u
#define AGENT_DEFAULT_TLS_KEY_HANDLE 0x81000012u
#define AGENT_DEFAULT_FIRMWARE_LOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define AGENT_DEFAULT_BOOT_LOG "/run/pcrgate/boot-eventlog.bin"
#define AGENT_DEFAULT_BOOT_COMMAND "pcrgate-boot"
#define AGENT_DEFAULT_UPDATE_TRIES 3u
#define AGENT_DEFAULT_HEALTH_CHECK_TIMEOUT 300u

/* Files in the state directory. */
#define AGENT_COUNTER_AUTH_FILE "counter.auth" /* the counter's write authValue, mode 0600 */
#define AGENT_LOCK_FILE "lock"                 /* serializes provisioning and counter raises */
#define AGENT_COUNTER_AUTH_SIZE 32
#define AGENT_DEVICE_FILE "device.json"               /* the verifier's device id (enroll) */
#define AGENT_AUTHORIZATION_FILE "authorization.json" /* the last update authorization, mode 0600 */
#define AGENT_CLIENT_CERT_FILE "client-cert.pem"       /* the TLS client certificate the verifier issued */
#define AGENT_UPDATE_FILE "update.json"     /* the update in progress (update.c, commit.c) */
#define AGENT_PENDING_FILE "pending.json"   /* an update waiting for consent */
#define AGENT_APPROVAL_FILE "approval.json" /* the local approval of one bundle */
#define AGENT_DOWNLOAD_DIR "download"       /* a bundle being downloaded, and a delta's base */
#define AGENT_UPDATE_LOCK_FILE "update.lock" /* serializes update, approve and commit */

/* Files the installer writes into a slot besides the ones pcrgate-boot reads. */
#define AGENT_SLOT_POLICY_FILE "pcr-policy.json" /* the release's signed PCR policy, to unwrap while it runs */
#define AGENT_SLOT_RELEASE_FILE "release.json"   /* the release's name, version and end of support */
#define AGENT_SLOT_BUNDLE_HEAD "bundle.head"     /* the bundle's header, manifest and signature */

#define AGENT_HEALTH_CHECK_MAX 1024
enum { AGENT_CONSENT_AUTO = 0, AGENT_CONSENT_WINDOW = 1, AGENT_CONSENT_APPROVE = 2 };

/* Which EKs to provision. */
enum { AGENT_EK_RSA = 1, AGENT_EK_ECC = 2 };

struct agent_config {
	char config[AGENT_PATH_MAX]; /* the file that was read, or "" */
	char tcti[PCRGATE_TCTI_MAX]; /* "" when unset: the library chooses */
	char state_dir[AGENT_PATH_MAX];
	char policy_key[AGENT_PATH_MAX]; /* the vendor's policy public key (file or provider URI) */
	char firmware_log[AGENT_PATH_MAX];
	char boot_log[AGENT_PATH_MAX];
	uint32_t counter_index;
	uint32_t srk_handle, ek_rsa_handle, ek_ecc_handle, ak_handle, update_key_handle, tls_key_handle;
	uint16_t srk_alg; /* TPM2_ALG_RSA or TPM2_ALG_ECC */
	uint16_t ak_alg;
	unsigned eks;        /* AGENT_EK_* */
	uint32_t quote_pcrs; /* bit n: PCR n is quoted, in every active bank */
	/* The verifier (client.c); "" when unset. */
	char verifier_url[AGENT_URL_MAX];
	char verifier_ca[AGENT_PATH_MAX];     /* CA certificate(s) of the verifier's TLS server */
	char verifier_jws_key[AGENT_PATH_MAX]; /* the verifier's ES256 public key (PEM), for authorizations */
	char device_group[AGENT_GROUP_MAX];   /* the group asked for at enrollment */
	/* Updates (update.c, commit.c, bootctl.c). */
	char boot_config[AGENT_PATH_MAX];  /* pcrgate-boot's config file, or "" for its own default */
	char boot_command[AGENT_PATH_MAX]; /* the pcrgate-boot program */
	unsigned update_tries;             /* trial boots armed, 1 to PCRGATE_BOOTSTATE_MAX_TRIES */
	int update_consent;                /* AGENT_CONSENT_* */
	unsigned window_start, window_end; /* the maintenance window, minutes after local midnight */
	char health_check[AGENT_HEALTH_CHECK_MAX]; /* a command for /bin/sh -c, or "" */
	unsigned health_check_timeout;             /* seconds */
	char download_ca[AGENT_PATH_MAX];          /* CA file for https bundle URLs, or "" for the system's */
	unsigned download_connect_timeout, download_timeout, download_min_speed, download_min_speed_time;
};

/* Command-line settings; NULL means not given. */
struct agent_options {
	const char *config, *tcti, *state_dir;
};

/* Defaults, then the config file (--config, $PCRGATE_AGENT_CONFIG, or the default, which may be missing). */
int agent_config_resolve(const struct agent_options *opts, struct agent_config *cfg, pcrgate_errinfo *ei);
/* Opens the TPM the settings name (their tcti, else the library's own choice). */
int agent_open_tpm(const struct agent_config *cfg, pcrgate_tpm **tpm, pcrgate_errinfo *ei);
/* "STATE_DIR/NAME" into out; PCRGATE_ERR_LIMIT, said in ei (may be NULL), when it does not fit. */
int agent_state_path(const struct agent_config *cfg, const char *name, char *out, size_t cap, pcrgate_errinfo *ei);
/* The largest state document the agent reads (device.json, update.json, ...). */
#define AGENT_STATE_DOC_MAX (64u * 1024)
/* The JSON object in STATE_DIR/NAME; PCRGATE_ERR_NOT_FOUND when the file is missing. */
int agent_state_read(const struct agent_config *cfg, const char *name, json_t **out, pcrgate_errinfo *ei);
/* doc to STATE_DIR/NAME atomically (a reader sees the old or the new file), created with mode. */
int agent_state_write(const struct agent_config *cfg, const char *name, const json_t *doc, unsigned mode,
		      pcrgate_errinfo *ei);
/* Removes STATE_DIR/NAME durably (NAME a file directly in STATE_DIR); a missing file is fine. */
int agent_state_remove(const struct agent_config *cfg, const char *name, pcrgate_errinfo *ei);
/* Creates the state directory (mode 0700) when missing and takes its lock; *fd to agent_unlock. */
int agent_lock(const struct agent_config *cfg, int *fd, pcrgate_errinfo *ei);
void agent_unlock(int *fd);

/* ---- Provisioning (provision.c) ---- */

/* What one provisioning run did, step by step, for the report. */
#define AGENT_MAX_STEPS 16
struct agent_step {
	char name[24];   /* "ek-rsa", "srk", "counter", ... */
	uint32_t handle; /* persistent handle or NV index */
	int changed;     /* 1 when this run created or completed it */
	char what[160];  /* what was found or done */
};
struct agent_report {
	size_t count;
	unsigned changed;
	struct agent_step steps[AGENT_MAX_STEPS];
};

/*
 * Provisions the TPM: EKs (and finds their certificates), SRK, anti-rollback counter, AK
 * and update key, each made persistent at its configured handle. Whatever already exists
 * is checked against what would be made; a mismatch is an error naming the handle, and
 * nothing is evicted. So a second run changes nothing and an interrupted run completes.
 */
int agent_provision(pcrgate_tpm *tpm, const struct agent_config *cfg, struct agent_report *rep,
		    pcrgate_errinfo *ei);

/* The agent's objects as JSON (handles, names, public areas, EK certificates, counter). */
int agent_status(pcrgate_tpm *tpm, const struct agent_config *cfg, json_t **out, int *complete,
		 pcrgate_errinfo *ei);

/* ---- Anti-rollback counter (counter.c) ---- */

/* Reads the counter; an index never incremented is PCRGATE_ERR_NOT_FOUND like a missing one. */
int agent_counter_read(ESYS_CONTEXT *esys, uint32_t index, uint64_t *value, pcrgate_errinfo *ei);
/*
 * Raises the counter to exactly target, one TPM2_NV_Increment at a time, reading it before
 * each: already there is success with *steps = 0; above target is PCRGATE_ERR_VERIFY and
 * nothing is written. Holds the state directory's lock.
 */
int agent_counter_raise(pcrgate_tpm *tpm, const struct agent_config *cfg, uint64_t target, uint64_t *before,
			uint64_t *steps, pcrgate_errinfo *ei);

/* ---- Signed policies and the update key (policy_tpm.c) ---- */

/*
 * Decrypts ciphertext (RSA-OAEP-SHA256 to the update key, label AGENT_OAEP_LABEL) with the
 * update key, in a salted, parameter-encrypted policy session that satisfies the signed
 * policy in policy_json: PolicyPCR, PolicyNV, then PolicyAuthorize with the TPM's own
 * check of the vendor's signature. *out (malloc'd, cleared with OPENSSL_clear_free by the
 * caller) gets the plaintext.
 */
int agent_unwrap(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *policy_json, size_t policy_len,
		 const uint8_t *ciphertext, size_t clen, uint8_t **out, size_t *outlen, pcrgate_errinfo *ei);

/* ---- Enrollment: credential activation (activate.c) ---- */

/* The EK that agent_activate uses, and whose public area enrollment sends: RSA when configured, else ECC. */
uint16_t agent_activate_ek_alg(const struct agent_config *cfg);

/*
 * TPM2_ActivateCredential with the AK (cfg->ak_handle) and the EK agent_activate_ek_alg
 * names: blob is the verifier's marshalled TPM2B_ID_OBJECT, secret its marshalled
 * TPM2B_ENCRYPTED_SECRET. The EK is authorized by a policy session satisfying
 * PolicySecret(TPM_RH_ENDORSEMENT) (the TCG EK templates' authPolicy); the response is
 * encrypted in a session salted with the SRK, so the recovered secret never crosses the bus
 * in the clear. *out (malloc'd; the caller frees it with OPENSSL_clear_free) gets the secret.
 * A credential made for another EK or another AK is PCRGATE_ERR_VERIFY.
 */
int agent_activate(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *blob, size_t bloblen,
		   const uint8_t *secret, size_t secretlen, uint8_t **out, size_t *outlen, pcrgate_errinfo *ei);

/* ---- Attestation (evidence.c, certify.c) ---- */

/* TPM2_Quote by the AK over the configured PCRs in every active bank, as one evidence document. */
int agent_quote(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *nonce, size_t nonce_len,
		json_t **out, pcrgate_errinfo *ei);
/* TPM2_Certify of the update key by the AK, with the key's public area, as JSON. */
int agent_certify(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *nonce, size_t nonce_len,
		  json_t **out, pcrgate_errinfo *ei);
/* The same for the key at a persistent handle (the TLS client key); what names it in errors. */
int agent_certify_key(pcrgate_tpm *tpm, const struct agent_config *cfg, uint32_t handle, const char *what,
		      const uint8_t *nonce, size_t nonce_len, json_t **out, pcrgate_errinfo *ei);

/* ---- The verifier client (client.c) ---- */

/* What enrollment did: the device id, and whether the device was enrolled before this run. */
struct agent_enrollment {
	char device_id[128];
	int already;
};

/*
 * Enrolls this TPM with the configured verifier: POST /v1/enroll (EK public area and
 * certificate, AK, the update key's certification), the credential activated in the TPM,
 * POST /v1/enroll/activate; the device id goes to STATE_DIR/device.json (atomically). An
 * enrolled device is left as it is unless force is set.
 */
int agent_enroll(pcrgate_tpm *tpm, const struct agent_config *cfg, int force, struct agent_enrollment *out,
		 pcrgate_errinfo *ei);

/*
 * One attestation: a nonce from the verifier, a quote over it (or over SHA-256(nonce ||
 * report) when report is given, which then travels with the evidence), POST /v1/attest.
 * *response gets the verifier's answer (verdict, reasons, ...). An authorization in it is
 * checked (signature with verifier_jws_key, this device and AK) and saved to
 * STATE_DIR/authorization.json; *authorized is then 1. A "fail" verdict is not an error.
 */
int agent_attest(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *report, size_t report_len,
		 json_t **response, int *authorized, pcrgate_errinfo *ei);
/* NULL when agent_attest's answer is a pass; else the check it failed at ("?" when it names none). */
const char *agent_failed_check(const json_t *response);

/* ---- Updates (update.c, commit.c, bootctl.c; docs/updates.md "Installing an update") ---- */

struct host_config; /* pcrgate-boot's settings (boot/host/host.h) */

/* What update and commit did, for the exit status. */
enum { AGENT_UPDATE_DONE = 0, AGENT_UPDATE_NOTHING = 1, AGENT_UPDATE_DEFERRED = 2, AGENT_UPDATE_FAILED = 3 };

/* pcrgate-boot's settings, from boot_config (or its default) as pcrgate-boot resolves them. */
int agent_boot_settings(const struct agent_config *cfg, struct host_config *host, pcrgate_errinfo *ei);
/* The slot this boot runs and its version: the last PCR 9 slot event of boot_eventlog. */
int agent_running_slot(const struct agent_config *cfg, unsigned *slot, char *version, size_t cap,
		       pcrgate_errinfo *ei);
/* Runs `pcrgate-boot COMMAND SLOT [--tries N]` (mark-empty, set-trial, mark-good, mark-bad). */
int agent_boot_change(const struct agent_config *cfg, const char *command, unsigned slot, unsigned tries,
		      pcrgate_errinfo *ei);
/* `pcrgate-boot status --json`, parsed; and a slot's status in it ("trial", "good", ...). */
int agent_boot_status(const struct agent_config *cfg, json_t **out, pcrgate_errinfo *ei);
const char *agent_boot_slot_status(const json_t *status, unsigned slot);
/* Runs health_check; reason gets why it failed, or "" when it passed (or none is set). */
int agent_health_check(const struct agent_config *cfg, const char *release, unsigned slot, char *reason, size_t cap,
		       pcrgate_errinfo *ei);

/*
 * Attests, and when the verifier authorizes a release, fetches its bundle (bundle_file, or
 * the authorization's URL), verifies it, asks for consent, and installs it into the other
 * slot, armed for a trial boot. *outcome: AGENT_UPDATE_*. Prints what it does.
 */
int agent_update(pcrgate_tpm *tpm, const struct agent_config *cfg, const char *bundle_file, int *outcome,
		 pcrgate_errinfo *ei);
/* Shows the update waiting for approval and approves it (release, when given, must be its). */
int agent_approve(const struct agent_config *cfg, const char *release, pcrgate_errinfo *ei);
/* Commits the update the running slot is trying, or reports its fallback; idempotent. */
int agent_commit(pcrgate_tpm *tpm, const struct agent_config *cfg, int *outcome, pcrgate_errinfo *ei);
/*
 * The report document of an outcome, compact with sorted keys (the bytes the quote binds):
 * release and outcome, and reason, version and end_of_support when not NULL.
 */
int agent_report_text(const char *release, const char *outcome, const char *reason, const char *version,
		      const char *end_of_support, char **text, pcrgate_errinfo *ei);
/* Sends an outcome inside an attestation; the verdict must pass. */
int agent_send_report(pcrgate_tpm *tpm, const struct agent_config *cfg, const char *release, const char *outcome,
		      const char *reason, const char *version, const char *end_of_support, pcrgate_errinfo *ei);
/* Tells on stderr that cmd's report outcome was not delivered (later: pcrgate-agent commit sends it again). */
void agent_report_undelivered(const char *cmd, const char *outcome, int later, const pcrgate_errinfo *why);

/* Takes the lock file NAME in the state directory (created 0700 when missing); *fd to agent_unlock. */
int agent_lock_file(const struct agent_config *cfg, const char *name, int *fd, pcrgate_errinfo *ei);

/* ---- Fault injection, for tests only ---- */

/*
 * PCRGATE_AGENT_FAULT=cut:K kills the process (SIGKILL) just before the K-th change it is
 * about to make (a persistent object, the counter's definition or an increment, a state
 * file's write or rename, a slot file, a pcrgate-boot state change), as a power cut would;
 * torn:K tears the K-th instead when it can be torn (half of a file written and synced, or
 * pcrgate-boot's record half written), else cuts before it; trace:FILE appends one line per
 * change ("K tearable|atomic WHAT") and goes on. The library's writers report their changes
 * through pcrgate_fault_point, which agent_fault_init hooks.
 */
#define AGENT_FAULT_ENV "PCRGATE_AGENT_FAULT"
int agent_fault_init(pcrgate_errinfo *ei);
/* A change that cannot be torn. */
void agent_fault_point(const char *what);
/* A change; 1 when it is to be torn now (the caller tears it and dies). */
int agent_fault_change(const char *what, int tearable);

#endif
