"""Tools installed in this Python's environment (meson, ninja, yowasp-*) are found like system
ones: by the CLI, and by LiteX's build scripts that call them by name."""
import os
import sys


def env_tools_on_path() -> None:
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
