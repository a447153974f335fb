# SPDX-License-Identifier: Apache-2.0
# Deployment: the helper's start-up as an operator meets it (helper.conf, sudo,
# start-up messages, audit records of refusals), tested through the binaries.

# test_startup runs the helper and ephcrypt-audit; test_request runs --check-policy.
$(B)/tests/test_startup: $(B)/ephcrypt-helper $(B)/ephcrypt-audit
$(B)/tests/test_request: $(B)/ephcrypt-helper

# The tests start the helper as root with their own --policy and --audit-log.
# Under `sudo make check` the variables sudo sets would make the helper treat
# those as a caller's attempt to widen its settings, and refuse them.
unexport SUDO_USER SUDO_UID SUDO_GID SUDO_COMMAND
