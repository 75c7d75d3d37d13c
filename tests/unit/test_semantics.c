/* tests/unit/test_semantics.c: rc_equal, rc_hash, rc_repr, rc_copy,
 * rc_deepcopy and the recursion limit (rcgc/semantics.h).
 *
 * The copy tests follow CPython's Lib/test/test_copy.py (atomic, list,
 * tuple, dict and instance copies; reflexive lists, tuples, dicts and
 * instances; aliasing through the memo), the recursive cases of
 * test_repr.py (a list, dict or tuple that contains itself) and of
 * test_richcmp.py (comparing recursive structures), with rcgc's calls in
 * place of Python's.  Every test leaves nothing alive (the harness checks).
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* A list of the given items, each reference taken over (stolen). */
static rc_object *list_of(int n, ...)
{
    rc_object *l = rc_list_new();
    assert_non_null(l);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        rc_object *o = va_arg(ap, rc_object *);
        assert_non_null(o);
        assert_int_equal(0, rc_list_append(l, o));
        rc_decref(o);
    }
    va_end(ap);
    return l;
}

static rc_object *tuple_of(int n, ...)
{
    rc_object *items[16];
    assert_true(n <= 16);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        items[i] = va_arg(ap, rc_object *);
    va_end(ap);
    rc_object *t = rc_tuple_new((size_t)n, items);
    assert_non_null(t);
    for (int i = 0; i < n; i++)
        rc_decref(items[i]);
    return t;
}

/* d[k] = v, both stolen. */
static void dict_put(rc_object *d, rc_object *k, rc_object *v)
{
    assert_int_equal(0, rc_dict_set(d, k, v));
    rc_decref(k);
    rc_decref(v);
}

static rc_object *item(rc_object *l, long i)
{
    rc_object *o = rc_list_get_borrowed(l, i);
    assert_non_null(o);
    return o;
}

static rc_object *value(rc_object *d, const char *key)
{
    rc_object *k = rc_str_new(key);
    rc_object *o = rc_dict_get_borrowed(d, k);
    rc_decref(k);
    assert_non_null(o);
    return o;
}

/* rc_repr(o) is expected (o is stolen). */
#define assert_repr(expected, o)                                            \
    do {                                                                    \
        rc_object *o_ = (o);                                                \
        rc_object *r_ = rc_repr(o_);                                        \
        assert_non_null(r_);                                                \
        assert_string_equal((expected), rc_str_data(r_));                   \
        rc_decref(r_);                                                      \
        rc_decref(o_);                                                      \
    } while (0)

/* A list that contains itself: x = []; x.append(x). */
static rc_object *reflexive_list(void)
{
    rc_object *x = rc_list_new();
    assert_int_equal(0, rc_list_append(x, x));
    return x;
}

/* Break x's cycle and drop it. */
static void drop_reflexive_list(rc_object *x)
{
    assert_int_equal(0, rc_list_clear(x));
    rc_decref(x);
}

/* ---------------------------------------------------------------- equality */

static void test_equal_atoms(void **state)
{
    rc_object *a = rc_int_new(123456), *b = rc_int_new(123456), *c = rc_int_new(-7);
    assert_ptr_not_equal(a, b);
    assert_int_equal(1, rc_equal(a, b));
    assert_int_equal(0, rc_equal(a, c));
    rc_object *s = rc_str_new("spam"), *t = rc_str_new("spam"), *u = rc_str_new("spa");
    assert_int_equal(1, rc_equal(s, t));
    assert_int_equal(0, rc_equal(s, u));
    assert_int_equal(0, rc_equal(a, s));   /* different types */
    assert_int_equal(1, rc_equal(rc_none(), rc_none()));
    assert_int_equal(0, rc_equal(rc_true(), rc_false()));
    /* bool is not an int here: True != 1 (dict keys tell them apart). */
    rc_object *one = rc_int_new(1);
    assert_int_equal(0, rc_equal(rc_true(), one));
    rc_decref(one);
    rc_decref(a);
    rc_decref(b);
    rc_decref(c);
    rc_decref(s);
    rc_decref(t);
    rc_decref(u);
}

