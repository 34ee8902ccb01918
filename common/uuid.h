/* uuid: random (version 4) UUIDs for report ids and sessions. Helper process
 * and btcrash command. */
#ifndef BTCRASH_UUID_H
#define BTCRASH_UUID_H

#define BTC_UUID_STR_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

/**
 * Write a random RFC 9562 version 4 UUID, lowercase, into @buf
 * (BTC_UUID_STR_LEN + 1 bytes), from getrandom().
 *
 * Returns: 0, or -errno from getrandom() (or from /dev/urandom on kernels
 *          without getrandom).
 */
int btc_uuid_v4(char *buf);

#endif
