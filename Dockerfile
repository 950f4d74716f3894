# rustnet in a container. UNVERIFIED: no Docker engine was available where this was written.
#   docker build -t rustnet .
#   docker run --rm -it --net=host --cap-add=NET_RAW --cap-add=NET_ADMIN rustnet [OPTIONS]
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/rustnet
COPY pyproject.toml README.md LICENSE ./
COPY lib ./lib
COPY cmds ./cmds
# The pcapy-ng wheel bundles libpcap, so no compiler or libpcap-dev is needed.
RUN python3 -m venv /opt/rustnet/venv \
    && /opt/rustnet/venv/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && rm -rf /opt/rustnet/lib /opt/rustnet/cmds

ENV PATH=/opt/rustnet/venv/bin:$PATH \
    TERM=xterm-256color
ENTRYPOINT ["rustnet"]
