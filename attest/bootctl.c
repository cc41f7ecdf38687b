/*
 * pcrgate-agent: the boot side of an update. The agent reads pcrgate-boot's settings from
 * the same pcrgate.conf (boot/host/config.c), learns which slot is running from the boot
 * extension's own event log (the PCR 9 slot event of this boot), and changes the boot state
 * only through the pcrgate-boot program (with a time limit), so one program ever writes that
 * record. Also the health check: a configured command, run with a time limit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "boot/host/host.h"
#include "jsonutil.h"
#include "pcrgate/eventlog.h"
#include "slot_event.h"

#define BOOT_LOG_MAX (4u * 1024 * 1024) /* bytes of the boot extension's event log */
#define BOOT_OUT_MAX (64u * 1024)       /* bytes of pcrgate-boot's answer kept */
#define BOOT_TIMEOUT 60u                /* seconds pcrgate-boot may take: a state change is a few writes */
#define ERR_TAIL_MAX 512u               /* bytes of a program's error output kept (its end) */

_Static_assert(PCRGATE_SLOT_EVENT_VERSION_MAX == PCRGATE_MANIFEST_STRING_MAX,
	       "the slot event carries the slot manifest's version");

int agent_boot_settings(const struct agent_config *cfg, struct host_config *host, pcrgate_errinfo *ei)
{
	struct host_options o;

	memset(&o, 0, sizeof(o));
	o.config = cfg->boot_config[0] != '\0' ? cfg->boot_config : NULL;
	return host_config_resolve(&o, host, ei);
}

/* The bank a slot event's digest is checked in: sha256 when the log has it, else its first known bank. */
static uint16_t log_bank(const pcrgate_eventlog *log)
{
	uint16_t alg, first = 0;
	size_t i;

	for (i = 0; i < pcrgate_eventlog_bank_count(log); i++) {
		alg = pcrgate_eventlog_bank_alg(log, i);
		if (alg == PCRGATE_ALG_SHA256)
			return alg;
		if (first == 0 && pcrgate_alg_digest_size(alg) != 0)
			first = alg;
	}
	return first;
}

int agent_running_slot(const struct agent_config *cfg, unsigned *slot, char *version, size_t cap,
		       pcrgate_errinfo *ei)
{
	struct pcrgate_slot_event se, last = {0, "", 0};
	pcrgate_eventlog *log = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	uint16_t bank;
	int r, found = 0;

	if ((r = pcrgate_file_read(cfg->boot_log, BOOT_LOG_MAX, &buf, &len, ei)) != PCRGATE_OK)
		return r == PCRGATE_ERR_NOT_FOUND
			       ? pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
						     "boot_eventlog %s does not exist: was this boot measured by pcrgate-boot?",
						     cfg->boot_log)
			       : r;
	if ((r = pcrgate_eventlog_parse(buf, len, &log, ei)) != PCRGATE_OK)
		goto fail;
	bank = log_bank(log);
	/* The last slot event is this boot's: the log lives on a tmpfs that every reboot empties. */
	for (i = 0; i < pcrgate_eventlog_count(log); i++) {
		r = pcrgate_slot_event_parse(pcrgate_eventlog_event(log, i), bank, &se);
		if (r == PCRGATE_OK) {
			last = se;
			found = 1;
		} else if (r != PCRGATE_ERR_NOT_FOUND) {
			r = pcrgate_errinfo_set(ei, r, pcrgate_event_offset(pcrgate_eventlog_event(log, i)),
						"boot_eventlog %s: its slot event %s", cfg->boot_log,
						r == PCRGATE_ERR_VERIFY        ? "does not match its digest"
						: r == PCRGATE_ERR_UNSUPPORTED ? "has no digest in the log's bank"
									       : "is malformed");
			goto fail;
		}
	}
	r = PCRGATE_OK;
	if (!found) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
					"boot_eventlog %s has no slot event: no slot was booted by pcrgate-boot",
					cfg->boot_log);
		goto fail;
	}
	if (strlen(last.version) >= cap) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the running version is too long");
		goto fail;
	}
	*slot = last.slot;
	memcpy(version, last.version, strlen(last.version) + 1);
fail:
	pcrgate_eventlog_free(&log);
	free(buf);
	return r;
}

/* One of a child's output pipes: what is kept of it (the head, or the tail for error output). */
struct sink {
	int fd;    /* -1 once at its end */
	char *buf; /* NULL: read and dropped */
	size_t cap, used;
	int tail;
};

