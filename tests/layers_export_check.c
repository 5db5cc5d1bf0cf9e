/* layers_export_check.c - compiles the headers tests/test_layers.c exported (one network per
 * layer kind, built with SCALPEL_NO_MALLOC as firmware would) and checks that each computes the
 * outputs the exporting program computed, bit for bit.
 *   cc -std=c99 -O2 -DSCALPEL_NO_MALLOC -I. -IDIR tests/layers_export_check.c -o check -lm
 * with the target flags test_layers was built with (the same kernels give the same bits). */
#define SCALPEL_IMPLEMENTATION
#include "scalpel.h"
#include "test_util.h"
#include "layers_export.h"

#include <string.h>

static unsigned char workspace[1 << 20];

int main(void)
{
    size_t i, n = sizeof layers_cases / sizeof layers_cases[0];
    CHECK(n == (size_t)SCALPEL_LAYER_COUNT - 1, "every kind exported (%lu)", (unsigned long)n);
    for (i = 0; i < n; i++) {
        const scalpel_net *net = layers_cases[i].net;
        float y[64];
        int32_t on = scalpel_net_output_size(net);
        CHECK(scalpel_net_validate(net) == SCALPEL_OK, "%s: exported network valid", layers_cases[i].name);
        CHECK(on <= 64 && scalpel_net_workspace_size(net, 1) <= sizeof workspace, "%s: sizes", layers_cases[i].name);
        if (on > 64 || scalpel_net_workspace_size(net, 1) > sizeof workspace) continue;
        CHECK(scalpel_net_forward(net, layers_cases[i].in, 1, y, workspace) == SCALPEL_OK &&
                  memcmp(y, layers_cases[i].out, (size_t)on * sizeof(float)) == 0,
              "%s: exported network computes the same outputs", layers_cases[i].name);
    }
    return test_summary("layers_export_check");
}
