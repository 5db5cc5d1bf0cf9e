/* export_names_check.c - compiles the headers tests/export_names.c exported under every name it
 * accepts, next to the standard headers a firmware includes, and checks the networks' shapes.
 * Two translation units, since the float and the fixed-point exports share their names:
 *
 *   cc -Wall -Wextra -Werror -I. -Itests -IDIR tests/export_names_check.c DIR/export_names_q.c
 *
 * (DIR/export_names_q.c defines EXPORT_NAMES_Q and includes this file). Only the exported
 * structs are read, so the program links without the library's implementation. */
#include "scalpel.h"
#include <assert.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "export_names_index.h"

int export_names_q_check(void);

#ifdef EXPORT_NAMES_Q

/* The fixed-point networks: the shape each was exported with, and a workspace size. Returns
 * the number of failures. */
int export_names_q_check(void)
{
    int i, bad = 0;
    for (i = 0; i < EXPORT_NAMES_COUNT; i++) {
        const scalpel_qnet *q = export_names_qnets[i];
        if (q->n_layers != 3 || q->in_c * q->in_h * q->in_w != EXPORT_NAMES_IN || export_names_ws[i] == 0) {
            printf("q network %d: wrong shape\n", i);
            bad++;
        }
    }
    return bad;
}

#else

int main(void)
{
    int i, bad = export_names_q_check();
    for (i = 0; i < EXPORT_NAMES_COUNT; i++) {
        const scalpel_net *net = export_names_nets[i];
        if (net->n_layers != 3 || net->layers[0].geom.cols != EXPORT_NAMES_IN ||
            net->layers[2].geom.rows != EXPORT_NAMES_OUT) {
            printf("network %d: wrong shape\n", i);
            bad++;
        }
    }
    printf("%d networks, float and q15: %s\n", EXPORT_NAMES_COUNT, bad ? "FAILED" : "ok");
    return bad != 0;
}

#endif
