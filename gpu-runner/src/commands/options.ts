/** Flag parsers that reject bad values with a message naming the flag. */
import { InvalidArgumentError } from 'commander';

export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    }
    return Number(value);
  };
}
