// SPDX-License-Identifier: GPL-2.0
/*
 * Differential random-operation tester for vbridgefs.
 *
 * Applies a seeded random sequence of every data operation the
 * filesystem supports to a file on the mount, and the same operations to
 * an in-memory model and to a reference file on a local filesystem (a
 * guest tmpfs).  Reads are checked against the model as they happen; the
 * whole file (contents and size) is compared periodically and at the end.
 * The first mismatch is reported with its offset and length, the
 * expected and received bytes, which operation probably wrote the bytes
 * received, and the last operations.  After the final fsync the SHA-256
 * of the expected contents is printed (and written with -H) so that the
 * host can check its copy of the file.
 *
 * Written bytes encode the writing operation and the offset: byte(o, k) =
 * (o % 251 + k) % 255 + 1 is never zero, so lost data that reads back as
 * zeros is distinguished from zeros punched on purpose, and a misplaced
 * copy shows in the offset term.
 *
 * usage: vbridge_diff_test -f FILE [-r REFDIR] [-s SEED] [-n OPS]
 *                          [-m MAXSIZE] [-l MAXLEN] [-c CHECK_EVERY]
 *                          [-x OP[,OP...]] [-H HASHFILE] [-L LOGLEN] [-v]
 * Ops (for -x): read write dread dwrite mread mwrite copy copy2 punch
 * zero alloc allockeep truncup truncdown fsync fdatasync reopen fadvise
 * dropcaches
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>

#define DIO_ALIGN	4096u

enum op {
	OP_READ, OP_WRITE, OP_DREAD, OP_DWRITE, OP_MREAD, OP_MWRITE,
	OP_COPY, OP_COPY2, OP_PUNCH, OP_ZERO, OP_ALLOC, OP_ALLOCKEEP,
	OP_TRUNCUP, OP_TRUNCDOWN, OP_FSYNC, OP_FDATASYNC, OP_REOPEN,
	OP_FADVISE, OP_DROPCACHES, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"read", "write", "dread", "dwrite", "mread", "mwrite", "copy",
	"copy2", "punch", "zero", "alloc", "allockeep", "truncup",
	"truncdown", "fsync", "fdatasync", "reopen", "fadvise", "dropcaches",
};

/* Relative frequencies: data movement dominates, cache drops are rare. */
static const unsigned int op_weight[OP_COUNT] = {
	[OP_READ] = 10, [OP_WRITE] = 12, [OP_DREAD] = 4, [OP_DWRITE] = 4,
	[OP_MREAD] = 6, [OP_MWRITE] = 8, [OP_COPY] = 6, [OP_COPY2] = 3,
	[OP_PUNCH] = 4, [OP_ZERO] = 4, [OP_ALLOC] = 2, [OP_ALLOCKEEP] = 2,
	[OP_TRUNCUP] = 3, [OP_TRUNCDOWN] = 3, [OP_FSYNC] = 2,
	[OP_FDATASYNC] = 2, [OP_REOPEN] = 2, [OP_FADVISE] = 1,
	[OP_DROPCACHES] = 1,
};

static bool disabled[OP_COUNT];

/* Configuration */
static const char *path, *refdir = "/tmp", *hashfile;
static uint64_t seed = 1;
static unsigned long nops = 2000, check_every = 100, loglen = 32;
static size_t maxsize = 1 << 20, maxlen = 64 << 10;
static bool verbose;

/* State: the file under test, its reference and the model. */
static int fd = -1, dfd = -1, refd = -1, src2fd = -1;
static char refpath[4096], src2path[4096];
static uint8_t *model, *src2model, *buf, *buf2;
static size_t msize, src2size;
static unsigned long opno;

/* Ring of the last operations, printed on failure. */
static char (*oplog)[128];

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: a seed gives the same sequence on every machine */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
	return n ? rnd() % n : 0;
}

static void logop(const char *fmt, ...)
{
	char *slot = oplog[opno % loglen];
	int n = snprintf(slot, sizeof(oplog[0]), "%6lu ", opno);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(slot + n, sizeof(oplog[0]) - n, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("# %s\n", slot);
}

static void dump_log(void)
{
	unsigned long first = opno + 1 > loglen ? opno + 1 - loglen : 0;

	printf("# last %lu operations (op offset length ...):\n", opno + 1 - first);
	for (unsigned long i = first; i <= opno; i++)
		printf("#   %s\n", oplog[i % loglen]);
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65]);
static void drop_caches(void);

