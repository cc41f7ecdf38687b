/*
 * pcrgate-agent: the boot side of an update. The agent reads pcrgate-boot's settings from
 * the same pcrgate.conf (boot/host/config.c), learns which slot is running from the boot
 * extension's own event log (the PCR 9 slot event of this boot), and changes the boot state
 * only through the pcrgate-boot program, so one program ever writes that record. Also the
 * health check: a configured command, run with a time limit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "jsonutil.h"
#include "pcrgate/eventlog.h"
#include "pcrgate/pcr_map.h"

#define BOOT_LOG_MAX (4u * 1024 * 1024) /* bytes of the boot extension's event log */
#define BOOT_OUT_MAX (64u * 1024)       /* bytes of pcrgate-boot's answer kept */
#define SLOT_LABEL "pcrgate.slot: slot="

int agent_boot_settings(const struct agent_config *cfg, struct host_config *host, pcrgate_errinfo *ei)
{
	struct host_options o;

	memset(&o, 0, sizeof(o));
	o.config = cfg->boot_config[0] != '\0' ? cfg->boot_config : NULL;
	return host_config_resolve(&o, host, ei);
}

/* "slot=S version=V ..." of one slot event: the slot and the version. */
static int parse_slot_event(const uint8_t *data, size_t len, unsigned *slot, char *version, size_t cap)
{
	const char *p = (const char *)data + strlen(SLOT_LABEL), *end = (const char *)data + len, *v;
	size_t n;

	if (len < strlen(SLOT_LABEL) + 1 || memcmp(data, SLOT_LABEL, strlen(SLOT_LABEL)) != 0)
		return -1;
	if (*p != 'a' && *p != 'b')
		return -1;
	*slot = (unsigned)(*p - 'a');
	if (end - p < 10 || memcmp(p + 1, " version=", 9) != 0)
		return -1;
	v = p + 10;
	for (n = 0; v + n < end && v[n] != ' ' && v[n] != '\0'; n++)
		;
	if (n == 0 || n >= cap)
		return -1;
	memcpy(version, v, n);
	version[n] = '\0';
	return 0;
}

int agent_running_slot(const struct agent_config *cfg, unsigned *slot, char *version, size_t cap,
		       pcrgate_errinfo *ei)
{
	pcrgate_eventlog *log = NULL;
	const pcrgate_event *ev;
	const uint8_t *data;
	uint8_t *buf = NULL;
	size_t len = 0, i, dlen;
	int r, found = 0;

	if ((r = pcrgate_file_read(cfg->boot_log, BOOT_LOG_MAX, &buf, &len, ei)) != PCRGATE_OK)
		return r == PCRGATE_ERR_NOT_FOUND
			       ? pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
						     "boot_eventlog %s does not exist: was this boot measured by pcrgate-boot?",
						     cfg->boot_log)
			       : r;
	if ((r = pcrgate_eventlog_parse(buf, len, &log, ei)) != PCRGATE_OK)
		goto fail;
	/* The last slot event is this boot's: the log lives on a tmpfs that every reboot empties. */
	for (i = 0; i < pcrgate_eventlog_count(log); i++) {
		ev = pcrgate_eventlog_event(log, i);
		if (pcrgate_event_pcr(ev) != PCRGATE_PCR_BOOT_SLOT || (data = pcrgate_event_data(ev, &dlen)) == NULL)
			continue;
		if (parse_slot_event(data, dlen, slot, version, cap) == 0)
			found = 1;
	}
	if (!found)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
					"boot_eventlog %s has no slot event: no slot was booted by pcrgate-boot",
					cfg->boot_log);
fail:
	pcrgate_eventlog_free(&log);
	free(buf);
	return r;
}

