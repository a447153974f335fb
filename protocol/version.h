/* SPDX-License-Identifier: Apache-2.0 */
/* The release, as both sides and the audit records name it. */
#ifndef EPHCRYPT_VERSION_H
#define EPHCRYPT_VERSION_H

#define EPHCRYPT_VERSION "0.1.0"

#endif
