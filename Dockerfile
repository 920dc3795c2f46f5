# syntax=docker/dockerfile:1
# The operator image: compiled JavaScript on distroless Node 24, non-root, no shell.
# Reproducible from the lockfile: `npm ci` installs exactly package-lock.json; base images are pinned by
# version (pin them by digest in your registry mirror for bit-for-bit builds).
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY crds ./crds
COPY controllers ./controllers
COPY proto ./proto
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The key service's .proto, where dist/controllers/keyservice/proto.js looks for it.
COPY --from=build /src/proto ./dist/proto
USER 65532:65532
# The distroless entrypoint is node itself.
CMD ["dist/controllers/main.js"]