static void sink_keep(struct sink *s, const char *p, size_t n)
{
	size_t room, drop;

	if (s->buf == NULL || s->cap == 0)
		return;
	room = s->cap - 1 - s->used;
	if (!s->tail) {
		n = n < room ? n : room;
	} else if (n >= s->cap - 1) {
		p += n - (s->cap - 1);
		n = s->cap - 1;
		s->used = 0;
	} else if (n > room) {
		drop = n - room;
		memmove(s->buf, s->buf + drop, s->used - drop);
		s->used -= drop;
	}
	memcpy(s->buf + s->used, p, n);
	s->used += n;
	s->buf[s->used] = '\0';
}

/* Reads what the pipe holds now (it is non-blocking); at its end (or an error) it is closed. */
static void sink_read(struct sink *s)
{
	char chunk[4096];
	ssize_t n;

	while (s->fd >= 0) {
		n = read(s->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close(s->fd);
			s->fd = -1;
			return;
		}
		sink_keep(s, chunk, (size_t)n);
	}
}

static long ms_until(const struct timespec *until)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(until->tv_sec - now.tv_sec) * 1000 + (until->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Runs argv (no shell) with extra environment entries, in a process group of its own: its
 * stdout into out (the first cap - 1 bytes; may be NULL), the end of its stderr into errbuf.
 * Both pipes are read as the data comes (poll), so a child that fills one cannot block. After
 * timeout seconds its whole process group is killed and *status is RUN_TIMED_OUT; else the
 * wait status. A child that exits while something it started still holds a pipe is done.
 */
#define RUN_TIMED_OUT (-1)
static int run(char *const argv[], const char *const *env, unsigned timeout, char *out, size_t cap, char *errbuf,
	       size_t errcap, int *status, pcrgate_errinfo *ei)
{
	struct sink s[2] = {{-1, out, cap, 0, 0}, {-1, errbuf, errcap, 0, 1}};
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, st = 0, timed_out = 0, r = PCRGATE_OK;
	struct timespec until;
	struct pollfd pfd[2];
	pid_t pid, w = 0;
	nfds_t n;
	long left, slice;
	size_t i;

	if (out != NULL && cap > 0)
		out[0] = '\0';
	if (errbuf != NULL && errcap > 0)
		errbuf[0] = '\0';
	fflush(stdout);
	fflush(stderr);
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		if (po[0] >= 0) {
			close(po[0]);
			close(po[1]);
		}
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "pipe: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		close(pe[1]);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(127);
		for (i = 0; env != NULL && env[i] != NULL; i++)
			putenv((char *)env[i]);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	/* Also here: the group exists before any kill, whichever of the two runs first. */
	setpgid(pid, pid);
	close(po[1]);
	close(pe[1]);
	s[0].fd = po[0];
	s[1].fd = pe[0];
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)timeout;
	for (;;) {
		if ((left = ms_until(&until)) <= 0) {
			kill(-pid, SIGKILL);
			timed_out = 1;
			while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
				;
			sink_read(&s[0]);
			sink_read(&s[1]);
			break;
		}
		for (n = 0, i = 0; i < 2; i++)
			if (s[i].fd >= 0) {
				pfd[n].fd = s[i].fd;
				pfd[n].events = POLLIN;
				n++;
			}
		/* In slices: a child that exited is noticed even while a pipe stays open. */
		slice = n > 0 ? 100 : 10;
		(void)poll(pfd, n, (int)(left < slice ? left : slice));
		sink_read(&s[0]);
		sink_read(&s[1]);
		if ((w = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
			continue;
		if (w != 0) {
			sink_read(&s[0]);
			sink_read(&s[1]);
			break;
		}
	}
	for (i = 0; i < 2; i++)
		if (s[i].fd >= 0)
			close(s[i].fd);
	if (w < 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "waiting for %s: %s", argv[0],
					strerror(errno));
	else
		*status = timed_out ? RUN_TIMED_OUT : st;
	return r;
}

/* The last line of a program's error output, for a message; printable ASCII only: it may travel in a report. */
static const char *last_line(char *s)
{
	size_t n = strlen(s), i;
	char *p;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
	p = strrchr(s, '\n');
	p = p != NULL ? p + 1 : s;
	for (i = 0; p[i] != '\0'; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
			p[i] = '?';
	return p;
}

/* pcrgate-boot COMMAND [SLOT] [--tries N] [--json] [--config F]; its stdout in out when given. */
static int boot_run(const struct agent_config *cfg, const char *command, int slot, unsigned tries, int torn,
		    char *out, size_t cap, pcrgate_errinfo *ei)
{
	char slotname[2] = {0, 0}, triestr[16], errbuf[ERR_TAIL_MAX];
	const char *env[] = {torn ? HOST_FAULT_ENV "=torn:1" : NULL, NULL};
	char *argv[10];
	int n = 0, st = 0, r;

	argv[n++] = (char *)cfg->boot_command;
	argv[n++] = (char *)command;
	if (slot >= 0) {
		slotname[0] = (char)('a' + slot);
		argv[n++] = slotname;
	}
	if (tries > 0) {
		snprintf(triestr, sizeof(triestr), "%u", tries);
		argv[n++] = (char *)"--tries";
		argv[n++] = triestr;
	}
	if (out != NULL)
		argv[n++] = (char *)"--json";
	if (cfg->boot_config[0] != '\0') {
		argv[n++] = (char *)"--config";
		argv[n++] = (char *)cfg->boot_config;
	}
	argv[n] = NULL;
	if ((r = run(argv, env, BOOT_TIMEOUT, out, cap, errbuf, sizeof(errbuf), &st, ei)) != PCRGATE_OK)
		return r;
	if (torn) {
		/* The power cut hit pcrgate-boot in the middle of its write: this process goes too. */
		for (;;)
			raise(SIGKILL);
	}
	if (st == RUN_TIMED_OUT)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s %s%s%s: no answer within %u s%s%s",
					   cfg->boot_command, command, slot >= 0 ? " " : "", slotname, BOOT_TIMEOUT,
					   errbuf[0] ? ": " : "", errbuf[0] ? last_line(errbuf) : "");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s %s%s%s failed: %s",
					   cfg->boot_command, command, slot >= 0 ? " " : "", slotname,
					   errbuf[0] ? last_line(errbuf) : "no message");
	return PCRGATE_OK;
}

int agent_boot_change(const struct agent_config *cfg, const char *command, unsigned slot, unsigned tries,
		      pcrgate_errinfo *ei)
{
	char what[64];
	int torn;

	snprintf(what, sizeof(what), "pcrgate-boot %s %c", command, 'a' + (int)slot);
	torn = agent_fault_change(what, 1);
	return boot_run(cfg, command, (int)slot, tries, torn, NULL, 0, ei);
}

int agent_boot_status(const struct agent_config *cfg, json_t **out, pcrgate_errinfo *ei)
{
	char *buf;
	int r;

	if ((buf = malloc(BOOT_OUT_MAX)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	buf[0] = '\0';
	if ((r = boot_run(cfg, "status", -1, 0, 0, buf, BOOT_OUT_MAX, ei)) == PCRGATE_OK)
		r = jsonutil_parse((const uint8_t *)buf, strlen(buf), BOOT_OUT_MAX, out, ei);
	free(buf);
	return r;
}

const char *agent_boot_slot_status(const json_t *status, unsigned slot)
{
	const char name[2] = {(char)('a' + slot), 0};
	const char *s = json_string_value(json_object_get(json_object_get(json_object_get(status, "slots"), name),
							  "status"));

	return s != NULL ? s : "unknown";
}

int agent_health_check(const struct agent_config *cfg, const char *release, unsigned slot, char *reason, size_t cap,
		       pcrgate_errinfo *ei)
{
	char env_release[160], env_slot[32];
	const char *env[] = {env_release, env_slot, NULL};
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cfg->health_check, NULL};
	char errbuf[ERR_TAIL_MAX];
	const char *line;
	int st = 0, r;

	reason[0] = '\0';
	if (cfg->health_check[0] == '\0')
		return PCRGATE_OK;
	snprintf(env_release, sizeof(env_release), "PCRGATE_UPDATE_RELEASE=%s", release);
	snprintf(env_slot, sizeof(env_slot), "PCRGATE_UPDATE_SLOT=%c", 'a' + (int)slot);
	if ((r = run(argv, env, cfg->health_check_timeout, NULL, 0, errbuf, sizeof(errbuf), &st, ei)) != PCRGATE_OK)
		return r;
	/* What the check said last on stderr goes with the reason, into the report. */
	line = last_line(errbuf);
	if (st == RUN_TIMED_OUT)
		snprintf(reason, cap, "health check: no answer within %u s%s%s", cfg->health_check_timeout,
			 line[0] ? ": " : "", line);
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		snprintf(reason, cap, "health check: exit status %d%s%s", WEXITSTATUS(st), line[0] ? ": " : "", line);
	else if (WIFSIGNALED(st))
		snprintf(reason, cap, "health check: killed by signal %d%s%s", WTERMSIG(st), line[0] ? ": " : "",
			 line);
	return PCRGATE_OK;
}
