"""Kept for migration 0003, which (like every applied migration, unchanged) imports its settings
from here; the settings themselves live in dispatch.platform.config."""

from dispatch.platform.config import load_settings

__all__ = ["load_settings"]
