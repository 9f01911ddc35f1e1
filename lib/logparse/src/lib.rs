//! vigil-logparse (being written).
