/* budget: see budget.h. */
#include "budget.h"

#include "clock.h"

/* Where each stage ends, in thousandths of the time the stages share. */
static const int g_share[] = {
    150,  /* stop */
    300,  /* unwind */
    650,  /* symbols_fault */
    800,  /* symbols_other */
    880,  /* source */
    1000, /* attachments */
};
/* The debuginfod fetches' end, between the unwind's and the crashing
 * thread's symbols': a tenth of the time is left to use what came. */
#define FETCH_SHARE 550

void
btc_budget_plan(struct btc_budget *b, int64_t now, int64_t deadline, bool upload)
{
    int64_t total = deadline > 0 ? deadline - now : BTC_BUDGET_DEFAULT_NS, margin, stages;
    int64_t *ends[] = {&b->stop,          &b->unwind, &b->symbols_fault,
                       &b->symbols_other, &b->source, &b->attachments};

    if (total < 0)
        total = 0;
    margin = total / 10;
    if (margin < 50 * 1000000LL)
        margin = 50 * 1000000LL;
    if (margin > 300 * 1000000LL)
        margin = 300 * 1000000LL;
    b->start = now;
    b->end = now + (total > margin ? total - margin : 0);
    stages = (b->end - now) * (upload ? 6 : 10) / 10;
    for (int i = 0; i < 6; i++)
        *ends[i] = now + stages * g_share[i] / 1000;
    b->fetch = now + stages * FETCH_SHARE / 1000;
}

void
btc_budget_reserve(struct btc_budget *b, int64_t ns)
{
    int64_t *ends[] = {&b->stop,          &b->unwind, &b->symbols_fault,
                       &b->symbols_other, &b->source, &b->attachments};
    int64_t now = btc_clock_now_ns(), left = b->end > now ? b->end - now : 0;

    if (ns > left / 2)
        ns = left / 2;
    b->end -= ns;
    if (b->end < b->start)
        b->end = b->start;
    for (int i = 0; i < 6; i++)
        if (*ends[i] > b->end)
            *ends[i] = b->end;
    if (b->fetch > b->end)
        b->fetch = b->end;
}

bool
btc_budget_over(int64_t t)
{
    return btc_clock_now_ns() >= t;
}
