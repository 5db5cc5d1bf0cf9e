/* module_format.c + module_kernels.c: each module's implementation switched on alone, in its
 * own translation unit, linked together (no duplicate or missing symbols). */
#define SCALPEL_FORMAT_IMPLEMENTATION
#include "scalpel_format.h"
