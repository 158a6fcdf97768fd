// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vnc-capture HOST:PORT OUT.rgb: take one full framebuffer update from a
 * VNC server and save it as raw XRGB8888 rows (B, G, R, X in memory, as
 * "vbridgectl dump" writes them).  Prints "WIDTH HEIGHT"; exits 1 with a
 * message on failure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rfb/rfbclient.h>

/* How long the whole capture may take. */
#define CAPTURE_MS	5000

/* Pixels received since the framebuffer was (re)allocated. */
static unsigned long covered;
static bool complete;
static rfbBool (*default_malloc_fb)(rfbClient *cl);

static void quiet(const char *fmt, ...)
{
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A new size (at connection or NewFBSize): start counting again. */
static rfbBool malloc_fb(rfbClient *cl)
{
	covered = 0;
	complete = false;
	return default_malloc_fb(cl);
}

static void got_update(rfbClient *cl, int x, int y, int w, int h)
{
	covered += (unsigned long)w * h;
}

static void finished_update(rfbClient *cl)
{
	if (covered >= (unsigned long)cl->width * cl->height)
		complete = true;
}

static int capture(rfbClient *cl, const char *out)
{
	double t0 = now_ms();
	size_t len;
	FILE *f;
	int n;

	while (!complete) {
		if (now_ms() - t0 > CAPTURE_MS) {
			fprintf(stderr, "vnc-capture: no full update in %d ms\n",
				CAPTURE_MS);
			return -1;
		}
		n = WaitForMessage(cl, 100000);
		if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
			fprintf(stderr, "vnc-capture: connection lost\n");
			return -1;
		}
	}
	len = (size_t)cl->width * cl->height * 4;
	f = fopen(out, "wb");
	if (!f || fwrite(cl->frameBuffer, 1, len, f) != len) {
		perror(out);
		if (f)
			fclose(f);
		return -1;
	}
	if (fclose(f)) {
		perror(out);
		return -1;
	}
	printf("%d %d\n", cl->width, cl->height);
	return 0;
}

int main(int argc, char **argv)
{
	char *host, *colon;
	rfbClient *cl;
	long port;
	int ret;

	if (argc != 3 || !(colon = strrchr(argv[1], ':'))) {
		fprintf(stderr, "usage: vnc-capture HOST:PORT OUT.rgb\n");
		return 1;
	}
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "vnc-capture: bad port in '%s'\n", argv[1]);
		return 1;
	}
	host = strndup(argv[1], colon - argv[1]);

	/* Our own messages say what failed. */
	rfbClientLog = rfbClientErr = quiet;
	cl = rfbGetClient(8, 3, 4);
	if (!host || !cl) {
		fprintf(stderr, "vnc-capture: out of memory\n");
		return 1;
	}
	free(cl->serverHost);
	cl->serverHost = host;
	cl->serverPort = port;
	cl->connectTimeout = CAPTURE_MS / 1000;
	cl->readTimeout = CAPTURE_MS / 1000;
	/* XRGB8888, little endian: B, G, R, X in memory. */
	cl->format.bitsPerPixel = 32;
	cl->format.depth = 24;
	cl->format.bigEndian = FALSE;
	cl->format.trueColour = TRUE;
	cl->format.redMax = cl->format.greenMax = cl->format.blueMax = 255;
	cl->format.redShift = 16;
	cl->format.greenShift = 8;
	cl->format.blueShift = 0;
	/* Lossless. */
	cl->appData.encodingsString = "raw";
	default_malloc_fb = cl->MallocFrameBuffer;
	cl->MallocFrameBuffer = malloc_fb;
	cl->GotFrameBufferUpdate = got_update;
	cl->FinishedFrameBufferUpdate = finished_update;
	/* Asks for a full update once connected; frees cl on failure. */
	if (!rfbInitClient(cl, NULL, NULL)) {
		fprintf(stderr, "vnc-capture: cannot connect to %s\n", argv[1]);
		return 1;
	}
	ret = capture(cl, argv[2]);
	free(cl->frameBuffer);	/* not rfbClientCleanup()'s business */
	rfbClientCleanup(cl);
	return ret ? 1 : 0;
}
