/* boxlite-vmm: the per-box process. Placeholder until the engine issues land. */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argv;
    fprintf(stderr, "boxlite-vmm: no engine built yet\n");
    return argc > 0 ? 2 : 2;
}