static void test_equal_containers(void **state)
{
    rc_object *x = list_of(3, rc_int_new(1), rc_str_new("a"), tuple_of(1, rc_int_new(2)));
    rc_object *y = list_of(3, rc_int_new(1), rc_str_new("a"), tuple_of(1, rc_int_new(2)));
    rc_object *z = list_of(3, rc_int_new(1), rc_str_new("a"), tuple_of(1, rc_int_new(3)));
    rc_object *shorter = list_of(2, rc_int_new(1), rc_str_new("a"));
    assert_int_equal(1, rc_equal(x, y));
    assert_int_equal(0, rc_equal(x, z));
    assert_int_equal(0, rc_equal(x, shorter));
    assert_int_equal(0, rc_equal(shorter, x));
    /* A list never equals a tuple of the same items. */
    rc_object *tx = tuple_of(2, rc_int_new(1), rc_str_new("a"));
    assert_int_equal(0, rc_equal(shorter, tx));
    assert_int_equal(1, rc_equal(tx, tx));

    rc_object *d1 = rc_dict_new(), *d2 = rc_dict_new();
    dict_put(d1, rc_str_new("k"), list_of(2, rc_none(), rc_true()));
    dict_put(d1, rc_int_new(5), rc_str_new("five"));
    dict_put(d2, rc_int_new(5), rc_str_new("five"));   /* another order */
    dict_put(d2, rc_str_new("k"), list_of(2, rc_none(), rc_true()));
    assert_int_equal(1, rc_equal(d1, d2));
    dict_put(d2, rc_int_new(5), rc_str_new("FIVE"));
    assert_int_equal(0, rc_equal(d1, d2));
    dict_put(d2, rc_int_new(5), rc_str_new("five"));
    dict_put(d2, rc_int_new(6), rc_none());
    assert_int_equal(0, rc_equal(d1, d2));   /* a key more */

    rc_object *empty_l = rc_list_new(), *empty_d = rc_dict_new();
    assert_int_equal(0, rc_equal(empty_l, empty_d));
    rc_decref(empty_l);
    rc_decref(empty_d);
    rc_decref(x);
    rc_decref(y);
    rc_decref(z);
    rc_decref(shorter);
    rc_decref(tx);
    rc_decref(d1);
    rc_decref(d2);
}

static void test_equal_instances_and_weakrefs_by_identity(void **state)
{
    rc_type *T = rc_type_new("Point", 2, NULL);
    rc_object *p = rc_instance_new(T), *q = rc_instance_new(T);
    assert_int_equal(1, rc_equal(p, p));
    assert_int_equal(0, rc_equal(p, q));   /* the same (empty) state: still not equal */
    rc_object *w1 = rc_weakref_new(p, NULL, NULL), *w2 = rc_weakref_new(p, NULL, NULL);
    assert_int_equal(1, rc_equal(w1, w1));
    assert_int_equal(0, rc_equal(w1, w2));
    /* In a container, an instance compares by identity too. */
    rc_incref(p);
    rc_incref(p);
    rc_object *a = list_of(1, p), *b = list_of(1, p);
    assert_int_equal(1, rc_equal(a, b));
    rc_decref(a);
    rc_decref(b);
    rc_decref(w1);
    rc_decref(w2);
    rc_decref(p);
    rc_decref(q);
}

/* test_richcmp's recursion cases. */
static void test_equal_recursive(void **state)
{
    rc_object *a = reflexive_list(), *b = reflexive_list();
    /* The identity shortcut: a list that contains itself equals itself,
     * and [a] == [a]. */
    assert_int_equal(1, rc_equal(a, a));
    rc_incref(a);
    rc_incref(a);
    rc_object *la = list_of(1, a), *lb = list_of(1, a);
    assert_int_equal(1, rc_equal(la, lb));
    /* Two distinct ones recurse forever: RecursionError, not a crash. */
    assert_int_equal(-1, rc_equal(a, b));
    assert_error(RC_ERR_RECURSION);
    assert_int_equal(-1, rc_equal(b, a));
    assert_error(RC_ERR_RECURSION);
    /* The same through dicts. */
    rc_object *d = rc_dict_new(), *e = rc_dict_new();
    dict_put(d, rc_str_new("self"), d);
    rc_incref(d);
    dict_put(e, rc_str_new("self"), e);
    rc_incref(e);
    assert_int_equal(1, rc_equal(d, d));
    assert_int_equal(-1, rc_equal(d, e));
    assert_error(RC_ERR_RECURSION);
    /* The depth counter went back to zero after each failure. */
    assert_int_equal(1, rc_equal(la, lb));
    rc_dict_clear(d);
    rc_dict_clear(e);
    rc_decref(d);
    rc_decref(e);
    rc_decref(la);
    rc_decref(lb);
    drop_reflexive_list(a);
    drop_reflexive_list(b);
}

static void test_equal_errors(void **state)
{
    rc_object *x = rc_list_new();
    assert_int_equal(-1, rc_equal(NULL, x));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_equal(x, NULL));
    assert_error(RC_ERR_TYPE);
    rc_decref(x);
}

/* ------------------------------------------------------------------ hash */

