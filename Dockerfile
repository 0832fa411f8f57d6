# matrix-appservice-msn container image.
#
#   docker build -t matrix-appservice-msn .
#   docker run --rm -v "$PWD/data:/data" matrix-appservice-msn     # 1st: writes data/config.yaml
#   $EDITOR data/config.yaml
#   docker run --rm -v "$PWD/data:/data" matrix-appservice-msn     # 2nd: writes data/registration.yaml
#   (add registration.yaml to the homeserver's app_service_config_files, restart the homeserver)
#   docker run -d -v "$PWD/data:/data" -p 8090:8090 matrix-appservice-msn
#
# The default command is `--data-dir /data` (src/first-run.ts): each start does the next missing
# step and exits 0 with a message, until config.yaml and registration.yaml are both there. /data
# also gets the credentials key and the SQLite database; it must be writable by uid 1000 (the
# image's `node` user). MSN_HOMESERVER_URL, MSN_HOMESERVER_DOMAIN, MSN_APPSERVICE_URL and
# MSN_DATABASE_URI override their config keys (README "Container").

# ---- build: dev dependencies, native addons, tsc -------------------------------------------------
FROM node:24-bookworm AS build
WORKDIR /app
# better-sqlite3 ships prebuilt N-API binaries (linux x64/arm64 glibc), but npm still runs
# `node-gyp rebuild` for it, which always needs Node's headers: point node-gyp at the ones in
# this image rather than a download from nodejs.org (unreachable here). node-gyp reads
# npm_package_config_node_gyp_* (npm 11's way to pass it options); npm_config_nodedir works too,
# but npm 11 warns on every run that "nodedir" is not an npm option.
ENV npm_package_config_node_gyp_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# package.json overrides @matrix-org/matrix-sdk-crypto-nodejs with the local stub (the real
# package downloads a native library at install time), so stubs/ must be here before `npm ci`.
COPY package.json package-lock.json ./
COPY stubs ./stubs
# The cache mount keeps downloaded tarballs across builds whose package-lock.json changed,
# without them landing in a layer.
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json ./
COPY src ./src
# After pruning, drop better-sqlite3's SQLite sources, build intermediates and the binaries for
# other operating systems (≈25 MB): only lib/ and a .node file are loaded at run time.
RUN npm run build \
    && npm prune --omit=dev \
    && cd node_modules/better-sqlite3 \
    && rm -rf deps src build/Release/obj.target build/Release/.deps \
    && { [ ! -d prebuilds ] || find prebuilds -type f ! -name 'linux-*' -delete; }

# ---- runtime: production node_modules + compiled JS only -----------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Code stays owned by root so the bridge (running as `node`) cannot modify itself.
COPY --from=build /app/package.json ./
COPY --from=build /app/stubs ./stubs
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY config/config.sample.yaml ./config/config.sample.yaml
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
WORKDIR /data
EXPOSE 8090
# GET /live on the listener that /data/config.yaml (and MSN_* variables) configure, so a changed
# appservice.port is followed. Node's own fetch: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/dist/src/healthcheck.js", "--data-dir", "/data"]
# The young-generation cap the bridge ships with (docs/performance.md): 60+ MiB less RSS with
# thousands of logins. `-e NODE_OPTIONS=…` replaces it.
ENV NODE_OPTIONS="--max-semi-space-size=16"
# node is PID 1: main.ts stops the bridge cleanly (MSN logouts, store closed) and exits 0 on
# SIGTERM/SIGINT. Arguments replace CMD: `-r -u URL` or `-c FILE` work too (WORKDIR is /data).
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["--data-dir", "/data"]
