/*
 * otpcore._hot: the calls made for every login, TOTP and HOTP generate and verify, as plain
 * CPython functions over include/otpcore.h.
 *
 * The rest of the C API goes through otpcore._otpcore, which cffi generates from the same
 * header. cffi's generic call costs more than the rest of such a call does: it builds an
 * argument tuple and checks every pointer, and outputs are C objects that Python allocates
 * and reads back one by one. Verifying a code in Python then takes longer than a tenth of
 * what pyotp takes for the previous step's code (issue 20's goal). Here the typed code is
 * read from the str in place (an ASCII str is its own UTF-8), the outputs live on the C
 * stack, and the result object is made here: a fraction of that cost.
 *
 * A key is passed as the buffer over its C object (cffi's `ffi.buffer(obj)`), whose length
 * is checked against the struct's size; the buffer keeps the object alive for the call.
 * The GIL is held throughout, as for every call of the binding: no thread can wipe a key
 * while a call reads it (the header: "init and wipe need exclusive access").
 *
 * Argument checks with Python's messages (a bool, a negative time, a code that is no str)
 * stay in otpcore._otp, which calls these only with checked arguments; what reaches here
 * unchecked still fails cleanly (TypeError, OverflowError), never crashes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include "otpcore.h"

/* What setup() hands over from otpcore._otp: the Valid type, the Invalid and Replayed
 * singletons, and `error_for`, which makes the exception for a status. */
static PyTypeObject *valid_type;
static PyObject *invalid_result;
static PyObject *replayed_result;
static PyObject *error_for;
static PyObject *step_name;
static PyObject *drift_name;

static PyObject *setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "setup(Valid, INVALID, REPLAYED, error_for)");
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        Py_INCREF(args[i]);
    }
    Py_XSETREF(valid_type, (PyTypeObject *)args[0]);
    Py_XSETREF(invalid_result, args[1]);
    Py_XSETREF(replayed_result, args[2]);
    Py_XSETREF(error_for, args[3]);
    Py_RETURN_NONE;
}

static PyObject *raise_status(otp_status status) {
    if (error_for == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "otpcore._hot.setup() was not called");
        return NULL;
    }
    PyObject *error = PyObject_CallFunction(error_for, "I", (unsigned int)status);
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
    return NULL;
}

/* `Valid(step, drift)` without running its Python __init__, which only sets these two. */
static PyObject *valid(uint64_t step, int64_t drift) {
    if (valid_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "otpcore._hot.setup() was not called");
        return NULL;
    }
    PyObject *result = valid_type->tp_alloc(valid_type, 0);
    PyObject *step_value = PyLong_FromUnsignedLongLong(step);
    PyObject *drift_value = PyLong_FromLongLong(drift);
    if (result == NULL || step_value == NULL || drift_value == NULL ||
        PyObject_SetAttr(result, step_name, step_value) < 0 ||
        PyObject_SetAttr(result, drift_name, drift_value) < 0) {
        Py_CLEAR(result);
    }
    Py_XDECREF(step_value);
    Py_XDECREF(drift_value);
    return result;
}

/* The outcome of a verify call: Valid on OTP_OK, the Invalid singleton on
 * OTP_CODE_INVALID, the Replayed one on OTP_CODE_REPLAYED where `replay` (TOTP), and the
 * exception for any other status. Outputs are read only on OTP_OK. */
static PyObject *outcome(otp_status status, bool replay, uint64_t step, int64_t drift) {
    if (status == OTP_OK) {
        return valid(step, drift);
    }
    PyObject *result = status == OTP_CODE_INVALID               ? invalid_result
                       : replay && status == OTP_CODE_REPLAYED ? replayed_result
                                                                : NULL;
    if (result == NULL) {
        return raise_status(status);
    }
    Py_INCREF(result);
    return result;
}

