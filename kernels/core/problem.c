/* Problems: validation with defaults and canonical padding, the benchdnn text grammar,
 * sizes and FLOPs.
 *
 * Text: "<op>[_nchw|_nhwc] <descriptor> [accumulate]". The descriptor is benchdnn's and is
 * read by benchdnn's rules (oneDNN tests/benchdnn, conv and ip drivers): a spatial
 * dimension is given when any of its fields is; a given dimension needs its input and
 * kernel size; a missing output size is computed, a missing padding deduced from a given
 * output size; the end padding always follows from the output size; a descriptor with a
 * height but no width is square (the whole height group copied), one with a width but no
 * height is 1-D. Dilation counts from 0 (dh1 = every other row = dil_h 2). A repeated key
 * keeps its last value. */
#include "internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *bt_op_name(bt_op op) {
    switch (op) {
    case BT_FC_BWD_DATA:
        return "fc_bwd_d";
    case BT_FC_BWD_WEIGHTS:
        return "fc_bwd_w";
    case BT_CONV_BWD_DATA:
        return "conv_bwd_d";
    case BT_CONV_BWD_WEIGHTS:
        return "conv_bwd_w";
    }
    return "unknown_op";
}

static int op_is_fc(bt_op op) {
    return op == BT_FC_BWD_DATA || op == BT_FC_BWD_WEIGHTS;
}

/* Largest element count of one tensor we accept: its bytes must fit in a signed 64-bit
 * offset and in size_t. */
#define BT_MAX_ELEMS ((int64_t)(INT64_MAX / 8))

static int mul_checked(int64_t *acc, int64_t v) {
    int64_t r;
    if (__builtin_mul_overflow(*acc, v, &r) || r > BT_MAX_ELEMS) return 0;
    *acc = r;
    return 1;
}

/* Output size along one dimension, or 0 when the padded input is shorter than the kernel's
 * extent (or the arithmetic would overflow). */
static int64_t out_size(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t dil, int64_t ker,
                        int64_t stride) {
    int64_t extent, padded, span;
    if (stride < 1 || dil < 1 || ker < 1 || __builtin_mul_overflow(dil, ker - 1, &extent) ||
        __builtin_add_overflow(in, pad_begin, &padded) ||
        __builtin_add_overflow(padded, pad_end, &padded) ||
        __builtin_sub_overflow(padded - 1, extent, &span) || span < 0)
        return 0;
    return span / stride + 1;
}

/* The smallest end padding that gives output size `out` (oneDNN's padding_r). */
static int64_t end_pad_for(int64_t out, int64_t in, int64_t pad_begin, int64_t dil, int64_t ker,
                           int64_t stride) {
    return (out - 1) * stride + (ker - 1) * dil + 1 - in - pad_begin;
}

/* Sizes are bounded well below 2^62 / 16 so the output formula cannot overflow. */
#define BT_MAX_DIM ((int64_t)1 << 40)

