# matrix-appservice-msn container image.
#
#   docker build -t matrix-appservice-msn .
#   docker run --rm -v "$PWD/data:/data" matrix-appservice-msn -r -u http://bridge:8090
#   docker run -d -v "$PWD/data:/data" -p 8090:8090 matrix-appservice-msn
#
# /data holds config.yaml (start from /app/config/config.sample.yaml; set appservice.hostname to
# 0.0.0.0 so the port is reachable from outside the container), and the files the bridge writes
# next to it by default: registration.yaml, msn-bridge.key, msn-bridge.db. It must be writable
# by uid 1000 (the image's `node` user).

# ---- build: dev dependencies, native addons, tsc -------------------------------------------------
FROM node:24-bookworm AS build
WORKDIR /app
# better-sqlite3 ships prebuilt N-API binaries (linux x64/arm64 glibc), but npm still runs
# `node-gyp rebuild` for it, which compiles nothing when a prebuild fits yet always needs Node's
# headers: point node-gyp at the ones in this image rather than a download from nodejs.org.
# (npm 11 warns that it does not know "nodedir"; node-gyp reads it from this variable.)
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# package.json overrides @matrix-org/matrix-sdk-crypto-nodejs with the local stub (the real
# package downloads a native library at install time), so stubs/ must be here before `npm ci`.
COPY package.json package-lock.json ./
COPY stubs ./stubs
RUN npm ci
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
# /live answers as soon as the appservice listens (the port in config.yaml; 8090 by default).
# Node's own fetch: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8090/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1: main.ts stops the bridge cleanly and exits 0 on SIGTERM/SIGINT.
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["-c", "/data/config.yaml"]
