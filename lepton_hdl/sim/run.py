"""Result of streaming frames through a block, from either simulator."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StreamResult:
    """Output beats, the cycle each was accepted, and the cycle the first input was accepted."""
    beats: list
    cycles: list
    first_in: int = 0
    wall_s: float = 0.0
    sim_cycles: int = 0
    extra: dict = field(default_factory=dict)

    def frame_ends(self, beats_per_frame: int) -> list:
        return [self.cycles[i] for i in range(beats_per_frame - 1, len(self.cycles), beats_per_frame)]

    def steady_period(self, beats_per_frame: int) -> float:
        """Mean cycles between consecutive frame completions over the second half of the frames
        (back-to-back frames; the first half lets FIFOs and bursts settle)."""
        ends = self.frame_ends(beats_per_frame)
        if len(ends) < 2:
            raise ValueError("need at least two frames for a steady-state period")
        h = min(len(ends) // 2, len(ends) - 2)
        return (ends[-1] - ends[h]) / (len(ends) - 1 - h)
