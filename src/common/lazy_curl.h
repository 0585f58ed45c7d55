// SPDX-License-Identifier: Apache-2.0
/* libcurl, loaded on its first use (lazylib.h explains why). Include this instead of
 * <curl/curl.h>. curl's compile-time checks of an option's value type (typecheck-gcc.h) are
 * macros of the same names as ours, so they are off here; the prototypes still check the
 * fixed arguments of each call. */
#ifndef BOXLITE_COMMON_LAZY_CURL_H
#define BOXLITE_COMMON_LAZY_CURL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "common/lazylib.h"

/* curl.h's own checks of the argument count, replaced by ours below */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt

#define LAZY_CURL_FNS(X)                                                                  \
    X(curl_global_init) X(curl_easy_init) X(curl_easy_setopt) X(curl_easy_getinfo)        \
    X(curl_easy_perform) X(curl_easy_reset) X(curl_easy_cleanup) X(curl_easy_strerror)    \
    X(curl_easy_escape) X(curl_easy_send) X(curl_easy_recv) X(curl_free)                  \
    X(curl_slist_append) X(curl_slist_free_all) X(curl_getdate) X(curl_multi_init)        \
    X(curl_multi_setopt) X(curl_multi_add_handle) X(curl_multi_remove_handle)             \
    X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_info_read) X(curl_multi_cleanup)

LAZYLIB_DECLARE(curl, LAZY_CURL_FNS)

#define curl_global_init(...) LAZY_CALL(lazy_curl, curl_global_init, CURLE_FAILED_INIT, __VA_ARGS__)
#define curl_easy_init(...) LAZY_CALL(lazy_curl, curl_easy_init, NULL, __VA_ARGS__)
#define curl_easy_setopt(...) LAZY_CALL(lazy_curl, curl_easy_setopt, CURLE_FAILED_INIT, __VA_ARGS__)
#define curl_easy_getinfo(...) \
    LAZY_CALL(lazy_curl, curl_easy_getinfo, CURLE_FAILED_INIT, __VA_ARGS__)
#define curl_easy_perform(...) \
    LAZY_CALL(lazy_curl, curl_easy_perform, CURLE_FAILED_INIT, __VA_ARGS__)
#define curl_easy_reset(...) LAZY_CALL(lazy_curl, curl_easy_reset, (void)0, __VA_ARGS__)
#define curl_easy_cleanup(...) LAZY_CALL(lazy_curl, curl_easy_cleanup, (void)0, __VA_ARGS__)
#define curl_easy_strerror(...) \
    LAZY_CALL(lazy_curl, curl_easy_strerror, lazylib_why(&lazy_curl_lib), __VA_ARGS__)
#define curl_easy_escape(...) LAZY_CALL(lazy_curl, curl_easy_escape, NULL, __VA_ARGS__)
#define curl_easy_send(...) LAZY_CALL(lazy_curl, curl_easy_send, CURLE_FAILED_INIT, __VA_ARGS__)
#define curl_easy_recv(...) LAZY_CALL(lazy_curl, curl_easy_recv, CURLE_FAILED_INIT, __VA_ARGS__)
#define curl_free(...) LAZY_CALL(lazy_curl, curl_free, (void)0, __VA_ARGS__)
#define curl_slist_append(...) LAZY_CALL(lazy_curl, curl_slist_append, NULL, __VA_ARGS__)
#define curl_slist_free_all(...) LAZY_CALL(lazy_curl, curl_slist_free_all, (void)0, __VA_ARGS__)
#define curl_getdate(...) LAZY_CALL(lazy_curl, curl_getdate, (time_t)-1, __VA_ARGS__)
#define curl_multi_init(...) LAZY_CALL(lazy_curl, curl_multi_init, NULL, __VA_ARGS__)
#define curl_multi_setopt(...) \
    LAZY_CALL(lazy_curl, curl_multi_setopt, CURLM_INTERNAL_ERROR, __VA_ARGS__)
#define curl_multi_add_handle(...) \
    LAZY_CALL(lazy_curl, curl_multi_add_handle, CURLM_INTERNAL_ERROR, __VA_ARGS__)
#define curl_multi_remove_handle(...) \
    LAZY_CALL(lazy_curl, curl_multi_remove_handle, CURLM_INTERNAL_ERROR, __VA_ARGS__)
#define curl_multi_perform(...) \
    LAZY_CALL(lazy_curl, curl_multi_perform, CURLM_INTERNAL_ERROR, __VA_ARGS__)
#define curl_multi_poll(...) \
    LAZY_CALL(lazy_curl, curl_multi_poll, CURLM_INTERNAL_ERROR, __VA_ARGS__)
#define curl_multi_info_read(...) LAZY_CALL(lazy_curl, curl_multi_info_read, NULL, __VA_ARGS__)
#define curl_multi_cleanup(...) \
    LAZY_CALL(lazy_curl, curl_multi_cleanup, CURLM_INTERNAL_ERROR, __VA_ARGS__)

#endif
