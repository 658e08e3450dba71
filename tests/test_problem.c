/* The problem grammar and validation: benchdnn's deduction rules, round trips, every error
 * class (status and a message naming the offending token), FLOP counts, and a fuzz loop of
 * random and mutated strings and random structs that must never crash (run under ASan in
 * CI) and whose every accepted input must round-trip. test_grammar checks the rules in depth
 * against a model of benchdnn. */
#include "benchdnn_model.h"
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deduction: each text against the problem benchdnn's rules give ---- */

#define CONV_FIELDS(op_, layout_, n_, c_, h_, w_, k_, r_, s_, sh_, sw_, ph_, pw_, dh_, dw_, g_,    \
                    acc_)                                                                          \
    .op = op_, .layout = layout_, .n = n_, .c = c_, .h = h_, .w = w_, .k = k_, .r = r_, .s = s_,   \
    .stride_h = sh_, .stride_w = sw_, .pad_h = ph_, .pad_w = pw_, .dil_h = dh_, .dil_w = dw_,      \
    .groups = g_, .accumulate = acc_
#define CONV(...)                                                                                  \
    { CONV_FIELDS(__VA_ARGS__) }
/* Canonical end padding: symmetric padding would give another output size. */
#define CONV_UNEVEN(end_h_, end_w_, ...)                                                           \
    { CONV_FIELDS(__VA_ARGS__), .pad_h_end = end_h_, .pad_w_end = end_w_, .pad_end_set = 1 }
#define FC(op_, n_, c_, k_) CONV(op_, BT_NCHW, n_, c_, 1, 1, k_, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0)

