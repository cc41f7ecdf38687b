/*
 * A wall clock for tests that a test moves while the program runs. Preloaded
 * (LD_PRELOAD=.../libpcrgate-clockshift.so), it answers time(), gettimeofday() and
 * clock_gettime() for the realtime clocks with the real time plus an offset in seconds, read
 * at every call from the file PCRGATE_TEST_CLOCK_FILE names (a decimal integer, e.g. 7200; no
 * file, or anything else in it, is an offset of 0). The monotonic clocks, which time
 * timeouts and stalls, are left alone.
 *
 * Everything goes to the kernel by system call: no libc function that a sanitizer's runtime
 * intercepts (and might call this clock from) is used, so it works before any constructor has
 * run and holds no lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The offset; errno as it was (a missing file is an offset of 0, not an error of the caller's). */
static long offset_seconds(void)
{
	const char *path = getenv("PCRGATE_TEST_CLOCK_FILE");
	char buf[32];
	long n, v = 0, sign = 1;
	long fd;
	int i = 0, saved = errno;

	fd = path != NULL ? syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC) : -1;
	n = fd >= 0 ? syscall(SYS_read, (int)fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		syscall(SYS_close, (int)fd);
	errno = saved;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (buf[0] == '-' || buf[0] == '+')
		sign = buf[i++] == '-' ? -1 : 1;
	if (buf[i] < '0' || buf[i] > '9')
		return 0;
	for (; buf[i] >= '0' && buf[i] <= '9' && v < 100000000L; i++)
		v = v * 10 + (buf[i] - '0');
	return sign * v;
}

static int is_realtime(clockid_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE;
}

/* The shifted clock, called directly by the three below (not back through an interposer). */
static int shifted(clockid_t id, struct timespec *ts)
{
	long r = syscall(SYS_clock_gettime, id, ts);

	if (r == 0 && is_realtime(id))
		ts->tv_sec += offset_seconds();
	return (int)r;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	return shifted(id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timezone *z = tz;
	struct timespec ts;

	if (shifted(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	if (z != NULL)
		z->tz_minuteswest = z->tz_dsttime = 0;
	return 0;
}

time_t time(time_t *t)
{
	struct timespec ts;
	time_t now = shifted(CLOCK_REALTIME, &ts) == 0 ? ts.tv_sec : (time_t)-1;

	if (t)
		*t = now;
	return now;
}