bt_status bt_problem_normalize(const bt_problem *in, bt_problem *out) {
    if (!in || !out) return bt_fail(BT_EINVAL, "problem: NULL pointer");
    bt_problem p = *in;
    if ((unsigned)p.op > BT_CONV_BWD_WEIGHTS)
        return bt_fail(BT_EINVAL, "problem: unknown op %d", (int)p.op);
    if ((unsigned)p.layout > BT_NHWC)
        return bt_fail(BT_EINVAL, "problem: unknown layout %d", (int)p.layout);
    if (p.accumulate != 0 && p.accumulate != 1)
        return bt_fail(BT_EINVAL, "problem: accumulate must be 0 or 1, not %d", p.accumulate);
    if (op_is_fc(p.op)) {
        const int64_t spatial[4] = {p.h, p.w, p.r, p.s};
        for (int i = 0; i < 4; i++)
            if (spatial[i] != 0 && spatial[i] != 1)
                return bt_fail(BT_EINVAL, "problem: FC takes h = w = r = s = 1 (fold the "
                                          "spatial size into c)");
        p.h = p.w = p.r = p.s = 1;
        p.layout = BT_NCHW;
        p.pad_end_set = 0;
        if (p.stride_h > 1 || p.stride_w > 1 || p.pad_h || p.pad_w || p.pad_h_end || p.pad_w_end ||
            p.dil_h > 1 || p.dil_w > 1 || p.groups > 1)
            return bt_fail(BT_EINVAL, "problem: FC takes no stride, padding, dilation or groups");
    }
    struct {
        const char *name;
        int64_t *v;
        int64_t dflt; /* 0: required (> 0) */
    } f[] = {{"n (mb)", &p.n, 0},    {"c (ic)", &p.c, 0},          {"h (ih)", &p.h, 0},
             {"w (iw)", &p.w, 0},    {"k (oc)", &p.k, 0},          {"r (kh)", &p.r, 0},
             {"s (kw)", &p.s, 0},    {"stride_h", &p.stride_h, 1}, {"stride_w", &p.stride_w, 1},
             {"dil_h", &p.dil_h, 1}, {"dil_w", &p.dil_w, 1},       {"groups", &p.groups, 1}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (*f[i].v < 0) return bt_fail(BT_EINVAL, "problem: %s is negative", f[i].name);
        if (*f[i].v == 0) {
            if (!f[i].dflt) return bt_fail(BT_EINVAL, "problem: %s must be positive", f[i].name);
            *f[i].v = f[i].dflt;
        }
        if (*f[i].v > BT_MAX_DIM)
            return bt_fail(BT_EINVAL, "problem: %s = %lld is too large", f[i].name,
                           (long long)*f[i].v);
    }
    /* The text grammar bounds the kernel's extent the same way, so every valid problem has a
     * canonical text that parses. */
    int64_t extent_h, extent_w;
    if (__builtin_mul_overflow(p.r - 1, p.dil_h, &extent_h) || extent_h > 2 * BT_MAX_DIM ||
        __builtin_mul_overflow(p.s - 1, p.dil_w, &extent_w) || extent_w > 2 * BT_MAX_DIM)
        return bt_fail(BT_EINVAL, "problem: the kernel's extent (r - 1) * dil_h or (s - 1) * "
                                  "dil_w is too large");
    if (p.pad_end_set != 0 && p.pad_end_set != 1)
        return bt_fail(BT_EINVAL, "problem: pad_end_set must be 0 or 1, not %d", p.pad_end_set);
    if (!p.pad_end_set && (p.pad_h_end || p.pad_w_end))
        return bt_fail(BT_EINVAL, "problem: pad_h_end / pad_w_end are set but pad_end_set is 0 "
                                  "(set it to 1 for uneven padding)");
    if (p.pad_h < 0 || p.pad_w < 0)
        return bt_fail(BT_EINVAL, "problem: padding pad_h / pad_w is negative");
    if (p.pad_h > BT_MAX_DIM || p.pad_w > BT_MAX_DIM || p.pad_h_end > BT_MAX_DIM ||
        p.pad_w_end > BT_MAX_DIM || p.pad_h_end < -BT_MAX_DIM || p.pad_w_end < -BT_MAX_DIM)
        return bt_fail(BT_EINVAL, "problem: padding is too large");
    if (p.c % p.groups || p.k % p.groups)
        return bt_fail(BT_EINVAL,
                       "problem: channels ic%lld and oc%lld are not divisible by "
                       "groups g%lld",
                       (long long)p.c, (long long)p.k, (long long)p.groups);
    const int64_t end_h = p.pad_end_set ? p.pad_h_end : p.pad_h;
    const int64_t end_w = p.pad_end_set ? p.pad_w_end : p.pad_w;
    int64_t oh = out_size(p.h, p.pad_h, end_h, p.dil_h, p.r, p.stride_h);
    int64_t ow = out_size(p.w, p.pad_w, end_w, p.dil_w, p.s, p.stride_w);
    if (oh < 1 || ow < 1)
        return bt_fail(BT_EINVAL,
                       "problem: the kernel (%lldx%lld, dilation %lldx%lld) is larger "
                       "than the padded input (%lldx%lld, padding %lld+%lld x %lld+%lld)",
                       (long long)p.r, (long long)p.s, (long long)p.dil_h, (long long)p.dil_w,
                       (long long)p.h, (long long)p.w, (long long)p.pad_h, (long long)end_h,
                       (long long)p.pad_w, (long long)end_w);
    /* Canonical end padding: the smallest that gives the same output size. At -stride or
     * below, whole strides of input past the last window are cut off; oneDNN refuses that
     * (padding_r + stride > 0) and so do we. */
    int64_t canon_h = end_pad_for(oh, p.h, p.pad_h, p.dil_h, p.r, p.stride_h);
    int64_t canon_w = end_pad_for(ow, p.w, p.pad_w, p.dil_w, p.s, p.stride_w);
    if (canon_h <= -p.stride_h || canon_w <= -p.stride_w)
        return bt_fail(BT_EINVAL,
                       "problem: end padding %lld x %lld leaves whole strides of the input "
                       "unread (it must be above -stride, %lld x %lld)",
                       (long long)canon_h, (long long)canon_w, (long long)-p.stride_h,
                       (long long)-p.stride_w);
    if (oh == out_size(p.h, p.pad_h, p.pad_h, p.dil_h, p.r, p.stride_h) &&
        ow == out_size(p.w, p.pad_w, p.pad_w, p.dil_w, p.s, p.stride_w)) {
        p.pad_end_set = 0;
        p.pad_h_end = p.pad_w_end = 0;
    } else {
        p.pad_end_set = 1;
        p.pad_h_end = canon_h;
        p.pad_w_end = canon_w;
    }
    int64_t x = p.n, dy = p.n, w = p.k, flops = 2 * p.n;
    if (!mul_checked(&x, p.c) || !mul_checked(&x, p.h) || !mul_checked(&x, p.w) ||
        !mul_checked(&dy, p.k) || !mul_checked(&dy, oh) || !mul_checked(&dy, ow) ||
        !mul_checked(&w, p.c / p.groups) || !mul_checked(&w, p.r) || !mul_checked(&w, p.s) ||
        !mul_checked(&flops, p.k) || !mul_checked(&flops, p.c / p.groups) ||
        !mul_checked(&flops, p.r) || !mul_checked(&flops, p.s) || !mul_checked(&flops, oh) ||
        !mul_checked(&flops, ow))
        return bt_fail(BT_EINVAL, "problem: tensor sizes overflow (the problem is too large)");
    *out = p;
    return BT_OK;
}

