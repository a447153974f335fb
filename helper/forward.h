/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which calls may go to privsep-helper (policy [forward], doc/relay.rst):
 * the parts of the decision that do not depend on the policy's storage
 * rules.  Pure functions, no state.
 */
#ifndef EPHCRYPT_FORWARD_H
#define EPHCRYPT_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "../protocol/mp.h"

/*
 * A storage name is never forwarded, whatever [forward] says: it must be
 * served under ephcrypt's own checks or refused.  True for "ephcrypt."
 * names and for names whose function part (after the last '.') has a
 * '_'-separated word starting with lv, vg, pv or dm, a word containing
 * "crypt", or "device_maps" (kpartx makes device-mapper devices).
 */
bool forward_is_storage_name(const char *name, size_t len);

/* [id, [5, "builtins.NameError", ["Invalid privsep function: NAME not
 * exported"]]]: privsep-helper's reply for a name its context does not
 * export, for every name that is neither served nor forwarded. */
int forward_refusal(struct mp_buf *b, const struct mp_value *msgid, const char *name, size_t len);

#endif
