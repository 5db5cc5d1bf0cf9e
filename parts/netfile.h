/* parts/netfile.h: implementation part of scalpel.h (merged into it before release) */
