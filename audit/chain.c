/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log's hash chain (chain.h): the one definition of a link. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "chain.h"

int
audit_chain_hash(const void *line, size_t len, char out[AUDIT_HASH_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(line, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EIO;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
audit_chain_start(char out[AUDIT_HASH_HEX])
{
	return audit_chain_hash(AUDIT_START_MARKER, strlen(AUDIT_START_MARKER), out);
}
