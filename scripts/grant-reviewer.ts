/**
 * Gives an account the reviewer role for agent submissions (an operator's step):
 *   DATABASE_URL=… node --import tsx scripts/grant-reviewer.ts cus_<32 hex>
 */
import { createDb } from '../platform/db.js';
import { grantReviewer } from '../gateway/marketplace.js';

const id = process.argv[2] ?? '';
if (!/^cus_[0-9a-f]{32}$/.test(id)) {
  console.error('usage: grant-reviewer.ts <account id> (cus_ and 32 hex digits; GET /v1/org shows an account’s id)');
  process.exit(2);
}
if (!process.env.DATABASE_URL) {
  console.error('grant-reviewer.ts: set DATABASE_URL to the platform database');
  process.exit(2);
}
const db = createDb(process.env.DATABASE_URL);
try {
  if (!(await db.customer.findUnique({ where: { id } }))) {
    console.error(`grant-reviewer.ts: no account ${id}`);
    process.exitCode = 1;
  } else {
    await grantReviewer(db, id);
    console.log(`${id} is a reviewer`);
  }
} finally {
  await db.$disconnect();
}
