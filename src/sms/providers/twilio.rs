//! Placeholder: the Twilio REST provider lands here.
