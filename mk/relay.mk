# The relay to privsep-helper (helper/relay.c, issue 15): its own test driver,
# run against Debian's real privsep-helper for nova.privsep.sys_admin_pctxt.
# Needs root and python3-nova (exit 77, counted as skipped, without them).

$(B)/tests/relay_test: tests/relay/test_relay.c $(B)/helper/relay.o $(B)/libephcrypt-proto.a \
		helper/relay.h | deps-nova
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDHARDEN) -o $@ $< $(B)/helper/relay.o \
		$(B)/libephcrypt-proto.a

.PHONY: check-relay
check-relay: $(B)/tests/relay_test
	@rc=0; $(B)/tests/relay_test || rc=$$?; \
	if [ $$rc = 77 ]; then echo "check-relay: skipped"; elif [ $$rc != 0 ]; then exit $$rc; fi

CHECK_STAGES += check-relay
