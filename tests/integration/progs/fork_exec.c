/* fork_exec: forks and execs argv[2] (default /bin/true) N times (argv[1],
 * default 300), up to 16 at a time, and checks every child exited 0.
 * Prints "children N ok N"; exits 1 if any child did not exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 300, started = 0, ok = 0, running = 0;
    char *prog = argc > 2 ? argv[2] : "/bin/true";

    while (started < n || running > 0) {
        while (started < n && running < 16) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                char *av[] = {prog, NULL};
                execv(prog, av);
                _exit(127);
            }
            started++;
            running++;
        }
        int status;
        pid_t w = wait(&status);
        if (w < 0) {
            perror("wait");
            return 1;
        }
        running--;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            fprintf(stderr, "child %d: status 0x%x\n", (int)w, status);
    }
    printf("children %ld ok %ld\n", started, ok);
    return ok == n ? 0 : 1;
}