static void deduction(void) {
    static const struct {
        const char *text, *rule;
        bt_problem want;
    } cases[] = {
        {"conv_bwd_w mb2ic3ih7oc4kh3ph1", "square promotion of iw, kw, pw; stride 1",
         CONV(BT_CONV_BWD_WEIGHTS, BT_NCHW, 2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0)},
        {"conv_bwd_d ic3iw9oc4kw5", "mb defaults to 2; width without height is 1-D",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 2, 3, 1, 9, 4, 1, 5, 1, 1, 0, 0, 1, 1, 1, 0)},
        {"conv_bwd_w mb1ic4ih8iw5oc4kh3kw3ph1", "w given: pw is 0, not promoted from ph",
         CONV(BT_CONV_BWD_WEIGHTS, BT_NCHW, 1, 4, 8, 5, 4, 3, 3, 1, 1, 1, 0, 1, 1, 1, 0)},
        {"conv_bwd_w mb1ic4ih8oc4kh3sh2ph1pw0", "pw0 alone leaves w absent: w copies the h group",
         CONV(BT_CONV_BWD_WEIGHTS, BT_NCHW, 1, 4, 8, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0)},
        {"conv_bwd_d mb2ic3ih7oc4oh9kh3ph1", "oh and ph given: bottom padding 8-7+3-1 = 3",
         CONV_UNEVEN(3, 3, BT_CONV_BWD_DATA, BT_NCHW, 2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0)},
        {"conv_bwd_w mb1ic4ih56oc4oh28kh3sh2", "TF 'SAME': ph (54-56+3)/2 = 0, bottom 1",
         CONV_UNEVEN(1, 1, BT_CONV_BWD_WEIGHTS, BT_NCHW, 1, 4, 56, 56, 4, 3, 3, 2, 2, 0, 0, 1, 1, 1,
                     0)},
        {"conv_bwd_w mb1ic4ih8iw8oc4oh8ow7kh3kw3", "w alone uneven: left 0, right 1",
         CONV_UNEVEN(1, 1, BT_CONV_BWD_WEIGHTS, BT_NCHW, 1, 4, 8, 8, 4, 3, 3, 1, 1, 1, 0, 1, 1, 1,
                     0)},
        {"conv_bwd_w mb1ic4ih8oc4oh4kh1sh2", "deduced ph -1/2 = 0, end -1: symmetric, same output",
         CONV(BT_CONV_BWD_WEIGHTS, BT_NCHW, 1, 4, 8, 8, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0)},
        {"conv_bwd_d mb2mb3ic3ih7oc4kh3 accumulate accumulate",
         "repeats: the last mb, accumulate on",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 3, 3, 7, 7, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1)},
        {"conv_bwd_d mb1ic3id1ih7iw7oc4kd1kh3kw3", "a trivial depth",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 1, 3, 7, 7, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0)},
        {"conv_bwd_d_nhwc mb1ic3ih7oc4oh7kh3", "padding deduced from oh (same)",
         CONV(BT_CONV_BWD_DATA, BT_NHWC, 1, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0)},
        {"conv_bwd_d mb1ic3ih7oc4oh4kh3sh2", "padding deduced from oh with stride 2",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 1, 3, 7, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0)},
        {"conv_bwd_d mb1ic3ih7oc4oh9kh3", "padding larger than kernel/2 deduced from oh",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 1, 3, 7, 7, 4, 3, 3, 1, 1, 2, 2, 1, 1, 1, 0)},
        {"conv_bwd_d mb1ic3ih7oc4oh5kh3", "oh that zero padding gives: no padding",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 1, 3, 7, 7, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0)},
        {"conv_bwd_d mb1_ic3_ih7_oc4_kh3_dh1_ph2", "'_' separators; benchdnn dh1 = dil_h 2",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 1, 3, 7, 7, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0)},
        {"conv_bwd_w_nchw g2mb3ic4ih6iw8oc6kh3kw1sh1sw2ph1pw0dh0dw2 accumulate",
         "every field given; dh0 = dense; accumulate",
         CONV(BT_CONV_BWD_WEIGHTS, BT_NCHW, 3, 4, 6, 8, 6, 3, 1, 1, 2, 1, 0, 1, 3, 2, 1)},
        {"conv_bwd_weights_nhwc mb1ic1ih5oc1kh1", "long op name with layout suffix",
         CONV(BT_CONV_BWD_WEIGHTS, BT_NHWC, 1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0)},
        {"  conv_bwd_d \t mb1ic3ih7oc4kh3   accumulate  ", "surrounding whitespace",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 1, 3, 7, 7, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1)},
        {"conv_bwd_d g32mb32ic32ih112oc32kh3ph1", "depthwise",
         CONV(BT_CONV_BWD_DATA, BT_NCHW, 32, 32, 112, 112, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32, 0)},
        {"fc_bwd_w mb256ic1024oc1024", "FC: spatial sizes 1",
         FC(BT_FC_BWD_WEIGHTS, 256, 1024, 1024)},
        {"fc_bwd_data ic5oc7", "FC long name, mb defaults to 2", FC(BT_FC_BWD_DATA, 2, 5, 7)},
        {"fc_bwd_d_nhwc mb3ic5oc7", "FC ignores the layout", FC(BT_FC_BWD_DATA, 3, 5, 7)},
        {"fc_bwd_d mb3ic4ih7oc5", "FC folds a square image into ic", FC(BT_FC_BWD_DATA, 3, 196, 5)},
        {"fc_bwd_w mb2ic4ih1iw1oc4", "FC with a 1x1 image", FC(BT_FC_BWD_WEIGHTS, 2, 4, 4)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bt_problem got;
        bt_status st = bt_problem_parse(cases[i].text, &got);
        char a[300], b[300];
        if (st != BT_OK) {
            tl_fail("deduce '%s' (%s): %s", cases[i].text, cases[i].rule, bt_last_error());
            continue;
        }
        if (!tl_expect(bdm_problem_equal(&got, &cases[i].want), "deduce '%s' (%s)", cases[i].text,
                       cases[i].rule)) {
            bdm_problem_describe(&got, a, sizeof a);
            bdm_problem_describe(&cases[i].want, b, sizeof b);
            tl_note("got  %s", a);
            tl_note("want %s", b);
        }
    }
}

/* ---- names ---- */

