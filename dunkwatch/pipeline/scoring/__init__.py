"""What scores frames: reading them (decode), the motion model and its empty scene, remembered
courts, the person detector and its looks, the cnn behind the motion gate, which scorer a video
gets, and segments from scores (pure)."""
