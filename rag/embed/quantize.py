"""Which precision a CPU runs a model in fastest, and post-training int8 quantization of an OpenVINO IR.

`choose_precision` maps CPU flags to a precision (a table, measured; see docs/performance.md);
`quantize_int8` turns any float IR plus calibration inputs into an int8 IR with NNCF. Neither
knows about embedders: the span reader can use them the same way.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError

PRECISIONS = ("auto", "bf16", "int8", "f32")

# First match wins. bf16 where the CPU computes it natively (AMX, AVX512-BF16: vectors within 1e-4
# cosine of float32); int8 where it has VNNI (8-bit dot products in one instruction); float32 on
# AVX2 alone, where OpenVINO's int8 kernels (vpmaddubsw, which saturates) ran slower than float32
# and farther from it (measured with oneDNN held to AVX2: 0.65x the speed, cosine 0.986).
CHOICES = (
    (("amx_bf16",), "bf16", "AMX"),
    (("avx512_bf16",), "bf16", "AVX512-BF16"),
    (("avx512_vnni",), "int8", "AVX512-VNNI"),
    (("avx_vnni",), "int8", "AVX-VNNI"),
    ((), "f32", "no bf16 or VNNI"),
)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The first processor's flags as Linux lists them; empty where there is no /proc/cpuinfo."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def choose_precision(flags: Iterable[str]) -> tuple[str, str]:
    """(precision, why) for a CPU with these flags: the first row of CHOICES whose flags it has."""
    have = set(flags)
    for needs, precision, why in CHOICES:
        if all(f in have for f in needs):
            return precision, why
    raise AssertionError("CHOICES ends with a catch-all row")  # pragma: no cover


def quantize_int8(xml: Path, calibration: Sequence[dict[str, np.ndarray]], out: Path, *,
                  transformer: bool = True) -> Path:
    """Write `out` (an IR .xml and its .bin): the model at `xml` with weights and activations in int8,
    its ranges measured on `calibration` (feeds, one dict of input name -> array per sample).
    `transformer` keeps the parts NNCF leaves in float for transformers (softmax, layer norm) and
    skips SmoothQuant."""
    try:
        import nncf
        import openvino as ov
    except ImportError as err:
        raise MissingDependencyError("nncf (to quantize the model to int8 once)", "pip install nncf") from err
    import logging

    logging.getLogger("nncf").setLevel(logging.ERROR)
    model = ov.Core().read_model(str(xml))
    names = {i.any_name for i in model.inputs}
    feeds = [{k: v for k, v in feed.items() if k in names} for feed in calibration]
    options: dict = {}
    if transformer:
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

        # no SmoothQuant: calibrated on news, MiniLM's SciFact vectors came out closer to float32 without it
        # (cosine min 0.991 / mean 0.995, against 0.971 / 0.991) and quantizing took 28 s, not 129 s
        options = {"model_type": nncf.ModelType.TRANSFORMER, "advanced_parameters": AdvancedQuantizationParameters(
            smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1))}
    # NNCF draws its progress bars on stdout, which a --json command keeps for its answer
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        quantized = nncf.quantize(model, nncf.Dataset(feeds), subset_size=len(feeds), **options)
    ov.save_model(quantized, str(out), compress_to_fp16=False)
    return out
