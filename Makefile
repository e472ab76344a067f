# Entry points. `make demo` and `make test` start from a bare Debian 12 machine:
# both run scripts/setup first (idempotent, quick once done).
BUILD ?= build
LLAMA_PREFIX = $(shell scripts/build-llama --print-prefix)

.PHONY: setup configure build test demo bench format clean

setup:
	@scripts/setup

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DHANGAR_LLAMA_PREFIX=$(LLAMA_PREFIX) >/dev/null

build: configure
	@cmake --build $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure

demo: build
	@scripts/demo $(BUILD)

bench: build
	@bench/run $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD)