static void test_hash(void **state)
{
    rc_object *a = rc_int_new(1 << 20), *b = rc_int_new(1 << 20);
    assert_int_equal(rc_hash(a), rc_hash(b));
    rc_object *s = rc_str_new("a key"), *t = rc_str_new("a key");
    assert_int_equal(rc_hash(s), rc_hash(t));
    assert_true(rc_hash(s) != -1);
    rc_incref(a);
    rc_incref(s);
    rc_incref(b);
    rc_incref(t);
    rc_object *ta = tuple_of(2, a, s), *tb = tuple_of(2, b, t);
    assert_int_equal(1, rc_equal(ta, tb));
    assert_int_equal(rc_hash(ta), rc_hash(tb));   /* equal objects hash alike */
    /* Identity for instances, as dict keys use them. */
    rc_type *T = rc_type_new("Key", 0, NULL);
    rc_object *k = rc_instance_new(T);
    int64_t hk = rc_hash(k);
    assert_true(hk != -1);
    assert_int_equal(hk, rc_hash(k));
    assert_true(rc_hash(rc_none()) != -1);
    /* Lists, dicts and tuples holding one: TypeError, as dict keys. */
    rc_object *l = rc_list_new(), *d = rc_dict_new();
    assert_int_equal(-1, rc_hash(l));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_hash(d));
    assert_error(RC_ERR_TYPE);
    rc_incref(l);
    rc_object *tl = tuple_of(1, l);
    assert_int_equal(-1, rc_hash(tl));
    assert_error(RC_ERR_TYPE);
    assert_int_equal(-1, rc_hash(NULL));
    assert_error(RC_ERR_TYPE);
    /* A type that says its instances are unhashable (__hash__ = None):
     * rc_hash and dict keys agree. */
    rc_type *U = rc_type_new_ex("Frozen", 0, NULL, RC_TYPE_NEW_UNHASHABLE);
    assert_non_null(U);
    rc_object *u = rc_instance_new(U);
    assert_int_equal(-1, rc_hash(u));
    assert_int_equal(RC_ERR_TYPE, rc_error_occurred());
    assert_non_null(strstr(rc_error_message(), "unhashable type: 'Frozen'"));
    rc_error_clear();
    rc_incref(u);
    rc_object *tu = tuple_of(1, u);
    assert_int_equal(-1, rc_hash(tu));
    assert_error(RC_ERR_TYPE);
    rc_object *du = rc_dict_new();
    assert_int_equal(-1, rc_dict_set(du, u, rc_none()));
    assert_error(RC_ERR_TYPE);
    rc_decref(du);
    rc_decref(tu);
    rc_decref(u);
    assert_null(rc_type_new_ex("Bad", 0, NULL, 0x80));
    assert_error(RC_ERR_VALUE);
    /* rc_hash agrees with the dict: a key found under an equal key. */
    rc_object *dict = rc_dict_new();
    assert_int_equal(0, rc_dict_set(dict, ta, k));
    assert_ptr_equal(k, rc_dict_get_borrowed(dict, tb));
    rc_decref(dict);
    rc_decref(tl);
    rc_decref(l);
    rc_decref(d);
    rc_decref(k);
    rc_decref(ta);
    rc_decref(tb);
    rc_decref(a);
    rc_decref(b);
    rc_decref(s);
    rc_decref(t);
}

/* ------------------------------------------------------------------ repr */

static void test_repr_atoms_and_containers(void **state)
{
    assert_repr("None", rc_none());
    assert_repr("True", rc_true());
    assert_repr("False", rc_false());
    assert_repr("-42", rc_int_new(-42));
    assert_repr("'spam'", rc_str_new("spam"));
    assert_repr("''", rc_str_new(""));
    assert_repr("\"it's\"", rc_str_new("it's"));
    assert_repr("'say \"hi\"'", rc_str_new("say \"hi\""));
    assert_repr("'it\\'s \"x\"'", rc_str_new("it's \"x\""));
    assert_repr("'a\\\\b\\n\\t\\r\\x01\\x7f'", rc_str_new("a\\b\n\t\r\x01\x7f"));
    assert_repr("'caf\xc3\xa9'", rc_str_new("caf\xc3\xa9"));   /* UTF-8 kept */
    /* Bytes that are not UTF-8, and non-printable code points, escaped. */
    assert_repr("'a\\xff'", rc_str_new("a\xff"));
    assert_repr("'\\xc0\\xaf'", rc_str_new("\xc0\xaf"));   /* an overlong form */
    assert_repr("'\\x85 \\xa0 \\u2028'", rc_str_new("\xc2\x85 \xc2\xa0 \xe2\x80\xa8"));
    assert_repr("'\xe2\x82\xac \xf0\x9f\x98\x80'", rc_str_new("\xe2\x82\xac \xf0\x9f\x98\x80"));
    assert_repr("()", tuple_of(0));
    assert_repr("(2,)", tuple_of(1, rc_int_new(2)));
    assert_repr("(1, 'two')", tuple_of(2, rc_int_new(1), rc_str_new("two")));
    assert_repr("[]", rc_list_new());
    assert_repr("[1, 'a', (2,)]",
                list_of(3, rc_int_new(1), rc_str_new("a"), tuple_of(1, rc_int_new(2))));
    assert_repr("{}", rc_dict_new());
    rc_object *d = rc_dict_new();
    dict_put(d, rc_str_new("k"), list_of(2, rc_none(), rc_true()));
    assert_repr("{'k': [None, True]}", d);
}

