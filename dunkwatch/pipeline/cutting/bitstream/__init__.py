"""H.264 and HEVC bitstreams as bytes: parameter sets merged and renumbered, slice headers
rewritten (pure), over dunkwatch.nal_bits."""
