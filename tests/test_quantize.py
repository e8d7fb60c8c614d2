"""The per-CPU precision choice (a table over given flag sets) and reading /proc/cpuinfo's flags."""

from __future__ import annotations

import pytest

from rag.embed.embedders import OpenVINOEmbedder
from rag.errors import ConfigError
from rag.embed.quantize import choose_precision, cpu_flags
from rag.settings import Settings

AVX2 = "fpu sse sse2 ssse3 sse4_1 sse4_2 fma avx f16c avx2 bmi1 bmi2"
ZEN4 = AVX2 + " avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni"  # AMD EPYC 9004
SAPPHIRE_RAPIDS = ZEN4 + " amx_bf16 amx_tile amx_int8"
CASCADE_LAKE = AVX2 + " avx512f avx512bw avx512vl avx512_vnni"
ALDER_LAKE = AVX2 + " avx_vnni"


@pytest.mark.parametrize(("flags", "precision", "why"), [
    (SAPPHIRE_RAPIDS, "bf16", "AMX"),
    (ZEN4, "bf16", "AVX512-BF16"),
    (CASCADE_LAKE, "int8", "AVX512-VNNI"),
    (ALDER_LAKE, "int8", "AVX-VNNI"),
    (AVX2, "f32", "no bf16 or VNNI"),
    ("", "f32", "no bf16 or VNNI"),  # no /proc/cpuinfo: nothing is assumed
])
def test_precision_is_chosen_from_the_cpu_flags(flags, precision, why):
    assert choose_precision(flags.split()) == (precision, why)


def test_the_embedder_takes_the_choice_unless_a_setting_overrides_it(tmp_path):
    def runs_in(precision, flags):
        return OpenVINOEmbedder("all-MiniLM-L6-v2", cache_dir=tmp_path, precision=precision,
                                flags=frozenset(flags.split())).runs_in

    assert runs_in("auto", CASCADE_LAKE) == "openvino int8 (AVX512-VNNI)"
    assert runs_in("auto", AVX2) == "openvino f32 (no bf16 or VNNI)"
    assert runs_in("int8", AVX2) == "openvino int8 (set)"
    assert runs_in("f32", SAPPHIRE_RAPIDS) == "openvino f32 (set)"
    assert not list(tmp_path.iterdir())  # choosing exports nothing
    with pytest.raises(ConfigError, match="unknown embedding_precision 'int4'; known: auto, bf16, int8, f32"):
        Settings(embedding_precision="int4")


def test_cpu_flags_reads_the_first_processor(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_vnni\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_vnni"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
