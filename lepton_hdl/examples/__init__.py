"""Built-in example models. ``lepton-hdl compile digits`` uses ``digits.factory``."""
