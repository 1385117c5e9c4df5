"""Sales reported by shops and agents, synchronously or accepted at once and registered later."""
