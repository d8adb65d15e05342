# libspiffe and its programs.  GNU make.
#
#   make                 library and programs into build/
#   make test            every test; last line "N passed, N failed"
#   make SAN=1 test      the same under ASan + UBSan (build/san/)
#   make static          static musl programs (build/static/)
#   make CROSS_COMPILE=aarch64-linux-gnu-   cross build (build/aarch64-linux-gnu/)
#   make test-cross      unit tests for aarch64 under qemu-aarch64
#   make fuzz [FUZZ_SECONDS=N]   every libFuzzer target for N seconds
#   make bench           benchmarks, side by side with peers
#   make demo            the JWT-SVID-through-a-proxy example
#   make proto           regenerate proto/*.pb.[ch] with nanopb
#   make lint            banned calls in src/

MBEDTLS_VER := 3.6.6
NANOPB_VER := 0.4.9.1
MBEDTLS_SRC ?= third_party/mbedtls-$(MBEDTLS_VER)
NANOPB_SRC ?= third_party/nanopb-$(NANOPB_VER)

# make predefines CC; only a CC the user did not choose gets the prefix.
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
STRIP ?= $(CROSS_COMPILE)strip

OPT ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
WERROR ?= -Werror
BASE_CFLAGS := -std=gnu11 $(OPT) -D_GNU_SOURCE -fno-strict-aliasing
MBEDTLS_DEFS := -DMBEDTLS_CONFIG_FILE='"spiffe_mbedtls_config.h"'
LDLIBS := -lpthread

ifdef SAN
O ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
BASE_CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif
ifdef STATIC
O ?= build/static
CC := musl-gcc
# Small static programs: every function in its own section, unused ones
# dropped at link time.
BASE_CFLAGS += -ffunction-sections -fdata-sections
LDFLAGS += -static -Wl,--gc-sections
endif
ifneq ($(CROSS_COMPILE),)
O ?= build/$(CROSS_COMPILE:%-=%)
endif
O ?= build

