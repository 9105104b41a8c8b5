/**
 * trd-worker: the GPU owner's runner. The command modules load llama.cpp
 * (node-llama-cpp) and the Temporal SDK inside their handlers, with
 * `await import()`, never at the top: `--help`, `status`, `settings` and
 * `login` need neither and start in a fraction of the time
 * (test/runner/cli.test.ts checks what they load).
 */
import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench.js';
import { doctorCommand } from './commands/doctor.js';
import { loginCommand, logoutCommand } from './commands/login.js';
import { modelsCommand } from './commands/models.js';
import { settingsCommand } from './commands/settings.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { RUNNER_VERSION } from './version.js';

export function buildCli(): Command {
  return new Command('trd-worker')
    .description('TRD Compute runner: earn credits by serving inference on your own GPU')
    .version(RUNNER_VERSION)
    .showSuggestionAfterError()
    .exitOverride()
    .addCommand(loginCommand())
    .addCommand(logoutCommand())
    .addCommand(startCommand())
    .addCommand(statusCommand())
    .addCommand(settingsCommand())
    .addCommand(modelsCommand())
    .addCommand(benchCommand())
    .addCommand(doctorCommand());
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    console.error(`trd-worker: error: ${(err as Error).message}`);
    return 1;
  }
}
