// SPDX-License-Identifier: Apache-2.0
/* libmicrohttpd, loaded on its first use (lazylib.h explains why): only boxlite serve calls
 * it. Include this instead of <microhttpd.h>. Without the library MHD_start_daemon gives
 * NULL. */
#ifndef BOXLITE_COMMON_LAZY_MHD_H
#define BOXLITE_COMMON_LAZY_MHD_H

#include <microhttpd.h>

#include "common/lazylib.h"

#define LAZY_MHD_FNS(X) \
    X(MHD_start_daemon) X(MHD_quiesce_daemon) X(MHD_stop_daemon) X(MHD_get_daemon_info) \
    X(MHD_lookup_connection_value) X(MHD_get_connection_values) \
    X(MHD_create_response_from_buffer) X(MHD_create_response_from_fd64) \
    X(MHD_create_response_from_callback) X(MHD_create_response_for_upgrade) \
    X(MHD_add_response_header) X(MHD_get_response_header) X(MHD_queue_response) \
    X(MHD_destroy_response) X(MHD_upgrade_action)

LAZYLIB_DECLARE(mhd, LAZY_MHD_FNS)

#define MHD_start_daemon(...) LAZY_CALL(lazy_mhd, MHD_start_daemon, NULL, __VA_ARGS__)
#define MHD_quiesce_daemon(...) \
    LAZY_CALL(lazy_mhd, MHD_quiesce_daemon, MHD_INVALID_SOCKET, __VA_ARGS__)
#define MHD_stop_daemon(...) LAZY_CALL(lazy_mhd, MHD_stop_daemon, (void)0, __VA_ARGS__)
#define MHD_get_daemon_info(...) LAZY_CALL(lazy_mhd, MHD_get_daemon_info, NULL, __VA_ARGS__)
#define MHD_lookup_connection_value(...) \
    LAZY_CALL(lazy_mhd, MHD_lookup_connection_value, NULL, __VA_ARGS__)
#define MHD_get_connection_values(...) \
    LAZY_CALL(lazy_mhd, MHD_get_connection_values, 0, __VA_ARGS__)
#define MHD_create_response_from_buffer(...) \
    LAZY_CALL(lazy_mhd, MHD_create_response_from_buffer, NULL, __VA_ARGS__)
#define MHD_create_response_from_fd64(...) \
    LAZY_CALL(lazy_mhd, MHD_create_response_from_fd64, NULL, __VA_ARGS__)
#define MHD_create_response_from_callback(...) \
    LAZY_CALL(lazy_mhd, MHD_create_response_from_callback, NULL, __VA_ARGS__)
#define MHD_create_response_for_upgrade(...) \
    LAZY_CALL(lazy_mhd, MHD_create_response_for_upgrade, NULL, __VA_ARGS__)
#define MHD_add_response_header(...) \
    LAZY_CALL(lazy_mhd, MHD_add_response_header, MHD_NO, __VA_ARGS__)
#define MHD_get_response_header(...) LAZY_CALL(lazy_mhd, MHD_get_response_header, NULL, __VA_ARGS__)
#define MHD_queue_response(...) LAZY_CALL(lazy_mhd, MHD_queue_response, MHD_NO, __VA_ARGS__)
#define MHD_destroy_response(...) LAZY_CALL(lazy_mhd, MHD_destroy_response, (void)0, __VA_ARGS__)
#define MHD_upgrade_action(...) LAZY_CALL(lazy_mhd, MHD_upgrade_action, MHD_NO, __VA_ARGS__)

#endif