# --- third-party sources: fetched (pinned, checksummed) when missing -----
NOFETCH_GOALS := clean distclean lint help
ifneq ($(filter-out $(NOFETCH_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(wildcard $(MBEDTLS_SRC)/include/mbedtls/ssl.h),)
ifeq ($(origin MBEDTLS_SRC),file)
$(info fetching mbedTLS $(MBEDTLS_VER) source)
FETCH_OUT := $(shell sh third_party/fetch.sh mbedtls 1>&2; echo $$?)
ifneq ($(FETCH_OUT),0)
$(error fetching mbedTLS failed (see above))
endif
else
$(error MBEDTLS_SRC=$(MBEDTLS_SRC) has no include/mbedtls/ssl.h)
endif
endif
ifeq ($(wildcard $(NANOPB_SRC)/pb_decode.c),)
ifeq ($(origin NANOPB_SRC),file)
$(info fetching nanopb $(NANOPB_VER) source)
FETCH_OUT := $(shell sh third_party/fetch.sh nanopb 1>&2; echo $$?)
ifneq ($(FETCH_OUT),0)
$(error fetching nanopb failed (see above))
endif
else
$(error NANOPB_SRC=$(NANOPB_SRC) has no pb_decode.c)
endif
endif
endif

INCLUDES := -iquote src -iquote proto -I$(NANOPB_SRC) -Ithird_party \
	-I$(MBEDTLS_SRC)/include
# Our code: warnings are errors.  User CFLAGS come last.
ALL_CFLAGS := $(BASE_CFLAGS) $(WARN) $(WERROR) $(INCLUDES) \
	$(MBEDTLS_DEFS) -DPB_FIELD_32BIT -DPB_ENABLE_MALLOC -MMD -MP $(CFLAGS)
# Third-party code: built with the same compiler and flags, minus ours.
TP_CFLAGS := $(BASE_CFLAGS) -w -Ithird_party -I$(MBEDTLS_SRC)/include \
	-I$(MBEDTLS_SRC)/library -I$(NANOPB_SRC) $(MBEDTLS_DEFS) \
	-DPB_FIELD_32BIT -DPB_ENABLE_MALLOC -MMD -MP $(CFLAGS)

# --- sources --------------------------------------------------------------
LIB_SRCS := $(wildcard src/*.c) $(wildcard src/agent/*.c) \
	$(wildcard proto/*.pb.c) $(wildcard proto/google/protobuf/*.pb.c)
CMD_SRCS := $(wildcard src/cmd/*.c)
TEST_SRCS := $(wildcard test/test_*.c)
FUZZ_SRCS := $(wildcard test/fuzz/fuzz_*.c)
MBEDTLS_SRCS := $(wildcard $(MBEDTLS_SRC)/library/*.c)
NANOPB_SRCS := $(addprefix $(NANOPB_SRC)/,pb_common.c pb_encode.c pb_decode.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
MBEDTLS_OBJS := $(patsubst $(MBEDTLS_SRC)/library/%.c,$(O)/mbedtls/%.o,\
	$(MBEDTLS_SRCS))
NANOPB_OBJS := $(patsubst $(NANOPB_SRC)/%.c,$(O)/nanopb/%.o,$(NANOPB_SRCS))
PROGRAMS := $(CMD_SRCS:src/cmd/%.c=$(O)/%)
TESTS := $(TEST_SRCS:test/%.c=$(O)/test/%)

LIBSPIFFE := $(O)/libspiffe.a
LIBTP := $(O)/libthirdparty.a
LIBS := $(LIBSPIFFE) $(LIBTP)

.PHONY: all lib programs tests test static test-cross fuzz bench demo \
	proto lint clean distclean help
.DEFAULT_GOAL := all

all: lib programs
lib: $(LIBS)
programs: $(PROGRAMS)
tests: $(TESTS) $(PROGRAMS)

# Objects depend on the Makefile too: a change of flags rebuilds them.
$(O)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/mbedtls/%.o: $(MBEDTLS_SRC)/library/%.c third_party/spiffe_mbedtls_config.h \
		Makefile
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(TP_CFLAGS) -c -o $@ $<

$(O)/nanopb/%.o: $(NANOPB_SRC)/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -c -o $@ $<

$(LIBSPIFFE): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIBTP): $(MBEDTLS_OBJS) $(NANOPB_OBJS)
	@rm -f $@
	@echo "AR $@"
	@$(AR) rcs $@ $^

$(PROGRAMS): $(O)/%: $(O)/obj/src/cmd/%.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(TESTS): $(O)/test/%: $(O)/obj/test/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# --- tests ----------------------------------------------------------------
test: tests
	@sh test/deps.sh
	@sh test/run.sh $(O)

static:
	$(MAKE) STATIC=1 programs
	@for p in $(CMD_SRCS:src/cmd/%.c=build/static/%); do \
		$(STRIP) -o $$p.stripped $$p && \
		printf '%-36s %7d bytes stripped, %s\n' $$p \
			$$(stat -c %s $$p.stripped) \
			"$$(file -b $$p | grep -o 'statically linked' || \
			echo 'NOT statically linked')"; \
	done

QEMU_AARCH64 ?= qemu-aarch64 -L /usr/aarch64-linux-gnu
test-cross:
	$(MAKE) CROSS_COMPILE=aarch64-linux-gnu- $(TEST_SRCS:test/%.c=build/aarch64-linux-gnu/test/%)
	@SPIFFE_TEST_EMULATED=1 QEMU="$(QEMU_AARCH64)" \
		sh test/run.sh build/aarch64-linux-gnu --unit-only

# --- fuzzing (clang, libFuzzer, ASan + UBSan) -----------------------------
FUZZ_SECONDS ?= 60
FUZZ_O := build/fuzz
fuzz:
	$(MAKE) O=$(FUZZ_O) CC=clang OPT="-O1 -g" \
		CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		$(FUZZ_SRCS:test/fuzz/%.c=$(FUZZ_O)/fuzz/%)
	@sh test/fuzz/run.sh $(FUZZ_O)/fuzz $(FUZZ_SECONDS)

FUZZERS := $(FUZZ_SRCS:test/fuzz/%.c=$(O)/fuzz/%)
$(FUZZERS): $(O)/fuzz/%: $(O)/obj/test/fuzz/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIBS) $(LDLIBS)

# --- the rest -------------------------------------------------------------
BENCH_SRCS := $(wildcard test/bench/bench_*.c)
BENCHES := $(BENCH_SRCS:test/bench/%.c=$(O)/bench/%)
$(BENCHES): $(O)/bench/%: $(O)/obj/test/bench/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

bench: all $(BENCHES)
	@sh test/bench.sh $(O)

demo: all
	@sh test/demo.sh $(O)

proto:
	@command -v protoc >/dev/null || { echo "make proto needs protoc and python3-protobuf (apt-get install protobuf-compiler python3-protobuf)"; exit 2; }
	cd proto && for p in workload google/protobuf/struct; do \
		/usr/bin/python3 $(abspath $(NANOPB_SRC))/generator/nanopb_generator.py \
		-q -I/usr/include -I. -D . -f $$p.options $$p.proto || exit 1; done

lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|gets|sscanf|atoi|atol)[[:space:]]*\(' \
		src/*.c src/agent/*.c src/cmd/*.c 2>/dev/null || \
		{ echo "lint: banned calls above (see STYLE.md)"; exit 1; }
	@echo "lint: ok"

clean:
	rm -rf build

distclean: clean
	rm -rf third_party/dl third_party/mbedtls-* third_party/nanopb-*

help:
	@sed -n '2,15p' Makefile

-include $(wildcard $(LIB_OBJS:.o=.d) $(MBEDTLS_OBJS:.o=.d) \
	$(NANOPB_OBJS:.o=.d) $(O)/obj/src/cmd/*.d $(O)/obj/test/*.d \
	$(O)/obj/test/fuzz/*.d $(O)/obj/test/bench/*.d)
