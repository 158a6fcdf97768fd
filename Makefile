# SPDX-License-Identifier: GPL-2.0
#
# vbridge: thin wrapper around the kernel build system (see Kbuild).
#
#   make [KDIR=...]          build vbridge.ko against the kernel in KDIR
#   make check               sparse (C=2, endian checks) and W=1, failing on
#                            any warning
#   make style               checkpatch.pl --strict on the driver sources
#   make install             modules_install and depmod (honours
#                            INSTALL_MOD_PATH)
#   make selftests           static in-guest kselftest binaries (O=...)
#   make clean
#
# Whole-project entry points (set-up included, see README.md):
#   make run                 boot a microVM whose root is a host directory
#                            (tools/vbridge run)
#   make install-vbridge     link tools/vbridge into $(PREFIX)/bin (/usr/local)
#   make test                every test: host unit, static checks, in-guest
#   make bench               every shared-folder configuration side by side
#                            (vbridgefs, ubridge, virtiofs, 9p, tmpfs, host)
#                            and the display; build/results/ (JSON, Markdown,
#                            charts).  BENCH_ARGS=--quick for the smoke run
#   make security-report     fuzzing, escape, fault-injection and backend
#                            kill figures of the last make test

KDIR ?= /lib/modules/$(shell uname -r)/build
# Kernel sources with scripts/checkpatch.pl and tools/testing/selftests.
# image/fetch-kernel.sh unpacks them, one directory per source version.
KSRC ?= $(lastword $(sort $(wildcard /var/cache/vbridge/linux-src/*)))

BUILD_DIR := $(CURDIR)/build
CHECK_LOG := $(BUILD_DIR)/check.log
KRELEASE = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)

# The out-of-tree compatibility header exists to test kernel versions.
COMPAT_FILE := driver/vbridge_compat.h
STYLE_FILES := $(filter-out $(COMPAT_FILE), \
	$(sort $(wildcard driver/*.[ch] driver/drm/*.[ch]))) include/uapi/linux/vbridge.h
CHECKPATCH_FLAGS ?= --no-tree --strict --show-types
# MACRO_ARG_UNUSED: a shim that is not needed on a kernel expands to nothing.
COMPAT_IGNORE := --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON,MACRO_ARG_REUSE,MACRO_ARG_UNUSED

KBUILD := $(MAKE) -C $(KDIR) M=$(CURDIR)

.PHONY: all module check style install selftests clean run test bench \
	security-report install-vbridge

all: module

module:
	+$(KBUILD) modules

# W=1 and C=2 change the compiler command line, so every object is rebuilt
# and every warning shows up again.
check:
	@mkdir -p $(BUILD_DIR)
	+@rc=0; \
	$(KBUILD) C=2 CF="-D__CHECK_ENDIAN__" W=1 modules \
		>$(CHECK_LOG) 2>&1 || rc=$$?; \
	cat $(CHECK_LOG); \
	if [ $$rc -ne 0 ]; then \
		echo "check: build failed (exit $$rc)"; exit 1; \
	fi; \
	if grep -E -q ': (warning|error):|WARNING:|^Error' $(CHECK_LOG); then \
		echo "check: FAILED, warnings above (log: $(CHECK_LOG))"; \
		exit 1; \
	fi; \
	echo "check: clean (sparse C=2 endian, W=1)"

style:
	@test -x $(KSRC)/scripts/checkpatch.pl || \
		{ echo "style: no checkpatch.pl in KSRC=$(KSRC)"; exit 1; }
	@# checkpatch caches CamelCase data in the current directory: drop it.
	@rc=0; \
	$(KSRC)/scripts/checkpatch.pl $(CHECKPATCH_FLAGS) -f $(STYLE_FILES) \
		|| rc=$$?; \
	$(KSRC)/scripts/checkpatch.pl $(CHECKPATCH_FLAGS) $(COMPAT_IGNORE) \
		-f $(COMPAT_FILE) || rc=$$?; \
	rm -f .checkpatch-camelcase.*; \
	exit $$rc

install: module
	+$(KBUILD) modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KRELEASE)

selftests:
	$(MAKE) -C selftests KSRC=$(KSRC)

# Only what these targets produce: build/ also holds other tools' output.
clean:
	+$(KBUILD) clean
	rm -f $(CHECK_LOG)
	$(MAKE) -C selftests clean

run:
	+scripts/run.sh

PREFIX ?= /usr/local
install-vbridge:
	ln -sfn $(CURDIR)/tools/vbridge $(PREFIX)/bin/vbridge

test:
	+scripts/test.sh

bench:
	+scripts/bench.sh $(BENCH_ARGS)

security-report:
	@scripts/security-report.sh
