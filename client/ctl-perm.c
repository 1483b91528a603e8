/* SPDX-License-Identifier: MIT */
/*
 * mpxctl chmod and chown: an object's mode, owner and group, written as
 * chmod(1) and chown(1) take them (octal modes; users and groups by name or
 * number). ls shows them in its OWNER and MODE columns.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpxctl.h"

/* Parse "COMMAND ARG NAME" with no options but the common ones. */
static int perm_parse_args(struct ctl *ctl, int argc, char **argv, const char **ret_arg, const char **ret_name) {
        struct ctl_args a;
        int r;

        r = ctl_parse_args(ctl, argc, argv, ctl_no_options, CTL_ARGS_RAW, 0, 0, &a);
        if (r == CTL_EXIT_OK)
                r = ctl_check_args(ctl, a.n, 2, 2);
        if (r == CTL_EXIT_OK)
                r = ctl_check_name(ctl, a.pos[1]);
        if (r != CTL_EXIT_OK)
                return r;
        *ret_arg = a.pos[0];
        *ret_name = a.pos[1];
        return CTL_EXIT_OK;
}

/* A number that is all decimal digits and fits an id below (uint32_t) -1; false otherwise. */
static bool parse_id(const char *s, uint32_t *ret) {
        unsigned long long v;
        char *end;

        if (!*s || strspn(s, "0123456789") != strlen(s))
                return false;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || v >= UINT32_MAX)
                return false;
        *ret = (uint32_t) v;
        return true;
}

/* A user, or with group a group, by name or number: 0 and *ret, or a usage error. */
static int resolve_id(struct ctl *ctl, const char *s, bool group, uint32_t *ret) {
        struct passwd *pw = group ? NULL : getpwnam(s);
        struct group *gr = group ? getgrnam(s) : NULL;

        if (pw)
                *ret = (uint32_t) pw->pw_uid;
        else if (gr)
                *ret = (uint32_t) gr->gr_gid;
        else if (!parse_id(s, ret))
                return ctl_usage_error(ctl, "unknown %s '%s' (a name or a number)", group ? "group" : "user", s);
        return CTL_EXIT_OK;
}

/* mpxctl chmod MODE NAME: set an object's mode, in octal (0660, 640). */
int ctl_perm_chmod(struct ctl *ctl, int argc, char **argv) {
        const char *arg = NULL, *name = NULL;
        unsigned long mode;
        char *end;
        int r;

        r = perm_parse_args(ctl, argc, argv, &arg, &name);
        if (r != CTL_EXIT_OK)
                return r;
        errno = 0;
        mode = strtoul(arg, &end, 8);
        if (!*arg || *end || errno || strspn(arg, "01234567") != strlen(arg) || mode > 07777)
                return ctl_usage_error(ctl, "bad mode '%s' (octal, from 0 to 7777, such as 0660)", arg);
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_status(mpx_chmod(ctl->m, name, (unsigned) mode), "object", name, NULL);
}

/*
 * mpxctl chown USER[:GROUP] NAME, or :GROUP to change the group alone, as
 * chown(1): users and groups by name or number.
 */
int ctl_perm_chown(struct ctl *ctl, int argc, char **argv) {
        const char *arg = NULL, *name = NULL, *colon;
        uint32_t uid = (uint32_t) -1, gid = (uint32_t) -1;
        size_t user_len;
        char user[256];
        int r;

        r = perm_parse_args(ctl, argc, argv, &arg, &name);
        if (r != CTL_EXIT_OK)
                return r;
        colon = strchr(arg, ':');
        user_len = colon ? (size_t) (colon - arg) : strlen(arg);
        /* USER, USER:GROUP or :GROUP; neither part may be empty once written. */
        if (user_len >= sizeof(user) || (colon && !colon[1]) || (!colon && user_len == 0))
                return ctl_usage_error(ctl, "bad owner '%s' (USER, USER:GROUP or :GROUP)", arg);
        memcpy(user, arg, user_len);
        user[user_len] = '\0';
        if (*user && (r = resolve_id(ctl, user, false, &uid)) != CTL_EXIT_OK)
                return r;
        if (colon && (r = resolve_id(ctl, colon + 1, true, &gid)) != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_status(mpx_chown(ctl->m, name, (uid_t) uid, (gid_t) gid), "object", name, NULL);
}
