/**
 * On a CPU, llama.cpp threads compete with everything else on the machine;
 * measured on 2 cores, one thread ran ~25x faster than two (README, Benchmark).
 * Half the cores, at least one, is the default. Its own module: the CLI's
 * option defaults need it without loading llama.cpp.
 */
import { availableParallelism } from 'node:os';

export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}
