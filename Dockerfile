# perfloop: one image for the API, the worker and the migrations Job.
#   docker build -t perfloop .
#   docker run perfloop api | worker | db upgrade
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY perfloop ./perfloop
COPY definitions ./definitions
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY store ./store
RUN python -m venv /opt/perfloop \
 && /opt/perfloop/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/perfloop/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/perfloop --create-home perfloop
COPY --from=build /opt/perfloop /opt/perfloop
ENV PATH=/opt/perfloop/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PERFLOOP_HOME=/var/lib/perfloop \
    PERFLOOP_ENVIRONMENT=production \
    PERFLOOP_API_HOST=0.0.0.0 \
    PERFLOOP_API_PORT=8000 \
    PERFLOOP_SDK_METRICS_ADDRESS=0.0.0.0:9464 \
    PERFLOOP_LOG_FORMAT=json
USER 10001
WORKDIR /var/lib/perfloop
EXPOSE 8000 9464
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)" || exit 1
ENTRYPOINT ["perfloop"]
CMD ["api"]
