/* Checks the peers against the double reference on small odd shapes (both layouts, stride,
 * padding, uneven padding, 1-D, dilation, groups, depthwise, 1x1, FC, accumulate), so a peer's
 * numbers in a bench table are for the same work. Peers working in their own layouts are compared
 * through their store (copy back to plain); one without it is only created and run. Exit status 1
 * on any mismatch. */
#include "peer_check.h"

#include <stdio.h>
#include <string.h>

static const char *const descriptors[] = {
    "mb2ic5ih9oc7kh3ph1",
    "mb2ic4ih10iw9oc6kh3kw2sh2sw1ph1pw0",
    "mb1ic3ih11oc4kh3dh1ph2",
    "g2mb2ic4ih7oc6kh3ph1",
    "g8mb2ic8ih7oc8kh3sh2ph1",
    "mb2ic6ih5oc7kh1",
    "mb2ic6ih6oc4kh1sh2",
    "mb1ic3ih4oc2kh3ph3",
    /* uneven padding (0 before, 1 after; even kernel 'SAME'), 1-D, 1-D uneven */
    "mb2ic5ih8oc6oh4kh3sh2",
    "mb2ic4ih6iw7oc5oh6ow7kh2kw2",
    "mb2ic5iw17oc6kw3pw1",
    "mb2ic4iw15oc3ow8kw4sw2",
    /* large enough that oneDNN's auto algorithm takes its Winograd for bwd_data */
    "mb16ic64ih14oc64kh3ph1",
};
static const char *const fc_problems[] = {"fc_bwd_d mb3ic17oc9", "fc_bwd_w mb3ic17oc9",
                                          "fc_bwd_w mb1ic5oc3 accumulate"};

/* 0 pass or skip, 1 fail. */
static int check_one(const bt_bench_impl *peer, const char *text) {
    bt_peer_check_result res;
    bt_status st = bt_peer_check(peer, text, 2, &res);
    if (st == BT_EUNSUPPORTED) {
        printf("SKIP %-22s %-45s %s\n", peer->name, text, bt_last_error());
        return 0;
    }
    if (st != BT_OK) {
        printf("FAIL %-22s %s: %s\n", peer->name, text, bt_last_error());
        return 1;
    }
    if (!res.compared)
        printf("RAN  %-22s %-45s (own layouts: not compared)\n", peer->name, text);
    else
        printf("%s %-22s %-45s rel_err=%.2g %s\n", res.pass ? "PASS" : "FAIL", peer->name, text,
               res.rel_err, res.describe);
    return !res.pass;
}

/* Every problem of the list on one peer; its failures. */
static int check_peer(const bt_bench_impl *peer) {
    static const char *const conv_ops[] = {"conv_bwd_d", "conv_bwd_w", "conv_bwd_d_nhwc",
                                           "conv_bwd_w_nhwc"};
    char text[160];
    int failures = 0;
    for (size_t d = 0; d < sizeof descriptors / sizeof descriptors[0]; d++)
        for (size_t o = 0; o < sizeof conv_ops / sizeof conv_ops[0]; o++) {
            snprintf(text, sizeof text, "%s %s", conv_ops[o], descriptors[d]);
            failures += check_one(peer, text);
        }
    snprintf(text, sizeof text, "conv_bwd_w_nhwc %s accumulate", descriptors[3]);
    failures += check_one(peer, text);
    snprintf(text, sizeof text, "conv_bwd_d %s accumulate", descriptors[1]);
    failures += check_one(peer, text);
    for (size_t f = 0; f < sizeof fc_problems / sizeof fc_problems[0]; f++)
        failures += check_one(peer, fc_problems[f]);
    return failures;
}

/* peer_selftest [NAME [PROBLEM...]]: every peer compiled in (those whose library is missing
 * skipped), or only the one named, which must then be there, on the list above or on the
 * problems given. A peer whose setup finds it wrong (its own check) fails. */
int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    int failures = 0, peers = 0;
    for (int i = 0; bt_bench_peers[i]; i++) {
        const bt_bench_impl *peer = bt_bench_peers[i];
        if (only && strcmp(peer->name, only)) continue;
        bt_status st = peer->setup ? peer->setup(peer) : BT_OK;
        if (st != BT_OK) {
            int fail = only || st != BT_EUNSUPPORTED;
            printf("%s %-22s %s: %s\n", fail ? "FAIL" : "SKIP", peer->name,
                   st == BT_EUNSUPPORTED ? "unavailable" : "setup", bt_last_error());
            failures += fail;
            continue;
        }
        peers++;
        for (int a = 2; a < argc; a++) failures += check_one(peer, argv[a]);
        if (argc <= 2) failures += check_peer(peer);
    }
    if (only && !peers && !failures) {
        printf("FAIL %s: no such peer in this build\n", only);
        failures++;
    }
    printf("peer_selftest: %d peers, %d failures\n", peers, failures);
    return failures ? 1 : 0;
}
