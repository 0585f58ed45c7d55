// component: serve
// SPDX-License-Identifier: Apache-2.0
/* What a remote client sends boxlite serve: the first byte picks the decoder (request path,
 * token form, CreateBoxRequest, ExecRequest, the small bodies (fork and balloon too), a page token, a box info as
 * the library would hand it, a files path, a PullImageRequest, an image entry and box
 * metrics as the library would hand them), the rest is its input. Nothing may crash, leak or accept
 * what it then cannot encode again. */
#include "serve/serve.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned kind = data[0] % 16;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, in, n);
    s[n] = 0;
    struct bl_error e = {0};
    switch (kind) {
    case 0: {
        struct serve_route r;
        if (serve_route_parse(s, &r) == 0) {
            if (r.id == R_NONE || strlen(r.prefix) > SERVE_SEG_MAX)
                abort();
            (void)serve_route_scope(r.id, "GET");
            (void)serve_route_methods(r.id);
        }
        break;
    }
    case 1: {
        json_t *o = NULL;
        if (serve_form_parse(in, n, &o, &e) == 0 && !json_is_object(o))
            abort();
        json_decref(o);
        break;
    }
    case 2: {
        struct serve_limits lim = { 32, 16384, 100, "/srv/roots" };
        json_t *o = NULL;
        if (serve_create_options(in, n, "acme", &lim, &o, &e) == 0) {
            /* what we accept names the tenant and never a host path as image */
            json_t *labels = json_object_get(o, "labels");
            const char *p = json_string_value(json_object_get(labels, SERVE_LABEL_PREFIX));
            const char *img = json_string_value(json_object_get(o, "image"));
            if (!p || strcmp(p, "acme") || (img && (img[0] == '/' || strstr(img, ".."))))
                abort();
            char *txt = json_dumps(o, 0);
            if (!txt)
                abort();
            free(txt);
        }
        json_decref(o);
        break;
    }
    case 3: {
        struct serve_exec_req r;
        if (serve_exec_parse(in, n, &r, &e) == 0) {
            if (!r.argv || !r.argv[0] || !r.argv[0][0] || (r.user && !r.user[0]))
                abort();
            serve_exec_req_free(&r);
        }
        break;
    }
    case 4: {
        int sig, ms;
        unsigned c, w;
        char *name = NULL;
        if (serve_signal_parse(in, n, &sig, &e) == 0 && (sig < 1 || sig > 64))
            abort();
        if (serve_resize_parse(in, n, &c, &w, &e) == 0 && (!c || !w))
            abort();
        if (serve_stop_parse(in, n, &ms, &e) == 0 && ms < 0)
            abort();
        if (serve_pause_parse(in, n, &ms, &e) == 0 && (ms < 0 || ms > 3600000))
            abort();
        if (serve_name_parse(in, n, false, &name, &e) == 0 && name && !serve_valid_prefix(name))
            abort();
        free(name);
        /* the extensions' bodies: a balloon target in range, 1-16 valid fork names */
        int mib;
        json_t *names = NULL;
        if (serve_balloon_parse(in, n, &mib, &e) == 0 && (mib < 0 || (mib > 0 && mib < 32)))
            abort();
        if (serve_fork_parse(in, n, &names, &e) == 0) {
            size_t i, k = json_array_size(names);
            json_t *it;
            if (k < 1 || k > SERVE_FORK_MAX)
                abort();
            json_array_foreach(names, i, it)
                if (!json_is_null(it) && !serve_valid_prefix(json_string_value(it)))
                    abort();
        }
        json_decref(names);
        break;
    }
    case 5: {
        long long c;
        char id[65];
        if (serve_page_token_parse(s, &c, id) == 0) {
            char *t = serve_page_token(c, id);
            long long c2;
            char id2[65];
            if (!t || serve_page_token_parse(t, &c2, id2) != 0 || c2 != c || strcmp(id, id2))
                abort();
            free(t);
        }
        break;
    }
    case 6: {
        json_t *info = json_loadb(in, n, 0, NULL);
        json_t *b = info ? serve_box_json(info, "acme") : NULL;
        if (b && !json_is_string(json_object_get(b, "status")))
            abort();
        json_decref(b);
        json_decref(info);
        break;
    }
    case 8: {
        char out[SERVE_PATH_MAX + 2];
        if (serve_guest_path(s, out, sizeof out, &e) == 0) {
            /* what passes is absolute, without "..", "//" or a trailing slash */
            if (out[0] != '/' || strstr(out, "/../") || strstr(out, "//") ||
                (strlen(out) >= 3 && !strcmp(out + strlen(out) - 3, "/..")) ||
                (strlen(out) > 1 && out[strlen(out) - 1] == '/'))
                abort();
            char again[SERVE_PATH_MAX + 2];
            if (serve_guest_path(out, again, sizeof again, &e) != 0 || strcmp(out, again))
                abort();
        }
        break;
    }
    case 9: {
        char *ref = NULL;
        if (serve_pull_parse(in, n, &ref, &e) == 0 &&
            (!ref || !*ref || !strncmp(ref, "oci:", 4) || ref[0] == '/'))
            abort();
        free(ref);
        break;
    }
    case 10: {
        json_t *lib = json_loadb(in, n, 0, NULL);
        json_t *img = lib ? serve_image_json(lib) : NULL;
        if (img && !json_is_string(json_object_get(img, "repository")))
            abort();
        json_decref(img);
        json_t *m = lib ? serve_box_metrics(lib) : NULL;
        if (lib && json_is_object(lib) && !json_is_object(json_object_get(m, "boot_timing")))
            abort();
        json_decref(m);
        json_decref(lib);
        break;
    }
    default: {
        char *norm = serve_scopes_normalise(s);
        free(norm);
        (void)serve_scopes_have(s, "boxes:read");
        break;
    }
    }
    free(s);
    return 0;
}