/* Output size of a normalized problem. */
static int64_t norm_out_h(const bt_problem *p) {
    return out_size(p->h, p->pad_h, p->pad_end_set ? p->pad_h_end : p->pad_h, p->dil_h, p->r,
                    p->stride_h);
}
static int64_t norm_out_w(const bt_problem *p) {
    return out_size(p->w, p->pad_w, p->pad_end_set ? p->pad_w_end : p->pad_w, p->dil_w, p->s,
                    p->stride_w);
}

/* P (width 0) or Q (width 1) of p, normalized first: 0 if p is NULL or invalid. */
static int64_t out_dim(const bt_problem *p, int width, const char *fn) {
    bt_problem norm;
    if (!p) {
        bt_fail(BT_EINVAL, "%s: problem is NULL", fn);
        return 0;
    }
    if (bt_problem_normalize(p, &norm) != BT_OK) return 0;
    return width ? norm_out_w(&norm) : norm_out_h(&norm);
}

int64_t bt_problem_out_h(const bt_problem *p) {
    return out_dim(p, 0, "bt_problem_out_h");
}
int64_t bt_problem_out_w(const bt_problem *p) {
    return out_dim(p, 1, "bt_problem_out_w");
}

void bt_shape_from_problem(const bt_problem *p, bt_shape *s) {
    s->op = p->op;
    s->layout = p->layout;
    s->accumulate = p->accumulate;
    s->n = p->n, s->c = p->c, s->h = p->h, s->w = p->w;
    s->k = p->k, s->r = p->r, s->s = p->s;
    s->p = norm_out_h(p), s->q = norm_out_w(p);
    s->sh = p->stride_h, s->sw = p->stride_w, s->ph = p->pad_h, s->pw = p->pad_w;
    s->dh = p->dil_h, s->dw = p->dil_w;
    s->g = p->groups, s->cg = p->c / p->groups, s->kg = p->k / p->groups;
}

#define WITH_SHAPE(p, expr)                                                                        \
    do {                                                                                           \
        bt_problem norm_;                                                                          \
        bt_shape s_;                                                                               \
        if (bt_problem_normalize((p), &norm_) != BT_OK) return 0;                                  \
        bt_shape_from_problem(&norm_, &s_);                                                        \
        return (expr);                                                                             \
    } while (0)

size_t bt_problem_x_elems(const bt_problem *p) {
    WITH_SHAPE(p, bt_shape_x_elems(&s_));
}
size_t bt_problem_w_elems(const bt_problem *p) {
    WITH_SHAPE(p, bt_shape_w_elems(&s_));
}
size_t bt_problem_dy_elems(const bt_problem *p) {
    WITH_SHAPE(p, bt_shape_dy_elems(&s_));
}
size_t bt_problem_db_elems(const bt_problem *p) {
    WITH_SHAPE(p, (size_t)s_.k);
}
double bt_problem_flops(const bt_problem *p) {
    WITH_SHAPE(p, 2.0 * (double)s_.n * (double)s_.k * (double)s_.cg * (double)s_.r * (double)s_.s *
                      (double)s_.p * (double)s_.q);
}

