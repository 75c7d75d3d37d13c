/* tests/unit/test_runtime.c: runtime lifetime and the thread API: runtimes
 * created and freed one after another in every mode, bad configurations,
 * leak accounting, the rules of rc_runtime_free, threads started, joined,
 * registered from outside, attached and detached.
 */
#define RCGC_BUILDING 1
#include "harness.h"

#include <stdatomic.h>
#include "internal.h"

#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>

static rc_runtime *new_runtime(rc_mode mode)
{
    rc_config cfg = rc_config_default();
    cfg.mode = mode;
    rc_runtime *rt = rc_runtime_new(&cfg);
    assert_non_null(rt);
    return rt;
}

static void test_runtimes_one_after_another(void **state)
{
    for (int round = 0; round < 3; round++) {
        for (int m = 0; m < RC_MODE_COUNT; m++) {
            rc_runtime *rt = new_runtime((rc_mode)m);
            assert_true(rc_runtime_current() == rt);
            assert_int_equal(m, rc_runtime_mode(rt));
            rc_object *l = rc_list_new();
            rc_object *s = rc_str_new("hello");
            assert_int_equal(0, rc_list_append(l, s));
            rc_decref(s);
            rc_object *i = rc_str_intern("interned");
            assert_true(i == rc_str_intern("interned"));
            assert_int_equal(1, rc_is_immortal(i));
            rc_decref(l);
            assert_int_equal(0, rc_runtime_free(rt));
            assert_null(rc_runtime_current());
        }
    }
}

/* Threads of this process (/proc/self/task). */
static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_reclaimer_lives_with_the_runtime(void **state)
{
    /* The ft modes' reclaimer (runtime/qsbr.c) is the runtime's own
     * thread: started by rc_runtime_new, joined by rc_runtime_free, and
     * none in gil mode (no lock-free reads, nothing retired). */
    int before = task_count();
    for (int m = 0; m < RC_MODE_COUNT; m++) {
        rc_runtime *rt = new_runtime((rc_mode)m);   /* stw: no collector thread */
        assert_int_equal(before + (m == RC_MODE_GIL ? 0 : 1), task_count());
        if (m != RC_MODE_GIL) {
            /* Memory retired meanwhile (a list's items) is all freed by
             * the time the runtime is: rc_runtime_free counts no leak. */
            rc_object *box = rc_list_new();
            for (int i = 0; i < 2000; i++) {
                rc_object *o = rc_list_new();
                assert_int_equal(0, rc_list_append(box, o));
                rc_decref(o);
            }
            assert_int_equal(0, rc_list_clear(box));
            rc_decref(box);
        }
        assert_int_equal(0, rc_runtime_free(rt));
        assert_int_equal(before, task_count());
    }
}

/* Retire memory with another reader online (so it waits for grace
 * periods): a list of lists, cleared. */
static void retire_some(void *arg)
{
    (void)arg;
    for (int r = 0; r < 10; r++) {
        rc_object *box = rc_list_new();
        for (int i = 0; i < 3000; i++) {
            rc_object *o = rc_list_new();
            rc_list_append(box, o);
            rc_decref(o);
        }
        rc_list_clear(box);
        rc_decref(box);
    }
}

