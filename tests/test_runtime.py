import pytest

import cnncourse
from cnncourse import runtime
from cnncourse.runtime import Device, choose_precision


def cpu(*flags):
    return Device("CPU", "CPU x2", 1, None, frozenset(flags))


@pytest.mark.parametrize("device, expected", [
    (cpu("avx2", "amx_bf16", "amx_tile"), "mixed_bfloat16"),
    (cpu("avx512f", "avx512_bf16"), "mixed_bfloat16"),
    (cpu("avx2", "fma"), "float32"),
    (cpu(), "float32"),
    (Device("GPU", "NVIDIA H100", 1, (9, 0)), "mixed_float16"),
    (Device("GPU", "Tesla T4", 1, (7, 5)), "mixed_float16"),
    (Device("GPU", "Tesla K80", 1, (3, 7)), "float32"),
    (Device("GPU", "unknown", 1, None), "float32"),
])
def test_precision_follows_the_hardware(device, expected):
    assert choose_precision(device) == expected


def test_precision_override_wins_and_is_validated():
    assert choose_precision(cpu("amx_bf16"), "FLOAT32") == "float32"
    assert choose_precision(cpu(), "mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="CNNCOURSE_PRECISION"):
        choose_precision(cpu(), "float8")


def test_a_notebook_can_keep_float32_on_cpus_but_not_on_gpus():
    # depthwise-heavy networks train faster in float32 than in bfloat16 on TensorFlow's CPU kernels
    assert choose_precision(cpu("avx512_bf16"), cpu_bfloat16=False) == "float32"
    assert choose_precision(Device("GPU", "NVIDIA H100", 1, (9, 0)), cpu_bfloat16=False) == "mixed_float16"
    assert choose_precision(cpu("avx512_bf16"), "mixed_bfloat16", cpu_bfloat16=False) == "mixed_bfloat16"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx512_bf16 amx_bf16\n\n")
    assert runtime.read_cpu_flags(info) == {"fpu", "sse2", "avx512_bf16", "amx_bf16"}
    assert runtime.read_cpu_flags(tmp_path / "missing") == frozenset()


def test_device_description_names_bf16_features():
    assert cpu("amx_bf16", "avx512_bf16").describe() == "CPU x2 (AMX-BF16, AVX512-BF16)"
    assert Device("GPU", "NVIDIA H100", 2, (9, 0)).describe() == "GPU x2 (NVIDIA H100, cc 9.0)"


def test_banner_format():
    banner = runtime.make_banner({"cnncourse": "0.1.0", "tensorflow": "2.21.0", "keras": "3.15.1"},
                                 cpu("amx_bf16"), "mixed_bfloat16", "class")
    assert banner == ("cnncourse 0.1.0 | TensorFlow 2.21.0, Keras 3.15.1 | CPU x2 (AMX-BF16)"
                      " | precision=mixed_bfloat16 | profile=class")


def test_setup_applies_env_overrides_and_prints_one_line(monkeypatch, capfd, float32_after):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    monkeypatch.setenv("CNNCOURSE_PRECISION", "float32")
    cfg = cnncourse.setup(seed=7, notebook="02_cifar10_overfitting")
    out, err = capfd.readouterr()
    import keras  # after setup(): importing Keras first would import TensorFlow with its start-up noise
    import numpy as np

    assert out.strip().count("\n") == 0 and out.startswith("cnncourse ")
    assert "profile=quick" in out and "precision=float32" in out
    assert "oneDNN" not in err and "cuda" not in err.lower()
    assert (cfg.profile, cfg.precision, cfg.seed) == ("quick", "float32", 7)
    assert cfg.settings == cnncourse.profiles.settings("02_cifar10_overfitting", "quick")
    assert keras.mixed_precision.global_policy().name == "float32"
    first = np.random.rand(3)
    cnncourse.setup(seed=7, verbose=False)
    assert np.allclose(first, np.random.rand(3)), "the same seed must give the same numpy stream"


def test_setup_rejects_an_unknown_profile(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="quick, class, full"):
        cnncourse.setup(verbose=False)


@pytest.mark.parametrize("device, precision, native", [
    (cpu("avx2"), "mixed_float16", False),
    (cpu("avx2"), "mixed_bfloat16", False),
    (cpu("avx512_bf16"), "mixed_bfloat16", True),
    (cpu("avx512_bf16"), "mixed_float16", False),
    (Device("GPU", "Tesla T4", 1, (7, 5)), "mixed_float16", True),
    (Device("GPU", "Tesla T4", 1, (7, 5)), "mixed_bfloat16", False),
    (Device("GPU", "NVIDIA H100", 1, (9, 0)), "mixed_bfloat16", True),
    (Device("GPU", "Tesla K80", 1, (3, 7)), "mixed_float16", False),
    (cpu(), "float32", True),
])
def test_an_override_the_hardware_does_not_run_natively_is_warned_about(device, precision, native):
    warning = runtime.precision_warning(device, precision)
    assert (warning is None) == native
    if warning:
        assert warning.startswith(f"warning: precision={precision} (from CNNCOURSE_PRECISION) is not native on "
                                  f"{device.describe()}: it runs, but slower than precision={choose_precision(device)}")


def test_setup_honours_a_slow_precision_and_warns_once(monkeypatch, capfd, float32_after):
    monkeypatch.setattr(runtime, "_WARNED", set())
    monkeypatch.setattr(runtime, "detect_device", lambda tf=None: cpu("avx2"))
    monkeypatch.setenv("CNNCOURSE_PRECISION", "mixed_float16")
    cfg = cnncourse.setup(seed=1)
    out, err = capfd.readouterr()
    import keras
    assert cfg.precision == "mixed_float16" and keras.mixed_precision.global_policy().name == "mixed_float16"
    assert "precision=mixed_float16 | profile=" in out
    assert err.strip() == ("warning: precision=mixed_float16 (from CNNCOURSE_PRECISION) is not native on CPU x2: it "
                           "runs, but slower than precision=float32, which setup() picks here; unset "
                           "CNNCOURSE_PRECISION to use it")
    cnncourse.setup(seed=1)
    assert capfd.readouterr().err == "", "said once per process"


def test_unknown_settings_are_setting_errors(monkeypatch):
    from cnncourse.errors import CourseError
    monkeypatch.setenv("CNNCOURSE_PRECISION", "bogus")
    with pytest.raises(CourseError, match="CNNCOURSE_PRECISION='bogus' is not a precision"):
        runtime.precision_override()
    with pytest.raises(CourseError, match="CNNCOURSE_PRECISION='bogus'"):
        cnncourse.setup(verbose=False)  # before TensorFlow is imported


def test_setup_silences_only_the_ignored_shuffle_warning():
    import warnings

    import cnncourse

    cnncourse.setup(seed=3, verbose=False)
    with warnings.catch_warnings(record=True) as caught:  # keeps the filters setup() installed
        # setup()'s filter must match Keras' message, and leave every other UserWarning visible
        warnings.warn_explicit("`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
                               "tf.data.Dataset.", UserWarning, "epoch_iterator.py", 74)
        warnings.warn_explicit("something else", UserWarning, "epoch_iterator.py", 75)
    assert [str(w.message) for w in caught] == ["something else"]


def test_setup_precision_argument_fixes_the_policy_and_the_banner_says_so(monkeypatch, capfd, float32_after):
    monkeypatch.delenv("CNNCOURSE_PRECISION", raising=False)
    monkeypatch.setattr(runtime, "detect_device", lambda tf=None: cpu("avx512_bf16"))  # would pick bfloat16
    cfg = cnncourse.setup(seed=1, precision="float32")
    import keras
    assert cfg.precision == "float32" and keras.mixed_precision.global_policy().name == "float32"
    assert "precision=float32 | profile=" in capfd.readouterr().out
    monkeypatch.setenv("CNNCOURSE_PRECISION", "mixed_bfloat16")                     # the environment still wins
    assert cnncourse.setup(seed=1, precision="float32", verbose=False).precision == "mixed_bfloat16"


def test_setup_rejects_an_unknown_precision_argument():
    from cnncourse.errors import CourseError
    with pytest.raises(CourseError, match=r"setup\(precision='fp8'\) is not a precision; choose one of"):
        cnncourse.setup(precision="fp8", verbose=False)
