// SPDX-License-Identifier: Apache-2.0
/* Renaming a box: its name is a column of the state database (the box's folder is named
 * by its id), so a rename is one UPDATE, refused when the name is taken. */
#include "runtime/api_error.h"
#include "runtime/options.h"
#include "runtime/runtime.h"

BOXLITE_API int boxlite_box_rename(boxlite_runtime *rt, const char *key, const char *name)
{
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(key && name, "id or name is NULL");
    if (!opts_valid_name(name))
        return api_fail(BOXLITE_ERR_INVALID,
                        "rename: \"%.64s\" is not a valid name (letters, digits, _ . -; at most %d)",
                        name, BL_MAX_NAME);
    struct bl_error err = {0};
    struct box_record rec;
    int r = rt_box_lookup(rt, key, &rec, &err);
    if (r)
        return api_return(r, &err);
    r = state_box_rename(rt->db, rec.id, name, &err);
    box_record_clear(&rec);
    return api_return(r ? bl_err_prefix(&err, "rename") : 0, &err);
}