/*
 * After a failure: fsync, then leave the expected contents' SHA-256 in
 * the hash file marked "failed", so that the host's copy can still be
 * checked (lost data, or only a stale guest cache?).
 */
static void save_expected(void)
{
	char hex[65];
	FILE *h;

	if (!hashfile || !model)
		return;
	if (fd >= 0 && fsync(fd) < 0)
		printf("# fsync after the failure: %s\n", strerror(errno));
	sha256_hex(model, msize, hex);
	h = fopen(hashfile, "w");
	if (h) {
		fprintf(h, "%s %zu failed\n", hex, msize);
		fclose(h);
	}
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	printf("# FAIL seed=%" PRIu64 " op=%lu file=%s: ", seed, opno, path);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	dump_log();
	save_expected();
	printf("not ok - vbridge_diff_test seed=%" PRIu64 " ops=%lu %s\n",
	       seed, nops, path);
	fflush(stdout);
	exit(1);
}

#define SYS(call, what) do {						\
	if ((call) < 0)							\
		fail("%s: %s", what, strerror(errno));			\
} while (0)

static uint8_t pattern(size_t off, unsigned long k)
{
	return (off % 251 + k) % 255 + 1;
}

static void hexdump(const char *label, const uint8_t *p, size_t off, size_t n)
{
	printf("#   %s @%zu:", label, off);
	for (size_t i = 0; i < n; i++)
		printf(" %02x", p[i]);
	printf("\n");
}

/*
 * Compare @n bytes that the file returned at @off with the model; report
 * the first differing run.
 */
static void compare(const char *what, const uint8_t *got, size_t off, size_t n)
{
	const uint8_t *exp = model + off;
	size_t i, j, ctx;

	if (!memcmp(got, exp, n))
		return;
	for (i = 0; got[i] == exp[i]; i++)
		;
	for (j = i; j < n && got[j] != exp[j]; j++)
		;
	ctx = i >= 8 ? i - 8 : 0;
	printf("# MISMATCH (%s): first bad byte at offset %zu (0x%zx), %zu bad bytes from there, file size %zu\n",
	       what, off + i, off + i, j - i, msize);
	hexdump("expected", exp + ctx, off + ctx, n - ctx < 32 ? n - ctx : 32);
	hexdump("got     ", got + ctx, off + ctx, n - ctx < 32 ? n - ctx : 32);
	if (got[i])
		printf("#   byte got at %zu looks written by op %lu (mod 255)\n",
		       off + i, (unsigned long)((got[i] - 1 + 255 * 2 - (off + i) % 251) % 255));
	else
		printf("#   got zeros where data was expected\n");
	if (exp[i])
		printf("#   byte expected at %zu was written by op %lu (mod 255)\n",
		       off + i, (unsigned long)((exp[i] - 1 + 255 * 2 - (off + i) % 251) % 255));
	if (fd >= 0) {
		/* Is it the guest's cache, or the data on the host? */
		uint8_t *again = malloc(j - i);
		ssize_t r;

		drop_caches();
		r = again ? pread(fd, again, j - i, off + i) : -1;
		if (r == (ssize_t)(j - i))
			printf("#   after drop_caches a read of the bad range is %s\n",
			       memcmp(again, exp + i, j - i) ? "still wrong" : "right (stale guest cache)");
		free(again);
	}
	fail("%s returned wrong data at offset %zu", what, off + i);
}

static void check_size(const char *when)
{
	struct stat st;

	SYS(fstat(fd, &st), "fstat");
	if ((size_t)st.st_size != msize)
		fail("%s: file size %jd, expected %zu", when, (intmax_t)st.st_size, msize);
	SYS(fstat(refd, &st), "fstat ref");
	if ((size_t)st.st_size != msize)
		fail("%s: reference size %jd, expected %zu (tester bug?)", when,
		     (intmax_t)st.st_size, msize);
}

