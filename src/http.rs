//! Outbound HTTP clients (Twilio, the LLM and embeddings endpoints, operators' webhook
//! receivers) all start from [`client_builder`].
//!
//! TLS is rustls with the `ring` crypto provider. reqwest is built without a provider of
//! its own (its default, aws-lc-rs, is a second crypto library with a long C build), so
//! one has to be installed for the process before the first client is built; this is
//! the one place that does it.

use std::sync::Once;

/// A `reqwest::ClientBuilder` with the process's TLS provider installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// Makes `ring` the process-wide rustls provider, once. Idempotent, and harmless when
/// something else installed one first: reqwest uses whichever is installed.
pub fn install_tls_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already the default; that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_and_speaks_tls() {
        let client = client_builder().https_only(true).build();
        assert!(client.is_ok(), "{client:?}");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
