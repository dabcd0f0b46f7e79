# syntax=docker/dockerfile:1

# The service runs its TypeScript through tsx, a runtime dependency, so nothing is
# compiled. The check stage type-checks the sources with the dev dependencies; the
# runtime stage installs the production dependencies only and takes the checked
# sources from it (so the check cannot be skipped), then runs as the user node.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS check
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY bin ./bin
RUN npx tsc --noEmit

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
# Owned by root and only readable by node: the process cannot change its own code.
COPY --from=check /app/tsconfig.json ./
COPY --from=check /app/src ./src
COPY --from=check /app/workers ./workers
COPY --from=check /app/bin ./bin
USER node
# 3000: the ingress; 3001: a worker's /healthz, /readyz and /metrics.
EXPOSE 3000 3001
# node itself, not npm run: npm and its sh do not pass SIGTERM on to the service,
# which would then lose its graceful shutdown. docker-compose.yml picks the part.
CMD ["node", "--import", "tsx", "src/main.ts"]
