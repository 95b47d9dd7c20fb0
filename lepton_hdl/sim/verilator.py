"""Run a stream block as exported Verilog under Verilator.

``build(dut, sinks, source)`` converts the Migen module to Verilog with fixed port names
(``s<i>_valid/ready/data/first/last`` for sinks, ``m_*`` for the source), writes a C++ harness
that drives the sinks and the source's ready with seeded random stalls and records the cycle of
every output beat, and compiles both with Verilator. Builds are cached by content hash.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import re
import subprocess
import tempfile
import time
from pathlib import Path

from migen import ClockDomain, Module, Signal
from litex.gen.fhdl.verilog import convert as _litex_convert

from .run import StreamResult

_FIELDS = ("valid", "ready", "first", "last", "data")


from ..errors import ToolMissing

def cache_dir() -> Path:
    d = Path(os.environ.get("LEPTON_CACHE", Path.home() / ".cache" / "lepton_hdl"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def verilator_bin() -> str:
    exe = shutil.which("verilator")
    if exe is None:
        raise ToolMissing("verilator not found on PATH: run `make setup` (installs Debian's "
                          "verilator) or `apt-get install verilator`")
    return exe


def to_verilog(module, ios, name="top"):
    """Verilog of ``module`` through LiteX's converter (the one LiteX SoCs use), with a ``sys``
    clock domain (``sys_clk``, ``sys_rst`` ports). Returns LiteX's ``ConvOutput``."""
    wrapper = Module()
    wrapper.submodules.dut = module
    wrapper.clock_domains.cd_sys = cd = ClockDomain("sys")
    out = _litex_convert(wrapper, ios=set(ios) | {cd.clk, cd.rst}, name=name, regular_comb=False)
    out = inline_memory_init(out)
    from ..hw.common import logic_multiplier_sources
    out.main_source += logic_multiplier_sources(out.main_source)     # the logic multipliers it uses
    return out


def inline_memory_init(out):
    """Replace each ``$readmemh("file", mem)`` by the file's words as initial assignments, so
    the Verilog is one self-contained file (Yosys and Verilator accept both forms)."""
    src = out.main_source
    for fname, content in sorted(out.data_files.items()):
        pat = re.compile(r'\$readmemh\("' + re.escape(fname) + r'",\s*([\w$]+)\);')
        m = pat.search(src)
        if m is None:
            raise RuntimeError(f"memory init file {fname} is not referenced by the Verilog")
        mem = m.group(1)
        decl = re.search(r"reg\s*\[(\d+):0\]\s*" + re.escape(mem) + r"\s*\[", src)
        width = int(decl.group(1)) + 1 if decl else 1
        words = [w for w in content.split() if w]
        body = "".join(f"\t{mem}[{i}] = {width}'h{w};\n" for i, w in enumerate(words))
        src = src[:m.start()] + body.lstrip("\t").rstrip("\n") + src[m.end():]
    out.main_source = src
    out.data_files = {}
    return out


class StreamTop(Module):
    """Wraps ``dut`` so its stream ports get stable Verilog names."""

    def __init__(self, dut, sinks, source):
        self.submodules.dut = dut
        self.ios = set()
        self.widths = {}
        for prefix, ep, is_sink in [(f"s{i}", ep, True) for i, ep in enumerate(sinks)] + [("m", source, False)]:
            for f in _FIELDS:
                inner = getattr(ep, f)
                outer = Signal(len(inner), name_override=f"{prefix}_{f}")
                self.ios.add(outer)
                self.widths[f"{prefix}_{f}"] = len(inner)
                to_dut = (f != "ready") if is_sink else (f == "ready")
                self.comb += inner.eq(outer) if to_dut else outer.eq(inner)


def _nw(width):
    return (width + 31) // 32


def _setter(name, width):
    if width <= 32:
        return f"static void set_{name}(Vtop* t, const uint32_t* w) {{ t->{name} = w[0]; }}"
    if width <= 64:
        return (f"static void set_{name}(Vtop* t, const uint32_t* w) "
                f"{{ t->{name} = ((uint64_t)w[1] << 32) | w[0]; }}")
    return (f"static void set_{name}(Vtop* t, const uint32_t* w) "
            f"{{ for (int i = 0; i < {_nw(width)}; i++) t->{name}[i] = w[i]; }}")


