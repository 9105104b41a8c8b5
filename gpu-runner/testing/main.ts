/** The test build's start: the faults TRD_RUNNER_FAULTS names wrap generation, then the runner's own CLI runs. */
import { main as runnerMain } from '../src/cli.js';
import { installGenerationWrapper } from '../src/generation-wrapper.js';
import { faultyGeneration, parseRunnerFaults } from './faults.js';

export async function main(argv: string[]): Promise<number> {
  const spec = process.env.TRD_RUNNER_FAULTS;
  try {
    const faults = parseRunnerFaults(spec, process.env.TRD_RUNNER_CHEAT_MODEL);
    if (faults) installGenerationWrapper(faultyGeneration(faults, spec!));
  } catch (err) {
    console.error(`trd-worker: error: ${(err as Error).message}`);
    return 1;
  }
  return runnerMain(argv);
}
