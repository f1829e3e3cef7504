"""H.264 and HEVC bitstreams as bytes: parameter sets merged and renumbered, slice headers
rewritten (pure), over nal_bits."""
