"""The bad-input catalogue (docs/errors.md): every user error is one line from the CLI (exit
status 2, no traceback) and a typed exception from the API naming the cause."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lepton_hdl
from lepton_hdl.cli import main
from lepton_hdl.errors import InputError, ModelError, TraceError


def _cli(capsys, *argv):
    rc = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("lepton-hdl: error: ")
    return err


def _tiny():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 3)).eval()
    return m, torch.rand(4, 1, 4, 4)


@pytest.fixture
def factories(tmp_path):
    (tmp_path / "f.py").write_text(
        "import torch\n"
        "def raises():\n    raise RuntimeError('no data here')\n"
        "def wrong():\n    return 42\n"
        "def not_a_model():\n    return ('model', [1.0])\n"
        "broken = 1\n")
    (tmp_path / "bad_import.py").write_text("import no_such_module_xyz\ndef f():\n    pass\n")
    return tmp_path


def test_unknown_model(capsys):
    assert "nosuchmodel" in _cli(capsys, "compile", "nosuchmodel")
    with pytest.raises(ModelError, match="expected one of"):
        from lepton_hdl.models import load
        load("nosuchmodel")


def test_missing_factory_file(capsys):
    assert "does not exist" in _cli(capsys, "compile", "/no/such/file.py:factory")


@pytest.mark.parametrize("func,match", [("raises", "raised RuntimeError: no data here"),
                                        ("wrong", "returned int"),
                                        ("not_a_model", "expected a torch.nn.Module"),
                                        ("broken", "no callable"),
                                        ("absent", "no callable")])
def test_bad_factory(capsys, factories, func, match):
    assert match in _cli(capsys, "compile", f"{factories / 'f.py'}:{func}")


def test_factory_file_that_fails_to_import(capsys, factories):
    assert "No module named 'no_such_module_xyz'" in _cli(capsys, "compile", f"{factories / 'bad_import.py'}:f")


def test_unknown_board(capsys):
    assert "unknown board 'nosuchboard'" in _cli(capsys, "build", "--board", "nosuchboard")
    assert "unknown board 'nosuch'" in _cli(capsys, "soc", "--fit", "nosuch")
    assert "unknown board" in _cli(capsys, "compile", "digits", "--board", "nosuch")


@pytest.mark.parametrize("args", [("--bits", "99"), ("--bits", "1"), ("--w-bits", "9"), ("--a-bits", "0")])
def test_bits_out_of_range(capsys, args):
    assert "out of range" in _cli(capsys, "compile", "digits", *args)


def test_images_and_timeout(capsys):
    assert "--images 0: must be at least 1" in _cli(capsys, "soc", "--images", "0")
    assert "--timeout" in _cli(capsys, "soc", "--timeout", "-1")
    assert "--images" in _cli(capsys, "build", "--board", "ulx3s", "--images", "0")


def test_bad_seed(capsys):
    assert "--seed 'x'" in _cli(capsys, "build", "--board", "colorlight_i5", "--seed", "x")


def test_unwritable_out(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert str(blocker) in _cli(capsys, "compile", "digits", "--out", str(blocker / "sub"))


@pytest.mark.parametrize("args", [("--target-cycles", "-5"), ("--target-cycles", "0"), ("--max-multipliers", "0")])
def test_non_positive_targets(capsys, args):
    assert "must be a positive integer" in _cli(capsys, "compile", "digits", *args)


def test_api_targets():
    m, x = _tiny()
    for kw in (dict(target_cycles=-5), dict(target_cycles=0), dict(max_multipliers=0), dict(target_cycles=2.5)):
        with pytest.raises(InputError, match="positive integer"):
            lepton_hdl.compile(m, x, **kw)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_samples(bad):
    m, x = _tiny()
    x[2, 0, 1, 3] = bad
    kind = "NaN" if bad != bad else "Inf"
    with pytest.raises(InputError, match=rf"samples contain 1 {kind} value\(s\), the first at index \(2, 0, 1, 3\)"):
        lepton_hdl.compile(m, x)


def test_empty_samples():
    m, x = _tiny()
    with pytest.raises(InputError, match="empty batch"):
        lepton_hdl.compile(m, x[:0])


def test_non_finite_weight_named_by_module_path():
    m, x = _tiny()
    with torch.no_grad():
        m[3].weight[1, 4] = float("nan")
    with pytest.raises(InputError, match=r"parameter '3.weight' has 1 NaN value\(s\), the first at index \(1, 4\)"):
        lepton_hdl.compile(m, x)


def test_non_finite_batchnorm_buffer():
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten()).eval()
    m[1].running_var[0] = float("inf")
    with pytest.raises(InputError, match=r"buffer '1.running_var' has 1 Inf"):
        lepton_hdl.compile(m, torch.rand(4, 1, 4, 4))


def test_training_mode_is_compiled_as_eval():
    """The stated rule: a model in training mode is compiled as in eval mode (BatchNorm's
    running statistics, no dropout); the result equals the eval-mode model's."""
    torch.manual_seed(1)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                            torch.nn.Dropout(0.5), torch.nn.Flatten(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.5, 0.5)
        m[1].running_var.uniform_(0.5, 2.0)
    x = torch.rand(6, 1, 4, 4)
    m.train()
    a = lepton_hdl.compile(m, x)
    assert m.training                                   # the caller's model is left as it was
    b = lepton_hdl.compile(m.eval(), x)
    assert np.array_equal(a.golden(x.numpy()), b.golden(x.numpy()))


def test_samples_that_do_not_match_the_model():
    m, _ = _tiny()
    with pytest.raises(TraceError, match=r"sample of shape \(4, 3, 4, 4\)"):
        lepton_hdl.compile(m, torch.rand(4, 3, 4, 4))


def test_not_a_module():
    with pytest.raises(ModelError, match="torch.nn.Module"):
        lepton_hdl.compile("resnet", torch.rand(2, 3))


def test_checks_survive_python_O():
    """No check is an ``assert``: under ``python -O`` bad input is still refused."""
    import subprocess
    import sys
    code = ("import torch, lepton_hdl\n"
            "from lepton_hdl.errors import InputError\n"
            "m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()\n"
            "x = torch.rand(3, 4); x[1, 2] = float('nan')\n"
            "try:\n    lepton_hdl.compile(m, x)\nexcept InputError as e:\n    print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=300)
    assert "refused: calibration samples contain 1 NaN" in r.stdout, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-O", "-m", "lepton_hdl.cli", "compile", "digits", "--bits", "99"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.strip().startswith("lepton-hdl: error:"), r.stderr


def test_version_and_module_entry():
    """``lepton-hdl --version`` and ``python -m lepton_hdl`` (the same command line)."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "lepton_hdl", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"lepton-hdl {lepton_hdl.__version__}", r


def test_accel_mhz_out_of_range(capsys):
    assert "--accel-mhz 5: give 0" in _cli(capsys, "build", "--board", "ulx3s", "--accel-mhz", "5")


def test_samples_only_for_onnx(capsys):
    assert "--samples is for ONNX models" in _cli(capsys, "compile", "digits", "--samples", "x.npy")


def test_missing_torch_is_one_line(tmp_path):
    """`pip install .` without the torch extra: compile says which extra to install, in one line."""
    import subprocess
    import sys
    code = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch' or name.startswith('torch.'):\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "from lepton_hdl.cli import main\n"
            "sys.exit(main(['compile', 'digits', '--out', sys.argv[1]]))\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip() == "lepton-hdl: error: this needs the torch package: pip install 'lepton_hdl[torch]'"
