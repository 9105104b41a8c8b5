# One image for the platform's processes (gateway, orchestrator, migrations) and the runner.
FROM node:20-bookworm-slim
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
COPY protocol/package.json protocol/
COPY gpu-runner/package.json gpu-runner/
COPY patches patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN DATABASE_URL=postgresql://build/unused npx prisma generate && node --import tsx scripts/build-web.ts
CMD ["node", "--import", "tsx", "gateway/main.ts"]
