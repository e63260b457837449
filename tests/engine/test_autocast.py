"""Mixed precision: the CPU facts recorded with every run, and the warning on emulated bfloat16."""

import logging

import torch

from owslib.engine import autocast as amp


def _cpuinfo(tmp_path, flags):
    p = tmp_path / f"cpuinfo_{len(flags)}"
    p.write_text(
        "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: "
        + " ".join(flags)
        + "\n\nprocessor\t: 1\nmodel name\t: Test CPU 9000\nflags\t\t: fpu\n"
    )
    return p


def test_cpu_info_reads_the_model_and_native_bf16(tmp_path):
    native = amp.cpu_info(_cpuinfo(tmp_path, ["fpu", "avx2", "avx512f", "amx_bf16"]))
    assert native["cpu"] == "Test CPU 9000" and native["cpu_bf16"] is True
    assert native["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert native["cpu_threads"] == torch.get_num_threads()
    assert amp.cpu_info(_cpuinfo(tmp_path, ["fpu", "avx2"]))["cpu_bf16"] is False
    assert amp.cpu_info(tmp_path / "absent")["cpu_bf16"] is None  # unknown, not False


def test_cpu_info_records_the_instruction_set_caps_in_force(tmp_path, monkeypatch):
    for name in amp.ISA_CAP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert amp.cpu_info(_cpuinfo(tmp_path, ["avx2"]))["cpu_isa_caps"] == {}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "")  # set but empty: no cap
    amp.cpu_info.cache_clear()  # read once per process, as torch reads the caps at start
    assert amp.cpu_info(_cpuinfo(tmp_path, ["avx2"]))["cpu_isa_caps"] == {
        "ONEDNN_MAX_CPU_ISA": "AVX2"
    }


def test_emulated_bf16_warns_once_and_float32_never(monkeypatch, caplog):
    monkeypatch.setattr(
        amp, "cpu_info", lambda: {"cpu": "Test CPU", "cpu_capability": "AVX2", "cpu_bf16": False}
    )
    amp._warn_emulated_bf16.cache_clear()
    cpu = torch.device("cpu")
    with caplog.at_level(logging.WARNING, logger="owslib.engine.autocast"):
        with amp.autocast(cpu, False):
            pass
        assert not caplog.records
        for _ in range(2):
            with amp.autocast(cpu, True):
                assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    (record,) = caplog.records
    assert "without native bfloat16 (Test CPU, AVX2)" in record.getMessage()
    assert "train__amp=false" in record.getMessage()
    amp._warn_emulated_bf16.cache_clear()


def test_native_bf16_does_not_warn(monkeypatch, caplog):
    monkeypatch.setattr(
        amp, "cpu_info", lambda: {"cpu": "x", "cpu_capability": "AVX512", "cpu_bf16": True}
    )
    amp._warn_emulated_bf16.cache_clear()
    with caplog.at_level(logging.WARNING, logger="owslib.engine.autocast"):
        with amp.autocast(torch.device("cpu"), True):
            pass
    assert not caplog.records
