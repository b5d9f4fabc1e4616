//! Placeholder: compliance keywords land here.
