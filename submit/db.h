/* db: the crash database (DESIGN.md §6): one file per report in a 0700
 * directory, written atomically. Helper process and btcrash command.
 *
 * Layout of the database directory:
 *   <uuid>.json   the report, exactly the JSON that is uploaded (0600);
 *   <uuid>.state  a small JSON object, {"state":"pending"} when stored, that
 *                 the submission code rewrites ("sent", "rejected", with
 *                 whatever it needs to add: status, attempts, times) (0600);
 *   .<name>.*     temporary files of a write in progress, or left by a helper
 *                 killed mid-write; readers skip names starting with '.'.
 * The report is renamed into place before its state file, so a report
 * without a state file is pending: nothing is lost between the two renames.
 * Keeping the state apart means the uploaded bytes never need rewriting,
 * and a state change is one small atomic rename.
 */
#ifndef BTCRASH_DB_H
#define BTCRASH_DB_H

#include <jansson.h>

/**
 * Store @report (which must have a "uuid") as DIR/<uuid>.json, state
 * pending. Creates DIR (and missing parents) with mode 0700; the file is 0600,
 * written to a temporary name, fsync'ed and renamed into place.
 *
 * Returns: 0 and *ret_path (malloc'ed; caller frees), or -errno: -EINVAL
 *          for a missing or unsafe uuid (anything but hex digits and '-'),
 *          -EPERM when DIR belongs to another user and others may write to
 *          it (someone else could swap our reports).
 * Borrows: @dir, @report.
 */
int btc_db_store(const char *dir, json_t *report, char **ret_path);

/**
 * Atomically replace DIR/<uuid>.state with @state (an object such as
 * {"state":"sent"}), the same way btc_db_store writes.
 *
 * Returns: 0 or -errno (as btc_db_store).
 * Borrows: @dir, @uuid, @state.
 */
int btc_db_write_state(const char *dir, const char *uuid, json_t *state);

/**
 * Create @dir and its missing parents, each with mode 0700 (whatever the
 * umask). Existing directories keep their mode.
 *
 * Returns: 0 or -errno.
 */
int btc_db_mkdir_p(const char *dir);

#endif
