/**
 * Applies the committed Prisma migrations for real and proves it: Prisma's
 * CLI can exit 0 having done nothing (a missing engine), so success here means
 * every migration folder has a finished row in _prisma_migrations.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PRISMA_CLI = createRequire(import.meta.url).resolve('prisma/build/index.js');

export function migrationNames(): string[] {
  return readdirSync(`${ROOT}/prisma/migrations`, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export async function migrateDatabase(databaseUrl: string): Promise<{ applied: string[] }> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [PRISMA_CLI, 'migrate', 'deploy'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let finished = false;
    const onData = (d: Buffer) => {
      out += d;
      // The wasm engine idles ~10 s after its work is done; the table check below is the proof, not the exit.
      if (!finished && /successfully applied|No pending migrations/.test(out)) {
        finished = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 || finished ? resolve(out) : reject(new Error(`prisma migrate deploy exited ${code}:\n${out}`)),
    );
  });
  if (/binaries\.prisma\.sh|download/i.test(output)) {
    throw new Error(`prisma migrate deploy tried to download an engine; this setup must not need one:\n${output}`);
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name',
    );
    const applied = rows.map((r) => r.migration_name);
    const missing = migrationNames().filter((m) => !applied.includes(m));
    if (missing.length) throw new Error(`migrations not applied after prisma migrate deploy: ${missing.join(', ')}\n${output}`);
    return { applied };
  } finally {
    await client.end();
  }
}
