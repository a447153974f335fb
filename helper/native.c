/* SPDX-License-Identifier: Apache-2.0 */
/* Native entrypoints: wire names ephcrypt.*. */
#include "helper.h"

static int
ep_version(struct call *c)
{
	return mp_put_str(c->ret, EPHCRYPT_VERSION);
}

const struct entrypoint native_entrypoints[] = {
	{ "ephcrypt.version", 0, NULL, 0, ep_version },
};
const size_t native_entrypoints_len = sizeof(native_entrypoints) / sizeof(native_entrypoints[0]);
