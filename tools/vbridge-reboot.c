// SPDX-License-Identifier: GPL-2.0
/*
 * The last step of a "vbridge run" guest: sync and reboot at once.  The
 * guest boots with reboot=t and QEMU with -no-reboot, so QEMU exits; a
 * minimal Debian tree has no reboot program of its own, and letting init
 * exit would print a kernel panic on the console.
 */
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	return 1;
}
