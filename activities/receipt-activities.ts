/**
 * Receipts: signing (alone or as a session's next link), the content store,
 * and pinning. Built over their dependencies in orchestrator/worker.ts; the
 * signing key never leaves this process. Every write is idempotent: a job has
 * one receipt, a CID names one block, a session place holds one receipt.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import {
  ORCHESTRATOR_QUEUE,
  PROOF_VERSION,
  ProofKeyError,
  cidOfBytes,
  parseProofPublicKey,
  sealProof,
  sha256Hex,
  signDispatch,
  signReceipt,
  type SignedDispatch,
  type InferenceResult,
  type ReceiptEnvelope,
  type SignedReceipt,
} from '@trd/protocol';
import { getBlock, putReceiptBlock } from '../receipts/content-store.js';
import { CidMismatchError, pinToLighthouse } from '../receipts/lighthouse.js';
import type { ReceiptSettings } from '../receipts/settings.js';
import type { Db } from '../platform/db.js';
import type { Signer } from '../orchestrator/signing-keys.js';
import {
  APPEND_RECEIPT_UPDATE,
  PlatformFailures,
  chainWorkflowId,
  pinWorkflowId,
  type ChainInput,
  type ChainState,
  type LighthouseOutcome,
  type PinInput,
} from '../platform/workflow-api.js';

export type { ChainState, LighthouseOutcome };
import type { UpstreamResult } from './upstream-activities.js';

export interface ReceiptRequest {
  jobId: string;
  promptSha256: string;
  /** A runner's result, or an upstream tier's (the cascade): its receipt names the tier, no worker and no model hash. */
  result: InferenceResult | UpstreamResult;
  /** From the workflow's clock, so a retried signing yields the same bytes. */
  issuedAt: string;
  /** The job's sealed proof of work (sealProof), when the customer asked for one. */
  proofCid?: string;
}

/** What a job's proof seals: its prompt and output, to the customer's public key. The answer carries the CID only. */
export interface ProofRequest {
  jobId: string;
  publicKey: string;
  prompt: string;
  output: string;
}

export type ReceiptFields = Omit<ReceiptEnvelope, 'v' | 'kid' | 'session_id' | 'seq' | 'prev'>;

export interface ChainedReceipt {
  receipt: SignedReceipt;
  cid: string;
  seq: number;
}

export interface ChainLinkRequest {
  sessionId: string;
  seq: number;
  prev: string | null;
  fields: ReceiptFields;
}

/** The chain's own non-retryable failure, beneath the update's failure and the activity's. */
function finalFailure(err: Error): ApplicationFailure | null {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && (e.type === PlatformFailures.InvalidReceipt || e.type === PlatformFailures.ChainConflict)) return e;
  }
  return null;
}

export interface ReceiptDeps {
  db: Db;
  /** The active key of the shared lifecycle (orchestrator/signing-keys.ts); no receipt it signs is dated outside its window. */
  signer: Signer;
  client: Client;
  settings: ReceiptSettings;
}

/** A job's dispatch to sign: its prompt hash, or (a challenge made in a workflow, which cannot hash) the prompt. */
export type DispatchToSign = { jobId: string; model: string; attempt: number; expiresAt: string } & ({ promptSha256: string } | { prompt: string });

