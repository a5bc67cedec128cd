"""Choosing the mixed-precision policy.

Measured on this project's CPU (docs/bench.md): mixed_bfloat16 is 1.3-1.8x
faster than float32 where the CPU has native bf16 instructions, while
mixed_float16 is 8-13x SLOWER on a CPU. So "auto" is float16 only on a GPU.
"""

import contextlib

import keras
import tensorflow as tf

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_supports_bfloat16():
    """True if /proc/cpuinfo lists a native bf16 instruction set."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in CPU_BF16_FLAGS)


def resolve_precision(requested):
    """'auto' -> mixed_float16 on a GPU, mixed_bfloat16 on a bf16 CPU, else float32."""
    if requested != "auto":
        return requested
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_supports_bfloat16() else "float32"


@contextlib.contextmanager
def float32_policy():
    """Builds and loads under the float32 policy, restoring the global one afterwards.

    A colorizer is float32 whatever it was trained in; a .keras file built
    under a mixed policy, or reloaded under one, would compute in bf16/float16.
    """
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)


def set_precision(requested):
    """Sets the global Keras dtype policy; returns the policy name used."""
    policy = resolve_precision(requested)
    keras.mixed_precision.set_global_policy(policy)
    return policy
