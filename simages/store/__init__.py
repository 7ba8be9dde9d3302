"""The feature store: one compressed `.npz` per set in `features/`, written atomically."""
