//! Test-support renderer (to be written).
