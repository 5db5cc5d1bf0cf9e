/* module_net.c: the network module (scalpel.h) compiled alone with SCALPEL_NET_IMPLEMENTATION,
 * linked with module_format.c and module_kernels.c, which hold the other two modules. */
#define SCALPEL_NET_IMPLEMENTATION
#include "scalpel.h"

int module_net_check(void);

/* y = relu(W . x + b) on a 1x1x3 input: the network module calls into the other two. */
int module_net_check(void)
{
    const float w[2 * 3] = { 1, 2, 3, -4, -5, -6 }, b[2] = { 0.5f, 0.5f }, x[3] = { 1, 1, 1 };
    float y[2];
    unsigned char ws[1024];
    scalpel_net net;
    int ok;
    if (scalpel_net_init(3, 1, 1, &net) != SCALPEL_OK) return 0;
    if (scalpel_net_add_fc(&net, 2, w, b) != SCALPEL_OK || scalpel_net_add_relu(&net) != SCALPEL_OK ||
        scalpel_net_workspace_size(&net, 1) > sizeof(ws) || scalpel_net_forward(&net, x, 1, y, ws) != SCALPEL_OK) {
        scalpel_net_free(&net);
        return 0;
    }
    ok = y[0] == 6.5f && y[1] == 0.0f;
    scalpel_net_free(&net);
    return ok;
}
