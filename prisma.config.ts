// Prisma Migrate through the wasm schema engine and the pg driver adapter:
// the native engine cannot be downloaded on registry-only machines.
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  experimental: { adapter: true },
  engine: 'js',
  async adapter() {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) throw new Error('DATABASE_URL is not set');
    return new PrismaPg({ connectionString });
  },
});