/* Reads fd into buf (cap bytes kept, the rest drained) until EOF. */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t used = 0;
	char scratch[4096];
	ssize_t n;

	for (;;) {
		char *dst = used + 1 < cap ? buf + used : scratch;
		size_t room = used + 1 < cap ? cap - 1 - used : sizeof(scratch);

		n = read(fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != scratch)
			used += (size_t)n;
	}
	if (cap > 0)
		buf[used] = '\0';
	return used;
}

/*
 * Runs argv (no shell) with extra environment entries, its stdout into out (cap bytes, may be
 * NULL), its stderr into errbuf; timeout in seconds (0: none) ends its whole process group.
 * *status gets the wait status, or RUN_TIMED_OUT.
 */
#define RUN_TIMED_OUT (-1)
static int run(char *const argv[], const char *const *env, unsigned timeout, char *out, size_t cap, char *errbuf,
	       size_t errcap, int *status, pcrgate_errinfo *ei)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, st = 0;
	pid_t pid, w;
	time_t until = timeout ? time(NULL) + (time_t)timeout : 0;
	size_t i;

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
	close(po[1]);
	close(pe[1]);
	/* Small answers: pcrgate-boot and a health check write little; read stdout, then stderr. */
	if (timeout == 0) {
		drain(po[0], out != NULL ? out : errbuf, out != NULL ? cap : 0);
		drain(pe[0], errbuf, errcap);
		while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
			;
	} else {
		fcntl(po[0], F_SETFL, O_NONBLOCK);
		fcntl(pe[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			char sink[4096];

			while (read(po[0], sink, sizeof(sink)) > 0 || read(pe[0], sink, sizeof(sink)) > 0)
				;
			if ((w = waitpid(pid, &st, WNOHANG)) != 0)
				break;
			if (time(NULL) >= until) {
				kill(-pid, SIGKILL);
				while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
					;
				close(po[0]);
				close(pe[0]);
				*status = RUN_TIMED_OUT;
				return PCRGATE_OK;
			}
			nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
		}
		if (errcap > 0)
			errbuf[0] = '\0';
	}
	close(po[0]);
	close(pe[0]);
	if (w < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "waiting for %s: %s", argv[0],
					   strerror(errno));
	*status = st;
	return PCRGATE_OK;
}

/* The last line of a program's error output, for a message. */
static const char *last_line(char *s)
{
	size_t n = strlen(s);
	char *p;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	p = strrchr(s, '\n');
	return p != NULL ? p + 1 : s;
}

/* pcrgate-boot COMMAND [SLOT] [--tries N] [--json] [--config F]; its stdout in out when given. */
static int boot_run(const struct agent_config *cfg, const char *command, int slot, unsigned tries, int torn,
		    char *out, size_t cap, pcrgate_errinfo *ei)
{
	char slotname[2] = {0, 0}, triestr[16], errbuf[1024];
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
	errbuf[0] = '\0';
	if ((r = run(argv, env, 0, out, cap, errbuf, sizeof(errbuf), &st, ei)) != PCRGATE_OK)
		return r;
	if (torn) {
		/* The power cut hit pcrgate-boot in the middle of its write: this process goes too. */
		for (;;)
			raise(SIGKILL);
	}
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
	char errbuf[16];
	int st = 0, r;

	reason[0] = '\0';
	if (cfg->health_check[0] == '\0')
		return PCRGATE_OK;
	snprintf(env_release, sizeof(env_release), "PCRGATE_UPDATE_RELEASE=%s", release);
	snprintf(env_slot, sizeof(env_slot), "PCRGATE_UPDATE_SLOT=%c", 'a' + (int)slot);
	if ((r = run(argv, env, cfg->health_check_timeout, NULL, 0, errbuf, sizeof(errbuf), &st, ei)) != PCRGATE_OK)
		return r;
	if (st == RUN_TIMED_OUT)
		snprintf(reason, cap, "health check: no answer within %u s", cfg->health_check_timeout);
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		snprintf(reason, cap, "health check: exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(reason, cap, "health check: killed by signal %d", WTERMSIG(st));
	return PCRGATE_OK;
}
