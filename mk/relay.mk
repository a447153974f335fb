# The relay to privsep-helper (helper/relay.c, issue 15): its own test driver,
# run against Debian's real privsep-helper for nova.privsep.sys_admin_pctxt,
# once as built and once under AddressSanitizer and UBSan (leaks included).
# Needs root and python3-nova (exit 77, counted as skipped, without them).

RELAY_ASAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

$(B)/tests/relay_test: tests/relay/test_relay.c $(B)/helper/relay.o $(B)/libephcrypt-proto.a \
		helper/relay.h | deps-nova
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDHARDEN) -o $@ $< $(B)/helper/relay.o \
		$(B)/libephcrypt-proto.a

.PHONY: check-relay
check-relay: $(B)/tests/relay_test
	$(MAKE) --no-print-directory B=build/asan CFLAGS="$(RELAY_ASAN_CFLAGS)" \
		LDHARDEN="-fsanitize=address,undefined" build/asan/tests/relay_test
	@for t in $(B)/tests/relay_test build/asan/tests/relay_test; do \
		echo "== $$t"; rc=0; ASAN_OPTIONS=detect_leaks=1 $$t || rc=$$?; \
		if [ $$rc = 77 ]; then echo "check-relay: skipped"; elif [ $$rc != 0 ]; then exit $$rc; fi; \
	done

CHECK_STAGES += check-relay