def _getter(name, width):
    if width <= 32:
        return f"static void get_{name}(Vtop* t, uint32_t* w) {{ w[0] = t->{name}; }}"
    if width <= 64:
        return (f"static void get_{name}(Vtop* t, uint32_t* w) "
                f"{{ w[0] = (uint32_t)t->{name}; w[1] = (uint32_t)(t->{name} >> 32); }}")
    return (f"static void get_{name}(Vtop* t, uint32_t* w) "
            f"{{ for (int i = 0; i < {_nw(width)}; i++) w[i] = t->{name}[i]; }}")


def harness_cpp(n_sinks: int, widths: dict) -> str:
    """C++ testbench: argv = out_file seed valid_pct ready_pct max_cycles n_out in_file..."""
    mw = widths["m_data"]
    lines = [
        "#include <cstdio>", "#include <cstdlib>", "#include <cstdint>", "#include <cstring>",
        "#include <vector>", "#include <string>", '#include "Vtop.h"', '#include "verilated.h"',
        "typedef std::vector<uint32_t> Beat;",
        "static uint64_t rs;",
        "static uint32_t rnd() { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (uint32_t)(rs >> 11); }",
        "static std::vector<Beat> load(const char* fn, int nw) {",
        "  std::vector<Beat> v; FILE* f = fopen(fn, \"r\"); if (!f) { perror(fn); exit(2); }",
        "  char buf[65536];",
        "  while (fgets(buf, sizeof buf, f)) {",
        "    std::string s(buf); while (!s.empty() && (s.back() == '\\n' || s.back() == '\\r')) s.pop_back();",
        "    if (s.empty()) continue; Beat b(nw, 0); int n = s.size();",
        "    for (int i = 0; i < n; i++) { int d = n - 1 - i; char c = s[i];",
        "      uint32_t x = (c >= 'a') ? c - 'a' + 10 : (c >= 'A') ? c - 'A' + 10 : c - '0';",
        "      if (d / 8 < nw) b[d / 8] |= x << (4 * (d % 8)); }",
        "    v.push_back(b); }",
        "  fclose(f); return v; }",
    ]
    for i in range(n_sinks):
        lines.append(_setter(f"s{i}_data", widths[f"s{i}_data"]))
    lines.append(_getter("m_data", mw))
    lines += [
        "int main(int argc, char** argv) {",
        "  Verilated::commandArgs(argc, argv);",
        "  const char* out_fn = argv[1]; rs = strtoull(argv[2], 0, 10) * 2654435761ULL + 88172645463325252ULL;",
        "  int vp = atoi(argv[3]), rp = atoi(argv[4]); long maxc = atol(argv[5]); long n_out = atol(argv[6]);",
        f"  const int NS = {n_sinks};",
        "  std::vector<std::vector<Beat>> in(NS); std::vector<size_t> idx(NS, 0); std::vector<int> val(NS, 0);",
    ]
    for i in range(n_sinks):
        lines.append(f"  in[{i}] = load(argv[7 + {i}], {_nw(widths[f's{i}_data'])});")
    lines += [
        "  Vtop* t = new Vtop;",
        "  t->sys_rst = 1; for (int i = 0; i < 4; i++) { t->sys_clk = 0; t->eval(); t->sys_clk = 1; t->eval(); }",
        "  t->sys_rst = 0;",
        "  FILE* fo = fopen(out_fn, \"w\");",
        f"  uint32_t ow[{_nw(mw)}]; long got = 0, cycle = 0, first_in = -1;",
        "  while (got < n_out && cycle < maxc) {",
        "    for (int i = 0; i < NS; i++)",
        "      if (!val[i] && idx[i] < in[i].size() && (int)(rnd() % 100) < vp) val[i] = 1;",
    ]
    for i in range(n_sinks):
        lines += [
            f"    t->s{i}_valid = val[{i}]; t->s{i}_first = 0; t->s{i}_last = 0;",
            f"    if (val[{i}]) set_s{i}_data(t, in[{i}][idx[{i}]].data());",
        ]
    lines += [
        "    t->m_ready = (int)(rnd() % 100) < rp;",
        "    t->sys_clk = 0; t->eval();",
    ]
    for i in range(n_sinks):
        lines.append(f"    int fire{i} = val[{i}] && t->s{i}_ready;")
    lines += [
        "    if (t->m_valid && t->m_ready) {",
        "      get_m_data(t, ow); fprintf(fo, \"%ld \", cycle);",
        f"      for (int k = {_nw(mw) - 1}; k >= 0; k--) fprintf(fo, \"%08x\", ow[k]);",
        "      fprintf(fo, \"\\n\"); got++; }",
        "    t->sys_clk = 1; t->eval();",
    ]
    for i in range(n_sinks):
        lines.append(f"    if (fire{i}) {{ if (first_in < 0 && {i} == 0) first_in = cycle; idx[{i}]++; val[{i}] = 0; }}")
    lines += [
        "    cycle++;",
        "  }",
        "  fprintf(fo, \"# first_in %ld cycles %ld got %ld\\n\", first_in, cycle, got);",
        "  fclose(fo); t->final(); delete t;",
        "  if (got < n_out) { fprintf(stderr, \"TIMEOUT: %ld/%ld output beats after %ld cycles\\n\", got, n_out, cycle); return 3; }",
        "  return 0; }",
    ]
    return "\n".join(lines) + "\n"


