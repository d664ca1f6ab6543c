# uvdpa: the targets README.md gives a newcomer.
#   make deps    install the Debian packages the build and tests need
#   make         build (release) into build/
#   make check   every test under ASan+UBSan (build-san/), unit tests
#                also under TSan (build-tsan/)
#   make demo    the main job, end to end
#   make bench   benchmarks
#   make fuzz    the libFuzzer harnesses, FUZZ_SECONDS (600) each
#                (build-fuzz/; make check runs them briefly)
BUILD ?= build
SANBUILD ?= build-san
TSANBUILD ?= build-tsan
FUZZBUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
# -Werror in CI only, as the conventions ask
ifeq ($(CI),true)
WERROR := -Dwerror=true
endif

.PHONY: all deps check demo bench fuzz clean format format-check

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@command -v meson >/dev/null || { echo "meson is missing: run 'make deps'"; exit 1; }
	meson setup $(BUILD) --buildtype=release $(WERROR)

$(SANBUILD)/build.ninja:
	meson setup $(SANBUILD) --buildtype=debugoptimized $(WERROR) \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all

# ThreadSanitizer (clang) for the unit tests: the threaded paths
$(TSANBUILD)/build.ninja:
	CC=clang meson setup $(TSANBUILD) --buildtype=debugoptimized $(WERROR) \
		-Db_sanitize=thread -Db_lundef=false

# libFuzzer (clang) under ASan+UBSan; the libraries carry the fuzzer's
# coverage instrumentation, which the other builds do not pay for
$(FUZZBUILD)/build.ninja:
	CC=clang meson setup $(FUZZBUILD) --buildtype=debugoptimized $(WERROR) \
		-Db_sanitize=address,undefined -Db_lundef=false \
		"-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"

deps:
	@scripts/deps.sh
	@scripts/e2e-deps.sh

check: deps $(SANBUILD)/build.ninja $(TSANBUILD)/build.ninja $(FUZZBUILD)/build.ninja
	ninja -C $(SANBUILD)
	ninja -C $(TSANBUILD)
	ninja -C $(FUZZBUILD) $$(tests/fuzz/run.sh --targets)
	FUZZ_BUILD=$(FUZZBUILD) tests/run.sh $(SANBUILD) $(TSANBUILD)

# New inputs are kept in $(FUZZBUILD)/fuzz/corpus, crashes in .../artifacts.
fuzz: deps $(FUZZBUILD)/build.ninja
	ninja -C $(FUZZBUILD) $$(tests/fuzz/run.sh --targets)
	tests/fuzz/run.sh $(FUZZBUILD) $(FUZZ_SECONDS) --keep

demo: deps all
	demo/tour.sh $(BUILD)

bench: deps all
	$(BUILD)/bench/bench-ring
	$(BUILD)/bench/bench-mgmt $(BUILD)
	/usr/bin/python3 bench/vhost-blk.py --build $(BUILD)
	/usr/bin/python3 bench/blk.py --build $(BUILD)
	/usr/bin/python3 bench/net.py $(BUILD)
	/usr/bin/python3 bench/virtio-blk.py --build $(BUILD)
	/usr/bin/python3 bench/virtio-net.py $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SANBUILD) $(TSANBUILD) $(FUZZBUILD)
