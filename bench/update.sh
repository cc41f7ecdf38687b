#!/bin/bash
# bench/update.sh: the update payload benchmark. On real firmware pairs from Debian's archive
# (OVMF 2022.11-6+deb12u1 -> +deb12u2, OVMF_CODE_4M.fd and OVMF_CODE.fd; the kernels of
# linux-image-6.1.0-47-amd64 -> -50-amd64, vmlinuz) it prints the old and new sizes, the delta
# sizes of bsdiff, `xdelta3 -9 -e -s`, `zstd --patch-from --ultra -22 --long=W` and ours
# (pcrgate_payload_encode, through bench/update_apply), whether ours is no larger than the best
# of the three (the target), and our decoder's apply throughput and peak memory. Then the
# install time of a synthetic 256 MiB image: its full payload decoded to a file and fsync'ed.
# Prints figures, never fails on them; exits non-zero only when something it needs fails (a
# payload that does not decode back to the image). bench/README.md explains each figure.
#
# Downloads go to a cache (--cache DIR, default ${XDG_CACHE_HOME:-~/.cache}/pcrgate-bench) with
# `apt-get download`, else from deb.debian.org's pool with curl; a pair that cannot be fetched is
# reported and skipped. Missing bsdiff, xdelta3 or zstd are installed with apt-get (as root, or
# through sudo without a password); a tool still missing leaves its column empty.
#
# Options: --quick (the OVMF pairs only and a 32 MiB synthetic image; also
# PCRGATE_BENCH_QUICK=1), --json, --cache DIR, --offline (no downloads or installs: cached pairs
# only), --kernels "A B" (ABI numbers of the two linux-image-6.1.0-N-amd64, default "47 50"),
# --synthetic-mib N (default 256), --kernel-uncompressed (also the kernels' decompressed vmlinux,
# for information: what a slot holding an uncompressed kernel would send), --pair OLD NEW (one
# more pair of your own files; may be given several times), --no-archive (no Debian pairs).
# Run from the build directory, or with top_srcdir and top_builddir set (make bench does).
set -u

me=bench/update
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(dirname "$here")}"
: "${top_builddir:=.}"
APPLY=$top_builddir/bench/update_apply

quick=0 json=0 offline=0 kernels="47 50" synth_mib=256 uncompressed=0 archive=1 own=()
cache=${XDG_CACHE_HOME:-$HOME/.cache}/pcrgate-bench
[ "${PCRGATE_BENCH_QUICK:-0}" = 1 ] && quick=1
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--json) json=1 ;;
	--offline) offline=1 ;;
	--cache) cache=$2 && shift ;;
	--kernels) kernels=$2 && shift ;;
	--synthetic-mib) synth_mib=$2 && shift ;;
	--kernel-uncompressed) uncompressed=1 ;;
	--pair) own+=("$2|$3") && shift 2 ;;
	--no-archive) archive=0 ;;
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "$me: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
[ $quick = 1 ] && [ "$synth_mib" = 256 ] && synth_mib=32

die() {
	echo "$me: $*" >&2
	exit 1
}
# Progress and skips go to stderr, so that --json keeps stdout to the JSON document.
note() {
	echo "$me: $*" >&2
}

[ -x "$APPLY" ] || die "$APPLY is not built (run make first)"
mkdir -p "$cache/debs" "$cache/files" || die "cannot make the cache $cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/pcrgate-bench-update.XXXXXX") || die "cannot make a directory"
trap 'rm -rf "$work"' EXIT

