/* threads: the interposed pthread_create(), which gives every new thread an
 * alternate signal stack (so a stack overflow in any thread is reported) and
 * takes it back when the thread ends. Normal context, in the crashed
 * process's threads; nothing here runs on the crash path. */
#ifndef BTCRASH_PRELOAD_THREADS_H
#define BTCRASH_PRELOAD_THREADS_H

/** Constructor: give new threads alternate stacks from now on. */
void btc_threads_enable(void);

/* What a new thread runs: the program's start routine and its argument. */
struct btc_threads_start {
    void *(*fn)(void *);
    void *arg;
};

/** New thread, first step (from the assembly trampoline in threads.c):
 * install the alternate stack in @map; returns what to run. */
struct btc_threads_start btc_threads_setup(char *map);

#endif
