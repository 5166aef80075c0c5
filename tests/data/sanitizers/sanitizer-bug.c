#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
int main(int argc, char **argv) {
    int big = INT_MAX - 1 + argc;        /* argc >= 1 */
    int sum = big + argc;                /* signed overflow: UBSan */
    char *buf = malloc(8);
    printf("sum %d\n", sum);
    if (argc > 1) { void *leak = malloc(77); (void)leak; return 0; }   /* leak: LSan */
    free(buf);
    return buf[3];                       /* use after free: ASan */
}