static void test_repr_instances_and_weakrefs(void **state)
{
    rc_type *T = rc_type_new("Node", 1, NULL);
    rc_object *n = rc_instance_new(T);
    char want[96];
    snprintf(want, sizeof want, "<Node object at %p>", (void *)n);
    rc_object *r = rc_repr(n);
    assert_string_equal(want, rc_str_data(r));
    assert_true(strncmp(rc_str_data(r), "<Node object at 0x", 18) == 0);
    rc_decref(r);
    rc_object *w = rc_weakref_new(n, NULL, NULL);
    snprintf(want, sizeof want, "<weakref at %p; to 'Node' at %p>", (void *)w, (void *)n);
    r = rc_repr(w);
    assert_string_equal(want, rc_str_data(r));
    rc_decref(r);
    rc_decref(n);   /* the target dies */
    snprintf(want, sizeof want, "<weakref at %p; dead>", (void *)w);
    r = rc_repr(w);
    assert_string_equal(want, rc_str_data(r));
    rc_decref(r);
    rc_decref(w);
}

/* test_repr's recursive containers (Py_ReprEnter). */
static void test_repr_recursive(void **state)
{
    rc_object *x = reflexive_list();
    rc_incref(x);
    assert_repr("[[...]]", x);
    rc_object *one = list_of(1, rc_int_new(1));
    assert_int_equal(0, rc_list_append(one, one));
    rc_incref(one);
    assert_repr("[1, [...]]", one);
    rc_object *d = rc_dict_new();
    dict_put(d, rc_int_new(1), d);
    rc_incref(d);
    rc_incref(d);
    assert_repr("{1: {...}}", d);
    /* A tuple holding itself through a list: ([(...)],). */
    rc_object *inner = rc_list_new();
    rc_incref(inner);
    rc_object *t = tuple_of(1, inner);
    assert_int_equal(0, rc_list_append(inner, t));
    rc_incref(t);
    assert_repr("([(...)],)", t);
    /* The same container twice, not nested, prints twice. */
    rc_object *shared = list_of(1, rc_int_new(7));
    rc_incref(shared);
    rc_incref(shared);
    assert_repr("[[7], [7]]", list_of(2, shared, shared));
    rc_decref(shared);
    rc_list_clear(inner);
    rc_decref(inner);
    rc_decref(t);
    rc_dict_clear(d);
    rc_decref(d);
    rc_list_clear(one);
    rc_decref(one);
    drop_reflexive_list(x);
}

static void test_repr_errors(void **state)
{
    assert_null(rc_repr(NULL));
    assert_error(RC_ERR_TYPE);
}

/* A tuple rc_clear emptied: every call fails as rc_tuple_get does, none
 * reads its NULL items; a KeyError naming it still prints. */
static void test_cleared_tuple(void **state)
{
    rc_object *t = tuple_of(2, rc_int_new(1000), rc_str_new("x"));
    rc_object *u = tuple_of(2, rc_int_new(1000), rc_str_new("x"));
    rc_object *d = rc_dict_new();
    assert_int_equal(0, rc_clear(t));
    assert_null(rc_repr(t));
    assert_error(RC_ERR_VALUE);
    assert_null(rc_deepcopy(t));
    assert_error(RC_ERR_VALUE);
    assert_int_equal(-1, rc_equal(t, u));
    assert_error(RC_ERR_VALUE);
    assert_int_equal(1, rc_equal(t, t));   /* identity */
    rc_object *c = rc_copy(t);
    assert_ptr_equal(t, c);   /* a tuple is not copied */
    rc_decref(c);
    assert_null(rc_dict_get(d, t));
    assert_int_equal(RC_ERR_KEY, rc_error_occurred());
    assert_string_equal("(<NULL>, <NULL>)", rc_error_message());
    rc_error_clear();
    rc_decref(d);
    rc_decref(t);
    rc_decref(u);
}

/* A KeyError for a weakref key names the weakref only: it takes no
 * reference to the target (whose drop could run its finalizer inside the
 * dict call). */
static void test_key_error_of_a_weakref(void **state)
{
    rc_type *T = rc_type_new("T", 0, NULL);
    rc_object *o = rc_instance_new(T), *w = rc_weakref_new(o, NULL, NULL), *d = rc_dict_new();
    char want[64];
    snprintf(want, sizeof want, "<weakref at %p>", (void *)w);
    assert_null(rc_dict_get(d, w));
    assert_int_equal(RC_ERR_KEY, rc_error_occurred());
    assert_string_equal(want, rc_error_message());
    rc_error_clear();
    rc_decref(d);
    rc_decref(w);
    rc_decref(o);
}