/* ---- text ---- */

/* Descriptor keys, per spatial dimension in the order benchdnn writes them. */
enum { DIM_D, DIM_H, DIM_W, DIMS };
enum { F_I, F_O, F_K, F_S, F_P, F_D, FIELDS }; /* input, output, kernel, stride, pad, dilation */
static const char dim_letter[DIMS] = {'d', 'h', 'w'};
static const char field_letter[FIELDS] = {'i', 'o', 'k', 's', 'p', 'd'};

typedef struct dim_fields {
    int64_t v[FIELDS];
    int given[FIELDS];
    int64_t pad_end; /* derived */
    int pad_deduced; /* the begin padding came from a given output size */
} dim_fields;

typedef struct parsed_desc {
    int64_t g, mb, ic, oc;
    int g_given, mb_given, ic_given, oc_given;
    dim_fields dim[DIMS];
} parsed_desc;

static const struct {
    const char *name;
    bt_op op;
} op_names[] = {{"conv_bwd_d", BT_CONV_BWD_DATA},    {"conv_bwd_w", BT_CONV_BWD_WEIGHTS},
                {"fc_bwd_d", BT_FC_BWD_DATA},        {"fc_bwd_w", BT_FC_BWD_WEIGHTS},
                {"conv_bwd_data", BT_CONV_BWD_DATA}, {"conv_bwd_weights", BT_CONV_BWD_WEIGHTS},
                {"fc_bwd_data", BT_FC_BWD_DATA},     {"fc_bwd_weights", BT_FC_BWD_WEIGHTS}};

static bt_status parse_op(const char *tok, size_t len, bt_op *op, bt_layout *layout) {
    char buf[64];
    if (len >= sizeof buf) return bt_fail(BT_EINVAL, "problem text: unknown op '%.*s'", 40, tok);
    memcpy(buf, tok, len);
    buf[len] = '\0';
    *layout = BT_NCHW;
    size_t base_len = len;
    if (len > 5 && (!strcmp(buf + len - 5, "_nhwc") || !strcmp(buf + len - 5, "_nchw"))) {
        *layout = !strcmp(buf + len - 5, "_nhwc") ? BT_NHWC : BT_NCHW;
        base_len = len - 5;
        buf[base_len] = '\0';
    }
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (!strcmp(buf, op_names[i].name)) {
            *op = op_names[i].op;
            return BT_OK;
        }
    return bt_fail(BT_EINVAL,
                   "problem text: unknown op '%.*s' (expected conv_bwd_d, conv_bwd_w, fc_bwd_d or "
                   "fc_bwd_w, optionally with _nchw or _nhwc, then a space and a descriptor)",
                   (int)len, tok);
}

/* The value slot of key `k` (klen characters), or NULL if it is no key; *given its flag and
 * *spatial whether it is a field of a spatial dimension. */
