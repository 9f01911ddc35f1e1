# Builds the `vigil` server and the `vigil-agent` binaries.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin vigil --bin vigil-agent

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/vigil /src/target/release/vigil-agent /usr/local/bin/
COPY config/vigil.toml /etc/vigil/vigil.toml
ENTRYPOINT ["vigil"]
