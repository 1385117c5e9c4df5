"""Work orders: the one state machine, who sees which order, booking, repairs, routing."""
