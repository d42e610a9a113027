/*
 * INCRBYFLOAT / HINCRBYFLOAT arithmetic in C `long double`.
 *
 * Redis computes these increments in `long double` (80-bit extended precision on x86_64)
 * and prints the result with "%.17Lf" before trimming zeros, so that 0.1 + 0.2 reads back
 * as "0.3". Rust has no `long double`, and the x87 value cannot cross the FFI boundary,
 * so the whole parse-add-format step lives here and only bytes go in and out.
 */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Same bound Redis applies to a long double's text (MAX_LONG_DOUBLE_CHARS). */
#define SLUICE_LD_MAX_CHARS (5 * 1024)

enum {
    SLUICE_LD_OK = 0,
    SLUICE_LD_BAD_CURRENT = 1,
    SLUICE_LD_BAD_INCREMENT = 2,
    SLUICE_LD_NOT_FINITE = 3,
    SLUICE_LD_NO_ROOM = 4,
};

/* Parses text of exactly `len` bytes; refuses leading space, trailing bytes (an embedded
 * NUL included), overflow, underflow to zero and NaN. Returns 1 on success. */
static int parse_long_double(const char *text, size_t len, long double *out) {
    char buf[SLUICE_LD_MAX_CHARS];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return 0;

    errno = 0;
    value = strtold(buf, &end);
    if (end[0] != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE &&
        (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO))
        return 0;
    if (errno == EINVAL || isnan(value)) return 0;
    *out = value;
    return 1;
}

/* "%.17Lf" with the zeros after the decimal point removed, and "-0" printed as "0". */
static size_t format_human(long double value, char *out, size_t cap) {
    int written = snprintf(out, cap, "%.17Lf", value);
    if (written < 0 || (size_t)written + 1 > cap) return 0;
    size_t len = (size_t)written;
    if (memchr(out, '.', len) != NULL) {
        while (len > 0 && out[len - 1] == '0') len--;
        if (len > 0 && out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    out[len] = '\0';
    return len;
}

int sluice_ld_valid(const char *text, size_t len) {
    long double ignored;
    return parse_long_double(text, len, &ignored);
}

int sluice_ld_incr(const char *current, size_t current_len, const char *incr,
                   size_t incr_len, char *out, size_t out_cap, size_t *out_len) {
    long double value, increment;

    *out_len = 0;
    if (!parse_long_double(current, current_len, &value)) return SLUICE_LD_BAD_CURRENT;
    if (!parse_long_double(incr, incr_len, &increment)) return SLUICE_LD_BAD_INCREMENT;
    value += increment;
    if (isnan(value) || isinf(value)) return SLUICE_LD_NOT_FINITE;
    *out_len = format_human(value, out, out_cap);
    if (*out_len == 0) return SLUICE_LD_NO_ROOM;
    return SLUICE_LD_OK;
}
