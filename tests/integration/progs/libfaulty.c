/* libfaulty: the shared library dlopen_fault loads; faulty_entry(NULL)
 * writes to NULL two calls down. */
void faulty_entry(int *p);
void faulty_inner(int *p, int v);

void
faulty_inner(int *p, int v)
{
    *p = v; /* @fault */
}

void
faulty_entry(int *p)
{
    faulty_inner(p, 7); /* @entry */
}
