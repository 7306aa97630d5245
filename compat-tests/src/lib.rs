//! Harness for compat tests.
