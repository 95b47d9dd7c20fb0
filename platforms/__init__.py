"""Open FPGA boards and the simulator."""
