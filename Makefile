# The two commands a newcomer needs: `make run` and `make test`.
# Both install missing Debian packages first (scripts/deps.sh) and build.

BUILD ?= build
CMAKE_FLAGS ?=
SPRIG := $(BUILD)/sprig

.PHONY: all deps build run test unit integration bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(if $(CI),-DSPRIG_WERROR=ON) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j2

# Builds the default image on first use (inside `sprig create`), creates a
# sprite called "dev" if there is none, and shows the sprites.
run: build
	@scripts/run.sh $(SPRIG)

test: build
	@cd $(BUILD) && ctest --output-on-failure

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	@cd $(BUILD) && ctest --output-on-failure -L integration

bench: build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