/* --------------------------------------------------------- shallow copy */

static void test_copy_atomic(void **state)
{
    rc_type *T = rc_type_new("T", 0, NULL);
    rc_object *inst = rc_instance_new(T);
    rc_object *atoms[] = {rc_none(),          rc_true(),          rc_int_new(1000),
                          rc_str_new("abc"),  tuple_of(1, rc_int_new(1000)),
                          rc_weakref_new(inst, NULL, NULL)};
    for (size_t i = 0; i < sizeof atoms / sizeof atoms[0]; i++) {
        rc_object *c = rc_copy(atoms[i]);
        assert_ptr_equal(atoms[i], c);   /* copy(x) is x */
        rc_decref(c);
        rc_object *dc = rc_deepcopy(atoms[i]);
        assert_ptr_equal(atoms[i], dc);   /* atoms, and a tuple of atoms */
        rc_decref(dc);
        rc_decref(atoms[i]);
    }
    rc_decref(inst);
}

static void test_copy_list_dict_instance(void **state)
{
    rc_object *inner = rc_list_new();
    rc_incref(inner);
    rc_object *x = list_of(2, rc_int_new(1), inner);
    rc_object *y = rc_copy(x);
    assert_non_null(y);
    assert_ptr_not_equal(x, y);
    assert_int_equal(1, rc_equal(x, y));
    assert_ptr_equal(inner, item(y, 1));   /* shallow: the same inner list */
    rc_decref(y);
    rc_decref(x);

    rc_object *d = rc_dict_new();
    rc_incref(inner);
    dict_put(d, rc_str_new("foo"), inner);
    dict_put(d, rc_str_new("bar"), rc_int_new(3));
    rc_object *dc = rc_copy(d);
    assert_ptr_not_equal(d, dc);
    assert_int_equal(1, rc_equal(d, dc));
    assert_ptr_equal(inner, value(dc, "foo"));
    rc_decref(dc);
    rc_decref(d);

    rc_type *T = rc_type_new("C", 2, NULL);
    rc_object *c = rc_instance_new(T);
    assert_int_equal(0, rc_slot_set(c, 0, inner));
    rc_object *cc = rc_copy(c);
    assert_ptr_not_equal(c, cc);
    assert_true(rc_is_instance(cc));
    assert_int_equal(2, rc_instance_nslots(cc));
    assert_ptr_equal(inner, rc_slot_get_borrowed(cc, 0));
    assert_ptr_equal(rc_none(), rc_slot_get_borrowed(cc, 1));
    rc_object *r = rc_repr(cc);
    assert_true(strncmp(rc_str_data(r), "<C object at 0x", 15) == 0);   /* its type */
    rc_decref(r);
    rc_decref(cc);
    rc_decref(c);
    rc_decref(inner);
}

/* test_copy's test_copy_reflexive: a shallow copy of x = [x] holds x. */
static void test_copy_reflexive(void **state)
{
    rc_object *x = reflexive_list();
    rc_object *y = rc_copy(x);
    assert_ptr_not_equal(x, y);
    assert_ptr_equal(x, item(y, 0));
    rc_decref(y);
    drop_reflexive_list(x);
}

static void test_copy_errors(void **state)
{
    assert_null(rc_copy(NULL));
    assert_error(RC_ERR_TYPE);
    assert_null(rc_deepcopy(NULL));
    assert_error(RC_ERR_TYPE);
}

/* ------------------------------------------------------------- deepcopy */

static void test_deepcopy_list_and_tuple(void **state)
{
    /* x = [[1, 2], 3] */
    rc_object *x = list_of(2, list_of(2, rc_int_new(1), rc_int_new(2)), rc_int_new(3));
    rc_object *y = rc_deepcopy(x);
    assert_int_equal(1, rc_equal(x, y));
    assert_ptr_not_equal(x, y);
    assert_ptr_not_equal(item(x, 0), item(y, 0));
    assert_ptr_equal(item(x, 1), item(y, 1));   /* atoms are shared */
    rc_decref(y);
    /* A tuple holding a list is copied; one of atoms is not. */
    rc_incref(x);
    rc_object *t = tuple_of(2, x, rc_int_new(3));
    rc_object *tc = rc_deepcopy(t);
    assert_ptr_not_equal(t, tc);
    assert_int_equal(1, rc_equal(t, tc));
    rc_object *tc0 = rc_tuple_get(tc, 0);
    assert_ptr_not_equal(x, tc0);
    assert_int_equal(1, rc_equal(x, tc0));
    rc_decref(tc0);
    rc_decref(tc);
    rc_object *atoms = tuple_of(2, tuple_of(2, rc_int_new(1), rc_int_new(2)), rc_int_new(3));
    rc_object *ac = rc_deepcopy(atoms);
    assert_ptr_equal(atoms, ac);   /* test_deepcopy_tuple_of_immutables */
    rc_decref(ac);
    rc_decref(atoms);
    rc_object *empty = tuple_of(0);
    rc_object *ec = rc_deepcopy(empty);
    assert_ptr_equal(empty, ec);
    rc_decref(ec);
    rc_decref(empty);
    rc_decref(t);
    rc_decref(x);
}