static void full_read(int f, uint8_t *dst, size_t n, const char *what)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(f, dst + done, n - done, done);

		if (r < 0)
			fail("%s: pread: %s", what, strerror(errno));
		if (r == 0)
			fail("%s: EOF at %zu, expected size %zu", what, done, n);
		done += r;
	}
}

static uint8_t *whole;

static void drop_caches(void)
{
	int f = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd >= 0)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (f >= 0) {
		if (write(f, "3", 1) != 1)
			printf("# drop_caches: %s\n", strerror(errno));
		close(f);
	}
}

static void check_all(const char *when)
{
	char what[96];

	check_size(when);
	snprintf(what, sizeof(what), "full compare (%s)", when);
	full_read(fd, whole, msize, what);
	compare(what, whole, 0, msize);
	full_read(refd, whole, msize, "reference");
	if (memcmp(whole, model, msize))
		fail("%s: the tmpfs reference differs from the model (tester bug?)", when);
}

static void open_file(void)
{
	fd = open(path, O_RDWR);
	SYS(fd, "open");
	if (disabled[OP_DREAD] && disabled[OP_DWRITE])
		dfd = open(path, O_RDWR);
	else
		dfd = open(path, O_RDWR | O_DIRECT);
	SYS(dfd, "open O_DIRECT");
}

static void close_file(void)
{
	SYS(close(dfd), "close O_DIRECT");
	SYS(close(fd), "close");
	fd = dfd = -1;
}

static void set_size(size_t n)
{
	if (n > msize)
		memset(model + msize, 0, n - msize);
	msize = n;
}

static void write_model(size_t off, const uint8_t *p, size_t n)
{
	if (off + n > msize)
		set_size(off + n);
	memcpy(model + off, p, n);
}

static void fill(uint8_t *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(off + i, opno);
}

/* Offsets near interesting places: EOF, page and folio boundaries. */
static size_t pick_off(size_t limit)
{
	size_t off;

	switch (rnd_below(4)) {
	case 0:
		off = msize + rnd_below(8192) - 4096;
		break;
	case 1:
		off = rnd_below(limit / 4096 + 1) * 4096 + rnd_below(16) - 8;
		break;
	default:
		off = rnd_below(limit);
		break;
	}
	return off >= limit ? rnd_below(limit) : off;
}

static size_t pick_len(void)
{
	return rnd_below(4) ? rnd_below(maxlen / 8) + 1 : rnd_below(maxlen) + 1;
}

static void do_write(size_t off, size_t n, bool direct)
{
	uint8_t *p = direct ? buf2 : buf;
	ssize_t r;

	fill(p, off, n);
	r = pwrite(direct ? dfd : fd, p, n, off);
	if (r != (ssize_t)n)
		fail("pwrite%s %zu+%zu: %zd (%s)", direct ? " O_DIRECT" : "",
		     off, n, r, r < 0 ? strerror(errno) : "short");
	if (pwrite(refd, p, n, off) != (ssize_t)n)
		fail("pwrite ref: %s", strerror(errno));
	write_model(off, p, n);
}

static void do_read(size_t off, size_t n, bool direct)
{
	uint8_t *p = direct ? buf2 : buf;
	size_t want = off >= msize ? 0 : (msize - off < n ? msize - off : n);
	ssize_t r = pread(direct ? dfd : fd, p, n, off);

	if (r < 0)
		fail("pread%s %zu+%zu: %s", direct ? " O_DIRECT" : "", off, n,
		     strerror(errno));
	if ((size_t)r != want)
		fail("pread%s %zu+%zu returned %zd, expected %zu (size %zu)",
		     direct ? " O_DIRECT" : "", off, n, r, want, msize);
	compare(direct ? "O_DIRECT read" : "read", p, off, want);
}

