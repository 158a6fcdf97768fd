// SPDX-License-Identifier: GPL-2.0
/* vbridge trace points: instantiated here, used by vbridge_vq.c. */

#define CREATE_TRACE_POINTS
#include "vbridge_trace.h"