static void test_deepcopy_dict_and_instance(void **state)
{
    /* x = {"foo": [1, 2], "bar": 3} */
    rc_object *x = rc_dict_new();
    dict_put(x, rc_str_new("foo"), list_of(2, rc_int_new(1), rc_int_new(2)));
    dict_put(x, rc_str_new("bar"), rc_int_new(3));
    rc_object *y = rc_deepcopy(x);
    assert_int_equal(1, rc_equal(x, y));
    assert_ptr_not_equal(x, y);
    assert_ptr_not_equal(value(x, "foo"), value(y, "foo"));
    rc_decref(y);
    /* An instance: a new one of its type, its slots deep-copied. */
    rc_type *T = rc_type_new("C", 2, NULL);
    rc_object *c = rc_instance_new(T);
    assert_int_equal(0, rc_slot_set(c, 0, x));
    rc_object *cc = rc_deepcopy(c);
    assert_ptr_not_equal(c, cc);
    assert_true(rc_is_instance(cc));
    rc_object *xc = rc_slot_get_borrowed(cc, 0);
    assert_ptr_not_equal(x, xc);
    assert_int_equal(1, rc_equal(x, xc));
    assert_ptr_equal(rc_none(), rc_slot_get_borrowed(cc, 1));
    rc_decref(cc);
    rc_decref(c);
    rc_decref(x);
}

/* test_deepcopy_reflexive_list / _tuple / _dict / _inst. */
static void test_deepcopy_reflexive(void **state)
{
    rc_object *x = reflexive_list();
    rc_object *y = rc_deepcopy(x);
    assert_ptr_not_equal(x, y);
    assert_ptr_equal(y, item(y, 0));   /* y[0] is y */
    assert_int_equal(1, rc_list_len(y));
    assert_int_equal(-1, rc_equal(y, x));
    assert_error(RC_ERR_RECURSION);
    drop_reflexive_list(y);
    drop_reflexive_list(x);

    /* x = ([],); x[0].append(x) */
    rc_object *inner = rc_list_new();
    rc_incref(inner);
    rc_object *t = tuple_of(1, inner);
    assert_int_equal(0, rc_list_append(inner, t));
    rc_object *tc = rc_deepcopy(t);
    assert_ptr_not_equal(t, tc);
    rc_object *tc0 = rc_tuple_get(tc, 0);
    assert_ptr_not_equal(inner, tc0);
    assert_ptr_equal(tc, item(tc0, 0));   /* y[0][0] is y */
    assert_int_equal(-1, rc_equal(tc, t));
    assert_error(RC_ERR_RECURSION);
    rc_list_clear(tc0);
    rc_decref(tc0);
    rc_decref(tc);
    rc_list_clear(inner);
    rc_decref(inner);
    rc_decref(t);

    /* x = {}; x['foo'] = x */
    rc_object *d = rc_dict_new();
    rc_incref(d);
    dict_put(d, rc_str_new("foo"), d);
    rc_object *dc = rc_deepcopy(d);
    assert_ptr_not_equal(d, dc);
    assert_ptr_equal(dc, value(dc, "foo"));
    assert_int_equal(1, rc_dict_len(dc));
    rc_dict_clear(dc);
    rc_decref(dc);
    rc_dict_clear(d);
    rc_decref(d);

    /* x = C(); x.foo = x: left to the collector this time. */
    rc_type *T = rc_type_new("C", 1, NULL);
    rc_object *c = rc_instance_new(T);
    assert_int_equal(0, rc_slot_set(c, 0, c));
    rc_object *cc = rc_deepcopy(c);
    assert_ptr_not_equal(c, cc);
    assert_ptr_equal(cc, rc_slot_get_borrowed(cc, 0));
    rc_decref(cc);
    rc_decref(c);
    assert_true(rc_gc_collect(2) >= 2);
}

/* A container holding only atoms is still copied (copy.py copies every
 * list, dict and instance): a write to the copy leaves the original. */
