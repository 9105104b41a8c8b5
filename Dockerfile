# One image for the platform's processes (gateway, orchestrator, runner endpoint, setup) and the runner,
# all compiled: `npm run build` (scripts/build.ts) in the build stage, plain node at run time.
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV CHECKPOINT_DISABLE=1
COPY package.json package-lock.json .npmrc ./
COPY protocol/package.json protocol/
COPY gpu-runner/package.json gpu-runner/
COPY patches patches
# With the dev dependencies: the build needs TypeScript, and postinstall's patch-package patches the Prisma adapter.
RUN npm ci --no-audit --no-fund
COPY . .
# The build's output: the platform's bundles and the prebuilt workflow bundle (dist/), the compiled runner and
# protocol, the browser pages; then the dev dependencies go (the patched packages stay as patched).
RUN DATABASE_URL=postgresql://build/unused npx prisma generate && npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 NODE_ENV=production
COPY --from=build /app /app
# The orchestrator loads the workflows bundled at build time, not from source at each start.
ENV TRD_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
CMD ["node", "dist/gateway.js"]
