# syntax=docker/dockerfile:1
#
# EchoCenter image: `docker build -t echocenter .` then
#   docker run -p 8080:8080 -e JWT_SECRET=... -e ADMIN_USERNAME=admin -e ADMIN_PASSWORD=... echocenter
# Every setting is an environment variable (PROTOCOL §7). The image defaults to NODE_ENV=production,
# so JWT_SECRET (>= 32 characters), ADMIN_USERNAME and ADMIN_PASSWORD must be set or the server
# refuses to start (exit code 78, with a message that says what to set). SQLite is the default
# database (file under /app/data, mount a volume there); set DB_DRIVER=postgres and DATABASE_URL
# for PostgreSQL, REDIS_URL for several replicas.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript and the sqlite3 native addon, then drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
# sqlite3 (behind @mikro-orm/sqlite) builds from source with node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, so that this layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN JOBS=max npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json mikro-orm.config.ts ./
# src/ includes the web console (src/console); `npm run build` compiles the server into dist/src and
# has Vite build the console into dist/console, which the runtime stage copies with the rest of dist/.
COPY src ./src
COPY migrations ./migrations
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: the same base (same glibc as the compiled addon), no compilers, non-root ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
# Code and dependencies stay owned by root: the `node` user can read them but not change them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The only place the process writes: the SQLite file when DB_DRIVER=sqlite (SQLITE_PATH defaults to
# ./data/echocenter.db). Mount a volume here to keep it; PostgreSQL deployments never touch it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# The same V8 flag as `npm start`: a young generation of 8 MB instead of up to 32 MB, for many idle
# connections per replica (README → Deploying). An environment variable, so that a replica tuned for
# message throughput can set NODE_OPTIONS= (docker run -e, or the chart's `config`) instead.
ENV NODE_OPTIONS="--max-semi-space-size=4"
EXPOSE 8080
# main.ts drains sockets on SIGTERM within SHUTDOWN_TIMEOUT; node runs as PID 1 and handles it itself.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