static void test_deepcopy_flat_containers_are_new(void **state)
{
    rc_object *d = rc_dict_new();
    dict_put(d, rc_str_new("timeout"), rc_int_new(30));
    rc_object *dc = rc_deepcopy(d);
    assert_ptr_not_equal(d, dc);
    dict_put(dc, rc_str_new("timeout"), rc_int_new(31));
    assert_int_equal(30, rc_int_value(value(d, "timeout")));
    rc_type *T = rc_type_new("Flat", 1, NULL);
    rc_object *o = rc_instance_new(T);
    rc_object *oc = rc_deepcopy(o);
    assert_ptr_not_equal(o, oc);
    assert_true(rc_is_instance(oc));
    rc_object *l = rc_list_new();
    rc_object *lc = rc_deepcopy(l);
    assert_ptr_not_equal(l, lc);
    rc_decref(l);
    rc_decref(lc);
    rc_decref(o);
    rc_decref(oc);
    rc_decref(d);
    rc_decref(dc);
}

/* The memo keeps aliasing: y = [x, x] copies to z with z[0] is z[1]. */
static void test_deepcopy_memo_keeps_aliasing(void **state)
{
    rc_object *x = list_of(1, rc_int_new(1));
    rc_incref(x);
    rc_incref(x);
    rc_object *y = list_of(3, x, x, tuple_of(1, rc_list_new()));
    rc_object *z = rc_deepcopy(y);
    assert_ptr_equal(item(z, 0), item(z, 1));
    assert_ptr_not_equal(x, item(z, 0));
    assert_int_equal(1, rc_equal(y, z));
    /* The copies hold only what they should: the memo's references are
     * gone (z alone keeps its parts alive). */
    assert_int_equal(1, rc_refcount(z));
    assert_int_equal(2, rc_refcount(item(z, 0)));
    /* A dict's keys are copied too, and keep their values' aliasing. */
    rc_object *d = rc_dict_new();
    rc_incref(x);
    rc_incref(x);
    dict_put(d, tuple_of(1, rc_str_new("k")), x);
    dict_put(d, rc_int_new(2), x);
    rc_object *dc = rc_deepcopy(d);
    rc_object *two = rc_int_new(2);
    rc_object *k = tuple_of(1, rc_str_new("k"));
    assert_ptr_equal(rc_dict_get_borrowed(dc, two), rc_dict_get_borrowed(dc, k));
    assert_ptr_not_equal(x, rc_dict_get_borrowed(dc, two));
    rc_decref(k);
    rc_decref(two);
    rc_decref(dc);
    rc_decref(d);
    rc_decref(z);
    rc_decref(y);
    rc_decref(x);
}

/* ------------------------------------------------------ recursion limit */

/* [[[...[0]...]]], depth lists deep. */
static rc_object *nested(int depth)
{
    rc_object *x = rc_int_new(0);
    for (int i = 0; i < depth; i++)
        x = list_of(1, x);
    return x;
}

static void test_recursion_limit(void **state)
{
    assert_int_equal(RC_RECURSION_LIMIT_DEFAULT, rc_get_recursion_limit());
    rc_object *deep = nested(RC_RECURSION_LIMIT_DEFAULT + 10);
    rc_object *deep2 = nested(RC_RECURSION_LIMIT_DEFAULT + 10);
    assert_null(rc_repr(deep));
    assert_error(RC_ERR_RECURSION);
    assert_null(rc_deepcopy(deep));
    assert_error(RC_ERR_RECURSION);
    assert_int_equal(-1, rc_equal(deep, deep2));
    assert_error(RC_ERR_RECURSION);
    /* Within a raised limit, all three work. */
    assert_int_equal(0, rc_set_recursion_limit(RC_RECURSION_LIMIT_DEFAULT + 20));
    assert_int_equal(RC_RECURSION_LIMIT_DEFAULT + 20, rc_get_recursion_limit());
    rc_object *r = rc_repr(deep);
    assert_non_null(r);
    assert_int_equal(2 * (RC_RECURSION_LIMIT_DEFAULT + 10) + 1, rc_str_len(r));
    rc_decref(r);
    rc_object *c = rc_deepcopy(deep);
    assert_non_null(c);
    assert_int_equal(1, rc_equal(c, deep2));
    rc_decref(c);
    /* A lower one refuses shallower nesting. */
    assert_int_equal(0, rc_set_recursion_limit(5));
    rc_object *six = nested(6), *four = nested(4);
    assert_null(rc_repr(six));
    assert_error(RC_ERR_RECURSION);
    r = rc_repr(four);
    assert_string_equal("[[[[0]]]]", rc_str_data(r));
    rc_decref(r);
    /* Bad limits: ValueError, the limit unchanged. */
    assert_int_equal(-1, rc_set_recursion_limit(0));
    assert_error(RC_ERR_VALUE);
    assert_int_equal(-1, rc_set_recursion_limit(RC_RECURSION_LIMIT_MAX + 1));
    assert_error(RC_ERR_VALUE);
    assert_int_equal(5, rc_get_recursion_limit());
    rc_decref(six);
    rc_decref(four);
    rc_decref(deep);
    rc_decref(deep2);
}

