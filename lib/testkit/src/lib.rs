//! vigil-testkit (being written).
