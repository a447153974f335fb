# SPDX-License-Identifier: Apache-2.0
# check-cadf: every audit record loads into pycadf's Event model and passes
# is_valid() (tests/audit/check-cadf.py). Here over a log the real helper
# writes on this host (refusals and failures: no device-mapper here); the
# guest's tests/guest/policy.sh checks its log, allowed records included.
# The checker must also refuse a record of the old, non-CADF shape.
# python3-pycadf is in TEST_PKGS.

check-cadf: deps-test $(B)/ephcrypt-helper
	$(PYTHON) tests/audit/check-cadf.py --run-helper
	@if $(PYTHON) tests/audit/check-cadf.py tests/audit/fixtures/pre-cadf-record.jsonl >/dev/null; then \
		echo "check-cadf.py accepted a record that is not a CADF event" >&2; exit 1; fi

CHECK_STAGES += check-cadf
