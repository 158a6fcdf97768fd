// SPDX-License-Identifier: GPL-2.0-or-later
/* The filesystem dispatcher (vbd_fs_handle), one request after another. */
#include "fs_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return fs_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };

	fs_run(&z);
	fs_maybe_reset();
	return 0;
}