static int64_t *key_slot(parsed_desc *pd, const char *k, size_t klen, int **given, int *spatial) {
    *spatial = 0;
    static const struct {
        const char *name;
        size_t offset, given_offset;
    } scalars[] = {
        {"g", offsetof(parsed_desc, g), offsetof(parsed_desc, g_given)},
        {"mb", offsetof(parsed_desc, mb), offsetof(parsed_desc, mb_given)},
        {"ic", offsetof(parsed_desc, ic), offsetof(parsed_desc, ic_given)},
        {"oc", offsetof(parsed_desc, oc), offsetof(parsed_desc, oc_given)},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (strlen(scalars[i].name) == klen && !strncmp(scalars[i].name, k, klen)) {
            *given = (int *)((char *)pd + scalars[i].given_offset);
            return (int64_t *)((char *)pd + scalars[i].offset);
        }
    if (klen != 2) return NULL;
    const char *f = memchr(field_letter, k[0], FIELDS), *d = memchr(dim_letter, k[1], DIMS);
    if (!f || !d) return NULL;
    dim_fields *df = &pd->dim[d - dim_letter];
    int fi = (int)(f - field_letter);
    *spatial = 1;
    *given = &df->given[fi];
    return &df->v[fi];
}

/* A key whose (last) value is 0 where only a positive value has a meaning. */
static bt_status zero_keys(const parsed_desc *pd) {
    const struct {
        const char *name;
        int64_t v;
        int given;
    } scalars[] = {{"g", pd->g, pd->g_given},
                   {"mb", pd->mb, pd->mb_given},
                   {"ic", pd->ic, pd->ic_given},
                   {"oc", pd->oc, pd->oc_given}};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (scalars[i].given && scalars[i].v == 0)
            return bt_fail(BT_EINVAL, "problem text: '%s0': must be positive", scalars[i].name);
    for (int x = 0; x < DIMS; x++)
        for (int fi = 0; fi < FIELDS; fi++)
            if (fi != F_P && fi != F_D && pd->dim[x].given[fi] && pd->dim[x].v[fi] == 0)
                return bt_fail(BT_EINVAL, "problem text: '%c%c0': must be positive",
                               field_letter[fi], dim_letter[x]);
    return BT_OK;
}

static bt_status parse_descriptor(const char *d, size_t len, parsed_desc *pd, char *name,
                                  size_t name_size) {
    size_t i = 0;
    while (i < len) {
        if (d[i] == '_') {
            i++;
            continue;
        }
        size_t ks = i;
        while (i < len && islower((unsigned char)d[i])) i++;
        size_t klen = i - ks;
        if (!klen)
            return bt_fail(BT_EINVAL, "problem text: unexpected character '%c' in '%.*s'", d[i],
                           (int)len, d);
        if (d[ks] == 'n') { /* no key starts with n: the name, n"name" or n<rest> */
            size_t ns, ne;
            i = ks + 1;
            if (i < len && d[i] == '"') {
                ns = ++i;
                while (i < len && d[i] != '"') i++;
                if (i >= len)
                    return bt_fail(BT_EINVAL, "problem text: unterminated name at '%.*s'",
                                   (int)(len - ks), d + ks);
                ne = i++;
            } else {
                ns = i;
                ne = i = len;
            }
            if (name && name_size) {
                size_t nl = ne - ns < name_size - 1 ? ne - ns : name_size - 1;
                memcpy(name, d + ns, nl);
                name[nl] = '\0';
            }
            continue;
        }
        int *given, spatial;
        int64_t *slot = key_slot(pd, d + ks, klen, &given, &spatial);
        if (!slot) {
            size_t te = i;
            while (te < len && isdigit((unsigned char)d[te])) te++;
            return bt_fail(BT_EINVAL, "problem text: unknown key '%.*s' in '%.*s'", (int)klen,
                           d + ks, (int)(te - ks), d + ks);
        }
        if (i < len && d[i] == '-')
            return bt_fail(BT_EINVAL, "problem text: '%.*s' is negative", (int)klen, d + ks);
        if (i >= len || !isdigit((unsigned char)d[i]))
            return bt_fail(BT_EINVAL, "problem text: '%.*s' needs a number", (int)klen, d + ks);
        int64_t v = 0;
        while (i < len && isdigit((unsigned char)d[i])) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d[i] - '0', &v))
                return bt_fail(BT_EINVAL, "problem text: '%.*s' overflows a 64-bit integer",
                               (int)klen, d + ks);
            i++;
        }
        /* An output size reaches input + both paddings: three times the other limit. */
        int is_output = spatial && d[ks] == 'o';
        if (v > (is_output ? 3 * BT_MAX_DIM : BT_MAX_DIM))
            return bt_fail(BT_EINVAL, "problem text: '%.*s%lld' is too large", (int)klen, d + ks,
                           (long long)v);
        *slot = v; /* a repeated key keeps its last value, as in benchdnn */
        *given = 1;
    }
    return zero_keys(pd);
}

/* Whether dimension X is given at all: benchdnn treats it as absent when its sizes and
 * dilation are unwritten, its stride is 1 and its padding unwritten or 0. */
static int dim_present(const dim_fields *f) {
    for (int fi = 0; fi < FIELDS; fi++)
        if (f->given[fi] && f->v[fi] != (fi == F_S ? 1 : 0)) return 1;
    return 0;
}

