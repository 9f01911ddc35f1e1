//! vigil-collector (being written).
