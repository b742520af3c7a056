"""Call flows: one module per flow, each driving one caller's channel through small states."""
