//! Placeholder: Twilio webhook parsing and signatures land here.
