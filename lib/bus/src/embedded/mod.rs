//! The embedded durable log (being written).
