"""Shots at the hoop: the ball's tracks, the hoop where arcs end, attempts and their results
(pure), one clip per attempt, the shooter, and the rim crops the hoop model judges."""
