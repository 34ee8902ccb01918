/* test_attrs: user attributes (submit/attrs.c): flattening of nested
 * objects, refusal of non-primitive values, and invalid BACKTRACE_ATTRIBUTES. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attrs.h"

#define MAX_WARNINGS 16

struct warnings {
    char lines[MAX_WARNINGS][1024];
    size_t n;
};

static void
collect_warning(const char *line, size_t len, void *ctx)
{
    struct warnings *w = ctx;

    /* One complete line per call, as btc_cfg_warn_fn promises. */
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_null(memchr(line, '\n', len - 1));
    if (w->n < MAX_WARNINGS) {
        memcpy(w->lines[w->n], line, len < 1023 ? len : 1023);
        w->lines[w->n][len < 1023 ? len : 1023] = '\0';
        w->n++;
    }
}

struct fixture {
    json_t *attrs;
    struct warnings w;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f || !(f->attrs = json_object()))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    json_decref(f->attrs);
    free(f);
    return 0;
}

static int
load(struct fixture *f, const char *text)
{
    return btc_attrs_from_text(f->attrs, text, collect_warning, &f->w);
}

static void
test_attrs_keeps_primitives_as_they_are(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(
        load(f, "{\"application\":\"svc\",\"n\":42,\"x\":1.5,\"ok\":true,\"no\":false}"), 0);
    assert_string_equal(json_string_value(json_object_get(f->attrs, "application")), "svc");
    assert_int_equal(json_integer_value(json_object_get(f->attrs, "n")), 42);
    assert_true(json_is_real(json_object_get(f->attrs, "x")));
    assert_true(json_is_true(json_object_get(f->attrs, "ok")));
    assert_true(json_is_false(json_object_get(f->attrs, "no")));
    assert_int_equal(f->w.n, 0);
}

static void
test_attrs_flattens_nested_objects_with_dots(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "{\"a\":{\"b\":1,\"c\":{\"d\":\"deep\"}},\"e\":2}"), 0);
    assert_int_equal(json_integer_value(json_object_get(f->attrs, "a.b")), 1);
    assert_string_equal(json_string_value(json_object_get(f->attrs, "a.c.d")), "deep");
    assert_int_equal(json_integer_value(json_object_get(f->attrs, "e")), 2);
    assert_null(json_object_get(f->attrs, "a"));
    assert_int_equal(json_object_size(f->attrs), 3);
}

static void
test_attrs_refuses_array_and_names_the_key(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "{\"ok\":1,\"outer\":{\"list\":[1,2]}}"), 1);
    assert_int_equal(json_integer_value(json_object_get(f->attrs, "ok")), 1);
    assert_null(json_object_get(f->attrs, "outer.list"));
    assert_int_equal(f->w.n, 1);
    assert_non_null(strstr(f->w.lines[0], "'outer.list'"));
    assert_non_null(strstr(f->w.lines[0], "array"));
    assert_non_null(strstr(f->w.lines[0], "BACKTRACE_ATTRIBUTES"));
}

static void
test_attrs_refuses_null(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "{\"gone\":null,\"kept\":\"v\"}"), 1);
    assert_null(json_object_get(f->attrs, "gone"));
    assert_non_null(json_object_get(f->attrs, "kept"));
    assert_int_equal(f->w.n, 1);
    assert_non_null(strstr(f->w.lines[0], "'gone'"));
    assert_non_null(strstr(f->w.lines[0], "null"));
}

static void
test_attrs_invalid_json_warns_once_and_adds_nothing(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "{\"a\": 1,"), -EINVAL);
    assert_int_equal(json_object_size(f->attrs), 0);
    assert_int_equal(f->w.n, 1);
    assert_non_null(strstr(f->w.lines[0], "BACKTRACE_ATTRIBUTES='{\"a\": 1,'"));
    assert_non_null(strstr(f->w.lines[0], "invalid JSON"));
}

static void
test_attrs_non_object_json_is_refused(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "[1,2]"), -EINVAL);
    assert_int_equal(json_object_size(f->attrs), 0);
    assert_int_equal(f->w.n, 1);
    assert_non_null(strstr(f->w.lines[0], "not a JSON object"));
}

static void
test_attrs_warning_sanitises_control_characters(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "{\"a\":\x1b[31m"), -EINVAL);
    assert_int_equal(f->w.n, 1);
    assert_null(strchr(f->w.lines[0], '\x1b'));
}

static void
test_attrs_empty_or_unset_adds_nothing(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, NULL), 0);
    assert_int_equal(load(f, ""), 0);
    assert_int_equal(load(f, "{}"), 0);
    assert_int_equal(json_object_size(f->attrs), 0);
    assert_int_equal(f->w.n, 0);
}

static void
test_attrs_flatten_overrides_existing_members(void **state)
{
    struct fixture *f = *state;
    json_t *src = json_pack("{s:s, s:{s:i}}", "application", "mine", "x", "y", 3);

    json_object_set_new(f->attrs, "application", json_string("auto"));
    json_object_set_new(f->attrs, "process.id", json_integer(7));
    assert_int_equal(btc_attrs_flatten(f->attrs, src, NULL, collect_warning, &f->w), 0);
    assert_string_equal(json_string_value(json_object_get(f->attrs, "application")), "mine");
    assert_int_equal(json_integer_value(json_object_get(f->attrs, "process.id")), 7);
    assert_int_equal(json_integer_value(json_object_get(f->attrs, "x.y")), 3);
    json_decref(src);
}

static void
test_attrs_flatten_rejects_non_objects(void **state)
{
    struct fixture *f = *state;
    json_t *arr = json_array();

    assert_int_equal(btc_attrs_flatten(f->attrs, arr, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(btc_attrs_flatten(arr, f->attrs, NULL, NULL, NULL), -EINVAL);
    json_decref(arr);
}

static void
test_attrs_flatten_without_warn_callback_still_refuses(void **state)
{
    struct fixture *f = *state;
    json_t *src = json_pack("{s:[], s:i}", "bad", "good", 1);

    assert_int_equal(btc_attrs_flatten(f->attrs, src, NULL, NULL, NULL), 1);
    assert_null(json_object_get(f->attrs, "bad"));
    assert_non_null(json_object_get(f->attrs, "good"));
    json_decref(src);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attrs_keeps_primitives_as_they_are, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attrs_flattens_nested_objects_with_dots, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attrs_refuses_array_and_names_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attrs_refuses_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attrs_invalid_json_warns_once_and_adds_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attrs_non_object_json_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attrs_warning_sanitises_control_characters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attrs_empty_or_unset_adds_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attrs_flatten_overrides_existing_members, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_attrs_flatten_rejects_non_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attrs_flatten_without_warn_callback_still_refuses,
                                        setup, teardown),
    };

    return cmocka_run_group_tests_name("attrs", tests, NULL, NULL);
}
