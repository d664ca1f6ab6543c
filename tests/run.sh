#!/usr/bin/env bash
# Run every test program of a build directory and count test cases.
# Unit tests are cmocka programs printing TAP; each runs with a timeout and
# its log is kept under BUILD/test-logs/. Ends with the line
# "N passed, N failed" (", N skipped" when some were).
set -uo pipefail

# run.sh BUILD [MORE_BUILDS...]: every test of BUILD; the unit tests only
# of MORE_BUILDS (e.g. a ThreadSanitizer build).
build=${1:-build-san}
shift || true
more_builds="$*"
logs=$build/test-logs
mkdir -p "$logs"
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0
unit_tests() {
	for b in "$build" $more_builds; do
		find "$b/tests" "$b/cli" -maxdepth 1 -type f -name 'test_*' -executable 2>/dev/null | sort
	done
}

for t in $(unit_tests); do
	name=$(basename "$t")
	[ "${t#$build/}" = "$t" ] && name="$name[$(echo "$t" | cut -d/ -f1)]"
	log=$logs/$name.log
	TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1} \
		timeout 300 "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP' || true)
	s=$(grep -E '^(not )?ok [0-9]+.*# SKIP' "$log" | wc -l)
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc '# SKIP' || true)
	# a crash, a sanitizer report or a timeout fails the program as a whole
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed, exit $rc): $log"
		sed 's/^/    /' "$log" | tail -40
	else
		extra=""
		[ "$s" -gt 0 ] && extra=", $s skipped"
		echo "ok   $name ($p passed$extra)"
	fi
done

# Kernel style (.clang-format), as CI checks it: one test.
if command -v clang-format >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
	bad=$(for f in $(git ls-files '*.c' '*.h'); do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
	done)
	if [ -n "$bad" ]; then
		echo "FAIL format: not clang-formatted: $(echo $bad)"
		failed=$((failed + 1))
	else
		echo "ok   format (every .c and .h)"
		passed=$((passed + 1))
	fi
fi

# The libFuzzer harnesses, each briefly on its seed corpus: one test.
# The fuzz build is the Makefile's (make check sets it up).
fuzz_build=${FUZZ_BUILD:-build-fuzz}
if [ -d "$fuzz_build/tests/fuzz" ]; then
	"$(dirname "$0")/fuzz/run.sh" "$fuzz_build" "${FUZZ_CHECK_SECONDS:-9}" \
		>"$logs/fuzz.log" 2>&1
	rc=$?
	# its last line: "fuzz: N harnesses, M execs, F failed"
	sum=$(tail -n 1 "$logs/fuzz.log" | sed 's/^fuzz: //; s/, 0 failed$//')
	if [ $rc -eq 0 ]; then
		echo "ok   fuzz ($sum)"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz ($sum): $logs/fuzz.log"
		grep -E '^FAIL|^    ' "$logs/fuzz.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
else
	echo "skip fuzz (no $fuzz_build; make check builds it)"
	skipped=$((skipped + 1))
fi

# A pytest session: NAME DIR TIMEOUT; counts its tests in the totals.
pytest_suite() {
	local name=$1 dir=$2 limit=$3 log=$logs/$1.log last p f s rc
	UVDPA_BUILD=$build timeout "$limit" /usr/bin/python3 -m pytest -q -rs \
		-p no:cacheprovider "$dir" >"$log" 2>&1
	rc=$?
	last=$(tail -n 1 "$log")
	p=$(echo "$last" | grep -oE '[0-9]+ passed' | awk '{ n += $1 } END { print n + 0 }')
	f=$(echo "$last" | grep -oE '[0-9]+ (failed|errors?)' | awk '{ n += $1 } END { print n + 0 }')
	s=$(echo "$last" | grep -oE '[0-9]+ skipped' | awk '{ n += $1 } END { print n + 0 }')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed): $log"
		grep -E '^(FAILED|ERROR)|Error|assert|logs kept' "$log" | head -40 | sed 's/^/    /'
	else
		echo "ok   $name ($p passed, $s skipped)"
	fi
}

if /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
	# the daemon, its socket and the CLI
	pytest_suite integration tests/integration 1800
	# real peers: QEMU guests, qemu-storage-daemon, DPDK testpmd; a session
	# of its own (tests/integration imports its conftest by name)
	pytest_suite e2e tests/e2e 1800
else
	echo "FAIL pytest is missing (make deps installs python3-pytest)"
	failed=$((failed + 1))
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
