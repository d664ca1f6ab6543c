# uvdpa: the targets README.md gives a newcomer.
#   make deps    install the Debian packages the build and tests need
#   make         build (release) into build/
#   make check   every test under ASan+UBSan (build-san/), unit tests
#                also under TSan (build-tsan/)
#   make demo    the main job, end to end
#   make bench   benchmarks
BUILD ?= build
SANBUILD ?= build-san
TSANBUILD ?= build-tsan
# -Werror in CI only, as the conventions ask
ifeq ($(CI),true)
WERROR := -Dwerror=true
endif

.PHONY: all deps check demo bench clean format format-check

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

deps:
	@scripts/deps.sh
	@scripts/e2e-deps.sh

check: deps $(SANBUILD)/build.ninja $(TSANBUILD)/build.ninja
	ninja -C $(SANBUILD)
	ninja -C $(TSANBUILD)
	tests/run.sh $(SANBUILD) $(TSANBUILD)

demo: deps all
	demo/tour.sh $(BUILD)

bench: deps all
	$(BUILD)/bench/bench-ring
	$(BUILD)/bench/bench-mgmt $(BUILD)
	/usr/bin/python3 bench/vhost-blk.py --build $(BUILD)
	/usr/bin/python3 bench/blk.py --build $(BUILD)
	/usr/bin/python3 bench/net.py $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SANBUILD) $(TSANBUILD)
