/* boxlite-agent: PID 1 inside every box. Placeholder until the agent issue lands: it
 * mounts the basics, prints a line the boot check looks for, and powers off. */
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
    mount("proc", "/proc", "proc", 0, NULL);
    printf("boxlite-agent: /init reached (pid %d)\n", (int)getpid());
    fflush(stdout);
    sync();
    reboot(RB_AUTOBOOT);
    return 0;
}
