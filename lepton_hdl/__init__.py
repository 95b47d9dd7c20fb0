"""lepton_hdl."""
