"""The benchmark behind `scripts/bench`: Dispatch against ceilings measured on the same machine."""