static void names(void) {
    static const struct {
        const char *text, *name;
        size_t size;
    } cases[] = {
        {"conv_bwd_w mb32ic64ih56oc64oh56kh3ph1n\"resnet_50:res2a_branch2b\"",
         "resnet_50:res2a_branch2b", 64},
        {"conv_bwd_d n\"first\"mb1ic3ih7oc4kh3", "first", 64},
        {"conv_bwd_d_nhwc mb1ic3ih7oc4kh3n\"with space\" accumulate", "with space", 64},
        {"conv_bwd_d mb1ic3ih7oc4kh3nconv1", "conv1", 64},
        {"conv_bwd_d mb1ic3ih7oc4kh3n\"truncated_name\"", "tru", 4},
        {"conv_bwd_d mb1ic3ih7oc4kh3", "", 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        memset(name, 'X', sizeof name);
        bt_problem p;
        bt_status st = bt_problem_parse_named(cases[i].text, &p, name, cases[i].size);
        if (!tl_expect(st == BT_OK && !strcmp(name, cases[i].name), "name of '%s' is \"%s\"",
                       cases[i].text, cases[i].name))
            tl_note("status %s, name \"%.*s\": %s", bt_strerror(st), 60, name, bt_last_error());
    }
    bt_problem p;
    tl_expect(bt_problem_parse_named("conv_bwd_d mb1ic3ih7oc4kh3n\"x\"", &p, NULL, 0) == BT_OK,
              "parse_named with a NULL name buffer");
}

/* ---- round trips: parse -> format -> parse is the same problem; format is stable ---- */

static const char *const round_trip_texts[] = {
    "conv_bwd_w mb2ic3ih7oc4kh3ph1",
    "conv_bwd_d_nhwc mb32ic3ih224oc64kh7sh2ph3n\"conv1\"",
    "conv_bwd_w_nhwc g32mb32ic32ih112oc32kh3ph1",
    "conv_bwd_w g2mb3ic4ih6iw8oc6kh3kw1sw2ph1pw0dw2 accumulate",
    "conv_bwd_d mb1ic3ih7oc4oh9kh3",
    "conv_bwd_d mb3ic17ih12iw5oc15kh5kw2sh3sw1ph4pw0dh2dw0",
    "conv_bwd_d mb1ic1ih1oc1kh1",
    "conv_bwd_w mb1ic1ih1oc1kh1ph5",
    "fc_bwd_w mb256ic1024oc1024 accumulate",
    "fc_bwd_d ic1oc1",
    "conv_bwd_d mb1099511627776ic1ih1oc1kh1",
    "conv_bwd_d mb2ic4ih5oc4oh8kh3ph3",
    "conv_bwd_w mb1ic4ih8iw9oc4kh3kw3ph1pw1oh8ow10",
    "conv_bwd_w ic3iw9oc4kw5sw2",
    "conv_bwd_d mb1ic32oc1iw134217732kw3",
    "fc_bwd_d mb3ic4ih2iw3oc5",
};

/* Parse, format, parse again, format again: the two problems and the two texts must agree.
 * Returns 1 if so; else 0 with the reason in `why`. */
static int round_trips(const char *text, const bt_problem *first, char *why, size_t size) {
    char canon[512];
    return bdm_round_trip(text, first, canon, sizeof canon, why, size);
}

static void round_trip(void) {
    for (size_t i = 0; i < sizeof round_trip_texts / sizeof round_trip_texts[0]; i++) {
        bt_problem p;
        char why[600] = "", canon[512] = "";
        if (bt_problem_parse(round_trip_texts[i], &p) != BT_OK) {
            tl_fail("round trip '%s': does not parse: %s", round_trip_texts[i], bt_last_error());
            continue;
        }
        bt_problem_format(&p, canon, sizeof canon);
        if (!tl_expect(round_trips(round_trip_texts[i], &p, why, sizeof why),
                       "round trip '%s' -> '%s'", round_trip_texts[i], canon))
            tl_note("%s", why);
    }
    /* A problem at the size limits: a dilated kernel as long as the input, padded on both
     * sides by as much. Whatever normalize accepts must format to text that parses back. */
    const int64_t limit = (int64_t)1 << 40;
    bt_problem at_limit = {.op = BT_CONV_BWD_DATA,
                           .n = 1,
                           .c = 1,
                           .k = 1,
                           .h = limit,
                           .w = 1,
                           .r = limit,
                           .s = 1,
                           .pad_h = limit,
                           .dil_h = 3};
    bt_problem at_limit_norm;
    char why[600] = "";
    int accepted = bt_problem_normalize(&at_limit, &at_limit_norm) == BT_OK;
    if (!tl_expect(!accepted || round_trips("(struct)", &at_limit_norm, why, sizeof why),
                   "round trip of a struct at the limits (h = r = pad_h = 2^40, dil_h 3): %s",
                   accepted ? "accepted, so its text must parse" : "refused"))
        tl_note("%s", why);
    /* snprintf semantics: the length needed, a truncated but terminated buffer. */
    bt_problem p = tl_parse("conv_bwd_w mb2ic3ih7oc4kh3ph1");
    char full[128], small[8];
    memset(small, 'X', sizeof small);
    int need = bt_problem_format(&p, full, sizeof full);
    int need_null = bt_problem_format(&p, NULL, 0);
    int need_small = bt_problem_format(&p, small, sizeof small);
    tl_expect(need == (int)strlen(full) && need_null == need && need_small == need &&
                  small[7] == '\0' && !strncmp(small, full, 7),
              "format into a short buffer: length %d, truncated '%s'", need_small, small);
    bt_problem bad = p;
    bad.n = -1;
    tl_expect(bt_problem_format(&bad, full, sizeof full) == -1 &&
                  bt_problem_format(NULL, full, sizeof full) == -1,
              "format of an invalid problem or NULL returns -1");
}

/* ---- errors: status and a message that names the offending token ---- */

static void errors(void) {
    static const struct {
        const char *text;
        bt_status status;
        const char *token; /* the message must name it (bdm_message_names: '|' = one of) */
        const char *what;
    } cases[] = {
        {"conv_bwd_d mb2ic3ih7oc4kh3xx5", BT_EINVAL, "xx", "unknown key"},
        {"conv_bwd_d mb2ic3ih7oc4kh3q", BT_EINVAL, "'q'", "unknown key without a number"},
        {"conv_bwd_d mb2ic3ih7oc4kh3?", BT_EINVAL, "?", "stray character"},
        {"conv_bwd_d mb2ic3ih-7oc4kh3", BT_EINVAL, "ih", "negative size"},
        {"conv_bwd_d mb2ic3ih7oc4kh3ph-1", BT_EINVAL, "ph", "negative padding"},
        {"conv_bwd_d mb2ic0ih7oc4kh3", BT_EINVAL, "ic0", "zero channels"},
        {"conv_bwd_d mb0ic3ih7oc4kh3", BT_EINVAL, "mb0", "zero batch"},
        {"conv_bwd_d mb2ic3ih7oc4kh0", BT_EINVAL, "kh0", "zero kernel"},
        {"conv_bwd_d mb2ic3ih7oc4kh3sh0", BT_EINVAL, "sh0", "zero stride"},
        {"conv_bwd_d g0mb2ic3ih7oc4kh3", BT_EINVAL, "g0", "zero groups"},
        {"conv_bwd_d mb2ic3ih99999999999999999999oc4kh3", BT_EINVAL, "ih", "overflow past int64"},
        {"conv_bwd_d mb2ic3ih9223372036854775808oc4kh3", BT_EINVAL, "ih", "2^63"},
        {"conv_bwd_d mb2ic3ih1099511627777oc4kh3", BT_EINVAL, "ih", "size above the limit"},
        {"conv_bwd_d mb1048576ic1048576ih1048576oc4kh3", BT_EINVAL, "too large",
         "tensor size overflows"},
        {"conv_bwd_d mb1ic1ih1oc1oh1099511627776kh1sh1099511627776", BT_EINVAL, "oh|ph|sh",
         "oh and stride at the limit (no overflow deducing padding)"},
        {"conv_bwd_d mb1ic1ih1099511627776oc1kh1099511627776dh1099511627775", BT_EINVAL, "kh|oh|dh",
         "kernel and dilation at the limit (no overflow in the output size)"},
        {"conv_bwd_d mb2ic3ih7oc4oh3kh3", BT_EINVAL, "ph oh", "padding deduced from oh is -1"},
        {"conv_bwd_d mb2ic3ih7oc4oh3kh3ph1", BT_EINVAL, "oh|ph", "end padding -3 <= -stride"},
        {"conv_bwd_d mb2ic3ih7iw7oc4ow8kh3", BT_EINVAL, "kw", "w given without kw"},
        {"conv_bwd_d mb2ic3ih7iw9oc4kh3", BT_EINVAL, "kw", "iw given without kw"},
        {"conv_bwd_d mb2ic3oc4kw3", BT_EINVAL, "iw", "kw given without iw"},
        {"conv_bwd_d mb2ic3ih7oc4kh3pw1", BT_EINVAL, "iw", "pw1 makes w present"},
        {"conv_bwd_d g2mb2ic3ih7oc4kh3", BT_EINVAL, "ic3", "ic not divisible by groups"},
        {"conv_bwd_d g2mb2ic4ih7oc3kh3", BT_EINVAL, "oc3", "oc not divisible by groups"},
        {"conv_bwd_d mb2ic3ih3oc4kh5", BT_EINVAL, "kh|oh", "kernel larger than the input"},
        {"conv_bwd_d mb2ic3ih5oc4kh3dh3", BT_EINVAL, "kh|oh|dh", "dilated kernel too large"},
        {"mb2ic3ih7oc4kh3", BT_EINVAL, "no op", "missing op"},
        {"g2mb2ic4ih7oc4kh3", BT_EINVAL, "no op", "missing op, groups first"},
        {"", BT_EINVAL, "empty", "empty text"},
        {"   ", BT_EINVAL, "empty", "blank text"},
        {"conv_bwd_d", BT_EINVAL, "descriptor", "missing descriptor"},
        {"conv_fwd mb2ic3ih7oc4kh3", BT_EINVAL, "conv_fwd", "unknown op"},
        {"conv_bwd_d_nhcw mb2ic3ih7oc4kh3", BT_EINVAL, "conv_bwd_d_nhcw", "unknown layout"},
        {"conv_bwd_d mb2ic3ih7oc4kh3 junk", BT_EINVAL, "junk", "trailing junk"},
        {"conv_bwd_d mb2ic3ih7oc4kh3 accumulate junk", BT_EINVAL, "junk",
         "a word after accumulate"},
        {"conv_bwd_d mb2icih7oc4kh3", BT_EINVAL, "ic|icih", "key without a number"},
        {"conv_bwd_d mb2ih7oc4kh3", BT_EINVAL, "ic", "ic missing"},
        {"conv_bwd_d mb2ic3ih7kh3", BT_EINVAL, "oc", "oc missing"},
        {"conv_bwd_d mb2ic3oc4kh3", BT_EINVAL, "ih", "ih missing"},
        {"conv_bwd_d mb2ic3ih7oc4", BT_EINVAL, "kh", "kh missing"},
        {"conv_bwd_d mb2ic3oc4", BT_EINVAL, "ih|iw|spatial", "no spatial dimension"},
        {"conv_bwd_d mb2ic3ih7oc4kh3n\"open", BT_EINVAL, "unterminated", "unterminated name"},
        {"fc_bwd_d mb2ic3oc4kh3", BT_EINVAL, "kh", "conv key in a FC descriptor"},
        {"fc_bwd_w mb2ic3oc4g2", BT_EINVAL, "g", "groups in a FC descriptor"},
        {"conv_bwd_d mb2ic3id7ih7iw7oc4kd3kh3kw3", BT_EUNSUPPORTED, "id|kd|od", "3-D"},
        {"conv_bwd_d mb2ic3id1ih7iw7oc4od5kd1kh3kw3", BT_EUNSUPPORTED, "od|pd",
         "depth output 5 from padding"},
        {"conv_bwd_d mb2ic3id1ih7iw7oc4kd1kh3kw3pd1", BT_EUNSUPPORTED, "pd|od", "depth padding"},
        {"conv_bwd_d mb2ic3id1ih7oc4kd1kh3", BT_EINVAL, "iw", "depth with h but not w"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bt_problem p, untouched;
        memset(&p, 0x5a, sizeof p);
        untouched = p;
        bt_status st = bt_problem_parse(cases[i].text, &p);
        const char *msg = bt_last_error();
        int ok = st == cases[i].status && bdm_message_names(msg, cases[i].token) &&
                 !memcmp(&p, &untouched, sizeof p);
        if (!tl_expect(ok, "error: %s: '%s' -> %s naming '%s'", cases[i].what, cases[i].text,
                       bt_strerror(cases[i].status), cases[i].token))
            tl_note("got %s: \"%s\"%s", bt_strerror(st), msg,
                    memcmp(&p, &untouched, sizeof p) ? " (and the output was written)" : "");
    }
    bt_problem p;
    tl_expect(bt_problem_parse(NULL, &p) == BT_EINVAL && *bt_last_error(),
              "error: NULL text -> invalid argument");
    tl_expect(bt_problem_parse("conv_bwd_d mb2ic3ih7oc4kh3", NULL) == BT_EINVAL && *bt_last_error(),
              "error: NULL output -> invalid argument");
}

/* ---- FLOPs: 2 N K (C/G) R S P Q ---- */

static void flops(void) {
    static const struct {
        const char *text;
        double flops;
    } cases[] = {
        {"conv_bwd_w mb2ic3ih7oc4kh3ph1", 2.0 * 2 * 4 * 3 * 9 * 7 * 7},
        {"fc_bwd_d mb256ic1024oc1024", 2.0 * 256 * 1024 * 1024},
        {"conv_bwd_d g2mb1ic4ih5oc6kh3", 2.0 * 1 * 6 * 2 * 9 * 3 * 3},
        {"conv_bwd_d mb32ic3ih224oc64kh7sh2ph3", 2.0 * 32 * 64 * 3 * 49 * 112 * 112},
        {"conv_bwd_w mb1ic1ih7oc1kh3dh1", 2.0 * 9 * 3 * 3},
        {"conv_bwd_w g32mb32ic32ih112oc32kh3ph1", 2.0 * 32 * 32 * 1 * 9 * 112 * 112},
        {"conv_bwd_d mb3ic5ih9iw6oc7kh3kw2sh2sw1", 2.0 * 3 * 7 * 5 * 6 * 4 * 5},
        {"conv_bwd_d mb2ic4ih5oc4oh8kh3ph3", 2.0 * 2 * 4 * 4 * 9 * 8 * 8},
        {"conv_bwd_d ic3iw9oc4kw5", 2.0 * 2 * 4 * 3 * 5 * 1 * 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bt_problem p = tl_parse(cases[i].text);
        double got = bt_problem_flops(&p);
        tl_expect(got == cases[i].flops, "flops '%s' = %.0f (got %.0f)", cases[i].text,
                  cases[i].flops, got);
    }
    bt_problem bad = tl_parse("conv_bwd_w mb2ic3ih7oc4kh3ph1");
    bad.c = 0;
    tl_expect(bt_problem_flops(&bad) == 0 && bt_problem_flops(NULL) == 0,
              "flops of an invalid problem or NULL = 0");
}

/* ---- fuzz ---- */

static uint64_t rng_state = 0x5eed5eed12345678ull; /* fixed: reproducible runs */
static int rng_below(int n) {
    return bdm_rng_below(&rng_state, n);
}

/* Characters the grammar uses, weighted towards tokens that almost parse. */
static const char alphabet[] = "mbicohkwspdgn_\"0123456789 -\tacuelfvrtxyz_0123456789";
/* Pieces that make near-valid text: keys, quotes, separators, numbers at and past the
 * limits (2^40, 2^63 - 1, more than 64 bits), op names and keys of the wrong kind. */
// clang-format off
static const char *const fragments[] = {
    "mb", "ic", "oc", "ih", "iw", "oh", "ow", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw", "g",
    "n\"", "\"", "_", " accumulate", "99999999999999999999", "9223372036854775807",
    "1099511627776", "0", "1", "3", "-1", "conv_bwd_d ", "fc_bwd_w ", "_nhwc", "id", "kd",
    "oh1099511627776", "sh1099511627776", "dh1099511627775", "kh1099511627776"};
// clang-format on

/* A random string, or a valid text with a few random edits. */
static size_t fuzz_text(char *buf, size_t size) {
    size_t len = 0;
    if (rng_below(4) == 0) {
        size_t n = (size_t)rng_below(48);
        for (size_t i = 0; i < n && len + 1 < size; i++)
            buf[len++] = rng_below(16) ? alphabet[rng_below((int)sizeof alphabet - 1)]
                                       : (char)(1 + rng_below(255));
        buf[len] = '\0';
        return len;
    }
    len = (size_t)snprintf(
        buf, size, "%s",
        round_trip_texts[rng_below((int)(sizeof round_trip_texts / sizeof round_trip_texts[0]))]);
    int edits = 1 + rng_below(4);
    for (int e = 0; e < edits; e++) {
        size_t at = len ? (size_t)rng_below((int)len + 1) : 0;
        switch (rng_below(5)) {
        case 0: /* delete a run */
            if (at < len) {
                size_t n = 1 + (size_t)rng_below(3);
                if (at + n > len) n = len - at;
                memmove(buf + at, buf + at + n, len - at - n + 1);
                len -= n;
            }
            break;
        case 1: /* replace a character */
            if (at < len) buf[at] = alphabet[rng_below((int)sizeof alphabet - 1)];
            break;
        case 2: /* truncate */
            buf[at] = '\0', len = at;
            break;
        default: { /* insert a fragment */
            const char *f = fragments[rng_below((int)(sizeof fragments / sizeof fragments[0]))];
            size_t n = strlen(f);
            if (len + n + 1 > size) break;
            memmove(buf + at + n, buf + at, len - at + 1);
            memcpy(buf + at, f, n);
            len += n;
        }
        }
    }
    return len;
}

enum { FUZZ_STRINGS = 300000, FUZZ_STRUCTS = 200000 };

static void fuzz_strings(void) {
    int parsed = 0, bad = 0;
    char first_bad[1000] = "";
    for (int i = 0; i < FUZZ_STRINGS; i++) {
        char buf[256];
        size_t len = fuzz_text(buf, sizeof buf);
        char *text = malloc(len + 1); /* exact size: ASan sees any read past the end */
        memcpy(text, buf, len + 1);
        bt_problem p;
        char name[16], why[600] = "";
        bt_status st = bt_problem_parse_named(text, &p, name, sizeof name);
        int ok = 1;
        if (st == BT_OK) {
            parsed++;
            ok = round_trips(text, &p, why, sizeof why);
        } else if ((st != BT_EINVAL && st != BT_EUNSUPPORTED) || !*bt_last_error()) {
            ok = 0;
            snprintf(why, sizeof why, "'%s': status %d, message \"%s\"", text, (int)st,
                     bt_last_error());
        }
        if (!ok && !bad++) snprintf(first_bad, sizeof first_bad, "%s", why);
        free(text);
    }
    if (!tl_expect(!bad,
                   "fuzz: %d random and mutated texts, %d parsed and round-tripped, "
                   "the rest rejected with a message",
                   FUZZ_STRINGS, parsed))
        tl_note("%d bad, first: %s", bad, first_bad);
}

static int64_t fuzz_field(int positive) {
    static const int64_t special[] = {0,
                                      1,
                                      -1,
                                      INT64_MAX,
                                      INT64_MIN,
                                      (int64_t)1 << 40,
                                      ((int64_t)1 << 40) + 1,
                                      (int64_t)1 << 21,
                                      (int64_t)1 << 31,
                                      3037000500};
    if (rng_below(8)) return (positive ? 1 : 0) + rng_below(positive ? 9 : 4);
    return special[rng_below((int)(sizeof special / sizeof special[0]))];
}

/* Random structs: normalize, format and flops agree on validity, never crash, and every
 * valid one formats to a text that parses back to its normalized form. */
static void fuzz_structs(void) {
    int valid = 0, bad = 0;
    char first_bad[1000] = "";
    for (int i = 0; i < FUZZ_STRUCTS; i++) {
        bt_problem p = {.op = (bt_op)(rng_below(6) - 1),
                        .layout = (bt_layout)(rng_below(4) - 1),
                        .n = fuzz_field(1),
                        .c = fuzz_field(1),
                        .h = fuzz_field(1),
                        .w = fuzz_field(1),
                        .k = fuzz_field(1),
                        .r = fuzz_field(1),
                        .s = fuzz_field(1),
                        .stride_h = fuzz_field(0),
                        .stride_w = fuzz_field(0),
                        .pad_h = fuzz_field(0),
                        .pad_w = fuzz_field(0),
                        .dil_h = fuzz_field(0),
                        .dil_w = fuzz_field(0),
                        .groups = fuzz_field(0),
                        .accumulate = rng_below(4) - 1};
        if (rng_below(2)) p.op = (bt_op)rng_below(4), p.layout = (bt_layout)rng_below(2);
        if (rng_below(2)) p.accumulate = rng_below(2);
        if (!rng_below(4)) { /* end padding: negative down to 1 - stride is valid */
            p.pad_end_set = rng_below(4) - 1;
            p.pad_h_end = rng_below(2) ? fuzz_field(0) : -(int64_t)rng_below(3);
            p.pad_w_end = rng_below(2) ? fuzz_field(0) : -(int64_t)rng_below(3);
        }
        if ((p.op == BT_FC_BWD_DATA || p.op == BT_FC_BWD_WEIGHTS) && rng_below(2))
            p.h = p.w = p.r = p.s = 1, p.stride_h = p.stride_w = p.pad_h = p.pad_w = 0,
            p.dil_h = p.dil_w = p.groups = 0;
        bt_problem norm;
        char text[512], why[600] = "";
        bt_status st = bt_problem_normalize(&p, &norm);
        int len = bt_problem_format(&p, text, sizeof text);
        double f = bt_problem_flops(&p);
        int ok;
        if (st == BT_OK) {
            valid++;
            ok = len > 0 && f > 0 && round_trips(text, &norm, why, sizeof why);
            if (!ok && !why[0]) snprintf(why, sizeof why, "valid but format %d, flops %g", len, f);
        } else {
            ok = len == -1 && f == 0 && *bt_last_error();
            if (!ok) snprintf(why, sizeof why, "invalid but format %d, flops %g", len, f);
        }
        if (!ok && !bad++) {
            char d[300];
            bdm_problem_describe(&p, d, sizeof d);
            snprintf(first_bad, sizeof first_bad, "%s: %s", d, why);
        }
    }
    if (!tl_expect(!bad,
                   "fuzz: %d random problem structs (%d valid): normalize, format and "
                   "flops agree, valid ones round-trip",
                   FUZZ_STRUCTS, valid))
        tl_note("%d bad, first: %s", bad, first_bad);
}

int main(void) {
    bdm_rng_seed_from_env(&rng_state);
    deduction();
    names();
    round_trip();
    errors();
    flops();
    fuzz_strings();
    fuzz_structs();
    return tl_finish();
}
