# The relay to privsep-helper (helper/relay.c, issue 15), against Debian's
# real privsep-helper for nova.privsep.sys_admin_pctxt: its own C driver, as
# built and under AddressSanitizer and UBSan (leaks included); then
# oslo.privsep's real client and Nova's functions through ephcrypt-helper
# itself (policy [forward]: its serve loop, dispatch, audit and sandbox).
# Needs root and python3-nova (exit 77, counted as skipped, without them).

RELAY_ASAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

# relay_test: the C driver of helper/relay.c alone.
RELAY_BINS := $(B)/tests/relay_test
$(B)/tests/relay_test: tests/relay/test_relay.c
$(RELAY_BINS): $(B)/helper/relay.o $(B)/libephcrypt-proto.a helper/relay.h | deps-nova
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDHARDEN) -o $@ $(filter %.c,$^) $(B)/helper/relay.o \
		$(B)/libephcrypt-proto.a

.PHONY: check-relay
check-relay: $(RELAY_BINS) $(B)/ephcrypt-helper
	$(MAKE) --no-print-directory B=build/asan CFLAGS="$(RELAY_ASAN_CFLAGS)" \
		LDHARDEN="-fsanitize=address,undefined" build/asan/tests/relay_test
	@for t in $(B)/tests/relay_test build/asan/tests/relay_test \
			"$(PYTHON) tests/relay/test_relay_oslo.py $(B)/ephcrypt-helper"; do \
		echo "== $$t"; rc=0; ASAN_OPTIONS=detect_leaks=1 $$t || rc=$$?; \
		if [ $$rc = 77 ]; then echo "check-relay: skipped"; $(call skipped,$@); \
		elif [ $$rc != 0 ]; then exit $$rc; fi; \
	done

CHECK_STAGES += check-relay