/* rc_config.recursion_limit, checked by rc_runtime_new. */
static void test_recursion_limit_config(void **state)
{
    rc_config cfg = rc_config_default();
    cfg.mode = harness_mode;
    cfg.collector = harness_collector;
    cfg.recursion_limit = RC_RECURSION_LIMIT_MAX + 1;
    assert_null(rc_runtime_new(&cfg));
    assert_error(RC_ERR_VALUE);
    cfg.recursion_limit = -1;
    assert_null(rc_runtime_new(&cfg));
    assert_error(RC_ERR_VALUE);
    cfg.recursion_limit = 3;
    rc_runtime *rt = rc_runtime_new(&cfg);
    assert_non_null(rt);
    assert_int_equal(3, rc_get_recursion_limit());
    rc_object *x = nested(3), *y = nested(4);
    rc_object *r = rc_repr(x);
    assert_string_equal("[[[0]]]", rc_str_data(r));
    rc_decref(r);
    assert_null(rc_repr(y));
    assert_error(RC_ERR_RECURSION);
    rc_decref(x);
    rc_decref(y);
    assert_int_equal(0, rc_runtime_free(rt));
    assert_int_equal(-1, rc_get_recursion_limit());   /* no runtime */
    assert_error(RC_ERR_RUNTIME);
    assert_int_equal(-1, rc_set_recursion_limit(10));
    assert_error(RC_ERR_RUNTIME);
}

/* Allocation failure inside a deep copy: NULL with MemoryError, and
 * nothing made so far is left alive. */
static void test_deepcopy_memory_error_leaves_nothing(void **state)
{
    rc_object *x = list_of(3, list_of(2, rc_int_new(1000), rc_str_new("a")),
                           tuple_of(1, rc_list_new()), rc_dict_new());
    size_t live = rc_live_objects();
    int failed = 0;
    for (long n = 1; n <= 16; n++) {
        rc_testing_fail_alloc_after(n);   /* the n-th allocation fails */
        rc_object *y = rc_deepcopy(x);
        rc_testing_fail_alloc_after(0);
        if (y != NULL) {
            rc_decref(y);   /* fewer than n allocations sufficed */
            continue;
        }
        failed++;
        assert_error(RC_ERR_MEMORY);
        assert_int_equal(live, rc_live_objects());
        rc_object *r = rc_repr(x);   /* x is intact */
        assert_string_equal("[[1000, 'a'], ([],), {}]", rc_str_data(r));
        rc_decref(r);
    }
    assert_true(failed >= 4);   /* list, list, tuple, list, dict at least */
    /* Every failure left the recursion depth where it was: nesting up to
     * the limit still prints. */
    assert_int_equal(0, rc_set_recursion_limit(4));
    rc_object *four = rc_list_new();
    for (int i = 0; i < 3; i++)
        four = list_of(1, four);
    rc_object *r = rc_repr(four);
    assert_non_null(r);
    assert_string_equal("[[[[]]]]", rc_str_data(r));
    rc_decref(r);
    rc_decref(four);
    rc_decref(x);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        HARNESS_TEST(test_equal_atoms),
        HARNESS_TEST(test_equal_containers),
        HARNESS_TEST(test_equal_instances_and_weakrefs_by_identity),
        HARNESS_TEST(test_equal_recursive),
        HARNESS_TEST(test_equal_errors),
        HARNESS_TEST(test_hash),
        HARNESS_TEST(test_repr_atoms_and_containers),
        HARNESS_TEST(test_repr_instances_and_weakrefs),
        HARNESS_TEST(test_repr_recursive),
        HARNESS_TEST(test_repr_errors),
        HARNESS_TEST(test_cleared_tuple),
        HARNESS_TEST(test_key_error_of_a_weakref),
        HARNESS_TEST(test_deepcopy_flat_containers_are_new),
        HARNESS_TEST(test_copy_atomic),
        HARNESS_TEST(test_copy_list_dict_instance),
        HARNESS_TEST(test_copy_reflexive),
        HARNESS_TEST(test_copy_errors),
        HARNESS_TEST(test_deepcopy_list_and_tuple),
        HARNESS_TEST(test_deepcopy_dict_and_instance),
        HARNESS_TEST(test_deepcopy_reflexive),
        HARNESS_TEST(test_deepcopy_memo_keeps_aliasing),
        HARNESS_TEST(test_recursion_limit),
        cmocka_unit_test(test_recursion_limit_config),
        HARNESS_TEST(test_deepcopy_memory_error_leaves_nothing),
    };
    return HARNESS_RUN("semantics", tests, argc, argv);
}