static void do_mmap(size_t off, size_t n, bool wr)
{
	size_t poff = off & ~(size_t)4095, plen;
	uint8_t *map;
	int how;

	if (wr && off + n > msize) {
		/* mmap cannot extend a file: grow it first (as fsx does) */
		SYS(ftruncate(fd, off + n), "ftruncate before mmap write");
		SYS(ftruncate(refd, off + n), "ftruncate ref");
		set_size(off + n);
	}
	if (!wr && off + n > msize)
		n = off >= msize ? 0 : msize - off;
	if (!n)
		return;
	plen = off + n - poff;
	map = mmap(NULL, plen, wr ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, fd, poff);
	if (map == MAP_FAILED)
		fail("mmap %zu+%zu: %s", poff, plen, strerror(errno));
	if (wr) {
		fill(buf, off, n);
		memcpy(map + (off - poff), buf, n);
		if (pwrite(refd, buf, n, off) != (ssize_t)n)
			fail("pwrite ref: %s", strerror(errno));
		write_model(off, buf, n);
		how = rnd_below(3);
		if (how < 2 && msync(map, plen, how ? MS_SYNC : MS_ASYNC) < 0)
			fail("msync: %s", strerror(errno));
	} else {
		memcpy(buf, map + (off - poff), n);
		compare("mmap read", buf, off, n);
	}
	SYS(munmap(map, plen), "munmap");
}

/* copy_file_range into the file from itself (non-overlapping) or src2. */
static void do_copy(bool second)
{
	const uint8_t *smodel = second ? src2model : model;
	size_t ssize = second ? src2size : msize, soff, doff, n, done = 0;
	int sfd = second ? src2fd : fd;
	uint8_t *tmp = buf;

	if (!ssize)
		return;
	soff = rnd_below(ssize);
	n = pick_len();
	if (n > ssize - soff)
		n = ssize - soff;
	for (int tries = 0;; tries++) {
		doff = pick_off(maxsize - n);
		if (second || doff + n <= soff || soff + n <= doff)
			break;
		if (tries > 20)
			return;
	}
	logop("%s %zu %zu <- %zu", second ? "copy2" : "copy", doff, n, soff);
	memcpy(tmp, smodel + soff, n);
	while (done < n) {
		loff_t in = soff + done, out = doff + done;
		ssize_t r = copy_file_range(sfd, &in, fd, &out, n - done, 0);

		if (r < 0)
			fail("copy_file_range %zu+%zu -> %zu: %s", soff + done,
			     n - done, doff + done, strerror(errno));
		if (r == 0)
			fail("copy_file_range %zu+%zu -> %zu: returned 0 before source EOF",
			     soff + done, n - done, doff + done);
		done += r;
	}
	/* the reference gets the same bytes with a plain write */
	if (pwrite(refd, tmp, n, doff) != (ssize_t)n)
		fail("pwrite ref: %s", strerror(errno));
	write_model(doff, tmp, n);
}

static void do_fallocate(int mode, size_t off, size_t n)
{
	size_t end = off + n;

	if (fallocate(fd, mode, off, n) < 0)
		fail("fallocate mode 0x%x %zu+%zu: %s", mode, off, n, strerror(errno));
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		size_t zend = end < msize ? end : msize;

		if (off < zend)
			memset(model + off, 0, zend - off);
		if (mode & FALLOC_FL_PUNCH_HOLE) {
			SYS(fallocate(refd, mode, off, n), "fallocate punch ref");
		} else if (off < zend) {
			memset(buf, 0, zend - off);
			if (pwrite(refd, buf, zend - off, off) != (ssize_t)(zend - off))
				fail("pwrite ref: %s", strerror(errno));
		}
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > msize) {
		SYS(ftruncate(refd, end), "ftruncate ref");
		set_size(end);
	}
}

static void do_truncate(size_t n)
{
	SYS(ftruncate(fd, n), "ftruncate");
	SYS(ftruncate(refd, n), "ftruncate ref");
	if (n < msize)
		msize = n;
	else
		set_size(n);
}

static enum op pick_op(void)
{
	unsigned int total = 0, r;
	int i;

	for (i = 0; i < OP_COUNT; i++)
		total += disabled[i] ? 0 : op_weight[i];
	r = rnd_below(total);
	for (i = 0; i < OP_COUNT; i++) {
		if (disabled[i])
			continue;
		if (r < op_weight[i])
			break;
		r -= op_weight[i];
	}
	return i;
}

