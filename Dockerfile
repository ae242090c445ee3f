# pgcdc image: a release build of the binary on a slim Debian base.
# Used by docker-compose.yml; build alone with `docker build -t pgcdc .`.

FROM rust:1-bookworm AS build
WORKDIR /src
# librdkafka is built from source by rdkafka-sys; the rust image has the C toolchain,
# cmake is not needed for the default features.
COPY . .
RUN cargo build --release --locked --bin pgcdc

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app pgcdc \
    && mkdir -p /app/data \
    && chown pgcdc /app/data
COPY --from=build /src/target/release/pgcdc /usr/local/bin/pgcdc
# config/ and connectors/ are mounted here; data/ holds the offsets files.
WORKDIR /app
USER pgcdc
# /metrics, /health, /ready (config/pgcdc.toml [http]; compose sets PGCDC_HTTP_LISTEN=0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["pgcdc"]
CMD ["run"]