static void two_retiring_threads(void)
{
    rc_thread *a = rc_thread_start(retire_some, NULL);
    rc_thread *b = rc_thread_start(retire_some, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(0, rc_thread_join(a));
    assert_int_equal(0, rc_thread_join(b));
}

static _Atomic int second_tasks;   /* threads seen once B existed */
static _Atomic long second_leaked;

static void *second_runtime(void *arg)
{
    (void)arg;
    rc_config cfg = rc_config_default();
    cfg.mode = RC_MODE_FT;
    rc_runtime *rt;
    while ((rt = rc_runtime_new(&cfg)) == NULL) {
        if (rc_error_occurred() != RC_ERR_RUNTIME) {   /* not "A still exists" */
            atomic_store(&second_tasks, -1);
            return NULL;
        }
        rc_error_clear();
    }
    atomic_store(&second_tasks, task_count());
    two_retiring_threads();   /* needs B's own reclaimer, or B's free hangs */
    atomic_store(&second_leaked, rc_runtime_free(rt));
    return NULL;
}

static void test_runtime_created_while_another_is_freed(void **state)
{
    /* A runtime created by another thread while rc_runtime_free of the
     * last one waits for its grace periods gets a reclaimer of its own:
     * it is created once the old one is joined, never while the old one
     * still looks running (it would then start none, and its batches
     * would never be freed). */
    for (int round = 0; round < 5; round++) {
        int before = task_count();
        rc_runtime *rt = new_runtime(RC_MODE_FT);
        two_retiring_threads();
        atomic_store(&second_tasks, 0);
        pthread_t th;
        assert_int_equal(0, pthread_create(&th, NULL, second_runtime, NULL));
        assert_int_equal(0, rc_runtime_free(rt));
        assert_int_equal(0, pthread_join(th, NULL));
        /* B's creator and B's reclaimer. */
        assert_int_equal(before + 2, atomic_load(&second_tasks));
        assert_int_equal(0, atomic_load(&second_leaked));
        assert_int_equal(before, task_count());
    }
}

static void test_cpu_slice(void **state)
{
    /* Out of the kernel's bounds: a ValueError naming the range. */
    assert_int_equal(-1, rc_thread_cpu_slice(0));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "100000..100000000"));
    rc_error_clear();
    assert_int_equal(-1, rc_thread_cpu_slice(RC_CPU_SLICE_MAX_NS + 1));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    rc_error_clear();
    /* In bounds: granted (Linux >= 6.12) or the kernel's default kept (0);
     * no runtime needed. */
    int64_t got = rc_thread_cpu_slice(RC_CPU_SLICE_MIN_NS);
    assert_true(got == 0 || got == RC_CPU_SLICE_MIN_NS);
    got = rc_thread_cpu_slice(3000000);
    assert_true(got == 0 || got == 3000000);
}

static void test_default_config(void **state)
{
    rc_config cfg = rc_config_default();
    assert_int_equal(RC_MODE_GIL, cfg.mode);
    assert_int_equal(5000, cfg.switch_interval_us);
    rc_runtime *rt = rc_runtime_new(NULL);   /* NULL: the defaults */
    assert_non_null(rt);
    assert_int_equal(RC_MODE_GIL, rc_runtime_mode(rt));
    assert_int_equal(0, rc_runtime_free(rt));
}

static void test_bad_configs(void **state)
{
    rc_config cfg = rc_config_default();
    cfg.mode = (rc_mode)7;
    assert_null(rc_runtime_new(&cfg));
    assert_error(RC_ERR_VALUE);
    cfg = rc_config_default();
    cfg.switch_interval_us = 0;
    assert_null(rc_runtime_new(&cfg));
    assert_error(RC_ERR_VALUE);
    cfg = rc_config_default();
    cfg.safepoint_timeout_ms = -1;
    assert_null(rc_runtime_new(&cfg));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "safepoint_timeout_ms"));
    rc_error_clear();
    cfg.safepoint_timeout_ms = RC_SAFEPOINT_TIMEOUT_MAX_MS + 1;
    assert_null(rc_runtime_new(&cfg));
    assert_error(RC_ERR_VALUE);
    /* An unknown collector is an error, not a silent default. */
    cfg = rc_config_default();
    cfg.collector = (rc_collector_kind)5;
    assert_null(rc_runtime_new(&cfg));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "RC_COLLECTOR_STW"));
    rc_error_clear();
    assert_int_equal(-1, rc_collector_check((rc_collector_kind)-1));
    assert_error(RC_ERR_VALUE);
    /* Both collectors exist. */
    assert_int_equal(0, rc_collector_check(RC_COLLECTOR_CONCURRENT));
    assert_int_equal(0, rc_collector_check(RC_COLLECTOR_STW));
    cfg = rc_config_default();
    cfg.collector = RC_COLLECTOR_CONCURRENT;
    rc_runtime *rt = rc_runtime_new(&cfg);
    assert_non_null(rt);
    assert_int_equal(RC_COLLECTOR_CONCURRENT, rc_runtime_collector(rt));
    assert_int_equal(0, rc_runtime_free(rt));
    assert_null(rc_runtime_current());
}

