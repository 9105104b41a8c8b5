/**
 * The payload key of recorded replay fixtures: histories are sealed
 * (platform/payload-encryption.ts), so the tests that record them run with
 * this test-only key and the replay test opens them with it. It protects nothing.
 */
import { payloadKeysFromEnv } from '../../platform/payload-encryption.js';

export const FIXTURE_PAYLOAD_KEYS = payloadKeysFromEnv({
  TRD_PAYLOAD_KEYS: 'replay-fixtures:dHJkLXJlcGxheS1maXh0dXJlcy10ZXN0LW9ubHktayE=',
  // The fixtures recorded before sealing are plain: they replay behind the explicit setting.
  TRD_PAYLOAD_ACCEPT_UNSEALED: '1',
});
