//! vigil-pipeline (being written).
