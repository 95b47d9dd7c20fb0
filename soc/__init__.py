"""The LiteX SoC around a compiled pipeline: DMA + CSR + IRQ accelerator, VexRiscv, firmware."""
