"""dunkwatch: turn fixed-camera court footage into clips of the moments a player is in view."""

__version__ = "0.1.0"
