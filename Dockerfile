# email-workers: the BullMQ email task workers, the monitor and the migrations in one image.
#   DOCKER_BUILDKIT=1 docker build -t email-workers .
# Behind a TLS-intercepting proxy, give npm the proxy's CA as a BuildKit secret (it is never stored in a layer):
#   docker build --secret id=npm_ca,src=/path/to/ca.pem -t email-workers .
# Another base (a mirror, a pinned digest): --build-arg NODE_IMAGE=registry.example.com/node:20-bookworm-slim
ARG NODE_IMAGE=node:20-bookworm-slim

# Install scripts stay off in both installs: nothing in the stack needs them (see STACK.md), and the project's
# own `prepare` (the build) runs as a step of its own. The CA secret is set for the install only.

# ── deps: production dependencies only (no compiler, no embedded PostgreSQL); rebuilt when the lock changes ─
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The client package is a workspace: npm links node_modules/@email-workers/client to packages/client.
COPY packages/client/package.json ./packages/client/
RUN --mount=type=secret,id=npm_ca \
    --mount=type=cache,target=/root/.npm,sharing=locked \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --omit=dev --omit=optional --no-audit --no-fund --ignore-scripts

# ── build: every dependency and the TypeScript compiled; a change in src/ reruns only the compiler ────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The client package is a workspace: npm links node_modules/@email-workers/client to packages/client.
COPY packages/client/package.json ./packages/client/
RUN --mount=type=secret,id=npm_ca \
    --mount=type=cache,target=/root/.npm,sharing=locked \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
# The client package's build: declarations by tsc, its JavaScript bundled by esbuild (packages/client/build.mjs).
COPY packages/client/tsconfig.json packages/client/build.mjs ./packages/client/
COPY packages/client/src ./packages/client/src
COPY src ./src
RUN npm run build

# ── runtime: production dependencies, compiled code (the client package's too), templates, migrations, schemas ─
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to Node and reaps zombies, so `docker stop` drains the jobs in flight.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 emails \
 && useradd --system --uid 10001 --gid emails --home-dir /app --no-create-home --shell /usr/sbin/nologin emails
WORKDIR /app
ENV NODE_ENV=production
# The heap cap of docs/BENCHMARKS.md: peak RSS per worker process under 160 MB at full load, the same throughput.
# The processes of `--processes N` inherit it; set NODE_OPTIONS to change it.
ENV NODE_OPTIONS=--max-old-space-size=128
# The code belongs to root and is read-only to the service; only var/ (the development outbox) is its own.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY packages/client/package.json ./packages/client/
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY packages/client/schemas ./packages/client/schemas
COPY templates ./templates
COPY migrations ./migrations
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
RUN mkdir var && chown emails:emails var \
 && ln -s /app/dist/cli/start-workers.js /usr/local/bin/start-workers
USER emails
# HEALTH_PORT (workers' /health and /health/ready) and MONITOR_PORT (the monitor), inside the container.
EXPOSE 8004 5555
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "entrypoint.sh"]
CMD ["workers"]