/* Completes a given dimension: output size or begin padding, and the end padding. */
static bt_status complete_dim(dim_fields *f, char dim) {
    int64_t *v = f->v;
    if (!f->given[F_I]) return bt_fail(BT_EINVAL, "problem text: 'i%c' is missing", dim);
    if (!f->given[F_K]) return bt_fail(BT_EINVAL, "problem text: 'k%c' is missing", dim);
    if (!f->given[F_S]) v[F_S] = 1;
    /* Fields are at most 2^40 (outputs 3 * 2^40); the two products are checked, and sums
     * of terms of at most 2^43 cannot overflow. */
    int64_t extent, stretched;
    if (__builtin_mul_overflow(v[F_K] - 1, v[F_D] + 1, &extent) || extent > 2 * BT_MAX_DIM)
        return bt_fail(BT_EINVAL, "problem text: 'k%c%lld' with 'd%c%lld' is too large", dim,
                       (long long)v[F_K], dim, (long long)v[F_D]);
    extent += 1;
    if (!f->given[F_O]) {
        if (!f->given[F_P]) v[F_P] = 0;
        v[F_O] = (v[F_I] - extent + 2 * v[F_P]) / v[F_S] + 1; /* C division, as benchdnn */
        if (v[F_O] <= 0)
            return bt_fail(BT_EINVAL,
                           "problem text: 'k%c%lld' (dilation d%c%lld) is larger than the padded "
                           "input i%c%lld with p%c%lld",
                           dim, (long long)v[F_K], dim, (long long)v[F_D], dim, (long long)v[F_I],
                           dim, (long long)v[F_P]);
    }
    if (__builtin_mul_overflow(v[F_O] - 1, v[F_S], &stretched) || stretched > 4 * BT_MAX_DIM)
        return bt_fail(BT_EINVAL, "problem text: 'o%c%lld' with 's%c%lld' is too large", dim,
                       (long long)v[F_O], dim, (long long)v[F_S]);
    if (f->given[F_O] && !f->given[F_P]) {
        v[F_P] = (stretched - v[F_I] + extent) / 2; /* C division, as benchdnn */
        f->pad_deduced = 1;
    }
    f->pad_end = stretched - v[F_I] + extent - v[F_P];
    if (v[F_P] < 0) {
        char origin[64] = "";
        if (f->pad_deduced)
            snprintf(origin, sizeof origin, " (benchdnn deduces it from 'o%c%lld')", dim,
                     (long long)v[F_O]);
        return bt_fail(BT_EINVAL,
                       "problem text: padding 'p%c' is %lld%s; backtune takes no negative "
                       "padding",
                       dim, (long long)v[F_P], origin);
    }
    if (f->pad_end <= -v[F_S])
        return bt_fail(BT_EINVAL,
                       "problem text: 'o%c%lld' is too small for i%c%lld: the end padding "
                       "would be %lld, leaving whole strides of the input unread (oneDNN needs "
                       "it above -s%c = %lld)",
                       dim, (long long)v[F_O], dim, (long long)v[F_I], (long long)f->pad_end, dim,
                       (long long)-v[F_S]);
    return BT_OK;
}

/* The size-1 dimension a missing one stands for. */
static void trivial_dim(dim_fields *f) {
    memset(f, 0, sizeof *f);
    f->v[F_I] = f->v[F_O] = f->v[F_K] = f->v[F_S] = 1;
}

static bt_status conv_dims(parsed_desc *pd) {
    dim_fields *dd = &pd->dim[DIM_D], *dh = &pd->dim[DIM_H], *dw = &pd->dim[DIM_W];
    int present[DIMS];
    for (int x = 0; x < DIMS; x++) {
        present[x] = dim_present(&pd->dim[x]);
        if (present[x]) {
            bt_status st = complete_dim(&pd->dim[x], dim_letter[x]);
            if (st != BT_OK) return st;
        }
    }
    if (present[DIM_D]) {
        if (!present[DIM_H] && !present[DIM_W]) {
            *dh = *dw = *dd; /* cubic: the depth group stands for all three */
        } else if (!present[DIM_H] || !present[DIM_W]) {
            return bt_fail(BT_EINVAL,
                           "problem text: with depth fields, give both the height "
                           "and the width fields or neither ('%s' is missing)",
                           present[DIM_H] ? "iw" : "ih");
        }
        if (dd->v[F_I] != 1 || dd->v[F_K] != 1 || dd->v[F_O] != 1 || dd->v[F_P] != 0 ||
            dd->pad_end != 0)
            return bt_fail(BT_EUNSUPPORTED,
                           "problem text: 'id%lld kd%lld od%lld pd%lld' is a 3-D convolution; "
                           "backtune takes 2-D and 1-D only (a depth of 1 is accepted)",
                           (long long)dd->v[F_I], (long long)dd->v[F_K], (long long)dd->v[F_O],
                           (long long)dd->v[F_P]);
    } else if (present[DIM_H]) {
        if (!present[DIM_W]) *dw = *dh; /* square: the whole height group */
    } else if (present[DIM_W]) {
        trivial_dim(dh); /* 1-D */
    } else {
        return bt_fail(BT_EINVAL, "problem text: no spatial size: give ih and kh (or iw and kw "
                                  "for a 1-D convolution)");
    }
    return BT_OK;
}

