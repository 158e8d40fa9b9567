# One image for the backend, the gateway, the simulators and `sangsach devices`:
# `sangsach <command>`. The healthchecks depend on the command: each service has its own in
# docker-compose.yml.
# The base of both stages: an exact Python and Debian release, pinned to the digest of its
# multi-platform index; scripts/pin-images.sh moves it (docs/deploy.md, "Images").
FROM python:3.11.16-slim-trixie@sha256:be1575ed968de893bd54f4c56315ff7c4736ce522c1bca08fd521731aafc0d76 AS base

FROM base AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY sangsach ./sangsach
COPY gateway ./gateway
COPY backend ./backend
COPY simulators ./simulators
# A virtual environment with the pinned dependencies; the final image gets only this folder.
RUN python -m venv /opt/sangsach && /opt/sangsach/bin/pip install -c constraints.txt .

FROM base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/sangsach/bin:$PATH \
    SANGSACH_DATA_DIR=/data
COPY --from=build /opt/sangsach /opt/sangsach
# The report's PDF: WeasyPrint lays it out with Pango, in DejaVu (a font with Vietnamese letters).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
# Not root. The group has Mosquitto's gid (1883 in its image): the broker reads the password
# file and the ACL that `sangsach devices` writes group-readable (0640) in /broker. /data (the
# databases: names, phone numbers, SMS; the spool) is the service user's alone, 0700; a new
# volume mounted there takes this mode, and `sangsach` itself runs with the umask 077.
RUN groupadd --system --gid 1883 broker \
    && useradd --system --uid 10001 --gid broker --home-dir /data --shell /usr/sbin/nologin sangsach \
    && mkdir -p /data /broker && chown sangsach:broker /data /broker \
    && chmod 0700 /data && chmod 0750 /broker
USER sangsach
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["sangsach"]
CMD ["--help"]
