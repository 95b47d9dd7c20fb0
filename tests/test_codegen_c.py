"""The firmware's C reference (generated from the parameter objects) compiled with the host's
gcc: bit-exact to the golden model on every element, for every zoo model and digits."""
import shutil
import subprocess

import numpy as np
import pytest

import lepton_hdl
from conftest import require_tool
from lepton_hdl.codegen_c import model_c
from lepton_hdl.examples import digits, zoo

HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include "model.h"
int main(void) {
  static model_in_t x[MODEL_IN_SIZE];
  static int32_t y[MODEL_OUT_SIZE];
  int n;
  if (scanf("%d", &n) != 1) return 2;
  for (int k = 0; k < n; k++) {
    for (int i = 0; i < MODEL_IN_SIZE; i++) { int v; if (scanf("%d", &v) != 1) return 2; x[i] = v; }
    model_infer(x, y);
    for (int i = 0; i < MODEL_OUT_SIZE; i++) printf("%d ", (int)y[i]);
    printf("\n");
  }
  return 0;
}
"""


def _run_c(pipe, q, tmp_path):
    require_tool("gcc")
    h, c = model_c(pipe)
    (tmp_path / "model.h").write_text(h)
    (tmp_path / "model.c").write_text(c)
    (tmp_path / "main.c").write_text(HARNESS)
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", "ref", "main.c", "model.c"], cwd=tmp_path, check=True)
    inp = f"{len(q)}\n" + "\n".join(" ".join(str(int(v)) for v in xi.reshape(-1)) for xi in q) + "\n"
    out = subprocess.run(["./ref"], cwd=tmp_path, input=inp, capture_output=True, text=True, check=True).stdout
    return np.array([[int(v) for v in line.split()] for line in out.splitlines()])


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
    got = _run_c(pipe, q, tmp_path)
    assert got.shape == want.shape and np.array_equal(got, want), \
        f"{name}: first mismatch at {np.argwhere(got != want)[0] if got.shape == want.shape else got.shape}"