# The reference tools, installed when missing and allowed.
install_tools() {
	local missing=() tool pkg
	for tool in bsdiff:bsdiff xdelta3:xdelta3 zstd:zstd; do
		command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
	done
	[ ${#missing[@]} = 0 ] && return
	if [ $offline = 1 ]; then
		note "missing ${missing[*]} (--offline: not installed; their columns stay empty)"
		return
	fi
	if [ "$(id -u)" = 0 ]; then
		pkg=(apt-get)
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		pkg=(sudo -n apt-get)
	else
		note "missing ${missing[*]} and no root to install them: their columns stay empty"
		return
	fi
	note "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive "${pkg[@]}" install -y -q "${missing[@]}" >"$work/apt.log" 2>&1 ||
		note "apt-get install ${missing[*]} failed: $(tail -n 3 "$work/apt.log")"
}
install_tools

# fetch_deb PACKAGE VERSION POOLPATH...: the .deb in the cache, from apt or the pool; prints its path.
fetch_deb() {
	local pkg=$1 ver=$2 file url base
	shift 2
	file=$(ls "$cache/debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n 1)
	[ -n "$file" ] && { echo "$file"; return 0; }
	[ $offline = 1 ] && return 1
	# apt-get download writes to the working directory; as root its sandbox user cannot, which
	# only costs a warning.
	(cd "$cache/debs" && apt-get download -q "$pkg=$ver" >"$work/download.log" 2>&1)
	file=$(ls "$cache/debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n 1)
	[ -n "$file" ] && { echo "$file"; return 0; }
	command -v curl >/dev/null || return 1
	for base in "$@"; do
		url=https://deb.debian.org/$base
		if curl -fsSL --retry 2 -o "$work/dl.deb" "$url" 2>/dev/null; then
			mv "$work/dl.deb" "$cache/debs/${url##*/}" && echo "$cache/debs/${url##*/}" && return 0
		fi
	done
	return 1
}

# extract DEB MEMBER OUT: one file of a package, cached.
extract() {
	[ -s "$3" ] && return 0
	dpkg-deb --fsys-tarfile "$1" 2>/dev/null | tar -xOf - "$2" >"$3.tmp" 2>/dev/null && [ -s "$3.tmp" ] &&
		mv "$3.tmp" "$3" && return 0
	rm -f "$3.tmp"
	return 1
}

pairs=() skipped=()
# add_pair NAME OLD NEW
add_pair() {
	pairs+=("$1|$2|$3")
}
skip_pair() {
	note "pair $1 skipped: $2"
	skipped+=("$1: $2")
}

for p in ${own[@]+"${own[@]}"}; do
	if [ -s "${p%%|*}" ] && [ -s "${p##*|}" ]; then
		add_pair "$(basename "${p%%|*}") -> $(basename "${p##*|}")" "${p%%|*}" "${p##*|}"
	else
		skip_pair "$p" "not two non-empty files"
	fi
done

ovmf_old=2022.11-6+deb12u1 ovmf_new=2022.11-6+deb12u2
[ $archive = 1 ] && old_deb=$(fetch_deb ovmf $ovmf_old debian/pool/main/e/edk2/ovmf_${ovmf_old}_all.deb \
	debian-security/pool/updates/main/e/edk2/ovmf_${ovmf_old}_all.deb)
[ $archive = 1 ] && new_deb=$(fetch_deb ovmf $ovmf_new debian/pool/main/e/edk2/ovmf_${ovmf_new}_all.deb \
	debian-security/pool/updates/main/e/edk2/ovmf_${ovmf_new}_all.deb)
old_deb=${old_deb:-} new_deb=${new_deb:-}
for fd in OVMF_CODE_4M.fd OVMF_CODE.fd; do
	if [ $archive = 0 ]; then
		break
	elif [ -z "$old_deb" ] || [ -z "$new_deb" ]; then
		skip_pair "ovmf $fd" "cannot fetch ovmf $ovmf_old and $ovmf_new"
	elif extract "$old_deb" ./usr/share/OVMF/$fd "$cache/files/$fd-$ovmf_old" &&
		extract "$new_deb" ./usr/share/OVMF/$fd "$cache/files/$fd-$ovmf_new"; then
		add_pair "ovmf $fd" "$cache/files/$fd-$ovmf_old" "$cache/files/$fd-$ovmf_new"
	else
		skip_pair "ovmf $fd" "no usr/share/OVMF/$fd in the packages"
	fi
done

if [ $quick = 0 ] && [ $archive = 1 ]; then
	kfiles=()
	for abi in $kernels; do
		pkg=linux-image-6.1.0-$abi-amd64 ver= deb=
		ver=$(apt-cache madison "$pkg" 2>/dev/null | awk -F'|' 'NR == 1 { gsub(/ /, "", $2); print $2 }')
		if [ -z "$ver" ]; then
			deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1)
		else
			deb=$(fetch_deb "$pkg" "$ver")
		fi
		if [ -n "$deb" ] && extract "$deb" ./boot/vmlinuz-6.1.0-$abi-amd64 "$cache/files/vmlinuz-6.1.0-$abi-amd64"; then
			kfiles+=("$cache/files/vmlinuz-6.1.0-$abi-amd64")
		else
			note "cannot fetch $pkg${ver:+ $ver} (apt-cache madison $pkg shows what the archive has)"
		fi
	done
	if [ ${#kfiles[@]} = 2 ]; then
		add_pair "kernel vmlinuz ${kernels// / -> }" "${kfiles[0]}" "${kfiles[1]}"
		if [ $uncompressed = 1 ]; then
			ufiles=()
			for f in "${kfiles[@]}"; do
				# The bzImage's payload is one xz stream; its offset is that of the xz magic.
				u=$cache/files/$(basename "$f" | sed 's/vmlinuz/vmlinux/')
				off=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$f" | head -n 1 | cut -d: -f1)
				[ -s "$u" ] || { [ -n "$off" ] && tail -c +$((off + 1)) "$f" | xz -dc --single-stream >"$u" 2>/dev/null; }
				[ -s "$u" ] && ufiles+=("$u")
			done
			if [ ${#ufiles[@]} = 2 ]; then
				add_pair "kernel vmlinux (decompressed, informative) ${kernels// / -> }" "${ufiles[0]}" "${ufiles[1]}"
			else
				skip_pair "kernel vmlinux" "cannot decompress the kernels"
			fi
		fi
	else
		skip_pair "kernel $kernels" "the two kernels are not both available"
	fi
fi

size() {
	stat -c %s "$1"
}
now() {
	date +%s.%N
}
secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}
# Smallest n with 2^n >= v (at least 10): the window that covers base and image, as ours.
wlog() {
	awk -v v="$1" 'BEGIN { n = 10; while (2 ^ n < v) n++; print n }'
}
# key=value output of update_apply: the value of one key.
kv() {
	sed -n "s/^$1=//p" "$2"
}

rows=()
for p in ${pairs[@]+"${pairs[@]}"}; do
	IFS='|' read -r name old new <<<"$p"
	os=$(size "$old") ns=$(size "$new")
	note "$name: $os -> $ns bytes"
	bs= xs= zs= bt= xt= zt=
	if command -v bsdiff >/dev/null; then
		t0=$(now)
		bsdiff "$old" "$new" "$work/d.bsdiff" 2>/dev/null && bs=$(size "$work/d.bsdiff") bt=$(secs "$t0" "$(now)")
	fi
	if command -v xdelta3 >/dev/null; then
		# xdelta3 stores the file names in its header: one-letter links keep that overhead small.
		ln -sf "$old" "$work/o" && ln -sf "$new" "$work/n"
		t0=$(now)
		(cd "$work" && xdelta3 -9 -e -f -s o n d.xdelta3 2>/dev/null) &&
			xs=$(size "$work/d.xdelta3") xt=$(secs "$t0" "$(now)")
	fi
	if command -v zstd >/dev/null; then
		t0=$(now)
		zstd -q -f --patch-from="$old" --ultra -22 --long="$(wlog $((os + ns)))" "$new" -o "$work/d.zst" 2>/dev/null &&
			zs=$(size "$work/d.zst") zt=$(secs "$t0" "$(now)")
	fi
	"$APPLY" encode "$new" "$old" "$work/d.pcrgate" >"$work/enc.out" || die "$name: our encoder failed"
	ps=$(kv payload_bytes "$work/enc.out") pt=$(kv encode_seconds "$work/enc.out")
	"$APPLY" apply --base "$old" "$ns" "$work/d.pcrgate" "$work/applied" >"$work/apply.out" ||
		die "$name: our payload does not apply"
	cmp -s "$work/applied" "$new" || die "$name: our payload applied to other bytes than the new image"
	best= bestn=
	for t in "bsdiff:$bs" "xdelta3:$xs" "zstd:$zs"; do
		v=${t#*:}
		[ -n "$v" ] && { [ -z "$best" ] || [ "$v" -lt "$best" ]; } && best=$v bestn=${t%%:*}
	done
	met=null
	[ -n "$best" ] && { [ "$ps" -le "$best" ] && met=true || met=false; }
	mbs=$(kv mb_per_s "$work/apply.out") hwm=$(kv vm_hwm_kib "$work/apply.out") ceil=$(kv ceiling_bytes "$work/apply.out")
	rows+=("$name|$os|$ns|$bs|$xs|$zs|$ps|$bestn|$met|$mbs|$hwm|$ceil|$bt|$xt|$zt|$pt")
	rm -f "$work/applied" "$work"/d.*
done

# The install: a synthetic image's full payload decoded into a file on the cache's file system
# (not a tmpfs), fsync'ed, as an install into the inactive slot.
note "install: synthetic image of $synth_mib MiB"
"$APPLY" synth "$synth_mib" "$cache/synthetic.img" || die "cannot write the synthetic image"
"$APPLY" encode --level 3 "$cache/synthetic.img" - "$work/synthetic.pcrgate" >"$work/enc.out" ||
	die "cannot encode the synthetic image"
"$APPLY" apply --fsync $((synth_mib << 20)) "$work/synthetic.pcrgate" "$cache/installed.img" >"$work/install.out" ||
	die "the synthetic payload does not install"
cmp -s "$cache/synthetic.img" "$cache/installed.img" || die "the installed image differs from the synthetic one"
rm -f "$cache/synthetic.img" "$cache/installed.img"
ips=$(kv payload_bytes "$work/install.out") isec=$(kv seconds "$work/install.out") imbs=$(kv mb_per_s "$work/install.out")
ihwm=$(kv vm_hwm_kib "$work/install.out") iceil=$(kv ceiling_bytes "$work/install.out")

jnum() {
	[ -n "$1" ] && echo "$1" || echo null
}
jstr() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

if [ $json = 1 ]; then
	printf '{"benchmark":"update","quick":%s,"target":"pcrgate delta <= smallest of bsdiff, xdelta3, zstd",' \
		"$([ $quick = 1 ] && echo true || echo false)"
	# Each reference tool's path, null when it is not installed (its columns are then null).
	printf '"references":{'
	sep=
	for tool in bsdiff xdelta3 zstd; do
		path=$(command -v $tool)
		printf '%s"%s":%s' "$sep" $tool "$([ -n "$path" ] && jstr "$path" || echo null)"
		sep=,
	done
	printf '},"pairs":['
	sep=
	for r in ${rows[@]+"${rows[@]}"}; do
		IFS='|' read -r name os ns bs xs zs ps bestn met mbs hwm ceil bt xt zt pt <<<"$r"
		printf '%s{"name":%s,"old_bytes":%s,"new_bytes":%s,"bsdiff_bytes":%s,"xdelta3_bytes":%s,"zstd_bytes":%s,' \
			"$sep" "$(jstr "$name")" "$os" "$ns" "$(jnum "$bs")" "$(jnum "$xs")" "$(jnum "$zs")"
		printf '"pcrgate_bytes":%s,"best_other":%s,"meets_target":%s,"apply_mb_per_s":%s,"apply_vm_hwm_kib":%s,' \
			"$ps" "$([ -n "$bestn" ] && jstr "$bestn" || echo null)" "$met" "$(jnum "$mbs")" "$(jnum "$hwm")"
		printf '"decoder_ceiling_bytes":%s,"seconds":{"bsdiff":%s,"xdelta3":%s,"zstd":%s,"pcrgate":%s}}' \
			"$(jnum "$ceil")" "$(jnum "$bt")" "$(jnum "$xt")" "$(jnum "$zt")" "$(jnum "$pt")"
		sep=,
	done
	printf '],"skipped":['
	sep=
	for s in ${skipped[@]+"${skipped[@]}"}; do
		printf '%s%s' "$sep" "$(jstr "$s")"
		sep=,
	done
	printf '],"install":{"image_bytes":%s,"payload_bytes":%s,"seconds":%s,"mb_per_s":%s,"vm_hwm_kib":%s,"decoder_ceiling_bytes":%s}}\n' \
		$((synth_mib << 20)) "$ips" "$isec" "$imbs" "$ihwm" "$iceil"
	exit 0
fi

echo "Delta sizes in bytes (target: pcrgate <= the smallest of bsdiff, xdelta3 -9 -e -s, zstd --patch-from --ultra -22 --long)"
printf '%-44s %10s %10s %10s %10s %10s %10s  %s\n' pair old new bsdiff xdelta3 zstd pcrgate target
for r in ${rows[@]+"${rows[@]}"}; do
	IFS='|' read -r name os ns bs xs zs ps bestn met mbs hwm ceil bt xt zt pt <<<"$r"
	case $met in true) m="met (best other: $bestn)" ;; false) m="NOT met (best: $bestn)" ;; *) m="no reference" ;; esac
	printf '%-44s %10s %10s %10s %10s %10s %10s  %s\n' "$name" "$os" "$ns" "${bs:--}" "${xs:--}" "${zs:--}" "$ps" "$m"
done
echo
echo "Encode seconds, and our decoder applying the delta (1 MiB pieces, to a file)"
printf '%-44s %7s %7s %7s %7s  %9s %12s %14s\n' pair bsdiff xdelta3 zstd pcrgate 'MB/s' 'VmHWM KiB' 'ceiling bytes'
for r in ${rows[@]+"${rows[@]}"}; do
	IFS='|' read -r name os ns bs xs zs ps bestn met mbs hwm ceil bt xt zt pt <<<"$r"
	printf '%-44s %7s %7s %7s %7s  %9s %12s %14s\n' "$name" "${bt:--}" "${xt:--}" "${zt:--}" "$pt" "$mbs" "$hwm" "$ceil"
done
for s in ${skipped[@]+"${skipped[@]}"}; do
	echo "skipped: $s"
done
echo
echo "Install of a synthetic $synth_mib MiB image (full payload, level 3, $ips bytes) decoded to a file with fsync:"
echo "  $isec s, $imbs MB/s, peak VmHWM $ihwm KiB, decoder ceiling $iceil bytes"
