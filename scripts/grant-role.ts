/**
 * Gives an account a role (an operator's step; platform/roles.ts says what each opens):
 *   DATABASE_URL=… node --import tsx scripts/grant-role.ts cus_<32 hex> finance|reviewer
 */
import { createDb } from '../platform/db.js';
import { ACCOUNT_ROLES, grantRole, isAccountRole } from '../platform/roles.js';

const [id = '', role = ''] = process.argv.slice(2);
if (!/^cus_[0-9a-f]{32}$/.test(id) || !isAccountRole(role)) {
  console.error(`usage: grant-role.ts <account id> <${ACCOUNT_ROLES.join('|')}> (the id is cus_ and 32 hex digits; GET /v1/org shows an account’s id)`);
  process.exit(2);
}
if (!process.env.DATABASE_URL) {
  console.error('grant-role.ts: set DATABASE_URL to the platform database');
  process.exit(2);
}
const db = createDb(process.env.DATABASE_URL);
try {
  if (!(await db.customer.findUnique({ where: { id } }))) {
    console.error(`grant-role.ts: no account ${id}`);
    process.exitCode = 1;
  } else {
    await grantRole(db, id, role);
    console.log(`${id} has the ${role} role`);
  }
} finally {
  await db.$disconnect();
}
