/**
 * `GET|PUT /v1/me/payout-rail`, `DELETE /v1/me/payout-rail/pending`: where an
 * owner's cash payouts go. A change waits out the platform's delay before it
 * applies (economy/payout-rail.ts), shown here and on the dashboard, so a
 * stolen API key alone cannot redirect a payout; the owner cancels it.
 */
import { Router } from 'express';
import { chainClient, isContract } from '../chain/client.js';
import { checksummedAddress } from '../chain/settings.js';
import { cancelRailChange, payoutRailOf, requestRailChange, type PayoutRailState } from '../economy/payout-rail.js';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';
import { jsonBody } from './json-body.js';
import { PayoutRailBody } from './schemas.js';
import type { GatewaySettings } from './settings.js';

export function payoutRailJson(state: PayoutRailState, settings: Pick<GatewaySettings, 'chain' | 'payoutRailDelayMs'>) {
  return {
    object: 'payout_rail',
    rail: state.rail,
    usdc_address: state.usdcAddress,
    pending: state.pending ? { rail: state.pending.rail, usdc_address: state.pending.usdcAddress, effective_at: state.pending.effectiveAt.toISOString() } : null,
    change_delay_ms: settings.payoutRailDelayMs,
    chain: settings.chain ? { name: settings.chain.name, chain_id: settings.chain.chainId, usdc_contract: settings.chain.usdcAddress } : null,
  };
}

export function payoutRailRouter(deps: { db: Db; settings: GatewaySettings; clock?: () => Date }): Router {
  const { db, settings } = deps;
  const now = deps.clock ?? (() => new Date());
  const router = Router();

  router.get('/v1/me/payout-rail', async (_req, res) => {
    res.json(payoutRailJson(await payoutRailOf(db, res.locals.customerId as string, now()), settings));
  });

  router.put('/v1/me/payout-rail', async (req, res) => {
    const body = PayoutRailBody.parse(jsonBody(req));
    let usdcAddress: string | null = null;
    if (body.rail === 'usdc') {
      const chain = settings.chain;
      if (!chain) throw new ApiError(409, 'usdc_not_configured', 'USDC payouts are not set up on this platform (no TRD_CHAIN); Stripe Connect is the rail here');
      const checked = checksummedAddress(body.usdc_address);
      if (!checked.ok) throw new ApiError(400, 'invalid_address', `usdc_address: ${checked.problem}`, 'usdc_address');
      if (!chain.allowContractAddresses) {
        let contract: boolean;
        try {
          contract = await isContract(chainClient(chain), checked.address);
        } catch (err) {
          throw new ApiError(503, 'chain_unavailable', `the ${chain.name} node could not be asked whether ${checked.address} is a contract (${(err as Error).message.split('\n')[0]}); nothing changed, try again`);
        }
        if (contract) {
          throw new ApiError(400, 'contract_address', `usdc_address: ${checked.address} is a contract on ${chain.name} (chain id ${chain.chainId}); payouts go to plain addresses only here, which cannot lose USDC to a contract that cannot move it`, 'usdc_address');
        }
      }
      usdcAddress = checked.address;
    }
    const state = await requestRailChange(db, res.locals.customerId as string, { rail: body.rail, usdcAddress }, settings.payoutRailDelayMs, now());
    res.status(202).json(payoutRailJson(state, settings));
  });

  router.delete('/v1/me/payout-rail/pending', async (_req, res) => {
    res.json(payoutRailJson(await cancelRailChange(db, res.locals.customerId as string, now()), settings));
  });

  return router;
}