/* FC (benchdnn's ip): the kernel covers the image, so a spatial size multiplies the input
 * features; with plain layouts the math is that of the flattened FC. */
static bt_status fc_features(parsed_desc *pd) {
    for (int x = 0; x < DIMS; x++)
        for (int fi = 0; fi < FIELDS; fi++)
            if (fi != F_I && pd->dim[x].given[fi])
                return bt_fail(BT_EINVAL,
                               "problem text: '%c%c' is not a FC key (FC takes mb, ic, oc and "
                               "the input sizes id, ih, iw)",
                               field_letter[fi], dim_letter[x]);
    if (pd->g_given)
        return bt_fail(BT_EINVAL, "problem text: 'g' is not a FC key (FC takes mb, ic, oc and "
                                  "the input sizes id, ih, iw)");
    int64_t size[DIMS];
    for (int x = 0; x < DIMS; x++) size[x] = pd->dim[x].given[F_I] ? pd->dim[x].v[F_I] : 0;
    if (size[DIM_D] && !size[DIM_H] && !size[DIM_W])
        size[DIM_H] = size[DIM_W] = size[DIM_D];
    else if (size[DIM_D] && (!size[DIM_H] || !size[DIM_W]))
        return bt_fail(BT_EINVAL, "problem text: with 'id', give both 'ih' and 'iw' or neither");
    else if (size[DIM_H] && !size[DIM_W])
        size[DIM_W] = size[DIM_H];
    for (int x = 0; x < DIMS; x++)
        if (size[x] && __builtin_mul_overflow(pd->ic, size[x], &pd->ic))
            return bt_fail(BT_EINVAL, "problem text: ic times the input size overflows");
    return BT_OK;
}

static bt_status desc_to_problem(parsed_desc *pd, bt_op op, bt_layout layout, bt_problem *out) {
    if (!pd->ic_given) return bt_fail(BT_EINVAL, "problem text: 'ic' is missing");
    if (!pd->oc_given) return bt_fail(BT_EINVAL, "problem text: 'oc' is missing");
    if (!pd->mb_given) pd->mb = 2; /* benchdnn's default minibatch */
    if (op_is_fc(op)) {
        bt_status st = fc_features(pd);
        if (st != BT_OK) return st;
        bt_problem p = {.op = op, .layout = layout, .n = pd->mb, .c = pd->ic, .k = pd->oc};
        return bt_problem_normalize(&p, out);
    }
    bt_status st = conv_dims(pd);
    if (st != BT_OK) return st;
    const int64_t *h = pd->dim[DIM_H].v, *w = pd->dim[DIM_W].v;
    bt_problem p = {.op = op,
                    .layout = layout,
                    .n = pd->mb,
                    .c = pd->ic,
                    .k = pd->oc,
                    .groups = pd->g_given ? pd->g : 1,
                    .h = h[F_I],
                    .w = w[F_I],
                    .r = h[F_K],
                    .s = w[F_K],
                    .stride_h = h[F_S],
                    .stride_w = w[F_S],
                    .pad_h = h[F_P],
                    .pad_w = w[F_P],
                    .dil_h = h[F_D] + 1,
                    .dil_w = w[F_D] + 1,
                    .pad_h_end = pd->dim[DIM_H].pad_end,
                    .pad_w_end = pd->dim[DIM_W].pad_end,
                    .pad_end_set = 1};
    return bt_problem_normalize(&p, out);
}

