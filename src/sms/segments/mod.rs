//! Placeholder: GSM-7/UCS-2 segment counting lands here.
