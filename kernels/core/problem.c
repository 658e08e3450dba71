/* Problems: validation with defaults, the benchdnn-style text grammar, sizes and FLOPs.
 *
 * Text: "<op>[_nchw|_nhwc] <descriptor> [accumulate]". The descriptor is benchdnn's:
 * keys g mb ic ih iw oc oh ow kh kw sh sw ph pw dh dw, each followed by a number, optional
 * '_' separators, and n"name". As in benchdnn: a missing width field takes the height
 * field's value (square promotion), mb defaults to 2, the output size is computed, a given
 * output size is checked (and the padding deduced from it when no padding is given and
 * zero padding would not produce it), and dilation counts from 0 (dh1 = every other row,
 * which is dil_h = 2 in bt_problem). */
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

static int64_t out_size(int64_t in, int64_t pad, int64_t dil, int64_t ker, int64_t stride) {
    /* Fields are at most 2^40, so in + 2*pad fits; the kernel extent may not. */
    int64_t extent, span;
    if (__builtin_mul_overflow(dil, ker - 1, &extent) ||
        __builtin_sub_overflow(in + 2 * pad - 1, extent, &span) || span < 0)
        return 0;
    return span / stride + 1;
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
        if ((p.stride_h > 1 || p.stride_w > 1 || p.pad_h || p.pad_w || p.dil_h > 1 || p.dil_w > 1 ||
             p.groups > 1))
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
    if (p.pad_h < 0 || p.pad_w < 0) return bt_fail(BT_EINVAL, "problem: padding is negative");
    if (p.pad_h > BT_MAX_DIM || p.pad_w > BT_MAX_DIM)
        return bt_fail(BT_EINVAL, "problem: padding is too large");
    if (p.c % p.groups || p.k % p.groups)
        return bt_fail(BT_EINVAL,
                       "problem: channels ic%lld and oc%lld are not divisible by "
                       "groups g%lld",
                       (long long)p.c, (long long)p.k, (long long)p.groups);
    if (out_size(p.h, p.pad_h, p.dil_h, p.r, p.stride_h) < 1 ||
        out_size(p.w, p.pad_w, p.dil_w, p.s, p.stride_w) < 1)
        return bt_fail(BT_EINVAL,
                       "problem: the kernel (%lldx%lld, dilation %lldx%lld) is larger "
                       "than the padded input (%lldx%lld, padding %lldx%lld)",
                       (long long)p.r, (long long)p.s, (long long)p.dil_h, (long long)p.dil_w,
                       (long long)p.h, (long long)p.w, (long long)p.pad_h, (long long)p.pad_w);
    int64_t oh = out_size(p.h, p.pad_h, p.dil_h, p.r, p.stride_h);
    int64_t ow = out_size(p.w, p.pad_w, p.dil_w, p.s, p.stride_w);
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

/* P (width 0) or Q (width 1) of p, normalized first: 0 if p is NULL or invalid. */
static int64_t out_dim(const bt_problem *p, int width, const char *fn) {
    bt_problem n;
    if (!p) {
        bt_fail(BT_EINVAL, "%s: problem is NULL", fn);
        return 0;
    }
    if (bt_problem_normalize(p, &n) != BT_OK) return 0;
    return width ? out_size(n.w, n.pad_w, n.dil_w, n.s, n.stride_w)
                 : out_size(n.h, n.pad_h, n.dil_h, n.r, n.stride_h);
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
    s->p = out_size(p->h, p->pad_h, p->dil_h, p->r, p->stride_h);
    s->q = out_size(p->w, p->pad_w, p->dil_w, p->s, p->stride_w);
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

enum {
    KEY_G,
    KEY_MB,
    KEY_IC,
    KEY_IH,
    KEY_IW,
    KEY_OC,
    KEY_OH,
    KEY_OW,
    KEY_KH,
    KEY_KW,
    KEY_SH,
    KEY_SW,
    KEY_PH,
    KEY_PW,
    KEY_DH,
    KEY_DW,
    KEY_COUNT
};
static const char *const key_names[KEY_COUNT] = {"g",  "mb", "ic", "ih", "iw", "oc", "oh", "ow",
                                                 "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw"};
/* Keys that may be 0 (padding, benchdnn's dilation). */
static int key_allows_zero(int key) {
    return key == KEY_PH || key == KEY_PW || key == KEY_DH || key == KEY_DW;
}
static int key_is_conv_only(int key) {
    return key != KEY_MB && key != KEY_IC && key != KEY_OC;
}

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

typedef struct parsed_desc {
    int64_t v[KEY_COUNT];
    int given[KEY_COUNT];
} parsed_desc;

static bt_status parse_descriptor(const char *d, size_t len, int is_fc, parsed_desc *pd, char *name,
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
        if (klen >= 1 && d[ks] == 'n') { /* no key starts with n: a name */
            /* n"name", or n<name> to the end of the descriptor */
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
        int key = -1;
        for (int k = 0; k < KEY_COUNT; k++)
            if (strlen(key_names[k]) == klen && !strncmp(key_names[k], d + ks, klen)) key = k;
        if (klen == 2 && strchr("iokspd", d[ks]) && d[ks + 1] == 'd')
            return bt_fail(BT_EUNSUPPORTED,
                           "problem text: '%.*s' is a 3-D (depth) key; backtune does 2-D only",
                           (int)klen, d + ks);
        if (key < 0) {
            size_t te = i;
            while (te < len && isdigit((unsigned char)d[te])) te++;
            return bt_fail(BT_EINVAL, "problem text: unknown key '%.*s' in '%.*s'", (int)klen,
                           d + ks, (int)(te - ks), d + ks);
        }
        if (is_fc && key_is_conv_only(key))
            return bt_fail(BT_EINVAL,
                           "problem text: '%s' is not a FC key (FC takes mb, ic, oc; fold the "
                           "spatial size into ic)",
                           key_names[key]);
        if (pd->given[key])
            return bt_fail(BT_EINVAL, "problem text: '%s' given twice", key_names[key]);
        if (i < len && d[i] == '-')
            return bt_fail(BT_EINVAL, "problem text: '%s' is negative", key_names[key]);
        if (i >= len || !isdigit((unsigned char)d[i]))
            return bt_fail(BT_EINVAL, "problem text: '%s' needs a number", key_names[key]);
        int64_t v = 0;
        while (i < len && isdigit((unsigned char)d[i])) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d[i] - '0', &v))
                return bt_fail(BT_EINVAL, "problem text: '%s' overflows a 64-bit integer",
                               key_names[key]);
            i++;
        }
        if (v == 0 && !key_allows_zero(key))
            return bt_fail(BT_EINVAL, "problem text: '%s0': must be positive", key_names[key]);
        /* An output can reach input + 2 * padding, three times the other fields' limit. */
        if (v > (key == KEY_OH || key == KEY_OW ? 3 * BT_MAX_DIM : BT_MAX_DIM))
            return bt_fail(BT_EINVAL, "problem text: '%s%lld' is too large", key_names[key],
                           (long long)v);
        pd->v[key] = v;
        pd->given[key] = 1;
    }
    return BT_OK;
}