bt_status bt_problem_parse_named(const char *text, bt_problem *out, char *name, size_t name_size) {
    if (!text || !out) return bt_fail(BT_EINVAL, "bt_problem_parse: NULL argument");
    if (name && name_size) name[0] = '\0';
    const char *t = text;
    while (isspace((unsigned char)*t)) t++;
    const char *op_tok = t;
    while (*t && !isspace((unsigned char)*t)) t++;
    size_t op_len = (size_t)(t - op_tok);
    if (!op_len) return bt_fail(BT_EINVAL, "problem text is empty (expected '<op> <descriptor>')");
    /* A descriptor with no op in front is the commonest mistake: say so. */
    if (strstr(op_tok, "mb") == op_tok || strstr(op_tok, "ic") == op_tok ||
        (op_tok[0] == 'g' && isdigit((unsigned char)op_tok[1])))
        return bt_fail(BT_EINVAL, "problem text '%.*s' has no op: write e.g. 'conv_bwd_w %.*s'",
                       (int)op_len, op_tok, (int)op_len, op_tok);
    bt_op op = BT_CONV_BWD_DATA;
    bt_layout layout = BT_NCHW;
    bt_status st = parse_op(op_tok, op_len, &op, &layout);
    if (st != BT_OK) return st;
    while (isspace((unsigned char)*t)) t++;
    const char *desc = t;
    /* The descriptor ends at whitespace outside a quoted name. */
    int quoted = 0;
    while (*t && (quoted || !isspace((unsigned char)*t))) {
        if (*t == '"') quoted = !quoted;
        t++;
    }
    size_t desc_len = (size_t)(t - desc);
    if (!desc_len) return bt_fail(BT_EINVAL, "problem text: descriptor missing after the op");
    parsed_desc pd;
    memset(&pd, 0, sizeof pd);
    st = parse_descriptor(desc, desc_len, &pd, name, name_size);
    if (st != BT_OK) return st;
    int accumulate = 0;
    for (;;) {
        while (isspace((unsigned char)*t)) t++;
        if (!*t) break;
        const char *tok = t;
        while (*t && !isspace((unsigned char)*t)) t++;
        if ((size_t)(t - tok) == 10 && !strncmp(tok, "accumulate", 10))
            accumulate = 1;
        else
            return bt_fail(BT_EINVAL,
                           "problem text: unexpected '%.*s' after the descriptor "
                           "(only 'accumulate' may follow)",
                           (int)(t - tok), tok);
    }
    bt_problem p;
    st = desc_to_problem(&pd, op, layout, &p);
    if (st != BT_OK) return st;
    p.accumulate = accumulate;
    *out = p;
    return BT_OK;
}

bt_status bt_problem_parse(const char *text, bt_problem *out) {
    return bt_problem_parse_named(text, out, NULL, 0);
}

int bt_problem_format(const bt_problem *in, char *buf, size_t size) {
    bt_problem p;
    if (!in || (!buf && size) || bt_problem_normalize(in, &p) != BT_OK) return -1;
    char tmp[512];
    int n = 0;
#define PUT(...) n += snprintf(tmp + n, sizeof tmp - (size_t)n, __VA_ARGS__)
    PUT("%s%s ", bt_op_name(p.op), op_is_fc(p.op) ? "" : (p.layout == BT_NHWC ? "_nhwc" : ""));
    if (p.groups > 1) PUT("g%lld", (long long)p.groups);
    PUT("mb%lldic%lld", (long long)p.n, (long long)p.c);
    if (op_is_fc(p.op)) {
        PUT("oc%lld", (long long)p.k);
    } else {
        /* Per dimension, in benchdnn's field order; output size and padding always written,
         * so the end padding follows from them and nothing else is deduced. */
        const int64_t field[DIMS - 1][FIELDS] = {
            {p.h, norm_out_h(&p), p.r, p.stride_h, p.pad_h, p.dil_h - 1},
            {p.w, norm_out_w(&p), p.s, p.stride_w, p.pad_w, p.dil_w - 1}};
        int square = 1, height_trivial = 1;
        static const int64_t trivial[FIELDS] = {1, 1, 1, 1, 0, 0};
        for (int fi = 0; fi < FIELDS; fi++) {
            square &= field[0][fi] == field[1][fi];
            height_trivial &= field[0][fi] == trivial[fi];
        }
        /* Square: benchdnn copies the height group into the width; 1-D: the height is 1. */
        const int first = square || !height_trivial ? 0 : 1, last = square ? 0 : 1;
        for (int fi = 0; fi < FIELDS; fi++) {
            if (fi == F_O) PUT("oc%lld", (long long)p.k);
            int any = 0;
            for (int x = first; x <= last; x++) any |= field[x][fi] != trivial[fi];
            if ((fi == F_S || fi == F_D) && !any) continue;
            for (int x = first; x <= last; x++)
                PUT("%c%c%lld", field_letter[fi], dim_letter[DIM_H + x], (long long)field[x][fi]);
        }
    }
    if (p.accumulate) PUT(" accumulate");
#undef PUT
    if (buf && size) snprintf(buf, size, "%s", tmp);
    return n;
}
