// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The filesystem dispatcher from several queues at once: the input is
 * cut in three, each part run by its own thread against the same fs
 * (node table, handles, eviction), as with --num-queues.  Races show as
 * ASan reports, not as reproducible crashes: rerun a crash input a few
 * times.
 */
#include <pthread.h>

#include "fs_common.h"

#define THREADS	3

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return fs_init();
}

static void *worker(void *arg)
{
	fs_run(arg);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z[THREADS];
	pthread_t t[THREADS];
	size_t part = size / THREADS;
	unsigned int i;

	for (i = 0; i < THREADS; i++) {
		z[i].p = data + i * part;
		z[i].left = i == THREADS - 1 ? size - i * part : part;
		if (pthread_create(&t[i], NULL, worker, &z[i]))
			abort();
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	fs_maybe_reset();
	return 0;
}
