# The service image: a release build with TLS to PostgreSQL, on a slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
COPY config config
COPY openapi openapi
RUN cargo build --release --locked --features postgres-tls \
 && strip target/release/sportello

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /app sportello
WORKDIR /app
COPY --from=build /src/target/release/sportello /usr/local/bin/sportello
COPY config config
RUN mkdir -p data && chown sportello data
USER sportello
# production: JSON logs, listen on all interfaces, and refuse to start without a JWT secret.
ENV APP_ENV=production
EXPOSE 8080
ENTRYPOINT ["sportello"]
CMD ["serve"]
