//! Placeholder: the log provider lands here.