static void test_collector_names(void **state)
{
    rc_collector_kind k;
    assert_int_equal(RC_COLLECTOR_STW, rc_config_default().collector);
    assert_int_equal(0, rc_collector_from_name("concurrent", &k));
    assert_int_equal(RC_COLLECTOR_CONCURRENT, k);
    assert_int_equal(0, rc_collector_from_name("stw", &k));
    assert_int_equal(RC_COLLECTOR_STW, k);
    assert_int_equal(-1, rc_collector_from_name("boehm", &k));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "stw, concurrent"));
    rc_error_clear();
    assert_int_equal(-1, rc_collector_from_name(NULL, &k));
    assert_error(RC_ERR_VALUE);
    assert_int_equal(-1, rc_collector_from_name("stw", NULL));
    assert_error(RC_ERR_TYPE);
    assert_string_equal("concurrent", rc_collector_name(RC_COLLECTOR_CONCURRENT));
    assert_null(rc_collector_name((rc_collector_kind)9));
    rc_runtime *rt = new_runtime(harness_mode);
    assert_int_equal(RC_COLLECTOR_STW, rc_runtime_collector(rt));
    assert_int_equal(0, rc_runtime_free(rt));
}

/* RCGC_GC_STRESS and RCGC_GC_VERIFY give a new runtime its torture
 * settings; a bad value makes rc_runtime_new fail, naming the variable. */
static char *saved_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *value)
{
    if (value != NULL)
        setenv(name, value, 1);
    else
        unsetenv(name);
    free(value);
}

static void expect_env_refused(const char *name, const char *value)
{
    setenv(name, value, 1);
    assert_null(rc_runtime_new(NULL));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), name));
    rc_error_clear();
    /* The check a program may run first, without a runtime, says the same. */
    assert_int_equal(-1, rc_check_environment());
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), name));
    rc_error_clear();
    unsetenv(name);
    assert_int_equal(0, rc_check_environment());
    assert_int_equal(RC_ERR_NONE, rc_error_occurred());
    assert_null(rc_runtime_current());
}

