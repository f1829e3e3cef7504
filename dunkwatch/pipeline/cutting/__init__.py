"""What cuts and writes video: clips (smart, re-encoded or copied), reels, the score timeline and
the editor timelines; the bitstream code under bitstream/."""