static void one_op(void)
{
	enum op op = pick_op();
	size_t off, n;

	switch (op) {
	case OP_READ:
	case OP_WRITE:
		off = pick_off(op == OP_READ ? maxsize : maxsize - maxlen);
		n = pick_len();
		logop("%s %zu %zu", op_names[op], off, n);
		if (op == OP_READ)
			do_read(off, n, false);
		else
			do_write(off, n, false);
		break;
	case OP_DREAD:
	case OP_DWRITE:
		off = rnd_below((maxsize - maxlen) / DIO_ALIGN) * DIO_ALIGN;
		if (op == OP_DREAD && rnd_below(2))	/* around EOF */
			off = (msize & ~(size_t)(DIO_ALIGN - 1)) -
			      (msize >= DIO_ALIGN && rnd_below(2) ? DIO_ALIGN : 0);
		n = (rnd_below(maxlen / DIO_ALIGN) + 1) * DIO_ALIGN;
		logop("%s %zu %zu", op_names[op], off, n);
		if (op == OP_DREAD)
			do_read(off, n, true);
		else
			do_write(off, n, true);
		break;
	case OP_MREAD:
	case OP_MWRITE:
		off = pick_off(maxsize - maxlen);
		n = pick_len();
		logop("%s %zu %zu%s", op_names[op], off, n,
		      op == OP_MWRITE && off + n > msize ? " (extends)" : "");
		do_mmap(off, n, op == OP_MWRITE);
		break;
	case OP_COPY:
	case OP_COPY2:
		do_copy(op == OP_COPY2);
		break;
	case OP_PUNCH:
	case OP_ZERO:
	case OP_ALLOC:
	case OP_ALLOCKEEP: {
		static const int modes[] = {
			[OP_PUNCH] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			[OP_ZERO] = FALLOC_FL_ZERO_RANGE,
			[OP_ALLOC] = 0,
			[OP_ALLOCKEEP] = FALLOC_FL_KEEP_SIZE,
		};
		int mode = modes[op];

		off = pick_off(maxsize - maxlen);
		n = pick_len();
		if (op == OP_ZERO && rnd_below(2))
			mode |= FALLOC_FL_KEEP_SIZE;
		logop("%s %zu %zu mode=0x%x", op_names[op], off, n, mode);
		do_fallocate(mode, off, n);
		break;
	}
	case OP_TRUNCUP:
		n = msize + rnd_below(maxsize - msize + 1);
		logop("truncup %zu (from %zu)", n, msize);
		do_truncate(n);
		break;
	case OP_TRUNCDOWN:
		n = rnd_below(msize + 1);
		if (rnd_below(2))
			n = msize - (msize - n) / 16;	/* often just below EOF */
		logop("truncdown %zu (from %zu)", n, msize);
		do_truncate(n);
		break;
	case OP_FSYNC:
		logop("fsync");
		SYS(fsync(fd), "fsync");
		break;
	case OP_FDATASYNC:
		logop("fdatasync");
		SYS(fdatasync(fd), "fdatasync");
		break;
	case OP_REOPEN:
		logop("close+reopen");
		close_file();
		open_file();
		break;
	case OP_FADVISE:
		logop("fadvise DONTNEED");
		errno = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		SYS(errno ? -1 : 0, "posix_fadvise");
		break;
	case OP_DROPCACHES:
		logop("drop_caches 3");
		/* the page cache must be refilled from the host */
		drop_caches();
		break;
	case OP_COUNT:
		break;
	}
	check_size(op_names[op]);
}