static void test_gc_settings_from_environment(void **state)
{
    char *stress = saved_env("RCGC_GC_STRESS"), *verify = saved_env("RCGC_GC_VERIFY");
    char *timeout = saved_env("RCGC_SAFEPOINT_TIMEOUT_MS");
    unsetenv("RCGC_GC_STRESS");
    unsetenv("RCGC_GC_VERIFY");
    expect_env_refused("RCGC_GC_STRESS", "x");
    expect_env_refused("RCGC_GC_STRESS", "-1");
    expect_env_refused("RCGC_GC_STRESS", "5 ");
    expect_env_refused("RCGC_GC_STRESS", "99999999999999999999999");
    expect_env_refused("RCGC_GC_VERIFY", "yes");
    expect_env_refused("RCGC_GC_VERIFY", "2");
    expect_env_refused("RCGC_GC_VERIFY", "Amortized");
    expect_env_refused("RCGC_SAFEPOINT_TIMEOUT_MS", "soon");
    expect_env_refused("RCGC_SAFEPOINT_TIMEOUT_MS", "-5");
    expect_env_refused("RCGC_SAFEPOINT_TIMEOUT_MS", "10ms");
    expect_env_refused("RCGC_SAFEPOINT_TIMEOUT_MS", "18446744073710");   /* would wrap */

    setenv("RCGC_GC_STRESS", "3", 1);
    setenv("RCGC_GC_VERIFY", "1", 1);
    rc_runtime *rt = new_runtime(harness_mode);
    assert_int_equal(3, rc_gc_get_stress());
    assert_int_equal(1, rc_gc_get_verify());
    size_t before = rc_gc_record_count();
    for (int i = 0; i < 30; i++)
        rc_decref(rc_list_new());
    assert_true(rc_gc_record_count() - before >= 9);   /* one every 3 */
    assert_int_equal(0, rc_runtime_free(rt));

    setenv("RCGC_GC_STRESS", "", 1);   /* empty: off */
    setenv("RCGC_GC_VERIFY", "0", 1);
    rt = new_runtime(harness_mode);
    assert_int_equal(0, rc_gc_get_stress());
    assert_int_equal(0, rc_gc_get_verify());
    assert_int_equal(0, rc_runtime_free(rt));

    setenv("RCGC_GC_VERIFY", "amortized", 1);
    rt = new_runtime(harness_mode);
    assert_int_equal(RC_GC_VERIFY_AMORTIZED, rc_gc_get_verify());
    assert_int_equal(-1, rc_gc_set_verify(3));   /* not a level */
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "RC_GC_VERIFY_AMORTIZED"));
    rc_error_clear();
    assert_int_equal(RC_GC_VERIFY_AMORTIZED, rc_gc_get_verify());
    assert_int_equal(0, rc_runtime_free(rt));
    restore_env("RCGC_SAFEPOINT_TIMEOUT_MS", timeout);
    restore_env("RCGC_GC_STRESS", stress);
    restore_env("RCGC_GC_VERIFY", verify);
}

static void test_mode_names(void **state)
{
    rc_mode m;
    assert_int_equal(0, rc_mode_from_name("ft-atomic", &m));
    assert_int_equal(RC_MODE_FT_ATOMIC, m);
    assert_int_equal(0, rc_mode_from_name("gil", &m));
    assert_int_equal(RC_MODE_GIL, m);
    assert_int_equal(-1, rc_mode_from_name("nogil", &m));
    assert_int_equal(RC_ERR_VALUE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "gil, ft, ft-atomic"));
    rc_error_clear();
    assert_int_equal(-1, rc_mode_from_name(NULL, &m));
    assert_error(RC_ERR_VALUE);
    assert_int_equal(-1, rc_mode_from_name("ft", NULL));
    assert_error(RC_ERR_TYPE);
    assert_string_equal("ft", rc_mode_name(RC_MODE_FT));
    assert_null(rc_mode_name((rc_mode)9));
}

static void test_one_runtime_at_a_time(void **state)
{
    rc_runtime *rt = new_runtime(harness_mode);
    assert_null(rc_runtime_new(NULL));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_runtime_free(NULL));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_runtime_free((rc_runtime *)&rt));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_runtime_free(rt));
}

static void test_no_runtime_is_an_error(void **state)
{
    assert_null(rc_runtime_current());
    assert_null(rc_list_new());
    assert_error(RC_ERR_RUNTIME);
    assert_null(rc_str_new("x"));
    assert_error(RC_ERR_RUNTIME);
    assert_null(rc_thread_start(NULL, NULL));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_thread_register());
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_detach());
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_live_objects());
}

static void test_leaks_are_counted(void **state)
{
    rc_runtime *rt = new_runtime(harness_mode);
    rc_object *kept = rc_str_new("leaked on purpose");
    rc_object *gone = rc_str_new("freed");
    rc_decref(gone);
    assert_int_equal(1, rc_runtime_free(rt));
    /* The runtime does not touch a leaked object; release its memory here
     * so that the sanitizer's leak check stays meaningful. */
    free(kept);
}

static void *free_from_other_thread(void *rt)
{
    long r = rc_runtime_free(rt);
    return (void *)(intptr_t)(r == -1 && rc_error_occurred() == RC_ERR_RUNTIME);
}

