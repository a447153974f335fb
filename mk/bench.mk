# SPDX-License-Identifier: Apache-2.0
# make bench: ephcrypt against its peers, each ratio measured in the same run
# (bench/README.rst).  Benchmarks are not tests: nothing here is in `make check`.
#   host:  cold start and round trips through oslo.privsep's client against
#          privsep-helper and a do-nothing C helper (the floor), and a timed
#          start-up breakdown (bench/bench.py)
#   guest: storage operations through one long-lived helper against Nova's own
#          code in privsep-helper, crypto-erase against volume_clear = zero,
#          lvm process against lvm shell, dm-crypt throughput with fio
#          (bench/guest.sh in the UML guest)
# then build/bench/results.json, a table (results.txt) and PNG charts.
BENCH_PKGS := python3-matplotlib fio strace
BENCH_DIR := $(abspath $(B))/bench
BENCH_NICE ?= nice -n 10
BENCH_ROUNDS ?= 5
BENCH_GUEST_TIMEOUT ?= 3000

.PHONY: deps-bench bench-host bench-guest bench-relay bench-report bench-smoke

deps-bench: deps-nova
	$(call install_missing,$(BENCH_PKGS))

$(B)/bench/floor: bench/floor.c | deps
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $<

bench-host: deps-bench all $(B)/bench/floor
	@mkdir -p $(BENCH_DIR)
	$(BENCH_NICE) $(PYTHON) bench/bench.py --json $(BENCH_DIR)/host.json

# The guest disk is sparse: 6G holds a 2 GiB disk and Nova's 2 GiB zeroing.
bench-guest: deps-bench all
	@mkdir -p $(BENCH_DIR)
	EPHCRYPT_BENCH_OUT=$(BENCH_DIR) EPHCRYPT_BENCH_ROUNDS=$(BENCH_ROUNDS) \
		$(BENCH_NICE) tests/vm/run --timeout $(BENCH_GUEST_TIMEOUT) --disk-size 6G bench/guest.sh

# The relay's cost per call: relayed through ephcrypt-helper against
# privsep-helper alone, same client, same run (bench/relay.py).
bench-relay: deps-bench all
	@mkdir -p $(BENCH_DIR)
	$(BENCH_NICE) $(PYTHON) bench/relay.py --json $(BENCH_DIR)/relay.json

bench-report:
	$(PYTHON) bench/report.py $(BENCH_DIR)

bench: deps-bench
	$(MAKE) --no-print-directory bench-host
	$(MAKE) --no-print-directory bench-guest
	$(MAKE) --no-print-directory bench-relay
	$(MAKE) --no-print-directory bench-report