static int key_view(PyObject *key, Py_ssize_t size, Py_buffer *view) {
    if (PyObject_GetBuffer(key, view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (view->len != size) {
        PyErr_Format(PyExc_TypeError, "a key's C object is %zd bytes, not %zd", view->len, size);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int u64(PyObject *value, uint64_t *out) {
    unsigned long long number = PyLong_AsUnsignedLongLong(value);
    if (number == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (uint64_t)number;
    return 0;
}

/* A typed code's bytes: a str's UTF-8 (its own storage for ASCII, cached by the str
 * otherwise), or bytes the caller encoded. A str with a lone surrogate has no UTF-8: it
 * is passed as the invalid UTF-8 that "surrogatepass" makes, which the library refuses as
 * it refuses any other invalid text, as the rest of the binding does. `*owner` is a new
 * reference to the object holding the bytes. */
static int code_bytes(PyObject *code, PyObject **owner, const char **data, Py_ssize_t *len) {
    if (PyUnicode_Check(code)) {
        *data = PyUnicode_AsUTF8AndSize(code, len);
        if (*data != NULL) {
            Py_INCREF(code);
            *owner = code;
            return 0;
        }
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return -1;
        }
        PyErr_Clear();
        *owner = PyUnicode_AsEncodedString(code, "utf-8", "surrogatepass");
        if (*owner == NULL) {
            return -1;
        }
    } else if (PyBytes_Check(code)) {
        Py_INCREF(code);
        *owner = code;
    } else {
        PyErr_Format(PyExc_TypeError, "code must be str, not %.100s", Py_TYPE(code)->tp_name);
        return -1;
    }
    *data = PyBytes_AS_STRING(*owner);
    *len = PyBytes_GET_SIZE(*owner);
    return 0;
}

static int arity(const char *name, Py_ssize_t nargs, Py_ssize_t expected) {
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments, not %zd", name, expected, nargs);
        return -1;
    }
    return 0;
}

/* totp_verify(key, code, t, last_step or None) -> Valid, INVALID or REPLAYED */
static PyObject *totp_verify(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    uint64_t t = 0;
    uint64_t last = 0;
    if (arity("totp_verify", nargs, 4) < 0 || u64(args[2], &t) < 0) {
        return NULL;
    }
    bool has_last = args[3] != Py_None;
    if (has_last && u64(args[3], &last) < 0) {
        return NULL;
    }
    Py_buffer key;
    PyObject *owner = NULL;
    const char *code = NULL;
    Py_ssize_t len = 0;
    if (key_view(args[0], sizeof(otp_totp), &key) < 0) {
        return NULL;
    }
    if (code_bytes(args[1], &owner, &code, &len) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    uint64_t step = 0;
    int64_t drift = 0;
    otp_status status = otp_totp_verify((const otp_totp *)key.buf, code, (size_t)len, t, has_last,
                                        last, &step, &drift);
    Py_DECREF(owner);
    PyBuffer_Release(&key);
    return outcome(status, true, step, drift);
}

/* hotp_verify(key, code, counter) -> Valid or INVALID */
static PyObject *hotp_verify(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    uint64_t counter = 0;
    if (arity("hotp_verify", nargs, 3) < 0 || u64(args[2], &counter) < 0) {
        return NULL;
    }
    Py_buffer key;
    PyObject *owner = NULL;
    const char *code = NULL;
    Py_ssize_t len = 0;
    if (key_view(args[0], sizeof(otp_hotp), &key) < 0) {
        return NULL;
    }
    if (code_bytes(args[1], &owner, &code, &len) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    uint64_t matched = 0;
    int64_t drift = 0;
    otp_status status =
        otp_hotp_verify((const otp_hotp *)key.buf, code, (size_t)len, counter, &matched, &drift);
    Py_DECREF(owner);
    PyBuffer_Release(&key);
    return outcome(status, false, matched, drift);
}

/* The arguments of the generate functions, (key, number): the key's buffer (released by
 * the caller) and the number. */
static int generate_args(const char *name, PyObject *const *args, Py_ssize_t nargs,
                         Py_ssize_t size, Py_buffer *key, uint64_t *number) {
    if (arity(name, nargs, 2) < 0 || u64(args[1], number) < 0) {
        return -1;
    }
    return key_view(args[0], size, key);
}

static PyObject *code_text(otp_status status, const char *code, size_t len) {
    if (status != OTP_OK) {
        return raise_status(status);
    }
    return PyUnicode_DecodeASCII(code, (Py_ssize_t)len, NULL);
}

/* totp_generate(key, t) -> the code at Unix time t */
static PyObject *totp_generate(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    Py_buffer key;
    uint64_t t = 0;
    if (generate_args("totp_generate", args, nargs, sizeof(otp_totp), &key, &t) < 0) {
        return NULL;
    }
    char code[OTP_CODE_BUFFER_SIZE];
    size_t len = 0;
    otp_status status = otp_totp_generate((const otp_totp *)key.buf, t, code, sizeof code, &len);
    PyBuffer_Release(&key);
    return code_text(status, code, len);
}

/* totp_generate_at_step(key, step) -> the code of time step `step` */
static PyObject *totp_generate_at_step(PyObject *module, PyObject *const *args,
                                       Py_ssize_t nargs) {
    (void)module;
    Py_buffer key;
    uint64_t step = 0;
    if (generate_args("totp_generate_at_step", args, nargs, sizeof(otp_totp), &key, &step) < 0) {
        return NULL;
    }
    char code[OTP_CODE_BUFFER_SIZE];
    size_t len = 0;
    otp_status status =
        otp_totp_generate_at_step((const otp_totp *)key.buf, step, code, sizeof code, &len);
    PyBuffer_Release(&key);
    return code_text(status, code, len);
}

/* hotp_generate(key, counter) -> the code for `counter` */
static PyObject *hotp_generate(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    Py_buffer key;
    uint64_t counter = 0;
    if (generate_args("hotp_generate", args, nargs, sizeof(otp_hotp), &key, &counter) < 0) {
        return NULL;
    }
    char code[OTP_CODE_BUFFER_SIZE];
    size_t len = 0;
    otp_status status =
        otp_hotp_generate((const otp_hotp *)key.buf, counter, code, sizeof code, &len);
    PyBuffer_Release(&key);
    return code_text(status, code, len);
}

static PyMethodDef methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL, NULL},
    {"totp_verify", (PyCFunction)(void (*)(void))totp_verify, METH_FASTCALL, NULL},
    {"hotp_verify", (PyCFunction)(void (*)(void))hotp_verify, METH_FASTCALL, NULL},
    {"totp_generate", (PyCFunction)(void (*)(void))totp_generate, METH_FASTCALL, NULL},
    {"totp_generate_at_step", (PyCFunction)(void (*)(void))totp_generate_at_step, METH_FASTCALL,
     NULL},
    {"hotp_generate", (PyCFunction)(void (*)(void))hotp_generate, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "otpcore._hot",
    "TOTP and HOTP generate and verify over otpcore's C API, without cffi's per-call cost.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__hot(void) {
    step_name = PyUnicode_InternFromString("step");
    drift_name = PyUnicode_InternFromString("drift");
    if (step_name == NULL || drift_name == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
