/* boxlite: the command-line tool over libboxlite. Only `version` until the CLI issue lands. */
#include "boxlite.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))) {
        printf("boxlite %s\n", boxlite_version());
        return 0;
    }
    fprintf(stderr, "usage: boxlite version\n");
    return 2;
}
