"""`zhiku train sft` for real on a tiny Qwen2 (tests/train/conftest.py): prepare -> a few LoRA steps ->
checkpoint -> resume -> adapter, Ctrl-C saving a checkpoint, and the settings' one-line refusals."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import ZHIKU
from tests.cli.conftest import run as run_cli

LAW = Path(__file__).resolve().parents[2] / "samples" / "laws" / "社会法" / "劳动合同法(2012-12-28).md"


def zhiku(home: Path, *args: str, check: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    return run_cli(home, *args, check=check, timeout=900, **env)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Short continuation samples from a real statute (the tiny model's cost is its 152k-word output layer)."""
    home = tmp_path_factory.mktemp("sft_home")
    out = home / "data"
    zhiku(home, "train", "prepare", "--from", "text", str(LAW), "--chunk-size", "60", "--sample", "--out", str(out))
    return home, out


def _progress(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "progress.jsonl").read_text().splitlines()]


def test_sft_checkpoints_resumes_and_saves_the_adapter(tiny_qwen, dataset, tmp_path):
    home, data = dataset
    run = tmp_path / "run"
    common = ["train", "sft", "--base", str(tiny_qwen), "--data", str(data), "--out", str(run), "--batch-size", "2",
              "--grad-accum", "1", "--max-len", "64", "--save-steps", "2", "--eval-steps", "2", "--json"]
    first = json.loads(zhiku(home, *common, "--max-steps", "2").stdout)
    assert first["steps"] == 2 and (run / "checkpoint-2").is_dir() and not first["resumed"]
    assert first["config"]["lora_r"] == 16 and first["config"]["target_modules"] == ["q_proj", "k_proj", "v_proj",
                                                                                      "o_proj"]
    # a second run into the same directory must say how to continue, not overwrite
    p = zhiku(home, *common, "--max-steps", "4", check=2)
    assert "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    second = json.loads(zhiku(home, *common, "--max-steps", "4", "--resume").stdout)
    assert second["resumed"] and second["steps"] == 4 and (run / "checkpoint-4").is_dir()
    steps = [r["step"] for r in _progress(run) if "loss" in r]
    assert steps == [1, 2, 3, 4]  # the resumed run went on from step 3, it did not start over
    evals = [r for r in _progress(run) if "eval_loss" in r]
    assert evals and all(r["eval_loss"] > 0 for r in evals)
    assert len({r["step"] for r in evals}) == len(evals)  # the final eval loss is the trainer's, not a second pass
    assert all(r["tokens_per_s"] > 0 for r in _progress(run)[1:])
    adapter = run / "adapter"
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["r"] == 16 and cfg["lora_alpha"] == 32 and (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((run / "run.json").read_text())["steps"] == 4

    # the adapter changes the model: LoRA's B starts at zero, so after training it must not be
    from safetensors.torch import load_file

    weights = load_file(adapter / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in weights.items())


def test_ctrl_c_saves_a_checkpoint(tiny_qwen, dataset, tmp_path):
    home, data = dataset
    run = tmp_path / "run"
    p = subprocess.Popen(ZHIKU + ["--home", str(home), "train", "sft", "--base", str(tiny_qwen), "--data", str(data),
                                  "--out", str(run), "--batch-size", "1", "--grad-accum", "1", "--max-len", "64",
                                  "--max-steps", "200", "--save-steps", "1000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while not ((run / "progress.jsonl").is_file() and _progress(run)) and p.poll() is None:
        assert time.time() < deadline
        time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, stderr = p.communicate(timeout=600)
    assert p.returncode == 130, stderr[-3000:]
    ckpts = list(run.glob("checkpoint-*"))
    assert len(ckpts) == 1 and 1 <= int(ckpts[0].name.split("-")[1]) < 200
    assert f"checkpoint saved at {ckpts[0]}" in stderr and not (run / "adapter").exists()


def _no_room(limit: int):
    """A file-size limit in the child: a write past it fails with EFBIG, as a full disk fails with ENOSPC."""
    import resource

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer instead of failing it
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_at_the_checkpoint_is_one_line_and_leaves_nothing_half_written(tiny_qwen, dataset, tmp_path):
    home, data = dataset
    common = ["train", "sft", "--base", str(tiny_qwen), "--data", str(data), "--batch-size", "1", "--grad-accum",
              "1", "--max-len", "64", "--max-steps", "2", "--save-steps", "1"]
    run = tmp_path / "run"
    # the checkpoint's tokenizer.json (~7 MB) does not fit under 1 MB: the first save fails
    p = subprocess.run(ZHIKU + ["--home", str(home), *common, "--out", str(run)], capture_output=True, text=True,
                       timeout=600, preexec_fn=_no_room(2**20))
    assert p.returncode == 8 and "no room to write the checkpoint" in p.stderr, p.stderr[-3000:]
    assert "run it again" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not run.exists()  # this run made the directory and nothing resumable was in it
    # with a complete checkpoint in place, a later save that fails keeps it and says how to continue
    zhiku(home, *common, "--out", str(run), "--max-steps", "1")
    p = subprocess.run(ZHIKU + ["--home", str(home), *common, "--out", str(run), "--resume"], capture_output=True,
                       text=True, timeout=600, preexec_fn=_no_room(2**20))
    assert p.returncode == 8 and "--resume (from checkpoint-1)" in p.stderr, p.stderr[-3000:]
    assert sorted(x.name for x in run.glob("checkpoint-*")) == ["checkpoint-1"]
    assert (run / "checkpoint-1" / "trainer_state.json").is_file() and not (run / "adapter").exists()


@pytest.mark.parametrize("case", ["unknown_key", "qlora", "no_base", "bad_type"])
def test_sft_refusals_are_one_line(dataset, tmp_path, case):
    import torch

    home, data = dataset
    cfg = tmp_path / "sft.toml"
    cfg.write_text({"unknown_key": "[sft]\nlora_rank = 8\n", "bad_type": "lora_r = 'big'\n"}.get(case, "lr = 1e-4\n"))
    extra = {"qlora": ["--qlora"], "no_base": ["--base", str(tmp_path / "nope")]}.get(case, [])
    if case == "qlora" and torch.cuda.is_available():
        pytest.skip("--qlora is refused only without CUDA")
    p = zhiku(home, "train", "sft", "--config", str(cfg), "--data", str(data), "--out", str(tmp_path / "run"),
              *extra, check=None)
    want = {"unknown_key": "unknown key 'lora_rank'", "qlora": "--qlora needs a CUDA GPU",
            "no_base": "not a bundled model", "bad_type": "lora_r must be int"}[case]
    assert p.returncode == 2 and want in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_one_lora_step_on_the_bundled_model(dataset, tmp_path):
    """The bundled 0.5B's HF weights derived offline from its GGUF (cached under ZHIKU_HOME), then a LoRA step."""
    home, data = dataset
    r = json.loads(zhiku(home, "train", "sft", "--base", "qwen2.5-0.5b", "--data", str(data), "--out",
                         str(tmp_path / "run"), "--batch-size", "1", "--grad-accum", "1", "--max-len", "64",
                         "--max-steps", "1", "--save-steps", "1", "--json").stdout)
    base = home / "train" / "base" / "qwen2.5-0.5b"
    assert r["steps"] == 1 and r["base"] == str(base) and 0 < r["train_loss"] < 10  # a trained model, not random
    assert json.loads((base / "config.json").read_text())["num_hidden_layers"] == 24
    assert not [p for p in base.parent.iterdir() if p.name.startswith(".")]  # no temp directory left


def test_top_layers_adapts_only_the_top_of_the_model(tiny_qwen, dataset, tmp_path):
    """`top_layers` puts LoRA on the last N layers only (the backward pass stops there); more than the model has
    is a one-line refusal with nothing written."""
    from safetensors.torch import load_file

    home, data = dataset
    common = ["train", "sft", "--base", str(tiny_qwen), "--data", str(data), "--batch-size", "2", "--grad-accum", "1",
              "--max-len", "64", "--max-steps", "1", "--json"]
    info = json.loads(zhiku(home, *common, "--out", str(tmp_path / "run"), "--set", "top_layers=1").stdout)
    assert info["config"]["top_layers"] == 1 and not info["config"]["gradient_checkpointing"]
    names = load_file(tmp_path / "run" / "adapter" / "adapter_model.safetensors").keys()
    assert names and all(".layers.1." in k for k in names), sorted(names)

    p = zhiku(home, *common, "--out", str(tmp_path / "too_many"), "--set", "top_layers=3", check=None)
    assert p.returncode == 2 and "top_layers = 3" in p.stderr and "has 2 layers" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "too_many").exists()
