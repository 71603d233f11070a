# The tracelib service: `tracelib serve` (gunicorn) as an unprivileged user.
# docs/operations.md "Containers" describes it with compose.yaml; the systemd unit there is
# the path without containers.
FROM python:3.12-slim-bookworm AS build
WORKDIR /src
# Only what the distribution is built from (no tests, benches, local venvs or databases).
COPY pyproject.toml setup.py README.md LICENSE ./
COPY tracelib ./tracelib
COPY service ./service
COPY cli ./cli
COPY demonet ./demonet
RUN pip install --no-cache-dir --prefix=/install ".[service,postgres,reports]"

FROM python:3.12-slim-bookworm
COPY --from=build /install /usr/local
# A fixed uid, no login shell; the keystore folder exists (0700, owned by the user) so a
# named volume mounted there starts with those rights.
RUN useradd --system --uid 10001 --user-group --home-dir /srv/tracelib --create-home \
        --shell /usr/sbin/nologin tracelib \
    && install -d -m 0700 -o tracelib -g tracelib /srv/tracelib/keys
USER tracelib
WORKDIR /srv/tracelib
ENV PYTHONUNBUFFERED=1 \
    TRACELIB_KEYSTORE=/srv/tracelib/keys
EXPOSE 8000
# Liveness only: /healthz touches no database (readiness is /readyz, for the proxy's checks).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["tracelib"]
# A bind to every interface needs TRACELIB_PUBLIC_URL (the address shoppers reach).
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
