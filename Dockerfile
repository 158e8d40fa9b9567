# One image for the backend, the gateway and the simulators: `sangsach <command>`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sangsach ./sangsach
COPY gateway ./gateway
COPY backend ./backend
COPY simulators ./simulators
RUN pip install . && useradd --system --uid 10001 --home /data sangsach \
    && mkdir -p /data && chown sangsach /data
USER sangsach
ENV SANGSACH_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["sangsach"]
CMD ["--help"]
