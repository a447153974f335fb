# The helper's layers (issue 11): `make loc` prints lines of code per layer;
# check-layers proves from the objects' symbols (nm) that there is no cycle and
# that no layer uses a higher one; check-format holds every C file to .clang-format.
.PHONY: loc check-layers
loc:
	@tests/layers.sh loc

check-layers: $(HELPER_OBJS) $(PROTO_OBJS)
	@tests/layers.sh check $(HELPER_OBJS) $(PROTO_OBJS)

# Every C file matches .clang-format.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find protocol policy audit helper client tools tests bench -name '*.[ch]')
.PHONY: check-format
check-format:
	@bad=""; for f in $(FORMAT_FILES); do \
		clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || bad="$$bad $$f"; \
	done; \
	if [ -n "$$bad" ]; then echo "check-format: not formatted (run make format):$$bad" >&2; exit 1; fi; \
	echo "check-format: $(words $(FORMAT_FILES)) files match .clang-format"
# The two static checks run first: they fail in seconds, the guest suites in minutes.
CHECK_STAGES := check-format check-layers $(CHECK_STAGES)

# test_request runs --check-policy on the helper.
$(B)/tests/test_request: $(B)/ephcrypt-helper
