"""The firmware's C reference (generated from the parameter objects) compiled with the host's
gcc: bit-exact to the golden model on every element, for every zoo model and digits."""
import numpy as np
import pytest

import lepton_hdl
from opcheck import run_c
from lepton_hdl.examples import digits, zoo


@pytest.mark.parametrize("name", list(zoo.NAMES) + ["digits"])
def test_c_reference_bit_exact(name, tmp_path):
    if name == "digits":
        m, cal, (x, _), _ = digits.factory()
    else:
        m, x = zoo.make(name)
        cal = x
    pipe = lepton_hdl.compile(m, cal, max_multipliers=256)
    q = pipe.quantize_input(x[:40])
    want = pipe.golden_int(q).reshape(len(q), -1)
    got = run_c(pipe, q, tmp_path)
    assert got.shape == want.shape and np.array_equal(got, want), \
        f"{name}: first mismatch at {np.argwhere(got != want)[0] if got.shape == want.shape else got.shape}"
