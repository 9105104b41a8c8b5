/** Request schemas: one per request type, the single source of validation. */
import { z } from 'zod';
import { JOB_ID_PATTERN } from '@trd/protocol';

export const CreateJobBody = z
  .object({
    model: z.string().min(1).max(64),
    prompt: z.string().min(1, 'must not be empty'),
    max_tokens: z.number().int().min(1),
    /** 0 (the default) is greedy decoding: the same prompt gives the same output. */
    temperature: z.number().min(0).max(2).default(0),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  })
  .strict();
export type CreateJobBody = z.infer<typeof CreateJobBody>;

export const JobIdParam = z.string().regex(JOB_ID_PATTERN, 'is not a job id');

export const WaitQuery = z.object({
  wait: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds')
    .transform(Number)
    .optional(),
});
