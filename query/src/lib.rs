//! vigil-query (being written).
