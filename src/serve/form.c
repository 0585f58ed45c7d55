// SPDX-License-Identifier: Apache-2.0
/* application/x-www-form-urlencoded bodies (the OAuth2 token request, RFC 6749 section
 * 4.4.2), decoded as the WHATWG URL standard's "urlencoded parser" does: '&' separates,
 * the first '=' splits, '+' is a space, %XX a byte. Stricter than the standard: a bad %XX,
 * a NUL, a repeated key or too many fields is refused rather than guessed at. */
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

#define FORM_MAX_FIELDS 32

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into a new string; NULL on a bad escape or a NUL byte. */
static char *decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - i < 3) { /* "%" or "%X" at the end */
                free(o);
                return NULL;
            }
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0) {
                free(o);
                return NULL;
            }
            c = (char)(a * 16 + b);
            i += 2;
        }
        if (c == 0) {
            free(o);
            return NULL;
        }
        o[k++] = c;
    }
    o[k] = 0;
    return o;
}

int serve_form_parse(const char *body, size_t len, json_t **out, struct bl_error *err)
{
    *out = NULL;
    json_t *o = json_object();
    if (!o)
        return bl_err(err, BOXLITE_ERR_NOMEM, "form: out of memory");
    size_t i = 0, fields = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            if (++fields > FORM_MAX_FIELDS) {
                json_decref(o);
                return bl_err(err, BOXLITE_ERR_INVALID, "form: more than %d fields",
                              FORM_MAX_FIELDS);
            }
            const char *eq = memchr(body + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (body + i)) : j - i;
            char *k = decode(body + i, klen);
            char *v = eq ? decode(eq + 1, (size_t)(body + j - eq - 1)) : strdup("");
            if (!k || !v || !*k) {
                free(k);
                free(v);
                json_decref(o);
                return bl_err(err, BOXLITE_ERR_INVALID,
                              "form: field %zu: bad %%-escape, NUL byte or empty name", fields);
            }
            if (json_object_get(o, k)) {
                int r = bl_err(err, BOXLITE_ERR_INVALID, "form: \"%.64s\" given twice", k);
                free(k);
                free(v);
                json_decref(o);
                return r;
            }
            json_t *js = json_string(v); /* NULL for invalid UTF-8 */
            free(v);
            if (!js || json_object_set_new(o, k, js) != 0) {
                int r = bl_err(err, BOXLITE_ERR_INVALID, "form: \"%.64s\" is not UTF-8", k);
                free(k);
                json_decref(o);
                return r;
            }
            free(k);
        }
        i = j + 1;
    }
    *out = o;
    return 0;
}
