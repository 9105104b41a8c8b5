/**
 * An agent's optional input schema, enforced: a submitted schema must compile
 * (JSON Schema draft 2020-12's core, through Ajv), and a run of an agent that
 * has one takes its input as the last user message, a JSON object the schema
 * accepts; anything else is a 400 naming the message and the first field the
 * schema refused, and no job is made. Compiled schemas are kept by manifest
 * hash (a published version never changes).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { AgentManifest } from '@trd/protocol';
import { ApiError } from './errors.js';

// strict: an unknown keyword is a mistake in the schema, said at submission rather than ignored at every run.
const ajv = new Ajv2020({ strict: true, allErrors: false, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();

/** The problem of a submitted input schema as a JSON Schema ("manifest.input_schema: …"), or null when it compiles. */
export function inputSchemaProblem(schema: Record<string, unknown>): string | null {
  try {
    ajv.compile(schema);
    return null;
  } catch (err) {
    return `manifest.input_schema: not a JSON Schema Ajv can compile (${(err as Error).message})`;
  }
}

/** Throws the 400 a run's messages earn when the agent has an input schema they do not meet. */
export function checkAgentInput(agent: { manifest: AgentManifest; manifestSha256: string; slug: string }, messages: Array<{ role: string; content: string }>): void {
  const schema = agent.manifest.input_schema;
  if (!schema) return;
  let validate = compiled.get(agent.manifestSha256);
  if (!validate) compiled.set(agent.manifestSha256, (validate = ajv.compile(schema)));
  const at = messages.map((m) => m.role).lastIndexOf('user');
  const param = `messages[${at}].content`;
  const refuse = (why: string) => {
    throw new ApiError(400, 'invalid_agent_input', `agent ${agent.slug} takes its input as the last user message, a JSON object matching its input_schema (GET /v1/agents/${agent.slug}): ${why}`, param);
  };
  if (at < 0) refuse('there is no user message');
  let input: unknown;
  try {
    input = JSON.parse(messages[at]!.content);
  } catch {
    refuse('it is not JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) refuse('it is not a JSON object');
  if (!validate(input)) {
    const e = validate.errors![0]!;
    refuse(`${e.instancePath ? `input${e.instancePath.replace(/\//g, '.')}` : 'input'} ${e.message}`);
  }
}
