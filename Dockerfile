# API and worker image; docker-compose.yml picks the role: `npm run api`, or the worker's
# `node … dist/app/worker/main.js` (what `npm run worker` runs).

# Build stage: compiles the worker (TypeScript is a dev dependency) and bundles the workflows.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.worker.json ./
COPY src ./src
# The worker runs as compiled JavaScript on plain Node: tsx's loader would cost ~40 MiB of RSS.
RUN npm run build:worker
# Bundle the workflow code at build time: workers then start faster and with
# ~110 MiB less peak memory than when they bundle it themselves.
RUN npm run build:workflows -- /app/dist/workflow-bundle.js

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so code changes do not reinstall them. tsx is a runtime
# dependency: the API and the migrations run their TypeScript directly.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY --from=build /app/dist ./dist
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js

USER node
EXPOSE 4080
CMD ["npm", "run", "api"]