/* SHA-256 (FIPS 180-4) of the expected contents, for the host's check. */
static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a[8];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 |
		       p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(a, h, sizeof(a));
	for (i = 0; i < 64; i++) {
		uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) +
			      ((a[4] & a[5]) ^ (~a[4] & a[6])) + sha_k[i] + w[i];
		uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) +
			      ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));

		memmove(a + 1, a, 7 * sizeof(a[0]));
		a[4] += t1;
		a[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		h[i] += a[i];
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
	uint32_t h[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	uint8_t tail[128] = { 0 };
	size_t full = n / 64 * 64, rest = n - full, tlen;
	uint64_t bits = (uint64_t)n * 8;

	for (size_t i = 0; i < full; i += 64)
		sha_block(h, p + i);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = bits >> (8 * i);
	sha_block(h, tail);
	if (tlen == 128)
		sha_block(h, tail + 64);
	for (int i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", h[i]);
}

static void disable_ops(char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		int i;

		for (i = 0; i < OP_COUNT && strcmp(tok, op_names[i]); i++)
			;
		if (i == OP_COUNT) {
			fprintf(stderr, "unknown op '%s'\n", tok);
			exit(2);
		}
		disabled[i] = true;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vbridge_diff_test -f FILE [-r REFDIR] [-s SEED] [-n OPS] [-m MAXSIZE]\n"
		"                         [-l MAXLEN] [-c CHECK_EVERY] [-x OP,...] [-H HASHFILE]\n"
		"                         [-L LOGLEN] [-v]\nops:");
	for (int i = 0; i < OP_COUNT; i++)
		fprintf(stderr, " %s", op_names[i]);
	fprintf(stderr, "\n");
	exit(2);
}

static void *xalloc(size_t n)
{
	void *p;

	if (posix_memalign(&p, DIO_ALIGN, n)) {
		perror("posix_memalign");
		exit(2);
	}
	memset(p, 0, n);
	return p;
}

int main(int argc, char **argv)
{
	char hex[65];
	int c;

	while ((c = getopt(argc, argv, "f:r:s:n:m:l:c:x:H:L:v")) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 'r': refdir = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': nops = strtoul(optarg, NULL, 0); break;
		case 'm': maxsize = strtoul(optarg, NULL, 0); break;
		case 'l': maxlen = strtoul(optarg, NULL, 0); break;
		case 'c': check_every = strtoul(optarg, NULL, 0); break;
		case 'x': disable_ops(optarg); break;
		case 'H': hashfile = optarg; break;
		case 'L': loglen = strtoul(optarg, NULL, 0); break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (!path || optind != argc || !loglen || maxlen < 2 * DIO_ALIGN ||
	    maxsize < 4 * maxlen)
		usage();
	maxsize &= ~(size_t)(DIO_ALIGN - 1);
	rng_state = seed;
	setvbuf(stdout, NULL, _IOLBF, 0);

	oplog = calloc(loglen, sizeof(*oplog));
	model = xalloc(maxsize + maxlen);
	whole = xalloc(maxsize + maxlen);
	buf = xalloc(maxsize + maxlen);
	buf2 = xalloc(maxsize + maxlen);
	src2model = xalloc(maxsize / 2);
	if (!oplog) {
		perror("calloc");
		return 2;
	}

	printf("# vbridge_diff_test seed=%" PRIu64 " ops=%lu file=%s ref=%s max size %zu\n",
	       seed, nops, path, refdir, maxsize);
	snprintf(refpath, sizeof(refpath), "%s/diff-ref.%" PRIu64 ".%d", refdir,
		 seed, (int)getpid());
	snprintf(src2path, sizeof(src2path), "%s.src2", path);
	logop("create");
	refd = open(refpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	SYS(refd, "create reference file");
	unlink(refpath);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	SYS(fd, "create");
	SYS(close(fd), "close");
	open_file();

	/* The second source for copy_file_range: known contents, synced. */
	src2size = maxsize / 2;
	for (size_t i = 0; i < src2size; i++)
		src2model[i] = pattern(i, 254);
	src2fd = open(src2path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	SYS(src2fd, "create second source");
	if (pwrite(src2fd, src2model, src2size, 0) != (ssize_t)src2size)
		fail("write second source: %s", strerror(errno));
	SYS(fsync(src2fd), "fsync second source");

	for (opno = 1; opno <= nops; opno++) {
		one_op();
		if (check_every && opno % check_every == 0)
			check_all("periodic");
	}
	opno = nops;

	/* Final: sync, compare, reopen with a cold cache, compare again. */
	SYS(fsync(fd), "final fsync");
	check_all("final");
	close_file();
	SYS(close(src2fd), "close second source");
	unlink(src2path);
	drop_caches();
	open_file();
	check_all("final, after reopen and drop_caches");
	close_file();
	close(refd);

	sha256_hex(model, msize, hex);
	printf("# sha256 %s size %zu\n", hex, msize);
	if (hashfile) {
		FILE *h = fopen(hashfile, "w");

		if (!h || fprintf(h, "%s %zu\n", hex, msize) < 0 || fclose(h))
			fail("write %s: %s", hashfile, strerror(errno));
	}
	printf("ok - vbridge_diff_test seed=%" PRIu64 " ops=%lu %s\n", seed, nops, path);
	return 0;
}
