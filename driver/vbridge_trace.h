/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vbridge trace events.
 *
 * Enable with e.g.
 *   echo 1 > /sys/kernel/tracing/events/vbridge/enable
 */
#if !defined(_VBRIDGE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VBRIDGE_TRACE_H

#include <linux/tracepoint.h>
#include "vbridge_compat.h"

#undef TRACE_SYSTEM
#define TRACE_SYSTEM vbridge

TRACE_EVENT(vbridge_request_submit,
	    TP_PROTO(const char *dev, unsigned int queue, u64 unique,
		     u32 opcode, u32 in_len, u32 out_len),
	    TP_ARGS(dev, queue, unique, opcode, in_len, out_len),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(unsigned int, queue)
			     __field(u64, unique)
			     __field(u32, opcode)
			     __field(u32, in_len)
			     __field(u32, out_len)),
	    TP_fast_assign(vbridge_assign_str(dev);
			   __entry->queue = queue;
			   __entry->unique = unique;
			   __entry->opcode = opcode;
			   __entry->in_len = in_len;
			   __entry->out_len = out_len;),
	    TP_printk("%s queue=%u unique=%llu opcode=%#x in_len=%u out_len=%u",
		      __get_str(dev), __entry->queue, __entry->unique,
		      __entry->opcode, __entry->in_len, __entry->out_len)
);

TRACE_EVENT(vbridge_request_complete,
	    TP_PROTO(const char *dev, unsigned int queue, u64 unique,
		     int error, u32 len),
	    TP_ARGS(dev, queue, unique, error, len),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(unsigned int, queue)
			     __field(u64, unique)
			     __field(int, error)
			     __field(u32, len)),
	    TP_fast_assign(vbridge_assign_str(dev);
			   __entry->queue = queue;
			   __entry->unique = unique;
			   __entry->error = error;
			   __entry->len = len;),
	    TP_printk("%s queue=%u unique=%llu error=%d len=%u",
		      __get_str(dev), __entry->queue, __entry->unique,
		      __entry->error, __entry->len)
);

#endif /* _VBRIDGE_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vbridge_trace
#include <trace/define_trace.h>
