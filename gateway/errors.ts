/**
 * One error mapping for the whole gateway. Errors use OpenAI's shape
 * (`{error: {message, type, param, code}}`) so existing clients show them.
 */
import type { ErrorRequestHandler } from 'express';
import { z } from 'zod';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    /** Sent with the error, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 402) return 'insufficient_quota';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** Turns a zod failure into the first problem, named by its field. */
export function fromZodError(err: z.ZodError): ApiError {
  const issue = err.issues[0];
  const param = issue.path.join('.') || null;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field(s): ${issue.keys.join(', ')}`;
  else if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) message = `${param} is required`;
  else if (param) message = `${param}: ${issue.message}`;
  return new ApiError(400, 'invalid_request', message, param);
}

export const handleErrors: ErrorRequestHandler = (err, req, res, _next) => {
  let apiError: ApiError;
  if (err instanceof ApiError) apiError = err;
  else if (err instanceof z.ZodError) apiError = fromZodError(err);
  else if (err?.type === 'entity.too.large') apiError = new ApiError(413, 'body_too_large', `request body exceeds ${err.limit} bytes`);
  else if (err?.type === 'entity.parse.failed') apiError = new ApiError(400, 'invalid_json', 'request body is not valid JSON');
  else if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') apiError = new ApiError(415, 'unsupported_encoding', err.message);
  else {
    console.error(`gateway: ${req.method} ${req.path} failed:`, err);
    apiError = new ApiError(500, 'internal_error', 'the gateway hit an internal error; the request may be retried');
  }
  res.status(apiError.status).set(apiError.headers).json(errorBody(apiError));
};

/** OpenAI's error object, also sent as an event when a stream fails after its headers. */
export function errorBody(e: ApiError) {
  return { error: { message: e.message, type: errorType(e.status), param: e.param, code: e.code } };
}