export function createReceiptActivities(deps: ReceiptDeps) {
  const { db, signer, client, settings } = deps;

  async function fieldsFor(req: ReceiptRequest): Promise<ReceiptFields> {
    const r = req.result;
    return {
      job_id: req.jobId,
      ...('servedBy' in r
        ? { served_by: r.servedBy, upstream_model: r.upstreamModel, ...(r.peerReceiptCid ? { peer_receipt_cid: r.peerReceiptCid } : {}) }
        : { worker_id: r.workerId, model_sha256: r.modelSha256 }),
      model: r.model,
      prompt_sha256: req.promptSha256,
      // Hashed here, on the trusted side, from the text the customer will get.
      output_sha256: await sha256Hex(r.text),
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
      duration_ms: Date.parse(r.finishedAt) - Date.parse(r.startedAt),
      issued_at: req.issuedAt,
      // A job that ran an agent names it (recorded with the job at acceptance), in any version of the job workflow.
      ...(await agentOf(req.jobId)),
      ...(req.proofCid ? { proof_cid: req.proofCid, proof_v: PROOF_VERSION } : {}),
    };
  }

  async function agentOf(jobId: string): Promise<Pick<ReceiptFields, 'agent' | 'agent_manifest_sha256'>> {
    const run = await db.agentRun.findUnique({ where: { jobId }, select: { slug: true, manifestSha256: true } });
    return run ? { agent: run.slug, agent_manifest_sha256: run.manifestSha256 } : {};
  }

  async function sign(fields: Parameters<typeof signReceipt>[0]): Promise<SignedReceipt> {
    const { key, validFrom } = await signer.active();
    // A job whose signing was scheduled before a key rotation and run after it is dated no
    // earlier than the key in use, so its receipt stays inside the key's validity period.
    const issuedAt = Date.parse(fields.issued_at) < validFrom.getTime() ? validFrom.toISOString() : fields.issued_at;
    try {
      return await signReceipt({ ...fields, issued_at: issuedAt }, key.secretKey);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, PlatformFailures.InvalidReceipt);
    }
  }

  /** Starts the pinning workflow of a receipt (or of a block already stored: a sealed proof), once per CID; the caller never waits for the pin itself. */
  async function startPinning(cid: string, receipt?: SignedReceipt): Promise<void> {
    const input: PinInput = { cid, ...(receipt ? { receipt } : {}), retry: settings.pin };
    try {
      await client.workflow.start('pinReceipt', {
        workflowId: pinWorkflowId(cid),
        taskQueue: ORCHESTRATOR_QUEUE,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }

  return {
    /**
     * The platform's signature over one dispatch of a job (protocol/dispatch.ts):
     * runners refuse tasks without it. Issued now, by the orchestrator's clock.
     */
    async signDispatch(d: DispatchToSign): Promise<SignedDispatch> {
      const promptSha256 = 'promptSha256' in d ? d.promptSha256 : await sha256Hex(d.prompt);
      const now = new Date();
      const { key } = await signer.active(now);
      return signDispatch(
        { job_id: d.jobId, model: d.model, prompt_sha256: promptSha256, attempt: d.attempt, issued_at: now.toISOString(), expires_at: d.expiresAt },
        key.secretKey,
      );
    },

    /**
     * A job's proof of work (protocol/proof.ts): its prompt and output sealed to the customer's key, stored
     * as a content block and sent to be pinned. Only the CID goes back to the workflow: neither the
     * plaintext nor the blob enters its history. One per job: a retried call returns the blob already made
     * (a new one would have another ephemeral key, so another CID).
     */
    async sealProof(req: ProofRequest): Promise<{ cid: string }> {
      const existing = await db.jobProof.findUnique({ where: { jobId: req.jobId } });
      if (existing) return { cid: existing.cid };
      let blob: Uint8Array;
      try {
        blob = await sealProof({ job_id: req.jobId, prompt: req.prompt, output: req.output }, parseProofPublicKey(req.publicKey));
      } catch (err) {
        // The gateway checked the key at acceptance; a key that fails here will fail on every retry.
        if (err instanceof ProofKeyError) throw ApplicationFailure.nonRetryable(`trd_proof.public_key ${err.message}`, PlatformFailures.InvalidReceipt);
        throw err;
      }
      const cid = await cidOfBytes(blob);
      await db.$transaction(async (tx) => {
        await tx.contentBlock.createMany({ data: [{ cid, bytes: Buffer.from(blob) }], skipDuplicates: true });
        await tx.jobProof.createMany({ data: [{ jobId: req.jobId, cid }], skipDuplicates: true });
      });
      const proof = await db.jobProof.findUniqueOrThrow({ where: { jobId: req.jobId } });
      await startPinning(proof.cid);
      return { cid: proof.cid };
    },

    /** A job's receipt on its own (no session): signed, stored by CID, and sent to be pinned. */
    async signReceipt(req: ReceiptRequest): Promise<SignedReceipt> {
      const receipt = await sign(await fieldsFor(req));
      const { cid } = await putReceiptBlock(db, receipt);
      await startPinning(cid, receipt);
      return receipt;
    },

    /**
     * The job workflow's way into its session's chain: an update to the
     * session's chain workflow, started if it is not running. The update id is
     * the job's, and the chain returns a job's existing receipt, so a retried
     * append never adds a second link.
     */
    async appendToChain(req: ReceiptRequest & { sessionId: string }): Promise<ChainedReceipt> {
      const fields = await fieldsFor(req);
      const start: ChainInput = { sessionId: req.sessionId, settings: settings.chain };
      try {
        return await client.workflow.executeUpdateWithStart<(input: ChainInput) => Promise<ChainState>, ChainedReceipt, [{ fields: ReceiptFields }]>(APPEND_RECEIPT_UPDATE, {
          args: [{ fields }],
          updateId: `append-${req.jobId}`,
          startWorkflowOperation: new WithStartWorkflowOperation('receiptChain', {
            workflowId: chainWorkflowId(req.sessionId),
            taskQueue: ORCHESTRATOR_QUEUE,
            args: [start],
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        });
      } catch (err) {
        // A receipt the chain cannot sign will not be signed on a retry either: say so to the job, as signReceipt does.
        const final = err instanceof WorkflowUpdateFailedError ? finalFailure(err) : null;
        if (final) throw ApplicationFailure.nonRetryable(final.message, final.type);
        throw err;
      }
    },

    /** Where a chain workflow starts from when it has no state of its own: the receipts already written. */
    async chainHead(req: { sessionId: string }): Promise<ChainState> {
      const last = await db.receipt.findFirst({ where: { sessionId: req.sessionId }, orderBy: { seq: 'desc' }, select: { seq: true, cid: true } });
      return last ? { next: (last.seq ?? 0) + 1, head: last.cid } : { next: 0, head: null };
    },

    /**
     * Signs a session's next receipt and writes it with its place in the
     * chain, its block and the session's head in one transaction. A job that
     * already has a receipt gets that one back (its append was retried).
     */
    async signChainLink(req: ChainLinkRequest): Promise<ChainedReceipt> {
      const existing = await db.receipt.findUnique({ where: { jobId: req.fields.job_id } });
      if (existing?.cid != null && existing.seq != null) return { receipt: existing.document as unknown as SignedReceipt, cid: existing.cid, seq: existing.seq };
      const receipt = await sign({ ...req.fields, session_id: req.sessionId, seq: req.seq, prev: req.prev });
      const cid = await db.$transaction(async (tx) => {
        const taken = await tx.receipt.findFirst({ where: { sessionId: req.sessionId, seq: req.seq }, select: { jobId: true } });
        if (taken) {
          throw ApplicationFailure.nonRetryable(`session ${req.sessionId} already has seq ${req.seq} (job ${taken.jobId})`, PlatformFailures.ChainConflict);
        }
        const block = await putReceiptBlock(tx, receipt);
        await tx.receipt.create({ data: { jobId: req.fields.job_id, kid: receipt.envelope.kid, document: receipt as object, cid: block.cid, sessionId: req.sessionId, seq: req.seq } });
        await tx.jobSession.update({ where: { id: req.sessionId }, data: { headCid: block.cid, receiptCount: req.seq + 1 } });
        return block.cid;
      });
      await startPinning(cid, receipt);
      return { receipt, cid, seq: req.seq };
    },

    /** The pin that always happens: the local content store, which /ipfs/<cid> serves. */
    async storeReceiptBlock(input: PinInput): Promise<void> {
      let cid: string;
      if (input.receipt) ({ cid } = await putReceiptBlock(db, input.receipt));
      else {
        // A block its writer stored before starting the pin (a sealed proof): checked, not rewritten.
        const bytes = await getBlock(db, input.cid);
        if (!bytes) throw new Error(`block ${input.cid} is not in the content store yet`);
        cid = await cidOfBytes(bytes);
      }
      if (cid !== input.cid) throw ApplicationFailure.nonRetryable(`block bytes hash to ${cid}, not ${input.cid}`, PlatformFailures.CidMismatch);
      await db.receiptPin.createMany({ data: [{ cid, provider: 'local', providerCid: cid }], skipDuplicates: true });
    },

    /** Filecoin through Lighthouse, when an API key is configured. Throws (and is retried) until Lighthouse has it. */
    async pinToLighthouse(input: { cid: string }): Promise<LighthouseOutcome> {
      if (!settings.lighthouseApiKey) return { pinned: false, detail: 'no Lighthouse API key configured (TRD_LIGHTHOUSE_API_KEY)' };
      const done = await db.receiptPin.findUnique({ where: { cid_provider: { cid: input.cid, provider: 'lighthouse' } } });
      if (done) return { pinned: true, providerCid: done.providerCid, detail: done.detail ?? '' };
      const bytes = await getBlock(db, input.cid);
      if (!bytes) throw new Error(`block ${input.cid} is not in the content store yet`);
      let pin;
      try {
        pin = await pinToLighthouse(bytes, input.cid, settings.lighthouseApiKey, settings.lighthouseUrl);
      } catch (err) {
        if (err instanceof CidMismatchError) throw ApplicationFailure.nonRetryable(err.message, PlatformFailures.CidMismatch);
        throw err;
      }
      await db.receiptPin.createMany({ data: [{ cid: input.cid, provider: 'lighthouse', providerCid: pin.providerCid, detail: pin.detail }], skipDuplicates: true });
      return { pinned: true, ...pin };
    },
  };
}

export type ReceiptActivities = ReturnType<typeof createReceiptActivities>;
