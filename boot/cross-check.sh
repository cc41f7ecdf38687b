#!/bin/bash
# Proves the boot core is freestanding C11: compiles each of its files for aarch64 with
# -ffreestanding -Wall -Wextra -Werror, once with the cross toolchain's headers and once
# with none but the compiler's own plus a string.h that declares only mem*, then checks
# that the objects reference nothing outside the core but mem*. Skips without
# gcc-aarch64-linux-gnu. Run by `make check` and by `make boot-cross`.
set -eu
. "$top_srcdir/tests/lib.sh"

cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
command -v "$cc" >/dev/null || skip "$cc not installed (Debian package gcc-aarch64-linux-gnu)"
nm=${CROSS_NM:-aarch64-linux-gnu-nm}
command -v "$nm" >/dev/null || nm=nm
make_scratch

sources="bootstate manifest measure core"
flags="-std=c11 -ffreestanding -Wall -Wextra -Werror -O2"
includes="-I$top_srcdir/include -I$top_srcdir/lib"

for src in $sources; do
	# shellcheck disable=SC2086
	"$cc" $flags $includes -c "$top_srcdir/boot/$src.c" -o "$SCRATCH/$src-hosted.o" ||
		fail "$src.c does not build with $cc -ffreestanding"
done

# No libc headers at all: the compiler's freestanding headers and this string.h.
mkdir "$SCRATCH/include"
cat >"$SCRATCH/include/string.h" <<'HDR'
#include <stddef.h>
void *memcpy(void *dest, const void *src, size_t n);
void *memmove(void *dest, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
HDR
compiler_include=$("$cc" -print-file-name=include)
for src in $sources; do
	# shellcheck disable=SC2086
	"$cc" $flags -nostdinc -isystem "$compiler_include" -I"$SCRATCH/include" $includes \
		-c "$top_srcdir/boot/$src.c" -o "$SCRATCH/$src.o" ||
		fail "$src.c needs a libc header beyond mem* (built with -nostdinc)"
done

objects=""
for src in $sources; do objects="$objects $SCRATCH/$src.o"; done
# shellcheck disable=SC2086
defined=$("$nm" --defined-only $objects | awk 'NF == 3 { print $3 }' | sort -u)
# shellcheck disable=SC2086
undefined=$("$nm" --undefined-only $objects | awk 'NF == 2 { print $2 }' | sort -u)
bad=""
for sym in $undefined; do
	case $sym in memcpy | memmove | memset | memcmp) continue ;; esac
	printf '%s\n' "$defined" | grep -qx -- "$sym" && continue
	bad="$bad $sym"
done
[ -z "$bad" ] || fail "the aarch64 build of the boot core references:$bad"
echo "boot core: builds freestanding for aarch64 ($("$cc" -dumpversion)), undefined symbols only mem*"