static void test_free_from_wrong_thread(void **state)
{
    rc_runtime *rt = new_runtime(harness_mode);
    pthread_t th;
    void *ok = NULL;
    rc_detach();   /* gil mode: let nobody block on us (the other thread never attaches) */
    assert_int_equal(0, pthread_create(&th, NULL, free_from_other_thread, rt));
    assert_int_equal(0, pthread_join(th, &ok));
    rc_attach();
    assert_true(ok != NULL);
    assert_int_equal(0, rc_runtime_free(rt));
}

static void noop(void *arg) { *(int *)arg = 1; }

static void test_free_with_unjoined_thread_fails(void **state)
{
    rc_runtime *rt = new_runtime(harness_mode);
    int ran = 0;
    rc_thread *t = rc_thread_start(noop, &ran);
    assert_non_null(t);
    assert_int_equal(-1, rc_runtime_free(rt));
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(1, ran);
    assert_int_equal(0, rc_runtime_free(rt));
}

static _Atomic int started_unregister_result = 0;

static void unregister_from_started_thread(void *arg)
{
    (void)arg;
    int r = rc_thread_unregister();   /* refused: it leaves when it returns */
    atomic_store(&started_unregister_result,
                 r == -1 && rc_error_occurred() == RC_ERR_RUNTIME ? 1 : -1);
    rc_error_clear();
}

static void test_thread_api_errors(void **state)
{
    rc_thread *t = rc_thread_start(unregister_from_started_thread, NULL);
    assert_non_null(t);
    assert_int_equal(0, rc_thread_join(t));
    assert_int_equal(1, atomic_load(&started_unregister_result));
    assert_null(rc_thread_start(NULL, NULL));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_thread_join(NULL));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_thread_register());   /* already has a state */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_thread_unregister());  /* the main thread */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_attach());              /* already attached */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_detach());
    assert_int_equal(-1, rc_detach());
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(0, rc_attach());
    assert_int_equal(-1, rc_gil_stats_get(NULL));
    assert_error(RC_ERR_TYPE);
}

struct foreign {
    rc_object *list;   /* filled by the foreign thread */
    int reg, unreg, double_reg;
};

static void *foreign_thread(void *p)
{
    struct foreign *f = p;
    f->reg = rc_thread_register();
    f->double_reg = rc_thread_register();
    f->list = rc_list_new();
    for (int i = 0; i < 100; i++) {
        rc_object *v = rc_int_new(i * 1000);
        rc_list_append(f->list, v);
        rc_decref(v);
    }
    f->unreg = rc_thread_unregister();
    return NULL;
}

static void test_foreign_thread_registers(void **state)
{
    struct foreign f = {0};
    pthread_t th;
    rc_detach();
    assert_int_equal(0, pthread_create(&th, NULL, foreign_thread, &f));
    assert_int_equal(0, pthread_join(th, NULL));
    rc_attach();
    assert_int_equal(0, f.reg);
    assert_int_equal(-1, f.double_reg);
    assert_int_equal(0, f.unreg);
    assert_int_equal(100, rc_list_len(f.list));
    rc_object *v = rc_list_get(f.list, 99);
    assert_int_equal(99000, rc_int_value(v));
    rc_decref(v);
    rc_decref(f.list);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtimes_one_after_another),
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_reclaimer_lives_with_the_runtime),
        cmocka_unit_test(test_runtime_created_while_another_is_freed),
        cmocka_unit_test(test_cpu_slice),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_collector_names),
        cmocka_unit_test(test_gc_settings_from_environment),
        cmocka_unit_test(test_one_runtime_at_a_time),
        cmocka_unit_test(test_no_runtime_is_an_error),
        cmocka_unit_test(test_leaks_are_counted),
        cmocka_unit_test(test_free_from_wrong_thread),
        cmocka_unit_test(test_free_with_unjoined_thread_fails),
        HARNESS_TEST(test_thread_api_errors),
        HARNESS_TEST(test_foreign_thread_registers),
    };
    return HARNESS_RUN("runtime", tests, argc, argv);
}