/* Fill the descriptor's missing fields the way benchdnn does, then build the problem. */
static bt_status desc_to_problem(parsed_desc *pd, bt_op op, bt_layout layout, bt_problem *out) {
    int64_t *v = pd->v;
    int *given = pd->given;
    if (!given[KEY_IC]) return bt_fail(BT_EINVAL, "problem text: 'ic' is missing");
    if (!given[KEY_OC]) return bt_fail(BT_EINVAL, "problem text: 'oc' is missing");
    if (!given[KEY_MB]) v[KEY_MB] = 2; /* benchdnn's default minibatch */
    bt_problem p = {.op = op, .layout = layout, .n = v[KEY_MB], .c = v[KEY_IC], .k = v[KEY_OC]};
    if (op_is_fc(op)) {
        *out = p;
        return bt_problem_normalize(&p, out);
    }
    if (!given[KEY_IH] && !given[KEY_IW])
        return bt_fail(BT_EINVAL, "problem text: 'ih' is missing");
    if (!given[KEY_KH] && !given[KEY_KW])
        return bt_fail(BT_EINVAL, "problem text: 'kh' is missing");
    /* Square promotion, as benchdnn: a missing width field takes its height twin's value.
     * The required sizes (input, kernel) also promote width to height; a missing stride,
     * padding or dilation height takes its default, a missing output height is computed. */
    static const int twin[][2] = {{KEY_IH, KEY_IW}, {KEY_OH, KEY_OW}, {KEY_KH, KEY_KW},
                                  {KEY_SH, KEY_SW}, {KEY_PH, KEY_PW}, {KEY_DH, KEY_DW}};
    for (size_t t = 0; t < sizeof twin / sizeof twin[0]; t++) {
        int a = twin[t][0], b = twin[t][1];
        if (given[a] && !given[b])
            v[b] = v[a], given[b] = 2;
        else if (given[b] && !given[a] && (a == KEY_IH || a == KEY_KH))
            v[a] = v[b], given[a] = 2;
    }
    if (!given[KEY_SH]) v[KEY_SH] = 1;
    if (!given[KEY_SW]) v[KEY_SW] = 1;
    if (!given[KEY_G]) v[KEY_G] = 1;
    p.groups = v[KEY_G];
    p.h = v[KEY_IH], p.w = v[KEY_IW], p.r = v[KEY_KH], p.s = v[KEY_KW];
    p.stride_h = v[KEY_SH], p.stride_w = v[KEY_SW];
    p.dil_h = v[KEY_DH] + 1, p.dil_w = v[KEY_DW] + 1;
    p.pad_h = v[KEY_PH], p.pad_w = v[KEY_PW];
    /* Given output but no padding: deduce the padding when zero padding does not fit. */
    const int out_keys[2] = {KEY_OH, KEY_OW}, pad_keys[2] = {KEY_PH, KEY_PW};
    int64_t *in[2] = {&p.h, &p.w}, *ker[2] = {&p.r, &p.s}, *st[2] = {&p.stride_h, &p.stride_w},
            *dil[2] = {&p.dil_h, &p.dil_w}, *pad[2] = {&p.pad_h, &p.pad_w};
    for (int d = 0; d < 2; d++) {
        if (!given[out_keys[d]] || given[pad_keys[d]]) continue;
        if (out_size(*in[d], 0, *dil[d], *ker[d], *st[d]) == v[out_keys[d]]) continue;
        int64_t stretched, extent, twice;
        if (__builtin_mul_overflow(v[out_keys[d]] - 1, *st[d], &stretched) ||
            __builtin_mul_overflow(*dil[d], *ker[d] - 1, &extent) ||
            __builtin_add_overflow(stretched - *in[d] + 1, extent, &twice))
            continue; /* no padding gives that output: the check below says so */
        if (twice > 0) *pad[d] = twice / 2;
    }
    bt_status st_norm = bt_problem_normalize(&p, out);
    if (st_norm != BT_OK) return st_norm;
    for (int d = 0; d < 2; d++) {
        int64_t computed = d ? bt_problem_out_w(out) : bt_problem_out_h(out);
        /* Name the field the user wrote: a promoted ow came from oh. */
        int key = given[out_keys[d]] == 2 ? out_keys[1 - d] : out_keys[d];
        if (given[out_keys[d]] && v[out_keys[d]] != computed)
            return bt_fail(BT_EINVAL,
                           "problem text: '%s%lld' does not match the output size %lld computed "
                           "from the input, kernel, stride, padding and dilation",
                           key_names[key], (long long)v[out_keys[d]], (long long)computed);
    }
    return BT_OK;
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
    st = parse_descriptor(desc, desc_len, op_is_fc(op), &pd, name, name_size);
    if (st != BT_OK) return st;
    int accumulate = 0;
    for (;;) {
        while (isspace((unsigned char)*t)) t++;
        if (!*t) break;
        const char *tok = t;
        while (*t && !isspace((unsigned char)*t)) t++;
        if ((size_t)(t - tok) == 10 && !strncmp(tok, "accumulate", 10) && !accumulate)
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
    if (!op_is_fc(p.op)) {
        PUT("ih%lld", (long long)p.h);
        if (p.w != p.h) PUT("iw%lld", (long long)p.w);
    }
    PUT("oc%lld", (long long)p.k);
    if (!op_is_fc(p.op)) {
        long long oh = bt_problem_out_h(&p), ow = bt_problem_out_w(&p);
        PUT("oh%lld", oh);
        if (ow != oh) PUT("ow%lld", ow);
        PUT("kh%lld", (long long)p.r);
        if (p.s != p.r) PUT("kw%lld", (long long)p.s);
        if (p.stride_h != 1) PUT("sh%lld", (long long)p.stride_h);
        if (p.stride_w != p.stride_h) PUT("sw%lld", (long long)p.stride_w);
        if (p.pad_h != 0) PUT("ph%lld", (long long)p.pad_h);
        if (p.pad_w != p.pad_h) PUT("pw%lld", (long long)p.pad_w);
        if (p.dil_h != 1) PUT("dh%lld", (long long)(p.dil_h - 1));
        if (p.dil_w != p.dil_h) PUT("dw%lld", (long long)(p.dil_w - 1));
    }
    if (p.accumulate) PUT(" accumulate");
#undef PUT
    if (buf && size) snprintf(buf, size, "%s", tmp);
    return n;
}
