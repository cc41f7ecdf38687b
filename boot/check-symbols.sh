#!/bin/bash
# The boot core may call nothing outside itself but memcpy, memmove, memset and memcmp:
# lists the undefined symbols of its built objects and fails on any other (instrumentation
# of sanitizer, fuzzing and coverage builds is recognised and ignored).
set -eu
. "$top_srcdir/tests/lib.sh"

lib="$top_builddir/boot/.libs/libpcrgate-boot-core.a"
[ -f "$lib" ] || fail "the core's archive $lib was not built"
command -v nm >/dev/null || skip "nm not installed (Debian package binutils)"

defined=$(nm --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u)
undefined=$(nm --undefined-only "$lib" | awk 'NF == 2 { print $2 }' | sort -u)
[ -n "$defined" ] || fail "no symbols found in $lib"

bad=""
for sym in $undefined; do
	case $sym in
	memcpy | memmove | memset | memcmp) continue ;;
	__asan_* | __ubsan_* | __sanitizer_* | __sancov* | __lsan_* | __gcov_* | __llvm_* | _GLOBAL_OFFSET_TABLE_)
		continue ;;
	# Linker-made bounds of the sections that fuzzing and profiling instrumentation fill.
	__start___sancov_* | __stop___sancov_* | __start___llvm_prf_* | __stop___llvm_prf_*)
		continue ;;
	esac
	printf '%s\n' "$defined" | grep -qx -- "$sym" && continue
	bad="$bad $sym"
done
[ -z "$bad" ] || fail "the boot core references symbols outside itself:$bad"
echo "boot core: undefined symbols are only mem* (and instrumentation)"
