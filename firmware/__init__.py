"""Firmware sources (C) for the LiteX SoC; built by ``lepton_hdl.soc.firmware``."""
from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent
