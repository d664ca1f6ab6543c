#!/usr/bin/env bash
# Run uvdpa's libFuzzer harnesses on their committed seed corpora.
#
#   tests/fuzz/run.sh --targets            the ninja targets to build
#   tests/fuzz/run.sh BUILD SECONDS        each harness for SECONDS, new
#                                          inputs in a scratch dir dropped after
#   tests/fuzz/run.sh BUILD SECONDS --keep new inputs kept in
#                                          BUILD/fuzz/corpus/NAME (make fuzz)
#
# BUILD is a clang build with ASan+UBSan and -fsanitize=fuzzer-no-link (the
# Makefile's build-fuzz). The committed corpus (tests/fuzz/corpus/NAME) is
# only read: libFuzzer writes to the first corpus dir it is given, the
# scratch one. A crash, a sanitizer report, a leak or a timeout fails the
# harness; its input is kept as BUILD/fuzz/artifacts/NAME-*, the log as
# BUILD/fuzz/logs/NAME.log. Ends with "fuzz: N harnesses, M execs, F failed".
set -uo pipefail

# name, binary under BUILD, extra libFuzzer flags
HARNESSES=(
	"vhost_user tests/fuzz/fuzz_vhost_user"
	"mgmt tests/fuzz/fuzz_mgmt"
	"vring tests/fuzz/fuzz_vring"
	# the CLI prints: -close_fd_mask=3 keeps its output out of the log
	"cli_args cli/fuzz_cli_args -close_fd_mask=3"
	"cli_reply cli/fuzz_cli_reply -close_fd_mask=3"
)

if [ "${1:-}" = "--targets" ]; then
	for h in "${HARNESSES[@]}"; do
		set -- $h
		echo "$2"
	done
	exit 0
fi

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD SECONDS [--keep] | --targets" >&2
	exit 2
fi
build=$1 seconds=$2 keep=${3:-}
src=$(cd "$(dirname "$0")" && pwd)
out=$build/fuzz
mkdir -p "$out/logs" "$out/artifacts"
if [ "$keep" = "--keep" ]; then
	scratch=$out/corpus
else
	scratch=$(mktemp -d /tmp/uvdpa-fuzz-XXXXXX)
	trap 'rm -rf "$scratch"' EXIT
fi

# Leaks are failures (LSan after each input that allocated more than it
# freed); UBSan stops at the first report, so libFuzzer sees it.
export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total=0 failed=0 n=0
for h in "${HARNESSES[@]}"; do
	set -- $h
	name=$1 bin=$build/$2
	shift 2
	log=$out/logs/$name.log
	n=$((n + 1))
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$name: $bin is not built"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$scratch/$name"
	# -timeout: one input taking this long is a hang, a failure too
	"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
		"$@" "$scratch/$name" "$src/corpus/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ $rc -ne 0 ]; then
		failed=$((failed + 1))
		art=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 |
			sed 's/Test unit written to //')
		echo "FAIL fuzz_$name ($execs execs, exit $rc): $log"
		grep -E "ERROR: |SUMMARY: |runtime error|fd leak|deadly signal" \
			"$log" | head -n 5 | sed 's/^/    /'
		[ -n "$art" ] && echo "    reproduce: $bin $art"
	else
		echo "ok   fuzz_$name ($execs execs in ${seconds}s)"
	fi
done
echo "fuzz: $n harnesses, $total execs, $failed failed"
[ "$failed" -eq 0 ]
