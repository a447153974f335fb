# Issue 13, faults, load and fuzzing.
# check-fuzz-smoke: a few seconds of each libFuzzer harness (codec, policy
# parser, argument binding and the guard's name checks); `make fuzz` runs
# them for long (tests/fuzz/README).
FUZZ_SMOKE_SECONDS ?= 5

check-fuzz-smoke: deps
	$(call install_missing,$(FUZZ_PKGS))
	tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) mp policy guard

.PHONY: check-fuzz-smoke
CHECK_STAGES += check-fuzz-smoke