class VerilatorModel:
    """A compiled Verilator simulation of one stream block."""

    def __init__(self, dut, sinks=None, source=None, name="block", jobs=2, log=None):
        sinks = [dut.sink] if sinks is None else list(sinks)
        source = dut.source if source is None else source
        top = StreamTop(dut, sinks, source)
        out = to_verilog(top, top.ios, name="top")
        verilog = str(out)
        harness = harness_cpp(len(sinks), top.widths)
        key = hashlib.sha256((verilog + harness).encode()).hexdigest()[:16]
        self.dir = cache_dir() / "verilator" / f"{name}-{key}"
        self.n_sinks = len(sinks)
        self.exe = self.dir / "obj" / "Vtop"
        self.build_s = 0.0
        if not self.exe.exists():
            exe = verilator_bin()
            self.dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.dir.parent))
            out.write(str(tmp / "top.v"))
            (tmp / "harness.cpp").write_text(harness)
            cmd = [exe, "--cc", "top.v", "--exe", "harness.cpp", "--top-module", "top", "--build",
                   "-j", str(jobs), "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Mdir", "obj",
                   "-CFLAGS", "-O1", "-OPT_FAST", "-O1"]
            if log:
                log(f"[verilator] building {name} ({len(verilog.splitlines())} lines of Verilog)")
            t0 = time.perf_counter()
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"Verilator build of {name} failed in {tmp}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
            self.build_s = time.perf_counter() - t0
            if self.dir.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.rename(self.dir)

    def run(self, inputs: list, n_out: int, seed=0, valid_prob=1.0, ready_prob=1.0,
            max_cycles=50_000_000) -> StreamResult:
        """``inputs``: one list of beats (ints) per sink. Returns beats and their cycles."""
        if len(inputs) != self.n_sinks:
            raise ValueError(f"expected {self.n_sinks} input streams, got {len(inputs)}")
        with tempfile.TemporaryDirectory() as td:
            files = []
            for i, beats in enumerate(inputs):
                fn = Path(td) / f"in{i}.hex"
                fn.write_text("".join(f"{int(b):x}\n" for b in beats))
                files.append(str(fn))
            out_fn = Path(td) / "out.txt"
            cmd = [str(self.exe), str(out_fn), str(seed), str(round(valid_prob * 100)),
                   str(round(ready_prob * 100)), str(max_cycles), str(n_out)] + files
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            text = out_fn.read_text() if out_fn.exists() else ""
            if r.returncode != 0:
                raise TimeoutError(f"Verilator run failed ({r.returncode}): {r.stderr.strip()}")
        res = StreamResult(beats=[], cycles=[], wall_s=wall)
        for line in text.splitlines():
            if line.startswith("#"):
                f = line.split()
                res.first_in, res.sim_cycles = int(f[2]), int(f[4])
                continue
            c, d = line.split()
            res.cycles.append(int(c))
            res.beats.append(int(d, 16))
        return res
